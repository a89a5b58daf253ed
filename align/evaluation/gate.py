"""`align gate`: a report against thresholds and a baseline -> a verdict and an exit status.

Exit 0 pass, 1 a threshold breached or a regression, 2 a report or thresholds file that
cannot be trusted (``report.validate_report``) or a JUnit or step-summary file that cannot be
written. No torch: a CI job runs it in well under a second. ``check_pairs`` is the model-free
gate: the generator's closed loop re-checked on the committed pair files.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from align.checks.detectors import FINDING_CODES
from align.evaluation.report import ReportError, check_same_eval_set, compare

RATE_NAMES = (*FINDING_CODES, "any_finding")
MIN_NAMES = ("red_recall", "accuracy")
REGRESSION_NAMES = ("rate", "red_recall", "accuracy", "preference_accuracy")
THRESHOLD_TABLES = {"max_rate": RATE_NAMES, "min": MIN_NAMES, "max_regression": REGRESSION_NAMES}


class GateInputError(ValueError):
    """Unreadable or inconsistent gate input (exit 2); the message names the file."""


@dataclass(frozen=True)
class Check:
    name: str
    value: float | None
    limit: str  # human-readable, e.g. "<= 5.0%"
    passed: bool
    detail: str = ""


def _toml(path: Path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise GateInputError(f"{path}: cannot read: {error.strerror or error}") from error
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise GateInputError(f"{path}: not valid TOML ({error})") from error


def read_thresholds(path: str | Path) -> dict[str, dict[str, float]]:
    """The thresholds file: [max_rate] per finding code, [min] red_recall/accuracy,
    [max_regression] in rate points. Unknown tables, names or non-numbers are errors."""
    path = Path(path)
    data = _toml(path)
    data.pop("description", None)
    thresholds = {}
    for table, values in data.items():
        if table not in THRESHOLD_TABLES:
            raise GateInputError(
                f"{path}: unknown table [{table}] (known: {', '.join(THRESHOLD_TABLES)})"
            )
        if not isinstance(values, dict):
            raise GateInputError(f"{path}: {table} must be a table")
        for name, value in values.items():
            if name not in THRESHOLD_TABLES[table]:
                raise GateInputError(
                    f"{path}: [{table}] {name}: unknown name (known: "
                    f"{', '.join(THRESHOLD_TABLES[table])})"
                )
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not (0 <= value <= 1)
            ):
                raise GateInputError(
                    f"{path}: [{table}] {name} = {value!r}: must be a number from 0 to 1"
                )
        thresholds[table] = {name: float(value) for name, value in values.items()}
    if not any(thresholds.values()):
        raise GateInputError(f"{path}: no thresholds (a gate that checks nothing passes nothing)")
    return thresholds


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def bound_check(name: str, entry: dict, limit: float, at_most: bool) -> Check:
    """One rate against a maximum (``at_most``) or a minimum. A rate with nothing to measure
    (no RED case at all for RED recall) fails: never a silent pass."""
    rate = entry["rate"]
    within = rate is not None and (rate <= limit if at_most else rate >= limit)
    sign = "<=" if at_most else ">="
    return Check(name, rate, f"{sign} {_pct(limit)}", within, f"{entry['count']}/{entry['n']}")


def threshold_checks(report: dict, thresholds: dict) -> list[Check]:
    checks = [
        bound_check(f"rate {code}", report["rates"][code], limit, at_most=True)
        for code, limit in thresholds.get("max_rate", {}).items()
    ]
    checks += [
        bound_check(f"triage {name}", report["triage"][name], limit, at_most=False)
        for name, limit in thresholds.get("min", {}).items()
    ]
    return checks


def regression_checks(report: dict, baseline: dict, thresholds: dict) -> list[Check]:
    """How far each metric may move the wrong way from the baseline, in rate points."""
    limits = thresholds.get("max_regression", {})
    checks = []
    for name, entry in compare(report, baseline).items():
        if name.startswith("rates."):
            limit = limits.get("rate")
        elif name.startswith("preference."):
            limit = limits.get("preference_accuracy")
        else:
            limit = limits.get(name.removeprefix("triage."))
        if limit is None:
            continue
        worsened = abs(entry["delta"]) if entry["worse"] else 0.0
        checks.append(
            Check(
                f"regression {name}",
                entry["value"],
                f"worse by <= {100 * limit:.1f} pt",
                worsened <= limit + 1e-12,
                f"baseline {_pct(entry['baseline'])}, {100 * entry['delta']:+.1f} pt",
            )
        )
    return checks


def gate_report(
    report: dict, thresholds: dict, baseline: dict | None, baseline_path: str | None
) -> list[Check]:
    checks = threshold_checks(report, thresholds)
    if baseline is not None:
        try:
            check_same_eval_set(report, baseline, baseline_path)
        except ReportError as error:
            raise GateInputError(str(error)) from error
        checks += regression_checks(report, baseline, thresholds)
    elif thresholds.get("max_regression"):
        checks.append(
            Check("regression", None, "a baseline", True, "no --baseline given: not compared")
        )
    return checks


def gate_report_files(
    report_path: str | Path, thresholds_path: str | Path, baseline_path: str | Path | None
) -> list[Check]:
    """`align gate REPORT`: the files read (ReportError or GateInputError when one cannot be
    trusted) and the report checked."""
    from align.evaluation.report import read_report

    report = read_report(report_path)
    thresholds = read_thresholds(thresholds_path)
    baseline = read_report(baseline_path) if baseline_path else None
    return gate_report(report, thresholds, baseline, str(baseline_path) if baseline_path else None)


def junit_xml(checks: list[Check], suite: str = "align-gate") -> str:
    """JUnit XML, one test case per check, for CI test-report viewers."""
    failures = sum(not c.passed for c in checks)
    root = ET.Element("testsuite", name=suite, tests=str(len(checks)), failures=str(failures))
    for check in checks:
        case = ET.SubElement(root, "testcase", classname=suite, name=check.name)
        if not check.passed:
            failure = ET.SubElement(
                case, "failure", message=f"{_pct(check.value)} not {check.limit}"
            )
            failure.text = check.detail
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def summary_markdown(checks: list[Check], title: str) -> str:
    verdict = "PASS" if all(c.passed for c in checks) else "FAIL"
    lines = [f"## {title}: {verdict}", "", "| check | value | limit | detail | result |"]
    lines.append("|---|---:|---|---|---|")
    for c in checks:
        value = c.value if isinstance(c.value, str) else _pct(c.value)
        mark = "pass" if c.passed else "**FAIL**"
        lines.append(f"| {c.name} | {value} | {c.limit} | {c.detail} | {mark} |")
    return "\n".join(lines) + "\n"


def write_outputs(checks: list[Check], junit: Path | None, title: str) -> None:
    """JUnit XML where asked, and the Markdown summary where GitHub Actions collects it.
    GateInputError (exit 2) when one cannot be written: CI would read a missing file as a
    verdict, and an OS error must never pass for "threshold breached" (exit 1)."""
    if junit is not None:
        from align.data.io import write_files_atomically

        try:
            write_files_atomically({junit: junit_xml(checks)})
        except OSError as error:
            raise GateInputError(
                f"--junit {junit}: cannot write: {error.strerror or error}"
            ) from error
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        try:
            with open(summary, "a", encoding="utf-8") as handle:
                handle.write(summary_markdown(checks, title))
        except OSError as error:
            raise GateInputError(
                f"GITHUB_STEP_SUMMARY {summary}: cannot write: {error.strerror or error}"
            ) from error


# --- the model-free gate: the committed pairs still close the loop --------------------------


def _pair_text(pair: dict, key: str, where: str) -> str:
    turns = pair.get(key)
    if (
        not isinstance(turns, list)
        or len(turns) != 1
        or not isinstance(turns[0], dict)
        or not isinstance(turns[0].get("content"), str)
    ):
        raise GateInputError(f"{where}: {key} must be one assistant message")
    return turns[0]["content"]


def check_pairs(pairs_dir: str | Path, gold_records: list) -> list[Check]:
    """Re-score every committed pair: the rejected response shows exactly the finding its
    perturbation intends, the chosen one none; each pair still matches its gold record; no
    gold group is on both sides of the split."""
    from collections import Counter

    from align.checks.detectors import finding_codes, score_response
    from align.data.io import DataError, iter_jsonl
    from align.data.pairs import SPLITS, check_pair_folder
    from align.data.perturb import PERTURBATIONS

    try:
        check_pair_folder(pairs_dir)  # not mid-write, and the files its summary describes
    except DataError as error:
        raise GateInputError(str(error)) from error
    gold = {record.id: record for record in gold_records}
    totals, exact, clean, stale = Counter(), Counter(), Counter(), Counter()
    groups: dict[str, set[str]] = {split: set() for split in SPLITS}
    for split in SPLITS:
        path = Path(pairs_dir) / f"{split}.jsonl"
        try:
            lines = list(iter_jsonl(path))
        except DataError as error:
            raise GateInputError(str(error)) from error
        for number, pair in lines:
            where = f"{path}:{number}"
            record = gold.get(pair.get("gold_id"))
            if record is None:
                raise GateInputError(f"{where}: gold_id {pair.get('gold_id')!r} is not in the gold")
            name = pair.get("perturbation")
            if name not in PERTURBATIONS:
                raise GateInputError(f"{where}: unknown perturbation {name!r}")
            chosen = _pair_text(pair, "chosen", where)
            rejected = _pair_text(pair, "rejected", where)
            scenario, expected = record.scenario, record.expected_triage
            codes = finding_codes(score_response(rejected, scenario, expected))
            totals[name] += 1
            exact[name] += codes == {PERTURBATIONS[name].intended_code}
            clean[name] += not score_response(chosen, scenario, expected)
            stale[name] += chosen != record.response or pair.get("prompt") != record.prompt
            groups[split].add(record.group)
    if not totals:
        raise GateInputError(f"{pairs_dir}: no pairs (an empty set proves nothing)")
    checks = []
    for name in sorted(totals):
        n = totals[name]
        detail = f"{exact[name]}/{n} rejected exact, {clean[name]}/{n} chosen clean"
        if stale[name]:
            detail += f", {stale[name]} no longer match their gold record (re-run `align pairs`)"
        checks.append(
            Check(
                f"closed loop {name}",
                min(exact[name], clean[name], n - stale[name]) / n,
                "= 100.0%",
                exact[name] == clean[name] == n and not stale[name],
                detail,
            )
        )
    shared = groups["train"] & groups["eval"]
    checks.append(
        Check(
            "split by gold group",
            len(shared) / max(1, len(groups["eval"])),
            "= 0.0% shared",
            not shared,
            f"{len(shared)} groups on both sides"
            + (f", e.g. {sorted(shared)[0]}" if shared else ""),
        )
    )
    return checks
