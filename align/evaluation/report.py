"""The evaluation report: one JSON schema for machines, Markdown for people and CI summaries,
a PNG bar chart of the rejected-pattern rates, and deltas against a baseline report.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from align.checks.detectors import FINDING_CODES
from align.data.io import loads_json

SCHEMA_VERSION = 1
REPORT_KIND = "align-eval-report"
# Triage metrics where higher is better (the rest of the compared metrics are rates of a
# failure: lower is better).
HIGHER_IS_BETTER = ("triage.accuracy", "triage.red_recall")


class ReportError(ValueError):
    """A report that cannot be read or compared; the message names the file."""


def read_report(path: str | Path) -> dict:
    """A report file, checked with ``validate_report`` (ReportError naming file and field)."""
    path = Path(path)
    try:
        report = loads_json(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ReportError(f"{path}: cannot read: {error.strerror or error}") from error
    except (UnicodeDecodeError, ValueError) as error:
        raise ReportError(f"{path}: not a JSON report ({error})") from error
    return validate_report(report, path)


# --- the one validator: `align gate` (report and baseline), `align publish`, `align eval
# --baseline` all read reports through it, so none of them acts on numbers it cannot trust.

TRIAGE_PROPORTIONS = ("accuracy", "under_triage", "over_triage", "missing_color", "red_recall")
# The writer stores rate = count / n unrounded (scoring.proportion); the slack only absorbs
# float noise from another writer, never a different count.
RATE_TOLERANCE = 1e-9


def _shown(value) -> str:
    """A value as the report file spells it: true, null, "148"."""
    text = json.dumps(value, default=repr)
    return text if len(text) <= 40 else text[:37] + "..."


class _Fields:
    """Field checks that raise ``ReportError("<file>: <field path>: <what is wrong>")``.
    Each takes the containing object and the dotted path of the field; its last part is the
    key."""

    def __init__(self, where: str | Path):
        self.where = where

    def fail(self, field: str, problem: str):
        raise ReportError(f"{self.where}: {field}: {problem}")

    def get(self, parent: dict, field: str, nullable: bool = False):
        key = field.rsplit(".", 1)[-1]
        if key not in parent:
            if nullable:
                return None
            self.fail(field, "missing")
        return parent[key]

    def section(self, parent: dict, field: str, nullable: bool = False) -> dict | None:
        value = self.get(parent, field, nullable)
        if value is None and nullable:
            return None
        if not isinstance(value, dict):
            self.fail(field, f"must be an object, not {_shown(value)}")
        return value

    def integer(self, parent: dict, field: str, minimum: int = 0) -> int:
        value = self.get(parent, field)
        # bool is an int in Python: `true` would read as 1.
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(field, f"must be an integer, not {_shown(value)}")
        if value < minimum:
            self.fail(field, f"{value} is below {minimum}")
        return value

    def number(self, parent: dict, field: str, unit: bool = False) -> int | float:
        """A finite number (1e400 parses as infinity); ``unit``: between 0 and 1."""
        value = self.get(parent, field)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            self.fail(field, f"must be a number, not {_shown(value)}")
        if unit and not 0 <= value <= 1:
            self.fail(field, f"{value} is not between 0 and 1")
        return value

    def text(self, parent: dict, field: str, nullable: bool = False) -> str | None:
        value = self.get(parent, field, nullable)
        if value is None and nullable:
            return None
        if not isinstance(value, str) or not value:
            self.fail(field, f"must be a non-empty string, not {_shown(value)}")
        return value

    def proportion(self, parent: dict, field: str) -> None:
        """{count, n, rate, ci95}: 0 <= count <= n, rate = count / n (null when n is 0),
        ci95 two numbers 0 <= low <= high <= 1."""
        entry = self.section(parent, field)
        count = self.integer(entry, f"{field}.count")
        n = self.integer(entry, f"{field}.n")
        if count > n:
            self.fail(f"{field}.count", f"{count} is more than n ({n})")
        if n == 0:
            if self.get(entry, f"{field}.rate") is not None:
                self.fail(f"{field}.rate", "must be null when n is 0 (nothing measured)")
        else:
            rate = self.number(entry, f"{field}.rate", unit=True)
            if abs(rate - count / n) > RATE_TOLERANCE:
                self.fail(f"{field}.rate", f"{rate} is not count / n ({count}/{n})")
        ci95 = self.get(entry, f"{field}.ci95")
        if (
            not isinstance(ci95, list)
            or len(ci95) != 2
            or any(isinstance(v, bool) or not isinstance(v, int | float) for v in ci95)
            or not 0 <= ci95[0] <= ci95[1] <= 1
        ):
            self.fail(
                f"{field}.ci95", f"must be [low, high], 0 <= low <= high <= 1, not {_shown(ci95)}"
            )


def validate_report(report, where: str | Path) -> dict:
    """``report`` if it is an eval report every reader can trust, else ReportError naming
    ``where`` and the field: kind and integer schema version; the sections the gate and
    publish read (model, decoding, eval_set, every rate, triage, and preference and baseline
    when present), with integers where counts are, numbers that are finite, rates 0..1 equal
    to count / n, counts 0..n."""
    if not isinstance(report, dict) or report.get("kind") != REPORT_KIND:
        raise ReportError(f"{where}: not an align eval report (kind is not {REPORT_KIND!r})")
    fields = _Fields(where)
    version = report.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int):
        fields.fail("schema_version", f"must be an integer, not {_shown(version)}")
    if version != SCHEMA_VERSION:
        raise ReportError(
            f"{where}: report schema version {version}; this align reads version "
            f"{SCHEMA_VERSION} (re-run `align eval` with this version)"
        )
    model = fields.section(report, "model")
    fields.text(model, "model.backend")
    for name in ("base_model", "adapter", "gguf", "gguf_sha256"):
        fields.text(model, f"model.{name}", nullable=True)
    fields.integer(fields.section(report, "decoding"), "decoding.max_new_tokens", minimum=1)
    eval_set = fields.section(report, "eval_set")
    for name in ("cases", "gold_eval", "heldout"):
        fields.integer(eval_set, f"eval_set.{name}")
    fields.text(eval_set, "eval_set.digest")

    rates = fields.section(report, "rates")
    names = (*FINDING_CODES, "any_finding")
    missing = [name for name in names if name not in rates]
    if missing:
        fields.fail("rates", f"missing {', '.join(missing)} (incomplete report)")
    for name in rates:
        if name not in names:
            fields.fail(f"rates.{name}", "unknown finding code")
        fields.proportion(rates, f"rates.{name}")
    if rates["any_finding"]["n"] == 0:
        raise ReportError(f"{where}: the report scored no responses (empty eval set)")
    triage = fields.section(report, "triage")
    fields.integer(triage, "triage.n")
    for name in TRIAGE_PROPORTIONS:
        fields.proportion(triage, f"triage.{name}")

    preference = fields.section(report, "preference", nullable=True) or {}
    fields.text(preference, "preference.reference", nullable=True)
    by_perturbation = fields.section(preference, "preference.by_perturbation", nullable=True)
    for name in by_perturbation or {}:
        field = f"preference.by_perturbation.{name}"
        entry = fields.section(by_perturbation, field)
        fields.integer(entry, f"{field}.n", minimum=1)
        fields.number(entry, f"{field}.accuracy", unit=True)
        fields.number(entry, f"{field}.mean_margin")

    # The report's own comparison: publish's card shows it when no --baseline is given.
    baseline = fields.section(report, "baseline", nullable=True)
    if baseline is not None:
        fields.text(baseline, "baseline.path")
        deltas = fields.section(baseline, "baseline.deltas")
        for name, entry in deltas.items():
            field = f"baseline.deltas.{name}"  # names hold dots: looked up here, not by path
            if not isinstance(entry, dict):
                fields.fail(field, f"must be an object, not {_shown(entry)}")
            for key in ("value", "baseline", "delta"):
                fields.number(entry, f"{field}.{key}")
            if not isinstance(fields.get(entry, f"{field}.worse"), bool):
                fields.fail(f"{field}.worse", "must be true or false")
    return report


def compared_metrics(report: dict) -> dict[str, float | None]:
    """The flat metrics a baseline comparison and the gate look at."""
    metrics = {f"rates.{code}": report["rates"][code]["rate"] for code in report["rates"]}
    triage = report["triage"]
    for name in ("accuracy", "under_triage", "over_triage", "missing_color", "red_recall"):
        metrics[f"triage.{name}"] = triage[name]["rate"]
    # The margin's kind is in the name: an implicit-reward accuracy (against a reference) and
    # a log-probability one (no reference) measure different things and are never compared.
    preference = report.get("preference") or {}  # absent or null: not measured
    kind = "reward_accuracy" if preference.get("reference") else "logprob_accuracy"
    for name, entry in (preference.get("by_perturbation") or {}).items():
        metrics[f"preference.{name}.{kind}"] = entry["accuracy"]
    return metrics


def compare(report: dict, baseline: dict) -> dict[str, dict]:
    """Per metric: value, baseline value, delta, and whether it got worse."""
    now, then = compared_metrics(report), compared_metrics(baseline)
    deltas = {}
    for name, value in now.items():
        before = then.get(name)
        if value is None or before is None:
            continue
        delta = value - before
        higher_better = name in HIGHER_IS_BETTER or name.endswith("accuracy")
        deltas[name] = {
            "value": value,
            "baseline": before,
            "delta": delta,
            "worse": delta < 0 if higher_better else delta > 0,
        }
    return deltas


def check_same_eval_set(report: dict, baseline: dict, baseline_path: str | Path) -> None:
    if report["eval_set"]["digest"] != baseline["eval_set"]["digest"]:
        raise ReportError(
            f"{baseline_path}: the baseline was measured on another eval set "
            f"({baseline['eval_set']['cases']} cases, digest "
            f"{baseline['eval_set']['digest'][:12]}) than this report "
            f"({report['eval_set']['cases']} cases, {report['eval_set']['digest'][:12]}); "
            "rates from different sets cannot be compared"
        )


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _ci(entry: dict) -> str:
    low, high = entry["ci95"]
    return f"{_pct(low)}–{_pct(high)}"


def report_markdown(report: dict) -> str:
    model = report["model"]
    lines = [
        "# align eval report",
        "",
        f"Model: `{model.get('gguf') or model.get('base_model')}`"
        + (f" + adapter `{model['adapter']}`" if model.get("adapter") else "")
        + f" ({model['backend']}); {report['eval_set']['cases']} cases "
        f"({report['eval_set']['gold_eval']} gold eval, {report['eval_set']['heldout']} held-out); "
        f"greedy, max {report['decoding']['max_new_tokens']} new tokens.",
        "",
        "## Rejected-pattern rates (share of responses, Wilson 95% interval)",
        "",
        "| code | count | n | rate | 95% CI |",
        "|---|---:|---:|---:|---|",
    ]
    for code, entry in report["rates"].items():
        lines.append(
            f"| `{code}` | {entry['count']} | {entry['n']} | {_pct(entry['rate'])} | {_ci(entry)} |"
        )
    triage = report["triage"]
    lines += [
        "",
        "## Triage",
        "",
        "| metric | count | n | rate | 95% CI |",
        "|---|---:|---:|---:|---|",
    ]
    for name in ("accuracy", "red_recall", "under_triage", "over_triage", "missing_color"):
        entry = triage[name]
        lines.append(
            f"| {name} | {entry['count']} | {entry['n']} | {_pct(entry['rate'])} | {_ci(entry)} |"
        )
    stated = list(next(iter(triage["confusion"].values())))
    lines += [
        "",
        "Confusion (rows: expected, columns: stated):",
        "",
        "| expected | " + " | ".join(stated) + " |",
        "|---|" + "---:|" * len(stated),
    ]
    for expected, row in triage["confusion"].items():
        lines.append(f"| {expected} | " + " | ".join(str(row[c]) for c in stated) + " |")
    lines += ["", "## Preference on eval pairs (no generation)", ""]
    preference = report.get("preference", {})
    if "skipped" in preference:
        lines.append(f"Not computed: {preference['skipped']}")
    else:
        if preference["reference"]:
            margin = (
                f"implicit reward against `{preference['reference']}` (beta {preference['beta']})"
            )
        else:
            margin = "log-probability of chosen minus rejected (no reference model)"
        lines += [
            f"Margin: {margin}.",
            "",
            "| perturbation | pairs | accuracy | mean margin |",
            "|---|---:|---:|---:|",
        ]
        for name, entry in preference["by_perturbation"].items():
            lines.append(
                f"| {name} | {entry['n']} | {_pct(entry['accuracy'])} | "
                f"{entry['mean_margin']:.4f} |"
            )
    if report.get("baseline"):
        lines += [
            "",
            f"## Against the baseline `{report['baseline']['path']}`",
            "",
            "| metric | baseline | now | delta |",
            "|---|---:|---:|---:|",
        ]
        for name, entry in report["baseline"]["deltas"].items():
            mark = " (worse)" if entry["worse"] else ""
            lines.append(
                f"| {name} | {_pct(entry['baseline'])} | {_pct(entry['value'])} | "
                f"{100 * entry['delta']:+.1f} pt{mark} |"
            )
    return "\n".join(lines) + "\n"


def write_rates_chart(report: dict, path: Path) -> Path:
    """A horizontal bar chart of each code's rate with its Wilson interval."""
    import matplotlib

    matplotlib.use("Agg")  # files only: CI and servers have no display
    import matplotlib.pyplot as plt

    codes = list(report["rates"])
    rates = [100 * (report["rates"][c]["rate"] or 0) for c in codes]
    low = [rate - 100 * report["rates"][c]["ci95"][0] for rate, c in zip(rates, codes, strict=True)]
    high = [
        100 * report["rates"][c]["ci95"][1] - rate for rate, c in zip(rates, codes, strict=True)
    ]
    figure, axes = plt.subplots(figsize=(7, 0.45 * len(codes) + 1.2), dpi=120)
    axes.barh(codes, rates, xerr=[low, high], color="#c0392b", capsize=3)
    axes.invert_yaxis()
    axes.set_xlim(0, 100)
    axes.set_xlabel("share of responses (%), Wilson 95% interval")
    axes.set_title(f"Rejected-pattern rates ({report['eval_set']['cases']} cases)")
    figure.tight_layout()
    figure.savefig(path, format="png")
    plt.close(figure)
    return path
