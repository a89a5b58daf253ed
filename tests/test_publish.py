"""`align publish`: the real huggingface_hub client (and datasets' push_to_hub) against a local
fake Hub (tests/hub_server.py), on small fixtures: a fake adapter run folder, a fake export
with tiny GGUF files, eval reports built with the real report code, and a few committed pairs.

Each test names the behaviour it protects: the dry run uploads nothing; a publish lands every
file byte for byte in one commit; the card's metadata parses with huggingface_hub's card
tools; the pairs read back from the dataset repo; the gate rail refuses (and --force is
recorded); bad input, a missing or refused token and network failures end with a clear
message, the right exit status, no token in any output and nothing claimed that was not
published.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace

import pytest
import typer
from typer.testing import CliRunner

pytest.importorskip("huggingface_hub", reason="align[train] is not installed")
pytest.importorskip("datasets", reason="align[train] is not installed")

import huggingface_hub.constants
from hub_server import FakeHub
from huggingface_hub import ModelCard, hf_hub_download, metadata_load
from huggingface_hub.repocard_data import model_index_to_eval_results

from align.hub.command import publish_command, publish_dry_run
from align.hub.upload import pair_rows

# huggingface_hub's LFS upload passes a file to httpx as ``data=``; httpx warns about it.
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")

REPO = Path(__file__).resolve().parent.parent
THRESHOLDS = REPO / "configs/gate.toml"
TOKEN = "hf_fakeTokenForTestsOnly0123456789"
REPO_ID = "medic/triage-dpo"
DATASET_ID = "medic/triage-dpo-pairs"
REQUIRED_TAGS = {
    "pediatric",
    "disaster-response",
    "triage",
    "jumpstart",
    "medical",
    "edge-ai",
    "lfm",
    "dpo",
    "gguf",
}


# ---------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(autouse=True)
def hub_client(monkeypatch, tmp_path):
    """The client takes the LFS path (the fake Hub has no Xet storage), reads HF_TOKEN and
    never the developer's own login cache."""
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")


@pytest.fixture
def hub():
    with FakeHub(TOKEN) as server:
        yield server


@pytest.fixture
def no_sleep(monkeypatch):
    """Retries without their waits (the client's own backoff and publish's)."""
    monkeypatch.setattr("time.sleep", lambda seconds: None)


