"""The evaluation report: one JSON schema for machines, Markdown for people and CI summaries,
a PNG bar chart of the rejected-pattern rates, and deltas against a baseline report.
"""

from __future__ import annotations

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
    """A report file, checked for kind, schema version and the fields a gate reads."""
    path = Path(path)
    try:
        report = loads_json(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ReportError(f"{path}: cannot read: {error.strerror or error}") from error
    except (UnicodeDecodeError, ValueError) as error:
        raise ReportError(f"{path}: not a JSON report ({error})") from error
    if not isinstance(report, dict) or report.get("kind") != REPORT_KIND:
        raise ReportError(f"{path}: not an align eval report (kind is not {REPORT_KIND!r})")
    if report.get("schema_version") != SCHEMA_VERSION:
        raise ReportError(
            f"{path}: report schema version {report.get('schema_version')!r}; this align "
            f"reads version {SCHEMA_VERSION} (re-run `align eval` with this version)"
        )
    missing = [code for code in FINDING_CODES if code not in report.get("rates", {})]
    if missing or "triage" not in report:
        raise ReportError(f"{path}: incomplete report (missing {missing or ['triage']})")
    if not report["rates"]["any_finding"]["n"]:
        raise ReportError(f"{path}: the report scored no responses (empty eval set)")
    return report


def compared_metrics(report: dict) -> dict[str, float | None]:
    """The flat metrics a baseline comparison and the gate look at."""
    metrics = {f"rates.{code}": report["rates"][code]["rate"] for code in report["rates"]}
    triage = report["triage"]
    for name in ("accuracy", "under_triage", "over_triage", "missing_color", "red_recall"):
        metrics[f"triage.{name}"] = triage[name]["rate"]
    # The margin's kind is in the name: an implicit-reward accuracy (against a reference) and
    # a log-probability one (no reference) measure different things and are never compared.
    preference = report.get("preference", {})
    kind = "reward_accuracy" if preference.get("reference") else "logprob_accuracy"
    for name, entry in preference.get("by_perturbation", {}).items():
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
