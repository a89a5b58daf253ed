"""`align gate`: passes on the baseline, fails on a worsened report and on each threshold,
exits 2 on input it cannot trust, writes JUnit XML and the GitHub step summary, and checks
the committed pairs without a model. No torch anywhere: reports are built from the gold
responses (clean) and the committed rejected responses (one finding each).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import pytest

from align.checks.detectors import FINDING_CODES
from align.data.gold import load_gold
from align.data.pairs import PairConfig
from align.data.perturb import PERTURBATIONS
from align.evaluation.gate import (
    GateInputError,
    gate_report,
    read_thresholds,
    regression_checks,
    threshold_checks,
)
from align.evaluation.report import ReportError, read_report
from align.evaluation.run import EvalConfig, build_report
from align.evaluation.scenarios import gold_eval_cases
from align.evaluation.scoring import score

REPO = Path(__file__).resolve().parent.parent
THRESHOLDS = REPO / "configs/gate.toml"


def fake_generator() -> SimpleNamespace:
    """What build_report reads from a generator: its settings and stats (no model)."""
    return SimpleNamespace(
        settings={"backend": "transformers", "do_sample": False, "max_new_tokens": 512},
        stats=SimpleNamespace(responses=0, new_tokens=0, seconds=0.0, tokens_per_second=0.0),
    )


def report_for(cases, responses: dict[str, str]) -> dict:
    """A schema-valid report scoring ``responses[case.id]`` for each case."""
    scored = [
        score(case.id, responses[case.id], case.scenario, case.expected_triage) for case in cases
    ]
    preference = {"skipped": "--no-preference"}
    report = build_report(EvalConfig(), cases, len(cases), scored, fake_generator(), preference, {})
    return json.loads(json.dumps(report))  # as read back from disk


@pytest.fixture(scope="module")
def cases():
    gold = load_gold([REPO / "preference_data/gold"])
    return gold_eval_cases(gold.records, PairConfig())


@pytest.fixture(scope="module")
def gold_responses(cases) -> dict[str, str]:
    by_id = {r.id: r.response for r in load_gold([REPO / "preference_data/gold"]).records}
    return {case.id: by_id[case.id] for case in cases}


@pytest.fixture(scope="module")
def rejected_by_type() -> dict[str, dict[str, str]]:
    """perturbation -> {gold id: a committed rejected response of that type}."""
    rejected: dict[str, dict[str, str]] = {}
    for line in (REPO / "preference_data/pairs/eval.jsonl").read_text().splitlines():
        pair = json.loads(line)
        rejected.setdefault(pair["perturbation"], {}).setdefault(
            pair["gold_id"], pair["rejected"][0]["content"]
        )
    return rejected


@pytest.fixture(scope="module")
def baseline(cases, gold_responses) -> dict:
    return report_for(cases, gold_responses)


@pytest.fixture(scope="module")
def worsened(cases, gold_responses, rejected_by_type) -> dict:
    """Every gold eval response with a wrong-color variant uses it; the others with a
    missing-Do-NOT variant use that."""
    responses = {**gold_responses, **rejected_by_type["missing_do_not"]}
    responses.update(rejected_by_type["wrong_triage_color"])
    return report_for(cases, responses)


def write(path: Path, report: dict) -> Path:
    path.write_text(json.dumps(report), encoding="utf-8")
    return path


def failed(checks) -> set[str]:
    return {check.name for check in checks if not check.passed}


# --- verdicts -------------------------------------------------------------------------------


def test_gold_responses_pass_the_committed_thresholds_and_their_own_baseline(baseline):
    thresholds = read_thresholds(THRESHOLDS)
    checks = gate_report(baseline, thresholds, baseline, "baseline.json")
    assert checks and not failed(checks)
    assert baseline["triage"]["red_recall"]["n"] > 0  # the eval split has RED children


def test_worsened_report_fails_the_thresholds_and_the_regression_checks(baseline, worsened):
    checks = gate_report(worsened, read_thresholds(THRESHOLDS), baseline, "baseline.json")
    names = failed(checks)
    assert {"rate wrong_triage_color", "rate missing_do_not", "triage red_recall"} <= names
    assert "regression rates.wrong_triage_color" in names
    assert "regression rates.missing_do_not" in names
    assert "regression triage.accuracy" in names


@pytest.mark.parametrize("code", FINDING_CODES)
def test_each_rate_threshold_fails_alone_when_its_code_exceeds_it(baseline, code):
    limit = 0.05
    report = json.loads(json.dumps(baseline))
    entry = report["rates"][code]
    entry["count"] = int(entry["n"] * limit) + 1
    entry["rate"] = entry["count"] / entry["n"]
    checks = threshold_checks(report, {"max_rate": dict.fromkeys(FINDING_CODES, limit)})
    assert failed(checks) == {f"rate {code}"}


def test_rate_at_the_threshold_passes(baseline):
    report = json.loads(json.dumps(baseline))
    entry = report["rates"]["missing_do_not"]
    entry["count"], entry["n"], entry["rate"] = 1, 50, 0.02
    assert not failed(threshold_checks(report, {"max_rate": {"missing_do_not": 0.02}}))


@pytest.mark.parametrize("name", ["red_recall", "accuracy"])
def test_each_minimum_fails_below_it(baseline, name):
    report = json.loads(json.dumps(baseline))
    entry = report["triage"][name]
    entry["count"] = entry["n"] - 1
    entry["rate"] = entry["count"] / entry["n"]
    assert failed(threshold_checks(report, {"min": {name: 1.0}})) == {f"triage {name}"}


def test_red_recall_without_red_cases_fails_instead_of_passing(baseline):
    report = json.loads(json.dumps(baseline))
    report["triage"]["red_recall"].update(count=0, n=0, rate=None)
    assert failed(threshold_checks(report, {"min": {"red_recall": 0.95}})) == {"triage red_recall"}


@pytest.mark.parametrize(
    ("table_name", "path", "delta", "check"),
    [
        ("rate", ("rates", "wrong_dose"), +0.03, "regression rates.wrong_dose"),
        ("red_recall", ("triage", "red_recall"), -0.03, "regression triage.red_recall"),
        ("accuracy", ("triage", "accuracy"), -0.04, "regression triage.accuracy"),
    ],
)
def test_each_regression_limit_fails_when_exceeded_and_passes_within(
    baseline, table_name, path, delta, check
):
    limits = {"max_regression": {table_name: 0.02 if table_name != "accuracy" else 0.03}}
    for step, should_fail in ((delta, True), (delta / 4, False)):
        report = json.loads(json.dumps(baseline))
        entry = report[path[0]][path[1]]
        start = entry["rate"] if entry["rate"] is not None else 0.0
        entry["rate"] = start + step
        assert (check in failed(regression_checks(report, baseline, limits))) is should_fail


def test_preference_accuracy_regression_is_checked_per_perturbation(baseline):
    before, after = json.loads(json.dumps(baseline)), json.loads(json.dumps(baseline))
    before["preference"] = {"by_perturbation": {"missing_do_not": {"accuracy": 0.9}}}
    after["preference"] = {"by_perturbation": {"missing_do_not": {"accuracy": 0.8}}}
    limits = {"max_regression": {"preference_accuracy": 0.05}}
    assert failed(regression_checks(after, before, limits)) == {
        "regression preference.missing_do_not.logprob_accuracy"
    }


def test_preference_accuracies_of_different_margins_are_never_compared(baseline):
    """Implicit reward (a DPO run against its reference) vs log-prob margin (no reference)."""
    before, after = json.loads(json.dumps(baseline)), json.loads(json.dumps(baseline))
    before["preference"] = {"by_perturbation": {"wrong_dose": {"accuracy": 0.9}}}
    after["preference"] = {
        "reference": "checkpoints/sft",
        "by_perturbation": {"wrong_dose": {"accuracy": 0.3}},
    }
    limits = {"max_regression": {"preference_accuracy": 0.05}}
    assert not [c.name for c in regression_checks(after, before, limits) if "preference" in c.name]


# --- input the gate cannot trust -----------------------------------------------------------


def test_other_schema_version_is_refused_by_name(baseline, tmp_path):
    path = write(tmp_path / "r.json", {**baseline, "schema_version": 2})
    with pytest.raises(ReportError, match=r"r\.json: report schema version 2"):
        read_report(path)


def test_report_of_an_empty_eval_set_is_refused(baseline, tmp_path):
    report = json.loads(json.dumps(baseline))
    report["rates"]["any_finding"].update(count=0, n=0, rate=None)
    with pytest.raises(ReportError, match="empty eval set"):
        read_report(write(tmp_path / "r.json", report))


def test_file_that_is_not_a_report_is_refused(tmp_path):
    with pytest.raises(ReportError, match="not an align eval report"):
        read_report(write(tmp_path / "r.json", {"rates": {}}))
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    with pytest.raises(ReportError, match=r"broken\.json: not a JSON report"):
        read_report(tmp_path / "broken.json")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[max_rate]\nwrong_colour = 0.05\n", r"\[max_rate\] wrong_colour: unknown name"),
        ("[maximum]\nwrong_dose = 0.05\n", r"unknown table \[maximum\]"),
        ("[min]\nred_recall = 95\n", "must be a number from 0 to 1"),
        ("[max_rate]\n", "no thresholds"),
        ("[max_rate\n", "not valid TOML"),
    ],
)
def test_bad_thresholds_file_is_refused_by_name(tmp_path, text, message):
    path = tmp_path / "gate.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(GateInputError, match=message):
        read_thresholds(path)


def test_baseline_from_another_eval_set_is_refused(cases, gold_responses, baseline):
    other = report_for(cases[1:], gold_responses)
    with pytest.raises(GateInputError, match="another eval set"):
        gate_report(baseline, read_thresholds(THRESHOLDS), other, "other.json")


# --- the CLI: exit codes, table, JUnit, step summary ----------------------------------------


def test_cli_passes_on_baseline_and_writes_junit_and_step_summary(
    run_align, tmp_path, baseline, monkeypatch
):
    report = write(tmp_path / "report.json", baseline)
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    junit = tmp_path / "junit.xml"
    result = run_align(
        "gate", report, "--thresholds", THRESHOLDS, "--baseline", report, "--junit", junit
    )
    assert result.returncode == 0, result.stderr
    assert "gate passed" in result.stdout
    suite = ET.parse(junit).getroot()
    assert suite.get("failures") == "0" and int(suite.get("tests")) == len(suite)
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n") and ": PASS" in text  # appended, not replaced


def test_cli_fails_with_exit_1_on_worsened_report_and_junit_lists_failures(
    run_align, tmp_path, baseline, worsened
):
    junit = tmp_path / "junit.xml"
    result = run_align(
        "gate",
        write(tmp_path / "now.json", worsened),
        "--baseline",
        write(tmp_path / "before.json", baseline),
        "--thresholds",
        THRESHOLDS,
        "--junit",
        junit,
    )
    assert result.returncode == 1
    assert "gate FAILED" in result.stderr
    suite = ET.parse(junit).getroot()
    failures = {case.get("name") for case in suite if case.find("failure") is not None}
    assert "rate wrong_triage_color" in failures and int(suite.get("failures")) == len(failures)


def test_cli_exits_2_on_unreadable_or_inconsistent_input(run_align, tmp_path, baseline):
    report = write(tmp_path / "report.json", baseline)
    other = write(tmp_path / "v2.json", {**baseline, "schema_version": 2})
    bad = tmp_path / "bad.toml"
    bad.write_text("[max_rate]\nnot_a_code = 0.1\n", encoding="utf-8")
    junit = tmp_path / "junit.xml"
    for args, message in (
        ((other, "--thresholds", THRESHOLDS), "schema version 2"),
        ((report, "--thresholds", bad), "not_a_code: unknown name"),
        ((report, "--baseline", other, "--thresholds", THRESHOLDS), "schema version 2"),
        ((tmp_path / "missing.json",), "missing.json: cannot read"),
        ((), "give a REPORT"),
    ):
        result = run_align("gate", *args, "--junit", junit)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert not junit.exists()  # no verdict was reached: nothing written


# --- the model-free gate: committed pairs ---------------------------------------------------


def test_pairs_gate_passes_on_the_committed_pairs(run_align, tmp_path):
    junit = tmp_path / "junit.xml"
    result = run_align("gate", "--pairs", "--junit", junit, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    names = {case.get("name") for case in ET.parse(junit).getroot()}
    assert names == {f"closed loop {name}" for name in PERTURBATIONS} | {"split by gold group"}


def test_pairs_gate_fails_on_a_tampered_pair(run_align, tmp_path):
    pairs = tmp_path / "pairs"
    pairs.mkdir()
    lines = (REPO / "preference_data/pairs/eval.jsonl").read_text().splitlines()
    tampered = json.loads(lines[0])
    tampered["rejected"] = tampered["chosen"]  # a "rejected" answer that is the gold one
    (pairs / "eval.jsonl").write_text("\n".join([json.dumps(tampered), *lines[1:]]) + "\n")
    (pairs / "train.jsonl").write_bytes((REPO / "preference_data/pairs/train.jsonl").read_bytes())
    result = run_align(
        "gate", "--pairs", "--pairs-dir", pairs, "--gold", REPO / "preference_data/gold"
    )
    assert result.returncode == 1
    assert f"closed loop {tampered['perturbation']}" in result.stderr


def test_pairs_gate_exits_2_on_a_pair_whose_gold_record_is_gone(run_align, tmp_path):
    pairs = tmp_path / "pairs"
    pairs.mkdir()
    lines = (REPO / "preference_data/pairs/eval.jsonl").read_text().splitlines()
    orphan = {**json.loads(lines[0]), "gold_id": "no-such-record"}
    (pairs / "eval.jsonl").write_text(json.dumps(orphan) + "\n")
    (pairs / "train.jsonl").write_text("")
    result = run_align(
        "gate", "--pairs", "--pairs-dir", pairs, "--gold", REPO / "preference_data/gold"
    )
    assert result.returncode == 2
    assert "eval.jsonl:1: gold_id 'no-such-record' is not in the gold" in result.stderr


# --- reports the gate cannot trust: exit 2 naming file and field, never a pass or a traceback


def damaged(report: dict, field: str, value) -> dict:
    """A deep copy of ``report`` with the dotted ``field`` set to ``value``."""
    report = json.loads(json.dumps(report))
    *parents, name = field.split(".")
    entry = report
    for key in parents:
        entry = entry[key]
    entry[name] = value
    return report


def gate_on(run_align, tmp_path, report: dict, *args):
    path = write(tmp_path / "report.json", report)
    return run_align("gate", path, "--thresholds", THRESHOLDS, *args)


def assert_refused(result, where: str) -> None:
    """Exit 2 with ``error: <file>: <field path>...``: the field or one inside it."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert re.search(rf"error: {re.escape(where)}[.:]", result.stderr), result.stderr
    assert "Traceback" not in result.stderr and "gate passed" not in result.stdout