def write_json(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def run_dir(tmp_path) -> Path:
    """A DPO run folder as `align dpo` leaves it (weights are stand-in bytes)."""
    from align.train.config import DPOConfig

    folder = tmp_path / "checkpoints" / "dpo-test"
    folder.mkdir(parents=True)
    config = DPOConfig(adapter="checkpoints/sft-test", output_dir=str(folder))
    write_json(
        folder / "adapter_config.json",
        {
            "peft_type": "LORA",
            "base_model_name_or_path": "checkpoints/toy-base",
            "r": 16,
            "lora_alpha": 16,
            "lora_dropout": 0.0,
            "target_modules": ["q_proj", "k_proj", "v_proj", "out_proj", "w1", "w2", "w3"],
        },
    )
    (folder / "adapter_model.safetensors").write_bytes(os.urandom(40_000))
    write_json(folder / "tokenizer.json", {"model": {"type": "BPE"}})
    write_json(folder / "tokenizer_config.json", {"eos_token": "<|im_end|>"})
    (folder / "chat_template.jinja").write_text("{{ messages }}", encoding="utf-8")
    write_json(folder / "metrics.json", {"final": {"train_loss": 0.5}})
    write_json(folder / "config.json", asdict(config))
    (folder / "README.md").write_text("PEFT's boilerplate card\n", encoding="utf-8")
    (folder / "tensorboard").mkdir()
    (folder / "tensorboard" / "events.out").write_bytes(b"logs")
    write_json(
        folder / "manifest.json",
        {
            "command": "dpo",
            "config": asdict(config),
            "packages": {"align": "0.1.0", "trl": "1.16.0"},
            "data": {"preference_data/pairs/train.jsonl": "ab" * 32},
            "git": {"commit": "0123456789abcdef", "dirty": False},
            "finished_utc": "2026-11-28T12:00:00Z",
            "global_step": 4,
            "metrics": {
                "backend": "transformers",
                "per_perturbation": {
                    "wrong_triage_color": {"reward_accuracy": 0.75, "reward_margin": 0.0123}
                },
            },
        },
    )
    return folder


def sha256(path: Path) -> str:
    from align.train.runs import file_sha256

    return file_sha256(path)


@pytest.fixture
def export_dir(tmp_path, run_dir) -> Path:
    """An export folder as `align export` leaves it: merged/, two GGUF files, the report."""
    folder = tmp_path / "export"
    merged = folder / "merged"
    merged.mkdir(parents=True)
    write_json(merged / "config.json", {"model_type": "lfm2"})
    write_json(merged / "generation_config.json", {"eos_token_id": 7})
    (merged / "model.safetensors").write_bytes(os.urandom(120_000))
    write_json(merged / "tokenizer.json", {"model": {"type": "BPE"}})
    entries = []
    for quant, size in (("F16", 90_000), ("Q4_K_M", 30_000)):
        path = folder / f"dpo-test-{quant}.gguf"
        path.write_bytes(b"GGUF" + os.urandom(size))
        entries.append(
            {
                "file": path.name,
                "type": quant,
                "size_bytes": path.stat().st_size,
                "sha256": sha256(path),
                "bits_per_weight": 16.0 if quant == "F16" else 4.9,
                "checks": {"logits": {"mean_cosine": 0.9995}},
                "passed": True,
            }
        )
    write_json(
        folder / "export_report.json",
        {
            "name": "dpo-test",
            "config": {"adapter": str(run_dir)},
            "merge": {"folder": "merged"},
            "files": entries,
            "passed": True,
        },
    )
    return folder


@pytest.fixture(scope="module")
def clean_report() -> dict:
    """A schema-valid eval report from the real report code: the gold responses, scored."""
    from align.data.gold import load_gold
    from align.data.pairs import PairConfig
    from align.evaluation.run import EvalConfig, build_report
    from align.evaluation.scenarios import gold_eval_cases
    from align.evaluation.scoring import score

    gold = load_gold([REPO / "preference_data/gold"])
    cases = gold_eval_cases(gold.records, PairConfig())[:40]
    by_id = {record.id: record.response for record in gold.records}
    scored = [score(c.id, by_id[c.id], c.scenario, c.expected_triage) for c in cases]
    generator = SimpleNamespace(
        settings={"backend": "transformers", "do_sample": False, "max_new_tokens": 512},
        stats=SimpleNamespace(responses=0, new_tokens=0, seconds=0.0, tokens_per_second=0.0),
    )
    preference = {"skipped": "--no-preference"}
    report = build_report(EvalConfig(), cases, len(cases), scored, generator, preference, {})
    return json.loads(json.dumps(report))


def with_rate(report: dict, code: str, rate: float) -> dict:
    """``report`` with ``code`` near ``rate``: count / n exactly, as a valid report has it."""
    changed = copy.deepcopy(report)
    n = changed["rates"][code]["n"]
    rate = round(rate * n) / n
    changed["rates"][code].update(count=round(rate * n), rate=rate, ci95=[rate / 2, rate * 1.5])
    return changed


def write_report(folder: Path, report: dict, adapter: Path) -> Path:
    """report.json (with its sibling files) as `align eval` writes them, for ``adapter``."""
    from align.evaluation.report import report_markdown

    report = copy.deepcopy(report)
    report["model"]["adapter"] = str(adapter)
    report["config"]["adapter"] = str(adapter)
    path = write_json(folder / "report.json", report)
    (folder / "report.md").write_text(report_markdown(report), encoding="utf-8")
    (folder / "rates.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(500))
    (folder / "responses.jsonl").write_text('{"id": "a"}\n', encoding="utf-8")
    return path


@pytest.fixture
def eval_report(tmp_path, clean_report, run_dir) -> Path:
    return write_report(tmp_path / "eval" / "dpo", clean_report, run_dir)


@pytest.fixture
def baseline_report(tmp_path, clean_report, run_dir) -> Path:
    """The SFT adapter's report: more wrong colors than after DPO."""
    worse = with_rate(clean_report, "wrong_triage_color", 0.3)
    return write_report(tmp_path / "eval" / "sft", worse, run_dir.parent / "sft-test")


@pytest.fixture
def failing_report(tmp_path, clean_report, run_dir) -> Path:
    return write_report(
        tmp_path / "eval" / "bad", with_rate(clean_report, "wrong_triage_color", 0.25), run_dir
    )


@pytest.fixture
def pairs_dir(tmp_path) -> Path:
    """Two committed eval pairs of each perturbation type per split, and a summary."""
    lines = (REPO / "preference_data/pairs/eval.jsonl").read_text(encoding="utf-8").splitlines()
    by_type: dict[str, list[dict]] = {}
    for line in lines:
        record = json.loads(line)
        by_type.setdefault(record["perturbation"], []).append(record)
    folder = tmp_path / "pairs"
    folder.mkdir()
    splits = {"train": [], "eval": []}
    for records in by_type.values():
        for split, chosen in (("train", records[:2]), ("eval", records[2:4])):
            splits[split] += [{**record, "split": split} for record in chosen]
    for split, records in splits.items():
        text = "".join(json.dumps(record) + "\n" for record in records)
        (folder / f"{split}.jsonl").write_text(text, encoding="utf-8")
    summary = json.loads((REPO / "preference_data/pairs/summary.json").read_text())
    summary["pairs"] = {split: len(records) for split, records in splits.items()}
    write_json(folder / "summary.json", summary)
    return folder


@pytest.fixture
def publish_args(run_dir, export_dir, eval_report, pairs_dir, hub) -> list[str]:
    return [
        "--repo-id",
        REPO_ID,
        "--adapter",
        str(run_dir),
        "--export",
        str(export_dir),
        "--eval-report",
        str(eval_report),
        "--thresholds",
        str(REPO / "configs/gate.toml"),
        "--pairs",
        str(pairs_dir),
        "--endpoint",
        hub.url,
    ]


def publish(args: list[str]):
    """Run the real Typer command function; quick retries so failure tests stay fast."""
    app = typer.Typer()
    app.command()(publish_command)
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert TOKEN not in result.output, "the token must never be printed"
    return result


def expected_files(run_dir: Path, export_dir: Path, eval_report: Path) -> dict[str, Path]:
    """Path in the repo -> local file, as docs/PUBLISH.md lays the repo out."""
    files = {p.name: p for p in (export_dir / "merged").iterdir()}
    files |= {p.name: p for p in export_dir.glob("*.gguf")}
    for name in (
        "adapter_config.json",
        "adapter_model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "chat_template.jinja",
        "metrics.json",
        "manifest.json",
    ):
        files[f"adapter/{name}"] = run_dir / name
    files["reports/eval_report.json"] = eval_report
    files["reports/eval_report.md"] = eval_report.parent / "report.md"
    files["reports/rates.png"] = eval_report.parent / "rates.png"
    files["reports/eval_responses.jsonl"] = eval_report.parent / "responses.jsonl"
    files["reports/gate_thresholds.toml"] = REPO / "configs/gate.toml"
    files["reports/export_report.json"] = export_dir / "export_report.json"
    return files


def download(hub: FakeHub, repo_id: str, path: str, tmp_path: Path, repo_type="model") -> bytes:
    local = hf_hub_download(
        repo_id,
        path,
        repo_type=repo_type,
        endpoint=hub.url,
        token=TOKEN,
        cache_dir=tmp_path / "download-cache",
    )
    return Path(local).read_bytes()


# ---------------------------------------------------------------------------------------------
# The dry run


def test_dry_run_prints_every_file_with_its_size_and_both_cards_and_uploads_nothing(
    publish_args, hub, run_dir, export_dir, eval_report
):
    result = publish([*publish_args, "--dry-run"])
    assert result.exit_code == 0, result.output
    for path_in_repo in expected_files(run_dir, export_dir, eval_report):
        assert f"  {path_in_repo} " in result.output, path_in_repo
    assert "reports/gate.json" in result.output
    assert "adapter/README.md" not in result.output  # PEFT's card stays behind
    assert "tensorboard" not in result.output
    assert "KiB" in result.output  # sizes
    assert "NOT a medical device" in result.output  # the model card, in full
    assert "# Pediatric triage preference pairs" in result.output  # the dataset card
    assert f"dataset repo {DATASET_ID}" in result.output
    assert "token: found in HF_TOKEN (not shown)" in result.output
    assert hub.requests == []


def test_dry_run_without_token_says_how_to_log_in(publish_args, hub, monkeypatch):
    monkeypatch.delenv("HF_TOKEN")
    result = publish([*publish_args, "--dry-run"])
    assert result.exit_code == 0
    assert "hf auth login" in result.output
    assert hub.requests == []


# ---------------------------------------------------------------------------------------------
# Publishing and reading back


def test_publish_lands_every_file_byte_for_byte_in_one_commit(
    publish_args, hub, run_dir, export_dir, eval_report, tmp_path, monkeypatch
):
    monkeypatch.setenv("HF_ENDPOINT", hub.url)  # the endpoint from the environment
    result = publish(publish_args[: publish_args.index("--endpoint")])
    assert result.exit_code == 0, result.output
    assert f"published model repo {REPO_ID}: {hub.url}/{REPO_ID}/commit/" in result.output
    history = hub.history(REPO_ID)
    assert len(history) == 2  # the repo's initial commit and exactly one from publish
    stored = hub.files(REPO_ID)
    expected = expected_files(run_dir, export_dir, eval_report)
    assert set(stored) == {*expected, "README.md", "reports/gate.json"}
    for path_in_repo, local in expected.items():
        assert download(hub, REPO_ID, path_in_repo, tmp_path) == local.read_bytes(), path_in_repo
    # Large and binary files travel as LFS objects.
    commit = hub.repo(REPO_ID).resolve("main")
    assert commit.files["dpo-test-Q4_K_M.gguf"].lfs
    assert commit.files["adapter/adapter_model.safetensors"].lfs
    gate = json.loads(stored["reports/gate.json"])
    assert gate["verdict"] == "pass" and gate["forced"] is False
    assert not any(TOKEN.encode() in data for data in stored.values())


def test_model_card_metadata_parses_with_huggingface_hub_card_tools(
    publish_args, hub, baseline_report, tmp_path, clean_report
):
    result = publish([*publish_args, "--baseline", str(baseline_report)])
    assert result.exit_code == 0, result.output
    readme = tmp_path / "README.md"
    readme.write_bytes(download(hub, REPO_ID, "README.md", tmp_path))

    card = ModelCard.load(readme)
    assert set(card.data.tags) >= REQUIRED_TAGS
    assert card.data.license == "apache-2.0"  # the toy base: the project's own license
    assert card.data.library_name == "transformers"
    assert card.data.datasets == [DATASET_ID]
    assert card.data.base_model is None  # the toy is not on the Hub: no false base_model
    metrics = {r.metric_type: r.metric_value for r in card.data.eval_results}
    assert metrics["wrong_triage_color_rate"] == round(
        clean_report["rates"]["wrong_triage_color"]["rate"], 4
    )
    assert "triage_red_recall" in metrics

    metadata = metadata_load(readme)
    model_name, results = model_index_to_eval_results(metadata["model-index"])
    assert model_name == "triage-dpo" and len(results) == len(card.data.eval_results)

    text = card.text
    assert text.index("NOT a medical device") < text.index("## Intended use")  # prominent
    for section in (
        "## Out-of-scope use",
        "## Training",
        "### Recipe",
        "## Evaluation",
        "## GGUF export and verification",
        "## Limitations",
    ):
        assert section in text
    assert f"llama-cli -hf {REPO_ID}:Q4_K_M" in text
    assert "| pattern | before | after | change |" in text  # before/after DPO
    before = json.loads(baseline_report.read_text())["rates"]["wrong_triage_color"]["rate"]
    assert f"{100 * before:.1f}%" in text  # the baseline's wrong-color rate
    assert "### Gate: PASS" in text


def test_card_names_a_hub_base_model_and_keeps_its_license(run_dir, pairs_dir):
    from align.hub.plan import PublishOptions, build_plan

    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["config"]["base_model"] = "LiquidAI/LFM2.5-1.2B-Instruct"
    write_json(run_dir / "manifest.json", manifest)
    options = PublishOptions(REPO_ID, run_dir, pairs=pairs_dir, force=True)
    card = ModelCard(build_plan(options).model_card)
    assert card.data.base_model == "LiquidAI/LFM2.5-1.2B-Instruct"
    assert card.data.license == "other" and card.data.license_name == "lfm1.0"
    assert card.data.library_name == "peft"  # no export: the adapter only
    assert "gguf" not in card.data.tags


def test_pairs_are_pushed_as_a_dataset_and_read_back(publish_args, hub, pairs_dir, tmp_path):
    from datasets import Dataset
    from huggingface_hub import DatasetCard

    result = publish(publish_args)
    assert result.exit_code == 0, result.output
    assert f"published dataset repo {DATASET_ID}" in result.output
    stored = hub.files(DATASET_ID, "dataset")
    for split in ("train", "eval"):
        parquet = [path for path in stored if path.startswith(f"data/{split}-")]
        assert len(parquet) == 1 and parquet[0].endswith(".parquet")
        local = tmp_path / f"{split}.parquet"
        local.write_bytes(download(hub, DATASET_ID, parquet[0], tmp_path, "dataset"))
        rows = Dataset.from_parquet(str(local)).to_list()
        records = [json.loads(line) for line in (pairs_dir / f"{split}.jsonl").open()]
        assert rows == pair_rows(records)
        assert [json.loads(row["detail"]) for row in rows] == [r["detail"] for r in records]
    readme = tmp_path / "dataset-README.md"
    readme.write_bytes(download(hub, DATASET_ID, "README.md", tmp_path, "dataset"))
    card = DatasetCard.load(readme)
    assert card.data.license == "apache-2.0" and "dpo" in card.data.tags
    assert card.data.dataset_info["splits"]  # push_to_hub added its metadata to our card
    for name in ("wrong_triage_color", "missing_do_not", "wrong_vital_range"):
        assert f"`{name}`" in card.text  # each perturbation type documented
    for field in ("`gold_id`", "`perturbation`", "`detail`", "`split`", "`seed`", "`generator`"):
        assert field in card.text  # each provenance field documented


def test_branch_and_private_repos(publish_args, hub):
    result = publish([*publish_args, "--revision", "v1", "--private", "--no-dataset"])
    assert result.exit_code == 0, result.output
    repo = hub.repo(REPO_ID)
    assert repo.private
    assert "README.md" in hub.files(REPO_ID, revision="v1")
    assert hub.files(REPO_ID, revision="main") == {}
    assert hub.repo(DATASET_ID, "dataset") is None


def test_private_never_publishes_into_an_existing_public_repo(publish_args, hub):
    from huggingface_hub import HfApi

    HfApi(endpoint=hub.url, token=TOKEN).create_repo(REPO_ID)  # public
    result = publish([*publish_args, "--private"])
    assert result.exit_code == 2
    assert "already exists and is public" in result.output
    assert f"not published: model repo {REPO_ID}, dataset repo {DATASET_ID}" in result.output
    assert hub.files(REPO_ID) == {}


def test_publishing_again_sends_no_large_file_twice(publish_args, hub):
    assert publish([*publish_args, "--no-dataset"]).exit_code == 0
    puts = hub.count("PUT", "/lfs-objects/")
    result = publish([*publish_args, "--no-dataset"])
    assert result.exit_code == 0, result.output
    assert hub.count("PUT", "/lfs-objects/") == puts  # already on the Hub: skipped


# ---------------------------------------------------------------------------------------------
# The safety rails


def test_failing_gate_verdict_refuses_with_exit_1_and_uploads_nothing(
    publish_args, failing_report, hub
):
    args = [*publish_args]
    args[args.index("--eval-report") + 1] = str(failing_report)
    result = publish(args)
    assert result.exit_code == 1
    assert "publish refused" in result.output
    assert "rate wrong_triage_color" in result.output
    assert hub.requests == []


def test_missing_gate_verdict_refuses_with_exit_1(publish_args, hub):
    args = [*publish_args]
    del args[args.index("--eval-report") : args.index("--eval-report") + 2]
    result = publish(args)
    assert result.exit_code == 1
    assert "no gate verdict: give --eval-report" in result.output
    assert hub.requests == []


def test_report_of_another_model_is_refused(publish_args, tmp_path, clean_report, hub):
    other = write_report(tmp_path / "eval" / "other", clean_report, tmp_path / "sft-other")
    args = [*publish_args]
    args[args.index("--eval-report") + 1] = str(other)
    result = publish(args)
    assert result.exit_code == 1
    assert "eval report is of this model" in result.output


def test_force_publishes_and_the_card_records_the_override(
    publish_args, failing_report, hub, tmp_path
):
    args = [*publish_args, "--force", "--no-dataset"]
    args[args.index("--eval-report") + 1] = str(failing_report)
    result = publish(args)
    assert result.exit_code == 0, result.output
    stored = hub.files(REPO_ID)
    card = stored["README.md"].decode()
    assert "Published with `--force` over the safety rails" in card
    assert "rate wrong_triage_color" in card
    assert "### Gate: FAIL" in card
    assert json.loads(stored["reports/gate.json"])["forced"] is True
    assert "--force" in hub.history(REPO_ID)[0].description
    assert "warning: publishing with --force" in result.output


# ---------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize(
    "repo_id", ["no-namespace", "a/b/c", "user/-starts-with-dash", "user/two--dashes", "us er/x"]
)
def test_invalid_repo_id_is_bad_input(publish_args, hub, repo_id):
    args = [*publish_args]
    args[args.index("--repo-id") + 1] = repo_id
    result = publish(args)
    assert result.exit_code == 2
    assert "--repo-id" in result.output and "user/name" in result.output
    assert hub.requests == []


def _no_folder(run_dir, export_dir, eval_report):
    import shutil

    shutil.rmtree(run_dir)


def _no_manifest(run_dir, export_dir, eval_report):
    (run_dir / "manifest.json").unlink()


def _no_gguf(run_dir, export_dir, eval_report):
    (export_dir / "dpo-test-Q4_K_M.gguf").unlink()


def _changed_gguf(run_dir, export_dir, eval_report):
    with (export_dir / "dpo-test-F16.gguf").open("r+b") as handle:
        handle.write(b"XXXX")


def _no_merged(run_dir, export_dir, eval_report):
    (export_dir / "merged" / "model.safetensors").unlink()


def _no_report(run_dir, export_dir, eval_report):
    eval_report.unlink()


def _export_of_another_adapter(run_dir, export_dir, eval_report):
    report = json.loads((export_dir / "export_report.json").read_text())
    report["config"]["adapter"] = "checkpoints/some-other-run"
    write_json(export_dir / "export_report.json", report)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_no_folder, "--adapter"),
        (_no_manifest, "no manifest.json"),
        (_no_gguf, "dpo-test-Q4_K_M.gguf is missing"),
        (_changed_gguf, "changed since the export verified it"),
        (_no_merged, "no config.json and safetensors"),
        (_no_report, "--eval-report"),
        (_export_of_another_adapter, "exported from adapter"),
    ],
)
def test_missing_or_inconsistent_artifacts_are_bad_input(
    publish_args, hub, run_dir, export_dir, eval_report, damage, message
):
    damage(run_dir, export_dir, eval_report)
    result = publish(publish_args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert hub.requests == []


def _report_entry(export_dir: Path, path: Path, name: str) -> None:
    """List ``path`` in the export report as ``name``, with its true size and sha256, so only
    the folder check can refuse it."""
    report = json.loads((export_dir / "export_report.json").read_text())
    report["files"][0].update(file=name, size_bytes=path.stat().st_size, sha256=sha256(path))
    write_json(export_dir / "export_report.json", report)


def _secret(export_dir: Path) -> Path:
    secret = export_dir.parent / "SECRET.txt"
    secret.write_text("not for the Hub\n")
    return secret


def _entry_up_and_out(export_dir):
    _report_entry(export_dir, _secret(export_dir), "../SECRET.txt")
    return "../SECRET.txt"


def _absolute_entry(export_dir):
    secret = _secret(export_dir)
    _report_entry(export_dir, secret, str(secret))
    return str(secret)


def _gguf_symlink_out(export_dir):
    link = export_dir / "dpo-test-Q8_0.gguf"
    link.symlink_to(_secret(export_dir))
    _report_entry(export_dir, link, link.name)
    return link.name


def _merged_folder_elsewhere(export_dir):
    elsewhere = export_dir.parent / "elsewhere"
    shutil.copytree(export_dir / "merged", elsewhere)
    report = json.loads((export_dir / "export_report.json").read_text())
    report["merge"]["folder"] = "../elsewhere"
    write_json(export_dir / "export_report.json", report)
    return "../elsewhere"


def _merged_file_symlink_out(export_dir):
    (export_dir / "merged" / "special_tokens_map.json").symlink_to(_secret(export_dir))
    return "special_tokens_map.json"


@pytest.mark.parametrize(
    "escape",
    [
        _entry_up_and_out,
        _absolute_entry,
        _gguf_symlink_out,
        _merged_folder_elsewhere,
        _merged_file_symlink_out,
    ],
)
def test_an_export_report_entry_outside_the_export_folder_is_refused_naming_it(
    publish_args, hub, export_dir, escape
):
    entry = escape(export_dir)
    result = publish([*publish_args, "--dry-run"])
    assert result.exit_code == 2, result.output
    assert entry in result.output and "outside the export folder" in result.output
    assert "SECRET" not in result.output.replace(entry, "")
    assert hub.requests == []


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda config: config.update(base_model="/models/base\n## Injected"), "base_model"),
        (lambda config: config.update(base_model="models/a`b"), "base_model"),
    ],
)
def test_a_model_name_that_could_break_the_card_is_refused(
    publish_args, hub, run_dir, change, named
):
    manifest = json.loads((run_dir / "manifest.json").read_text())
    change(manifest["config"])
    write_json(run_dir / "manifest.json", manifest)
    result = publish([*publish_args, "--dry-run"])
    assert result.exit_code == 2, result.output
    assert named in result.output and "\n## Injected" not in result.output
    assert hub.requests == []


