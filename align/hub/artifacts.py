"""The inputs of `align publish`, read and checked before anything is uploaded: the training
run (adapter + manifest), the export (merged model + GGUF files + export report), the eval
report with its gate verdict recomputed in-process, and the preference pairs.

Torch-free and Hub-free: the dry run and every bad-input check need neither. Each problem is a
``PublishError`` naming the option and the file.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from align.evaluation.gate import Check

ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")
# Left out of the adapter folder on the Hub: PEFT's boilerplate card (the repo's README is the
# model card) and the run's options file (manifest.json holds the same options, and a loader
# would take a config.json for a model config).
ADAPTER_LEFT_OUT = ("README.md", "config.json")
PAIR_FIELDS = ("prompt", "chosen", "rejected", "gold_id", "perturbation", "detail", "split")
REPO_PART = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
# A name that reaches a card, a commit or the repo layout (a model, a folder, a file): parts of
# letters, digits, '.', '_' and '-' joined by '/'. Nothing that could end a line, a Markdown
# code span or a quoted string.
SAFE_NAME = re.compile(r"[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*")
BRANCH = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._/-]*[A-Za-z0-9])?")


class PublishError(ValueError):
    """Bad input for `align publish` (exit 2); the message names the option and the file."""


@dataclass
class TrainingRun:
    folder: Path
    manifest: dict
    adapter_config: dict
    files: list[Path]  # what goes to adapter/ on the Hub

    @property
    def command(self) -> str:
        return self.manifest.get("command", "?")

    @property
    def config(self) -> dict:
        return self.manifest.get("config", {})


@dataclass
class Export:
    folder: Path
    report: dict
    merged_files: list[Path]
    gguf_files: list[Path]
    modelfile: Path | None


@dataclass
class Evaluation:
    report_path: Path
    report: dict
    thresholds_path: Path
    thresholds: dict
    baseline_path: Path | None
    baseline: dict | None


@dataclass
class Pairs:
    folder: Path
    summary: dict
    splits: dict[str, list[dict]]  # split -> pair records, as in the files

    def counts(self) -> dict[str, dict[str, int]]:
        """perturbation -> {split: pairs}."""
        table: dict[str, dict[str, int]] = {}
        for split, records in self.splits.items():
            for record in records:
                row = table.setdefault(record["perturbation"], dict.fromkeys(self.splits, 0))
                row[split] += 1
        return dict(sorted(table.items()))


@dataclass
class Artifacts:
    """Everything `align publish` read; export, evaluation and pairs are optional."""

    run: TrainingRun
    export: Export | None
    evaluation: Evaluation | None
    pairs: Pairs | None


@dataclass
class Verdict:
    """The safety rails: the gate's checks on the eval report plus publish's own. ``missing``
    says why there is no gate verdict at all."""

    checks: list[Check] = field(default_factory=list)
    missing: str | None = None

    @property
    def passed(self) -> bool:
        return self.missing is None and all(check.passed for check in self.checks)

    def reasons(self) -> list[str]:
        """Why publishing is refused, one line each (empty when it is not)."""
        reasons = [self.missing] if self.missing else []
        for check in self.checks:
            if not check.passed:
                value = f"{100 * check.value:.1f}%, " if check.value is not None else ""
                detail = f" ({check.detail})" if check.detail else ""
                reasons.append(f"{check.name}: {value}limit {check.limit}{detail}")
        return reasons


# --- option checks ------------------------------------------------------------------------


def check_repo_id(value: str, option: str) -> str:
    """A Hub repo id, ``user/name``: two parts of letters, digits, '-', '_' and '.', each
    starting and ending with a letter or digit, no '--' or '..', the name at most 96 long."""
    parts = value.split("/")
    if (
        len(parts) != 2
        or not all(REPO_PART.fullmatch(part) for part in parts)
        or "--" in value
        or ".." in value
        or len(parts[1]) > 96
    ):
        raise PublishError(
            f"{option} {value!r}: not a Hub repo id; write it as user/name (letters, digits, "
            "'-', '_' and '.'; no '--' or '..'; each part starts and ends with a letter or digit)"
        )
    return value


def check_branch(value: str) -> str:
    if not BRANCH.fullmatch(value) or ".." in value or value.startswith("refs/"):
        raise PublishError(
            f"--revision {value!r}: not a branch name (letters, digits, '.', '_', '-', '/')"
        )
    return value


def check_name(value: object, what: str) -> str:
    """``value`` when it is a SAFE_NAME; PublishError naming ``what`` otherwise."""
    if not isinstance(value, str) or not SAFE_NAME.fullmatch(value):
        raise PublishError(
            f"{what} {value!r}: not a plain name (letters, digits, '.', '_', '-' and '/'); "
            "it would be written into the card as it is"
        )
    return value


def inside(folder: Path, name: object, what: str) -> Path:
    """``folder / name`` when it stays inside ``folder`` once resolved (symlinks followed);
    PublishError naming the entry otherwise: a report must not send another file."""
    if not isinstance(name, str) or not name:
        raise PublishError(f"{what}: {name!r} is not a file name")
    path = folder / name
    if not path.resolve().is_relative_to(folder.resolve()):
        raise PublishError(f"{what}: {name!r} is outside the export folder {folder}")
    return path


def _read_json(path: Path, option: str) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PublishError(f"{option}: {path} does not exist") from None
    except OSError as error:
        raise PublishError(f"{option}: {path}: cannot read: {error.strerror or error}") from error
    except (UnicodeDecodeError, ValueError) as error:
        raise PublishError(f"{option}: {path}: not valid JSON ({error})") from error
    if not isinstance(data, dict):
        raise PublishError(f"{option}: {path}: expected a JSON object")
    return data


def _folder(path: Path, option: str) -> Path:
    if not path.is_dir():
        raise PublishError(f"{option} {path}: no such folder")
    return path


def same_folder(recorded: str | None, actual: Path) -> bool:
    """A path recorded by an earlier command names ``actual``: the same folder, or (once
    folders were moved) one with the same name."""
    if not recorded:
        return False
    recorded_path = Path(recorded)
    return recorded_path.resolve() == actual.resolve() or recorded_path.name == actual.name


# --- the inputs ---------------------------------------------------------------------------


def read_training_run(folder: Path) -> TrainingRun:
    """The run folder of `align dpo` (or `align sft`): adapter weights and config, tokenizer,
    metrics and the run manifest (the card's training data and recipe)."""
    _folder(folder, "--adapter")
    if not (folder / "adapter_config.json").is_file():
        raise PublishError(
            f"--adapter {folder}: no adapter_config.json (not a LoRA adapter folder)"
        )
    if not any((folder / name).is_file() for name in ADAPTER_WEIGHTS):
        raise PublishError(f"--adapter {folder}: no {ADAPTER_WEIGHTS[0]} (adapter weights)")
    if not (folder / "manifest.json").is_file():
        raise PublishError(
            f"--adapter {folder}: no manifest.json; publish needs the run manifest that "
            "`align sft` and `align dpo` write (the card's training data and recipe)"
        )
    manifest = _read_json(folder / "manifest.json", "--adapter")
    if folder.name:  # the card and the commit message name the run folder
        check_name(folder.name, "--adapter folder")
    adapter_config = _read_json(folder / "adapter_config.json", "--adapter")
    files = sorted(
        path
        for path in folder.iterdir()
        if path.is_file() and not path.name.startswith(".") and path.name not in ADAPTER_LEFT_OUT
    )
    return TrainingRun(folder, manifest, adapter_config, files)


def read_export(folder: Path, run: TrainingRun) -> Export:
    """The folder `align export` wrote: merged/, the GGUF files its report lists (each one
    still the size and sha256 the verification recorded) and the optional Modelfile."""
    from align.export.pipeline import MODELFILE, REPORT_FILE
    from align.train.runs import file_sha256

    _folder(folder, "--export")
    where = f"--export {folder}: {REPORT_FILE}"
    report = _read_json(inside(folder, REPORT_FILE, where), "--export")
    exported_from = report.get("config", {}).get("adapter")
    if not same_folder(exported_from, run.folder):
        raise PublishError(
            f"--export {folder}: exported from adapter {exported_from!r}, not from "
            f"--adapter {run.folder}"
        )
    merged = inside(folder, report.get("merge", {}).get("folder", "merged"), f"{where} merge")
    _folder(merged, "--export")
    merged_files = sorted(p for p in merged.iterdir() if p.is_file() and p.name != "README.md")
    for path in merged_files:
        inside(folder, str(path.relative_to(folder)), f"{where} merged file")
    if not (merged / "config.json").is_file() or not any(
        p.suffix == ".safetensors" for p in merged_files
    ):
        raise PublishError(f"--export {folder}: {merged} holds no config.json and safetensors")
    entries = report.get("files") or []
    if not entries:
        raise PublishError(f"--export {folder}: {REPORT_FILE} lists no GGUF file")
    gguf_files = []
    for entry in entries:
        name = entry.get("file") if isinstance(entry, dict) else None
        path = inside(folder, name, f"{where} entry")
        check_name(name, f"{where} entry")
        if not path.is_file():
            raise PublishError(f"--export {folder}: {entry['file']} is missing")
        if path.stat().st_size != entry.get("size_bytes") or file_sha256(path) != entry.get(
            "sha256"
        ):
            raise PublishError(
                f"--export {folder}: {entry['file']} changed since the export verified it "
                "(size or sha256 differs from the report); export again"
            )
        gguf_files.append(path)
    modelfile = folder / MODELFILE if (folder / MODELFILE).is_file() else None
    if modelfile is not None:
        inside(folder, MODELFILE, f"--export {folder}")
    return Export(folder, report, merged_files, gguf_files, modelfile)


def read_evaluation(
    report_path: Path, thresholds_path: Path, baseline_path: Path | None
) -> Evaluation:
    from align.evaluation.gate import GateInputError, read_thresholds
    from align.evaluation.report import ReportError, read_report

    try:
        report = read_report(report_path)
    except ReportError as error:
        raise PublishError(f"--eval-report {error}") from error
    try:
        thresholds = read_thresholds(thresholds_path)
    except GateInputError as error:
        raise PublishError(f"--thresholds {error}") from error
    baseline = None
    if baseline_path is not None:
        try:
            baseline = read_report(baseline_path)
        except ReportError as error:
            raise PublishError(f"--baseline {error}") from error
    return Evaluation(report_path, report, thresholds_path, thresholds, baseline_path, baseline)


def read_pairs(folder: Path) -> Pairs:
    """train.jsonl, eval.jsonl and summary.json as `align pairs` writes them."""
    from align.data.io import DataError, iter_jsonl
    from align.data.pairs import SPLITS

    _folder(folder, "--pairs")
    summary = _read_json(folder / "summary.json", "--pairs")
    splits = {}
    for split in SPLITS:
        path = folder / f"{split}.jsonl"
        try:
            lines = list(iter_jsonl(path))
        except DataError as error:
            raise PublishError(f"--pairs {error}") from error
        for number, record in lines:
            missing = [name for name in PAIR_FIELDS if name not in record]
            if missing:
                raise PublishError(f"--pairs {path}:{number}: missing {', '.join(missing)}")
        splits[split] = [record for _, record in lines]
    if not any(splits.values()):
        raise PublishError(f"--pairs {folder}: no pairs")
    return Pairs(folder, summary, splits)


# --- the safety rails ---------------------------------------------------------------------


def gate_verdict(evaluation: Evaluation | None, run: TrainingRun, export: Export | None) -> Verdict:
    """The gate's checks, recomputed from the report exactly as `align gate` does, plus two of
    publish's own: the report is about this model, and the export passed its verification."""
    from align.evaluation.gate import GateInputError, gate_report

    verdict = Verdict()
    if export is not None:
        passed = bool(export.report.get("passed"))
        verdict.checks.append(
            Check(
                "export verified",
                None,
                "every GGUF verified",
                passed,
                "" if passed else "the export report says verification failed",
            )
        )
    if evaluation is None:
        verdict.missing = "no gate verdict: give --eval-report (report.json from `align eval`)"
        return verdict
    verdict.checks.append(report_matches(evaluation.report, run, export))
    try:
        verdict.checks += gate_report(
            evaluation.report,
            evaluation.thresholds,
            evaluation.baseline,
            str(evaluation.baseline_path) if evaluation.baseline_path else None,
        )
    except GateInputError as error:
        raise PublishError(f"--baseline {error}") from error
    return verdict


def report_matches(report: dict, run: TrainingRun, export: Export | None) -> Check:
    """The eval report measured this adapter, one of these GGUF files, or this merged model."""
    model = report.get("model", {})
    shas = {entry.get("sha256") for entry in export.report["files"]} if export else set()
    merged = (
        export.folder / export.report.get("merge", {}).get("folder", "merged") if export else None
    )
    base_model = model.get("base_model")
    matched = (
        same_folder(model.get("adapter"), run.folder)
        or (model.get("gguf_sha256") is not None and model["gguf_sha256"] in shas)
        or (
            merged is not None
            and bool(base_model)
            and Path(base_model).resolve() == merged.resolve()
        )
    )
    measured = model.get("gguf") or model.get("adapter") or model.get("base_model")
    return Check(
        "eval report is of this model",
        None,
        "the adapter, a GGUF file or the merged model published here",
        matched,
        "" if matched else f"the report measured {measured!r}",
    )
