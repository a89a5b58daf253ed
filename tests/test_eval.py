"""`align eval` on a tiny LFM2: the report's contents and files, the baseline comparison,
bad input refused before any output, and the two backends (transformers, llama.cpp on the
exported GGUF) giving the same greedy text from the same prompt ids.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from align.evaluation.report import read_report

REPO = Path(__file__).resolve().parent.parent
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def eval_args(tiny_base, sft_adapter, tiny_pairs, out, *extra) -> list:
    return [
        "eval",
        "--base-model",
        tiny_base,
        "--adapter",
        sft_adapter,
        "--gold",
        REPO / "preference_data/gold",
        "--pairs",
        tiny_pairs,
        "--limit",
        "2",
        "--max-new-tokens",
        "12",
        "--batch-size",
        "3",
        "--out",
        out,
        *extra,
    ]


@pytest.fixture(scope="module")
def evaluated(tiny_base, sft_adapter, tiny_pairs, tmp_path_factory, run_align_anywhere):
    """Two runs of the same eval, the second against the first as its baseline."""
    folder = tmp_path_factory.mktemp("eval")
    first = run_align_anywhere(
        *eval_args(tiny_base, sft_adapter, tiny_pairs, folder / "first"), cwd=folder, timeout=300
    )
    assert first.returncode == 0, first.stderr
    second = run_align_anywhere(
        *eval_args(
            tiny_base,
            sft_adapter,
            tiny_pairs,
            folder / "second",
            "--baseline",
            folder / "first/report.json",
        ),
        cwd=folder,
        timeout=300,
    )
    assert second.returncode == 0, second.stderr
    return {"folder": folder, "first": first, "second": second}


def test_eval_writes_report_markdown_responses_and_chart(evaluated):
    out = evaluated["folder"] / "first"
    report = read_report(out / "report.json")  # the schema the gate reads
    assert report["eval_set"] == {
        "cases": 4,
        "gold_eval": 2,
        "heldout": 2,
        "limit": 2,
        "digest": report["eval_set"]["digest"],
    }
    decoding = report["decoding"]
    assert decoding["backend"] == "transformers" and decoding["do_sample"] is False
    assert decoding["max_new_tokens"] == 12 and decoding["batch_size"] == 3
    for entry in report["rates"].values():
        low, high = entry["ci95"]
        assert 0 <= low <= (entry["rate"] or 0) <= high <= 1
    assert report["rates"]["any_finding"]["n"] == 4
    responses = [json.loads(line) for line in (out / "responses.jsonl").read_text().splitlines()]
    assert [r["source"] for r in responses] == ["gold-eval"] * 2 + ["heldout"] * 2
    assert all(r["response"] for r in responses)
    assert (out / "rates.png").read_bytes().startswith(PNG_MAGIC)
    markdown = (out / "report.md").read_text()
    assert "## Rejected-pattern rates" in markdown and "Confusion" in markdown
    assert "missing_do_not" in evaluated["first"].stdout  # the summary table


def test_eval_measures_preference_per_perturbation_on_the_eval_pairs(evaluated):
    preference = read_report(evaluated["folder"] / "first/report.json")["preference"]
    assert set(preference["by_perturbation"]) == {"missing_do_not", "wrong_triage_color"}
    for entry in preference["by_perturbation"].values():
        assert entry["n"] == 2 and 0 <= entry["accuracy"] <= 1
        assert isinstance(entry["mean_margin"], float)


def test_same_model_against_its_own_baseline_shows_zero_deltas(evaluated):
    """Greedy decoding is deterministic: the second run's deltas are all zero."""
    report = read_report(evaluated["folder"] / "second/report.json")
    deltas = report["baseline"]["deltas"]
    assert "rates.missing_do_not" in deltas and "triage.accuracy" in deltas
    assert all(abs(entry["delta"]) < 1e-9 and not entry["worse"] for entry in deltas.values())
    assert "## Against the baseline" in (evaluated["folder"] / "second/report.md").read_text()


def test_gate_reads_the_eval_report(evaluated, run_align, tmp_path):
    """An untrained tiny model fails the field thresholds; against itself, no regression."""
    import xml.etree.ElementTree as ET

    report = evaluated["folder"] / "second/report.json"
    junit = tmp_path / "junit.xml"
    result = run_align(
        "gate",
        report,
        "--baseline",
        report,
        "--thresholds",
        REPO / "configs/gate.toml",
        "--junit",
        junit,
    )
    assert result.returncode == 1, result.stderr
    cases = {case.get("name"): case.find("failure") is None for case in ET.parse(junit).getroot()}
    assert cases["regression rates.missing_do_not"] is True
    assert any(not passed for name, passed in cases.items() if name.startswith("rate "))