@pytest.mark.parametrize("name", ["a`b.gguf", "x\nFROM evil.gguf", "x y.gguf"])
def test_a_gguf_name_that_could_break_the_card_is_refused(publish_args, hub, export_dir, name):
    path = export_dir / name
    path.write_bytes(b"GGUF")
    _report_entry(export_dir, path, name)
    result = publish([*publish_args, "--dry-run"])
    assert result.exit_code == 2, result.output
    assert repr(name) in result.output
    assert hub.requests == []


def _negative_rate(report):
    report["rates"]["wrong_dose"]["rate"] = -0.5
    return "rates.wrong_dose.rate: -0.5 is not between 0 and 1"


def _count_above_n(report):
    report["rates"]["missing_do_not"].update(count=50, n=4, rate=0.0)
    return "rates.missing_do_not.count: 50 is more than n (4)"


def _boolean_schema_version(report):
    report["schema_version"] = True
    return "schema_version: must be an integer, not true"


def _n_as_a_string(report):
    report["rates"]["wrong_dose"]["n"] = str(report["rates"]["wrong_dose"]["n"])
    return "rates.wrong_dose.n: must be an integer, not"


@pytest.mark.parametrize(
    "damage", [_negative_rate, _count_above_n, _boolean_schema_version, _n_as_a_string]
)
@pytest.mark.parametrize("option", ["--eval-report", "--baseline"])
def test_untrustworthy_eval_report_is_bad_input_naming_the_field(
    publish_args, hub, tmp_path, clean_report, run_dir, option, damage
):
    report = copy.deepcopy(clean_report)
    problem = damage(report)
    path = write_report(tmp_path / "eval" / "damaged", report, run_dir)
    args = [*publish_args]
    if option == "--baseline":
        args += ["--baseline", "placeholder"]
    args[args.index(option) + 1] = str(path)
    result = publish(args)
    assert result.exit_code == 2, result.output
    assert f"error: {option} {path}: {problem}" in result.output
    assert hub.requests == []


