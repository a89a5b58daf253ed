"""What `align publish` will do: the options, which file goes where on the Hub, the two cards
and the safety rails' verdict; and the dry-run text that shows all of it. Nothing here talks to
the Hub.

The model repo (``--repo-id``), written in one commit::

    README.md                 the model card
    config.json, model.safetensors, tokenizer files, ...
                              the merged 16-bit model at the root: transformers loads the repo id
    <name>-F16.gguf, <name>-Q4_K_M.gguf, ...
                              GGUF files at the root: ``llama-cli -hf user/name:Q4_K_M`` finds them
    Modelfile                 Ollama, when the export wrote one
    adapter/                  the LoRA adapter, its tokenizer, manifest.json, metrics.json
    reports/                  eval report (JSON, Markdown, chart, responses), baseline report,
                              gate.json (the verdict recomputed here), the gate thresholds,
                              the export's verification report

The dataset repo (``--dataset-repo-id``, default ``<repo-id>-pairs``): README.md (the dataset
card), then ``data/{train,eval}-*.parquet`` from ``datasets``' ``push_to_hub``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from align.hub.artifacts import (
    Artifacts,
    PublishError,
    Verdict,
    check_branch,
    check_repo_id,
    gate_verdict,
    read_evaluation,
    read_export,
    read_pairs,
    read_training_run,
)

DEFAULT_THRESHOLDS = Path("configs/gate.toml")
DEFAULT_PAIRS = Path("preference_data/pairs")
DATASET_SUFFIX = "-pairs"
# Files `align eval` writes next to report.json, and their names under reports/.
EVAL_FILES = {
    "report.json": "eval_report.json",
    "report.md": "eval_report.md",
    "rates.png": "rates.png",
    "responses.jsonl": "eval_responses.jsonl",
}


@dataclass
class PublishOptions:
    repo_id: str
    adapter: Path
    export: Path | None = None
    eval_report: Path | None = None
    thresholds: Path = DEFAULT_THRESHOLDS
    baseline: Path | None = None
    pairs: Path = DEFAULT_PAIRS
    dataset: bool = True  # also publish the pairs as a dataset
    dataset_repo_id: str | None = None  # default: <repo_id>-pairs
    private: bool = False
    revision: str = "main"  # the branch to commit to (created when missing)
    license: str | None = None  # default: the base model's (Apache-2.0 for the toy)
    force: bool = False  # publish although the safety rails refuse (recorded in the card)
    dry_run: bool = False
    endpoint: str | None = None  # default: HF_ENDPOINT, else https://huggingface.co
    retries: int = 3  # attempts per repo on network or server errors
    retry_wait: float = 5.0  # seconds before the second attempt (doubled after)

    def dataset_repo(self) -> str | None:
        if not self.dataset:
            return None
        return self.dataset_repo_id or self.repo_id + DATASET_SUFFIX


@dataclass(frozen=True)
class RepoFile:
    """One file of a commit: a local file (``source``) or text made here (``content``)."""

    path_in_repo: str
    size: int
    source: Path | None = None
    content: bytes | None = None

    @classmethod
    def local(cls, path: Path, path_in_repo: str) -> RepoFile:
        return cls(path_in_repo, path.stat().st_size, source=path)

    @classmethod
    def text(cls, text: str, path_in_repo: str) -> RepoFile:
        data = text.encode("utf-8")
        return cls(path_in_repo, len(data), content=data)

    def origin(self) -> str:
        return str(self.source) if self.source is not None else "generated"


@dataclass
class PublishPlan:
    options: PublishOptions
    artifacts: Artifacts
    verdict: Verdict
    model_files: list[RepoFile]  # README.md first
    dataset_card: str | None

    @property
    def refused(self) -> bool:
        """The safety rails say no and --force was not given."""
        return not self.verdict.passed and not self.options.force

    @property
    def model_card(self) -> str:
        return self.model_files[0].content.decode("utf-8")


def check_options(options: PublishOptions) -> None:
    check_repo_id(options.repo_id, "--repo-id")
    if options.dataset_repo_id is not None:
        check_repo_id(options.dataset_repo_id, "--dataset-repo-id")
    check_branch(options.revision)
    if options.baseline is not None and options.eval_report is None:
        raise PublishError("--baseline compares an eval report: give --eval-report too")
    if options.retries < 1:
        raise PublishError("--retries must be at least 1")
    if options.license is not None and not options.license.strip():
        raise PublishError("--license must name a license id, e.g. apache-2.0")


def read_artifacts(options: PublishOptions) -> Artifacts:
    run = read_training_run(options.adapter)
    export = read_export(options.export, run) if options.export is not None else None
    evaluation = None
    if options.eval_report is not None:
        evaluation = read_evaluation(options.eval_report, options.thresholds, options.baseline)
    pairs = read_pairs(options.pairs) if options.dataset else None
    return Artifacts(run, export, evaluation, pairs)


def build_plan(options: PublishOptions) -> PublishPlan:
    """Check the options and every input, recompute the gate verdict, lay out the files and
    write the cards. Raises PublishError for bad input; reads files, writes none."""
    from align.hub.card import dataset_card, gate_json, model_card

    check_options(options)
    artifacts = read_artifacts(options)
    verdict = gate_verdict(artifacts.evaluation, artifacts.run, artifacts.export)
    forced = options.force and not verdict.passed
    files = model_repo_files(artifacts)
    files.append(RepoFile.text(gate_json(verdict, artifacts, forced), "reports/gate.json"))
    card = model_card(
        artifacts,
        verdict,
        options.repo_id,
        options.dataset_repo(),
        options.license,
        forced,
        [(f.path_in_repo, f.size) for f in files],
    )
    data_card = None
    if artifacts.pairs is not None:
        data_card = dataset_card(artifacts, options.dataset_repo(), options.repo_id)
    return PublishPlan(
        options, artifacts, verdict, [RepoFile.text(card, "README.md"), *files], data_card
    )


def model_repo_files(artifacts: Artifacts) -> list[RepoFile]:
    """Every local file of the model repo with its path there (the layout above)."""
    files = []
    export = artifacts.export
    if export is not None:
        files += [RepoFile.local(path, path.name) for path in export.merged_files]
        files += [RepoFile.local(path, path.name) for path in export.gguf_files]
        if export.modelfile is not None:
            files.append(RepoFile.local(export.modelfile, "Modelfile"))
    files += [RepoFile.local(path, f"adapter/{path.name}") for path in artifacts.run.files]
    evaluation = artifacts.evaluation
    if evaluation is not None:
        files.append(RepoFile.local(evaluation.report_path, "reports/eval_report.json"))
        # report.md, rates.png and responses.jsonl only when they sit beside this report.json
        if evaluation.report_path.name == "report.json":
            for name, target in EVAL_FILES.items():
                path = evaluation.report_path.parent / name
                if name != "report.json" and path.is_file():
                    files.append(RepoFile.local(path, f"reports/{target}"))
        if evaluation.baseline_path is not None:
            files.append(RepoFile.local(evaluation.baseline_path, "reports/baseline_report.json"))
        files.append(RepoFile.local(evaluation.thresholds_path, "reports/gate_thresholds.toml"))
    if export is not None:
        from align.export.pipeline import REPORT_FILE

        files.append(RepoFile.local(export.folder / REPORT_FILE, f"reports/{REPORT_FILE}"))
    return files


# --- the dry run --------------------------------------------------------------------------


def plan_text(plan: PublishPlan, token_note: str) -> str:
    """Exactly what would be uploaded: each repo, its files with sizes and origins, the
    verdict, the token's state, and both cards in full."""
    from align.hub.card import human_size

    options = plan.options
    visibility = "private" if options.private else "public"
    total = sum(f.size for f in plan.model_files)
    lines = [
        f"model repo {options.repo_id} ({visibility}, branch {options.revision}): one commit, "
        f"{len(plan.model_files)} files, {human_size(total)}",
    ]
    width = max(len(f.path_in_repo) for f in plan.model_files)
    for file in plan.model_files:
        lines.append(
            f"  {file.path_in_repo:<{width}}  {human_size(file.size):>10}  {file.origin()}"
        )
    pairs = plan.artifacts.pairs
    if pairs is not None:
        counts = ", ".join(
            f"{split} {len(records)} pairs" for split, records in pairs.splits.items()
        )
        lines += [
            f"dataset repo {options.dataset_repo()} ({visibility}, branch {options.revision}): "
            f"README.md (dataset card, {human_size(len(plan.dataset_card.encode()))}), then "
            f"datasets.push_to_hub: {counts} from {pairs.folder} as data/<split>-*.parquet",
        ]
    else:
        lines.append("dataset repo: none (--no-dataset)")
    lines += verdict_lines(plan)
    lines.append(f"token: {token_note}")
    lines += ["", "----- model card: README.md -----", plan.model_card.rstrip()]
    if plan.dataset_card is not None:
        lines += ["", "----- dataset card: README.md -----", plan.dataset_card.rstrip()]
    return "\n".join(lines) + "\n"


def verdict_lines(plan: PublishPlan) -> list[str]:
    verdict = plan.verdict
    if verdict.passed:
        return [f"safety rails: pass ({len(verdict.checks)} checks)"]
    state = "overridden by --force (recorded in the card)" if plan.options.force else "REFUSED"
    lines = [f"safety rails: {state}"]
    lines += [f"  - {reason}" for reason in verdict.reasons()]
    return lines
