"""`align score` scores what it can (issue 24): scenario checks with hazard synonyms, one
{id, error} line per bad record, exit codes; and `align score --benchmark`, whose arithmetic is
tested here with a stand-in detector so that it does not move with the real ones."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap

import pytest
from typer.testing import CliRunner

from align.checks import benchmark
from align.checks.benchmark import BenchmarkError, load_benchmark, read_case, score_benchmark
from align.checks.detectors import FINDING_CODES, Finding
from align.cli import app
from align.data.io import DataError
from align.evaluation.scoring import wilson_interval
from align.protocol.hazards import HAZARDS
from align.protocol.scenario import ScenarioError, validate_scenario

# --- the scenario validator -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "canonical"),
    [
        ("smoke", "smoke_inhalation"),
        ("Smoke Inhalation", "smoke_inhalation"),
        ("inhalation", "smoke_inhalation"),
        ("burns", "burn"),
        ("scald", "burn"),
        ("bleed", "bleeding"),
        ("haemorrhage", "bleeding"),
        ("Hemorrhage", "bleeding"),
        ("spine", "spinal"),
        ("spinal injury", "spinal"),
        ("neck-injury", "spinal"),
        ("near-drowning", "drowning"),
        ("submersion", "drowning"),
        ("cold", "hypothermia"),
        ("allergy", "anaphylaxis"),
        ("allergic reaction", "anaphylaxis"),
        ("TBI", "head_injury"),
        ("head", "head_injury"),
        ("broken bone", "fracture"),
        ("fractures", "fracture"),
        ("poison", "chemical"),
        ("poisoning", "chemical"),
        ("ingestion", "chemical"),
        (" Head - Injury ", "head_injury"),
        ("SMOKE_INHALATION", "smoke_inhalation"),
    ],
)
def test_hazard_synonyms_become_the_canonical_tag(tag, canonical):
    assert validate_scenario({"hazards": [tag]})["hazards"] == [canonical]


def test_every_canonical_hazard_is_kept_as_is():
    assert validate_scenario({"hazards": list(HAZARDS)})["hazards"] == list(HAZARDS)


def test_the_normalised_scenario_is_a_new_dict_with_each_hazard_once():
    scenario = {"age_years": 4, "hazards": ["burns", "burn", "smoke"], "weight_kg": 16}
    normalised = validate_scenario(scenario)
    assert normalised == {"age_years": 4, "hazards": ["burn", "smoke_inhalation"], "weight_kg": 16}
    assert scenario["hazards"] == ["burns", "burn", "smoke"]  # the input is left alone


def test_an_unknown_hazard_names_the_field_the_value_and_the_allowed_tags():
    with pytest.raises(ScenarioError) as caught:
        validate_scenario({"age_years": 8, "hazards": ["burn", "fall"]})
    assert caught.value.field == "hazards"
    assert "'fall'" in caught.value.message
    assert all(tag in caught.value.message for tag in HAZARDS)


@pytest.mark.parametrize("hazards", ["burn", [3], [None], {"burn": True}])
def test_hazards_must_be_a_list_of_strings(hazards):
    with pytest.raises(ScenarioError) as caught:
        validate_scenario({"hazards": hazards})
    assert caught.value.field == "hazards"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("age_years", float("inf")),
        ("age_years", float("nan")),
        ("age_years", 19),
        ("age_years", 200),
        ("age_years", -1),
        ("resp_rate", 10**400),
        ("resp_rate", 151),
        ("resp_rate", "fast"),
        ("cap_refill_s", 31),
        ("cap_refill_s", float("nan")),
        ("weight_kg", 0),
        ("weight_kg", 0.2),
        ("weight_kg", 250),
        ("weight_kg", float("inf")),
        ("weight_kg", True),
        ("weight_kg", "heavy"),
    ],
)
def test_a_number_out_of_range_or_not_finite_names_its_field(field, value):
    with pytest.raises(ScenarioError) as caught:
        validate_scenario({field: value})
    assert caught.value.field == field
    assert len(caught.value.message) < 120  # a 400-digit number is cut short


@pytest.mark.parametrize(
    ("field", "value"),
    [("age_years", 0), ("age_years", 18), ("resp_rate", 0), ("resp_rate", 150),
     ("cap_refill_s", 0), ("weight_kg", 0.3), ("weight_kg", 200), ("weight_kg", 3.4)],
)  # fmt: skip
def test_the_range_ends_are_accepted(field, value):
    assert validate_scenario({field: value})[field] == value


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("avpu", "X", "A, V, P, U"),
        ("protocol", "salt", "jumpstart"),
        ("ambulatory", "no", "true or false"),
        ("airway_threat", "yes", "true or false"),
    ],
)
def test_observation_fields_are_checked_naming_the_allowed_values(field, value, allowed):
    with pytest.raises(ScenarioError) as caught:
        validate_scenario({"age_years": 5, field: value})
    assert caught.value.field == field
    assert allowed in caught.value.message and repr(value) in caught.value.message


def test_a_scenario_that_is_not_an_object_is_refused():
    with pytest.raises(ScenarioError, match="JSON object"):
        validate_scenario(["age_years", 5])


# --- align score: what it can ---------------------------------------------------------------


def test_score_gives_each_bad_record_an_error_line_scores_the_rest_and_exits_1(
    run_align, write_jsonl, gold_records
):
    crush, spine, _ = gold_records
    smoky = dict(spine, id="smoky", scenario=dict(spine["scenario"], hazards=["spine", "smoke"]))
    rows = [
        crush,
        {"id": "fall", "scenario": dict(spine["scenario"], hazards=["fall"]), "response": "x"},
        smoky,
        '{"id": "cut", "response": ',
        {"id": "no-response", "scenario": {"age_years": 5}},
        {"id": "purple", "expected_triage": "PURPLE", "response": "x"},
        "[1, 2]",
        {"id": "avpu", "scenario": {"age_years": 5, "avpu": "awake"}, "response": "x"},
        spine,
    ]
    path = write_jsonl("score.jsonl", rows)
    result = run_align("score", "--input", path)
    assert result.returncode == 1
    out = [json.loads(line) for line in result.lines()]
    assert [r["id"] for r in out] == [
        crush["id"], "fall", "smoky", "line-4", "no-response", "purple", "line-7", "avpu",
        spine["id"],
    ]  # fmt: skip
    errors = {r["id"]: r["error"] for r in out if "error" in r}
    assert set(errors) == {"fall", "line-4", "no-response", "purple", "line-7", "avpu"}
    assert errors["fall"].startswith("line 2: scenario.hazards: unknown hazard 'fall'")
    assert all(tag in errors["fall"] for tag in HAZARDS)
    assert errors["line-4"].startswith("line 4: invalid JSON")
    assert errors["no-response"].startswith("line 5: response: missing")
    assert errors["purple"].startswith("line 6: expected_triage:") and "YELLOW" in errors["purple"]
    assert errors["line-7"] == "line 7: each line must be a JSON object"
    assert errors["avpu"].startswith("line 8: scenario.avpu:") and "A, V, P, U" in errors["avpu"]
    assert all("findings" in r for r in out if r["id"] not in errors)
    assert f"{path}:2: scenario.hazards" in result.stderr and "Traceback" not in result.stderr


def test_a_hazard_synonym_scores_as_its_canonical_tag(run_align, write_jsonl, gold_records):
    _, spine, _ = gold_records
    # A wrong response for a spinal patient, scored under the canonical tag and two synonyms.
    response = spine["messages"][-1]["content"].replace(
        "Open the airway with a jaw thrust if needed.", "Open the airway with a head-tilt."
    )
    rows = [
        {"id": tag, "scenario": dict(spine["scenario"], hazards=[tag]), "response": response}
        for tag in ("spinal", "Spinal Injury", "neck-injury")
    ]
    result = run_align("score", "--input", write_jsonl("score.jsonl", rows))
    assert result.returncode == 0, result.stderr
    findings = [json.loads(line)["findings"] for line in result.lines()]
    assert findings[0] == findings[1] == findings[2]


def test_score_summary_counts_scored_records_and_says_how_many_erred(
    run_align, write_jsonl, gold_records
):
    crush, spine, _ = gold_records
    rows = [crush, {"id": "bad", "scenario": {"hazards": ["fall"]}, "response": "x"}, spine]
    result = run_align("score", "--input", write_jsonl("score.jsonl", rows), "--summary")
    assert result.returncode == 1
    summary = json.loads(result.lines()[-1])["summary"]
    assert summary["records"] == 2 and summary["errors"] == 1
    assert list(summary["counts"]) == list(FINDING_CODES)


def test_score_on_standard_input_also_scores_around_a_bad_line(run_align, gold_records):
    _, spine, _ = gold_records
    text = json.dumps(spine) + "\nnot json\n\n" + json.dumps(spine) + "\n"
    result = run_align("score", input=text)
    assert result.returncode == 1
    out = [json.loads(line) for line in result.lines()]
    assert [sorted(r) for r in out] == [["findings", "id"], ["error", "id"], ["findings", "id"]]
    assert out[1] == {"id": "line-2", "error": out[1]["error"]}
    assert out[1]["error"].startswith("line 2: invalid JSON")


def test_score_on_input_that_is_not_utf8_exits_2_with_nothing_on_stdout(
    run_align, write_jsonl, gold_records
):
    path = write_jsonl("score.jsonl", [gold_records[1], b'{"id": "x", "response": "\xff"}'])
    result = run_align("score", "--input", path)
    assert result.returncode == 2
    assert f"{path}:2: not UTF-8" in result.stderr and result.stdout == ""


def test_score_of_clean_records_exits_0(run_align, tiny_gold):
    result = run_align("score", "--input", tiny_gold)
    assert result.returncode == 0, result.stderr
    assert all("findings" in json.loads(line) for line in result.lines())


def _strict_json(line: str):
    """json.loads that refuses NaN and Infinity, which are not JSON."""

    def refuse(name):
        raise ValueError(f"{name} is not JSON")

    return json.loads(line, parse_constant=refuse)


def test_score_output_is_strict_json_when_a_response_quotes_a_number_too_large_for_a_float(
    run_align,
):
    # The detectors read "10^340 kg" from the answer as an infinite weight.
    response = f"Weight {'9' * 340} kg: give 0.01 mg/kg epinephrine = 5 mg IM."
    row = {
        "id": "huge",
        "scenario": {"age_years": 5, "hazards": ["anaphylaxis"]},
        "response": response,
    }
    result = run_align("score", input=json.dumps(row) + "\n")
    assert result.returncode == 0, result.stderr
    [line] = result.lines()
    findings = _strict_json(line)["findings"]
    assert "wrong_dose" in [f["code"] for f in findings]


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ('{"id": "\\ud800", "response": "TRIAGE: RED"}', "id"),
        ('{"id": "x", "response": "TRIAGE: RED \\udc00"}', "response"),
        ('{"id": "x", "response": "r", "extra": ' + "[" * 50_000 + "]" * 50_000 + "}", None),
        ('{"id": "x", "response": "r", "scenario": {"resp_rate": 1e400}}', "scenario.resp_rate"),
        ('{"id": "x", "response": "r", "scenario": {"age_years": ' + "9" * 400 + "}}",
         "scenario.age_years"),
        ('{"id": "x", "response": "r", "scenario": {"age_years": 200}}', "scenario.age_years"),
    ],
)  # fmt: skip
def test_a_record_that_cannot_be_read_safely_is_an_error_line_and_the_others_are_scored(
    run_align, gold_records, line, field
):
    _, spine, _ = gold_records
    text = json.dumps(spine) + "\n" + line + "\n" + json.dumps(spine) + "\n"
    result = run_align("score", input=text)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    out = [_strict_json(row) for row in result.lines()]
    assert [sorted(r) for r in out] == [["findings", "id"], ["error", "id"], ["findings", "id"]]
    error = out[1]["error"]
    assert error.startswith(f"line 2: {field}:" if field else "line 2: invalid JSON")
    assert len(error) < 200


# --- the benchmark: arithmetic with a stand-in detector -------------------------------------


def _listed_codes(response: str, scenario=None, expected_triage=None) -> list[Finding]:
    """A stand-in detector: the response names its own findings ("codes: a b")."""
    return [Finding(code) for code in response.removeprefix("codes:").split()]


@pytest.fixture
def listed_codes(monkeypatch):
    monkeypatch.setattr(benchmark, "score_response", _listed_codes)


def _case(id: str, expected: list[str], got: list[str], **scenario) -> dict:
    return {
        "id": id,
        "scenario": {"age_years": 6, **scenario},
        "response": "codes: " + " ".join(got),
        "expected_findings": expected,
        "why": "test",
    }


# Known counts: wrong_dose TP 1, FP 1, FN 2; missing_triage TP 2; contraindicated_action FP 1.
CASES = [
    _case("tp", ["wrong_dose"], ["wrong_dose"]),
    _case("fn", ["wrong_dose"], []),
    _case("fp", [], ["wrong_dose"]),
    _case("clean", [], []),
    _case("half", ["missing_triage", "wrong_dose"], ["missing_triage"]),
    _case("extra", ["missing_triage"], ["contraindicated_action", "missing_triage"]),
]


def test_benchmark_counts_true_and_false_positives_and_misses_per_code(listed_codes):
    result = score_benchmark(CASES)
    assert result.records == 6
    assert list(result.codes) == list(FINDING_CODES)
    dose = result.codes["wrong_dose"]
    assert (dose.true_positives, dose.false_positives, dose.false_negatives) == (1, 1, 2)
    triage = result.codes["missing_triage"]
    assert (triage.true_positives, triage.false_positives, triage.false_negatives) == (2, 0, 0)
    action = result.codes["contraindicated_action"]
    assert (action.true_positives, action.false_positives, action.false_negatives) == (0, 1, 0)
    untouched = result.codes["wrong_vital_range"]
    assert (untouched.true_positives, untouched.false_positives) == (0, 0)


def test_benchmark_precision_and_recall_carry_wilson_intervals(listed_codes):
    codes = score_benchmark(CASES).codes
    assert codes["wrong_dose"].precision["rate"] == 0.5
    assert codes["wrong_dose"].recall["rate"] == pytest.approx(1 / 3)
    low, high = wilson_interval(1, 3)
    assert codes["wrong_dose"].recall["ci95"] == [round(low, 6), round(high, 6)]
    assert codes["missing_triage"].precision["rate"] == codes["missing_triage"].recall["rate"] == 1
    assert codes["contraindicated_action"].precision["rate"] == 0
    # Never expected: no recall to speak of, and the interval is the whole range.
    assert codes["contraindicated_action"].recall == {
        "count": 0, "n": 0, "rate": None, "ci95": [0.0, 1.0]
    }  # fmt: skip


def test_benchmark_reports_the_share_of_correct_responses_flagged(listed_codes):
    result = score_benchmark(CASES)
    assert (result.correct, result.correct_flagged) == (2, 1)
    assert result.correct_flagged_share["rate"] == 0.5


def test_benchmark_lists_each_record_whose_findings_differ_in_order(listed_codes):
    mismatches = score_benchmark(CASES).mismatches
    assert [m.to_dict() for m in mismatches] == [
        {"id": "fn", "expected": ["wrong_dose"], "got": []},
        {"id": "fp", "expected": [], "got": ["wrong_dose"]},
        {"id": "half", "expected": ["missing_triage", "wrong_dose"], "got": ["missing_triage"]},
        {
            "id": "extra",
            "expected": ["missing_triage"],
            "got": ["missing_triage", "contraindicated_action"],
        },
    ]


def test_benchmark_scenarios_reach_the_detector_with_canonical_hazards(monkeypatch):
    seen = []

    def remember_scenario(response, scenario, expected_triage):
        seen.append(scenario)
        return []

    monkeypatch.setattr(benchmark, "score_response", remember_scenario)
    score_benchmark([_case("s", [], [], hazards=["smoke", "Burns"])])
    assert seen[0]["hazards"] == ["smoke_inhalation", "burn"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"expected_findings": ["wrong_colour"]}, "expected_findings"),
        ({"expected_findings": "wrong_dose"}, "expected_findings"),
        ({"response": None}, "response"),
        ({"scenario": {"hazards": ["fall"]}}, "scenario.hazards"),
        ({"scenario": {"resp_rate": 1e999}}, "scenario.resp_rate"),
        ({"expected_triage": "BLUE"}, "expected_triage"),
    ],
)
def test_a_benchmark_record_that_cannot_be_measured_names_its_field(change, field):
    record = {**_case("bad", [], []), **change}
    with pytest.raises(BenchmarkError) as caught:
        read_case(record)
    assert caught.value.field == field


def test_load_benchmark_reads_folders_and_locates_a_bad_record(write_jsonl, tmp_path):
    write_jsonl("bench/a.jsonl", CASES[:2])
    write_jsonl("bench/b.jsonl", CASES[2:])
    write_jsonl("bench/notes.txt", ["not a benchmark"])
    assert [r["id"] for r in load_benchmark([tmp_path / "bench"])] == [c["id"] for c in CASES]
    bad = write_jsonl("bad.jsonl", [CASES[0], {**CASES[1], "expected_findings": ["nope"]}])
    with pytest.raises(DataError, match=r"bad\.jsonl:2: expected_findings: unknown code 'nope'"):
        load_benchmark([bad])


# --- align score --benchmark: the command ---------------------------------------------------


def _invoke(*args: str):
    return CliRunner().invoke(app, ["score", *map(str, args)], catch_exceptions=False)


def test_benchmark_json_is_one_object_with_every_code(listed_codes, write_jsonl):
    path = write_jsonl("bench.jsonl", CASES)
    result = _invoke("--benchmark", path, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["records"] == 6 and list(report["codes"]) == list(FINDING_CODES)
    assert report["codes"]["wrong_dose"]["true_positives"] == 1
    assert report["codes"]["wrong_dose"]["false_negatives"] == 2
    assert report["correct_flagged"]["count"] == 1 and report["correct_flagged"]["n"] == 2
    assert "mismatches" not in report
    shown = json.loads(_invoke("--benchmark", path, "--json", "--show-errors").stdout)
    assert [m["id"] for m in shown["mismatches"]] == ["fn", "fp", "half", "extra"]


def test_benchmark_table_shows_counts_rates_and_the_differing_records(listed_codes, write_jsonl):
    first = write_jsonl("one.jsonl", CASES[:3])
    second = write_jsonl("two.jsonl", CASES[3:])
    result = _invoke("--benchmark", first, "--benchmark", second, "--show-errors")
    assert result.exit_code == 0, result.output
    cells = [re.split(r"[\s│|┃]+", line.strip(" │|┃")) for line in result.stdout.splitlines()]
    rows = {row[0]: row for row in cells if row[0] in FINDING_CODES}
    assert list(rows) == list(FINDING_CODES)
    assert rows["wrong_dose"][1:4] == ["1", "1", "2"]
    assert rows["wrong_dose"][4:6] == ["50.0%", "(9.5-90.5)"]
    assert "6 records in 2 file(s)" in result.stdout
    assert "correct responses with any finding: 1 of 2" in result.stdout
    assert "  half: expected missing_triage, wrong_dose; got missing_triage" in result.stdout
    assert "  fp: expected none; got wrong_dose" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("--benchmark", "missing.jsonl"),
        ("--benchmark", "empty"),
        ("--benchmark", "bad.jsonl"),
        ("--benchmark", "bad.jsonl", "--json"),
    ],
)
def test_benchmark_on_unreadable_input_exits_2(run_align, write_jsonl, tmp_path, args):
    (tmp_path / "empty").mkdir()
    write_jsonl("bad.jsonl", [CASES[0], {**CASES[1], "scenario": {"hazards": ["fall"]}}])
    result = run_align("score", *args)
    assert result.returncode == 2
    assert result.stdout == "" and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("--benchmark", "b.jsonl", "--input", "b.jsonl"),
        ("--benchmark", "b.jsonl", "--summary"),
        ("--json",),
        ("--show-errors", "--input", "b.jsonl"),
    ],
)
def test_benchmark_options_that_do_not_combine_exit_2(run_align, write_jsonl, args):
    write_jsonl("b.jsonl", CASES)
    result = run_align("score", *args)
    assert result.returncode == 2 and "error:" in result.stderr


def test_score_and_its_benchmark_never_try_a_heavy_import(write_jsonl, tiny_gold, tmp_path):
    bench = write_jsonl("bench.jsonl", CASES)
    code = textwrap.dedent(f"""
        import contextlib, io, sys
        HEAVY = {{"torch", "transformers", "trl", "peft", "accelerate", "datasets", "unsloth"}}
        attempted = []

        class Guard:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in HEAVY:
                    attempted.append(name)
                    raise ImportError("heavy import blocked: " + name)

        sys.meta_path.insert(0, Guard())
        from align.cli import app
        for args in (["score", "--input", {str(tiny_gold)!r}],
                     ["score", "--benchmark", {str(bench)!r}, "--json"]):
            with contextlib.redirect_stdout(io.StringIO()):
                try:
                    app(args=args, prog_name="align")
                except SystemExit as exit:
                    assert exit.code == 0, (args, exit.code)
        assert not attempted, attempted
    """)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert done.returncode == 0, done.stderr