def test_no_token_is_bad_input_with_login_help(publish_args, hub, monkeypatch):
    monkeypatch.delenv("HF_TOKEN")
    result = publish(publish_args)
    assert result.exit_code == 2
    assert "no Hugging Face token" in result.output
    assert "hf auth login" in result.output and "HF_TOKEN" in result.output
    assert hub.requests == []


def test_refused_token_is_bad_input_and_never_shown(publish_args, run_dir, pairs_dir):
    with FakeHub("hf_theOnlyTokenTheHubAccepts") as other_hub:
        args = [*publish_args]
        args[args.index("--endpoint") + 1] = other_hub.url
        result = publish(args)
    assert result.exit_code == 2
    assert "the Hub refused the token" in result.output
    assert "hf auth login" in result.output
    assert "published model" not in result.output
    assert f"not published: model repo {REPO_ID}" in result.output


# ---------------------------------------------------------------------------------------------
# Network failures


def test_a_failed_commit_is_retried_without_sending_uploaded_files_again(
    publish_args, hub, no_sleep
):
    hub.fail("POST", f"/api/models/{REPO_ID}/commit/", times=1)
    result = publish([*publish_args, "--no-dataset"])
    assert result.exit_code == 0, result.output
    assert "attempt 1 of 3 failed" in result.output
    assert f"published model repo {REPO_ID}" in result.output
    assert hub.count("POST", "/commit/") == 2
    puts = [path for method, path in hub.requests if method == "PUT"]
    assert puts and len(puts) == len(set(puts))  # each LFS object sent once: resumed
    assert len(hub.history(REPO_ID)) == 2