def test_negative_rate_is_refused_instead_of_passing(run_align, tmp_path, baseline):
    report = damaged(baseline, "rates.wrong_dose.rate", -0.5)
    result = gate_on(run_align, tmp_path, report)
    assert_refused(result, f"{tmp_path / 'report.json'}: rates.wrong_dose.rate")
    assert "between 0 and 1" in result.stderr


def test_count_above_n_is_refused_instead_of_passing(run_align, tmp_path, baseline):
    entry = {"count": 50, "n": 4, "rate": 0.0, "ci95": [0.0, 0.5]}
    report = damaged(baseline, "rates.missing_do_not", entry)
    result = gate_on(run_align, tmp_path, report)
    assert_refused(result, f"{tmp_path / 'report.json'}: rates.missing_do_not.count")
    assert "more than n (4)" in result.stderr


def test_rate_that_is_not_count_over_n_is_refused(run_align, tmp_path, baseline):
    entry = baseline["rates"]["wrong_triage_color"]
    report = damaged(baseline, "rates.wrong_triage_color.count", entry["n"] // 2)
    result = gate_on(run_align, tmp_path, report)
    assert_refused(result, f"{tmp_path / 'report.json'}: rates.wrong_triage_color.rate")
    assert "is not count / n" in result.stderr


def test_boolean_schema_version_is_refused_instead_of_read_as_1(run_align, tmp_path, baseline):
    result = gate_on(run_align, tmp_path, {**baseline, "schema_version": True})
    assert_refused(result, f"{tmp_path / 'report.json'}: schema_version")
    assert "must be an integer, not true" in result.stderr


def test_n_given_as_a_string_is_refused_instead_of_passing(run_align, tmp_path, baseline):
    n = baseline["rates"]["wrong_dose"]["n"]
    result = gate_on(run_align, tmp_path, damaged(baseline, "rates.wrong_dose.n", str(n)))
    assert_refused(result, f"{tmp_path / 'report.json'}: rates.wrong_dose.n")
    assert f'must be an integer, not "{n}"' in result.stderr


def test_untrustworthy_baseline_is_refused_by_its_own_name(run_align, tmp_path, baseline):
    before = write(tmp_path / "before.json", damaged(baseline, "triage.accuracy.rate", 1.5))
    result = gate_on(run_align, tmp_path, baseline, "--baseline", before)
    assert_refused(result, f"{before}: triage.accuracy.rate")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("rates", []),
        ("rates.wrong_dose", None),
        ("rates.wrong_dose.rate", "0.0"),
        ("rates.wrong_dose.ci95", [0.0]),
        ("rates.wrong_dose.count", 1.5),
        ("triage.red_recall", {"count": 1, "n": 1}),
        ("triage", "all good"),
        ("eval_set.digest", None),
        ("model", None),
        ("decoding.max_new_tokens", "512"),
        ("preference", {"by_perturbation": {"wrong_dose": {"n": 4, "accuracy": "high"}}}),
        ("baseline", {"path": "sft/report.json", "deltas": {"rates.wrong_dose": 0.1}}),
    ],
)
def test_malformed_report_exits_2_naming_the_field_instead_of_a_traceback(
    run_align, tmp_path, baseline, field, value
):
    report = damaged(baseline, field, value)
    path = write(tmp_path / "report.json", report)
    # Given as its own baseline too, so the fields only a comparison reads are read as well.
    result = run_align("gate", path, "--thresholds", THRESHOLDS, "--baseline", path)
    assert_refused(result, f"{path}: {field}")


def test_report_with_no_red_case_is_read_with_a_null_rate(baseline, tmp_path):
    entry = {"count": 0, "n": 0, "rate": None, "ci95": [0.0, 1.0]}
    report = damaged(baseline, "triage.red_recall", entry)
    assert read_report(write(tmp_path / "r.json", report))["triage"]["red_recall"]["rate"] is None


def test_unwritable_junit_exits_2_and_never_turns_a_pass_into_a_failure(
    run_align, tmp_path, baseline
):
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    result = gate_on(run_align, tmp_path, baseline, "--junit", blocker / "junit.xml")
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"error: --junit {blocker / 'junit.xml'}: cannot write" in result.stderr
    assert "Traceback" not in result.stderr


def test_unwritable_step_summary_exits_2_and_never_turns_a_pass_into_a_failure(
    run_align, tmp_path, baseline, monkeypatch
):
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path))  # a folder: cannot be appended to
    result = gate_on(run_align, tmp_path, baseline)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"error: GITHUB_STEP_SUMMARY {tmp_path}: cannot write" in result.stderr
    assert "Traceback" not in result.stderr