def test_bad_eval_input_exits_2_and_writes_nothing(
    tiny_base, sft_adapter, tiny_pairs, evaluated, run_align, tmp_path
):
    other_set = tmp_path / "other-set"
    # A baseline from another eval set is refused before generating: no output folder.
    for extra, message in (
        (["--gguf", tmp_path / "missing.gguf"], "missing.gguf"),
        (["--limit", "0"], "--limit 0: must be at least 1"),
        (["--heldout-draws", "0"], "--heldout-draws 0: must be at least 1"),
        (["--no-heldout", "--baseline", evaluated["folder"] / "first/report.json"], "another"),
    ):
        args = eval_args(tiny_base, sft_adapter, tiny_pairs, other_set, *extra)
        if extra[0] == "--gguf":
            args.remove("--adapter")
            args.remove(sft_adapter)
        result = run_align(*args)
        assert result.returncode == 2, (extra, result.stderr)
        assert message in result.stderr, (extra, result.stderr)
        assert not (other_set / "report.json").exists()


def test_empty_eval_set_is_refused(tmp_path):
    from align.evaluation.run import EvalConfig, EvalError, eval_cases

    (tmp_path / "gold").mkdir()
    empty = tmp_path / "gold/none.jsonl"
    empty.write_text("")
    with pytest.raises(EvalError, match="empty"):
        eval_cases(EvalConfig(gold=[str(empty)], heldout=False))


# --- transformers and llama.cpp agree on the toy --------------------------------------------


@pytest.fixture(scope="module")
def exported_f16(tiny_base, sft_adapter, tmp_path_factory):
    pytest.importorskip("llama_cpp", reason="align[gguf] is not installed")
    from align.export.gguf import convert_to_gguf
    from align.export.merge import merge_adapter

    folder = tmp_path_factory.mktemp("eval-export")
    merge_adapter(str(tiny_base), str(sft_adapter), folder / "merged", dtype="f16")
    return folder / "merged", convert_to_gguf(folder / "merged", folder / "tiny-F16.gguf")


def prompts() -> list[list[dict]]:
    from align.evaluation.scenarios import heldout_cases

    cases = heldout_cases()
    return [cases[i].prompt for i in (0, 17, 40)]


def test_hf_and_gguf_backends_give_same_prompt_ids_and_greedy_text(exported_f16):
    """Same chat template, same ids; greedy continuations equal, or, where f16 rounding
    flips an argmax, the flip is at a near-tie of the HF logits (reported)."""
    import torch

    from align.evaluation.backends import LlamaCppGenerator, TransformersGenerator

    merged, gguf_path = exported_f16
    hf = TransformersGenerator(str(merged), dtype="float32", batch_size=1, max_new_tokens=24)
    llama = LlamaCppGenerator(str(gguf_path), max_new_tokens=24, threads=1)
    for prompt in prompts():
        ids = hf.prompt_ids(prompt)
        assert llama.prompt_ids(prompt) == ids
        hf_text, llama_text = hf.generate([prompt])[0], llama.generate([prompt])[0]
        if hf_text == llama_text:
            continue
        # Where they part, HF's own top two logits must be within f16 rounding.
        hf_ids = hf.tokenizer(hf_text, add_special_tokens=False)["input_ids"]
        llama_ids = hf.tokenizer(llama_text, add_special_tokens=False)["input_ids"]
        at = next(i for i, (a, b) in enumerate(zip(hf_ids, llama_ids, strict=False)) if a != b)
        with torch.inference_mode():
            logits = hf.model(input_ids=torch.tensor([ids + hf_ids[:at]])).logits[0, -1]
        top = torch.topk(logits.float(), 2).values
        assert float(top[0] - top[1]) < 0.05, (
            f"greedy texts differ at token {at} though HF's margin is {float(top[0] - top[1])}: "
            f"{hf_text!r} vs {llama_text!r}"
        )


def test_eval_with_the_gguf_backend_records_llama_cpp_decoding(exported_f16, run_align, tmp_path):
    _, gguf_path = exported_f16
    result = run_align(
        "eval",
        "--gguf",
        gguf_path,
        "--gold",
        REPO / "preference_data/gold",
        "--limit",
        "1",
        "--max-new-tokens",
        "8",
        "--out",
        tmp_path / "out",
    )
    assert result.returncode == 0, result.stderr
    report = read_report(tmp_path / "out/report.json")
    assert report["decoding"]["backend"] == "llama.cpp" and report["decoding"]["top_k"] == 1
    assert report["model"]["gguf_sha256"] and "skipped" in report["preference"]