def test_dropped_connections_end_in_a_clear_error_and_nothing_is_claimed(
    publish_args, hub, no_sleep
):
    hub.fail("PUT", "/lfs-objects/", times=1000, status=None)  # the network is gone
    result = publish(publish_args)
    assert result.exit_code == 3
    assert f"upload to {REPO_ID} failed after 3 attempts" in result.output
    assert "Nothing was committed" in result.output
    assert "published " not in result.output.replace("not published", "")
    assert f"not published: model repo {REPO_ID}, dataset repo {DATASET_ID}" in result.output
    assert hub.files(REPO_ID) == {}  # the repo exists, but holds no file
    assert hub.count("POST", "/commit/") == 0


def test_a_failed_dataset_push_reports_the_model_as_the_only_repo_published(
    publish_args, hub, no_sleep
):
    hub.fail("POST", f"/api/datasets/{DATASET_ID}/commit/", times=1000, status=503)
    result = publish(publish_args)
    assert result.exit_code == 3
    assert f"published model repo {REPO_ID}" in result.output
    assert f"not published: dataset repo {DATASET_ID}" in result.output
    assert "README.md" in hub.files(REPO_ID)
    assert hub.files(DATASET_ID, "dataset") == {}


# ---------------------------------------------------------------------------------------------
# The demo's dry run and the import rule


def test_demo_dry_run_prints_the_plan_and_returns_the_rails_verdict(
    run_dir, export_dir, eval_report, failing_report, pairs_dir
):
    lines: list[str] = []
    status = publish_dry_run(
        run_dir, export_dir, eval_report, pairs=pairs_dir, thresholds=THRESHOLDS, say=lines.append
    )
    text = "\n".join(lines)
    assert status == 0, text
    assert "dry run: nothing is uploaded" in text and "dpo-test-Q4_K_M.gguf" in text
    lines.clear()
    status = publish_dry_run(
        run_dir,
        export_dir,
        failing_report,
        pairs=pairs_dir,
        thresholds=THRESHOLDS,
        say=lines.append,
    )
    assert status == 1
    assert "publish refused" in "\n".join(lines)


def test_align_cli_runs_publish(publish_args, hub):
    from align.cli import app

    runner = CliRunner()
    help_text = runner.invoke(app, ["publish", "--help"]).output
    for option in ("--repo-id", "--adapter", "--export", "--eval-report", "--dry-run", "--force"):
        assert option in help_text
    result = runner.invoke(app, ["publish", *publish_args, "--dry-run"])
    assert result.exit_code == 0, result.output
    assert hub.requests == []


def test_publish_path_imports_no_torch(run_dir, export_dir, eval_report, pairs_dir):
    code = f"""
import sys
import align.cli
heavy = ("huggingface_hub", "datasets", "torch")
assert not [m for m in heavy if m in sys.modules], "imported at CLI start"
from align.hub.command import publish_dry_run
status = publish_dry_run({str(run_dir)!r}, {str(export_dir)!r}, {str(eval_report)!r},
                         pairs={str(pairs_dir)!r}, say=lambda text: None)
assert status == 0, status
assert "torch" not in sys.modules, "the dry run imported torch"
assert "datasets" not in sys.modules, "the dry run imported datasets"
"""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
