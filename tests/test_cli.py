"""The light CLI commands end to end (subprocess): bad input is refused with a located error
and nothing half-written; `align triage` and `align score` keep their DESIGN.md contracts."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from align.checks.detectors import FINDING_CODES

PAIR_FILES = ["eval.jsonl", "summary.json", "train.jsonl"]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.exists() else {}


@pytest.fixture(scope="module")
def good_pairs(tmp_path_factory, tiny_gold_rows, jsonl, run_align_anywhere) -> dict:
    """One good `align pairs` run on the tiny gold: the gold path, out dir and its bytes."""
    root = tmp_path_factory.mktemp("good")
    gold = root / "gold.jsonl"
    gold.write_bytes(jsonl(tiny_gold_rows))
    out = root / "pairs"
    result = run_align_anywhere(
        "pairs", "--gold", gold, "--out", out, "--eval-fraction", "0.34", cwd=root
    )
    assert result.returncode == 0, result.stderr
    return {"gold": gold, "out": out, "files": _snapshot(out)}


# --- the fixture itself ---------------------------------------------------------------------


def test_tiny_gold_fixture_passes_data_check(run_align, tiny_gold):
    result = run_align("data", "check", tiny_gold)
    assert result.returncode == 0, result.stderr
    assert "ok: 3 gold records valid, zero detector findings" in result.stdout
    assert result.stderr == ""


def test_pairs_on_good_gold_writes_train_eval_and_summary(good_pairs, tiny_gold_rows):
    files = good_pairs["files"]
    assert sorted(files) == PAIR_FILES
    summary = json.loads(files["summary.json"])
    ids = {r["id"] for r in tiny_gold_rows}
    for split in ("train", "eval"):
        records = [json.loads(line) for line in files[f"{split}.jsonl"].splitlines()]
        assert len(records) == summary["pairs"][split]
        assert all(r["split"] == split and r["gold_id"] in ids for r in records)
    assert summary["pairs"]["train"] > 0 and summary["pairs"]["eval"] > 0
    assert all(
        c["rejected_exact"] == c["pairs"] == c["chosen_clean"]
        for c in summary["closed_loop"].values()
    )


# --- bad gold: align data check and align pairs ---------------------------------------------


def _recolor(record: dict, old: str, new: str) -> None:
    record["messages"][-1]["content"] = record["messages"][-1]["content"].replace(old, new, 1)


def _bad_gold(case: str, records: list[dict]) -> tuple[list, int, str]:
    """(rows, line at fault, what the message must say after ``path:line: ``)."""
    crush, spine, ref = records
    if case == "malformed_json":
        return [crush, b'{"id": "broken", "messages": [', ref], 2, "invalid JSON"
    if case == "wrong_role_order":
        spine["messages"].reverse()
        return [crush, spine, ref], 2, "messages: role order assistant/user"
    if case == "empty_assistant_turn":
        spine["messages"][-1]["content"] = " \n "
        return [crush, spine, ref], 2, "messages[1].content: empty assistant turn"
    if case == "non_utf8_bytes":
        latin1 = json.dumps(ref).replace("toddler?", "toddler\\u00e9?").encode()
        latin1 = latin1.replace(b"\\u00e9", b"\xe9")
        return [crush, spine, latin1], 3, "not UTF-8"
    if case == "duplicate_ids":
        spine["id"] = crush["id"]
        return [crush, ref, spine], 3, f"id: duplicate id '{crush['id']}'"
    if case == "scenario_field_type":
        spine["scenario"]["resp_rate"] = "fast"
        return [crush, spine, ref], 2, "scenario.resp_rate: field 'resp_rate' must be a number"
    if case == "unknown_hazard":
        crush["scenario"]["hazards"] = ["crush", "lava"]
        return [crush, spine, ref], 1, "scenario.hazards"
    if case == "weight_not_stated":
        crush["messages"][1]["content"] = crush["messages"][1]["content"].replace("18 kg, ", "")
        return [crush, spine, ref], 1, "scenario.weight_kg: 18 kg is not stated in the user turn"
    if case == "misspelt_scenario_field":
        crush["scenario"]["hazard"] = crush["scenario"].pop("hazards")
        return [crush, spine, ref], 1, "scenario.hazard: unknown field; did you mean hazards?"
    if case == "weight_400_digits":
        crush["scenario"]["weight_kg"] = 10**400
        return [crush, spine, ref], 1, "scenario.weight_kg: field 'weight_kg' must be"
    if case == "expected_triage_disagrees":
        spine["expected_triage"] = "YELLOW"
        _recolor(spine, "RED (Immediate)", "YELLOW (Delayed)")
        message = "expected_triage: YELLOW differs from the triage policy's RED"
        return [crush, spine, ref], 2, message
    raise AssertionError(case)


BAD_GOLD_CASES = [
    "malformed_json",
    "wrong_role_order",
    "empty_assistant_turn",
    "non_utf8_bytes",
    "duplicate_ids",
    "scenario_field_type",
    "unknown_hazard",
    "weight_not_stated",
    "misspelt_scenario_field",
    "weight_400_digits",
    "expected_triage_disagrees",
]


@pytest.fixture(scope="module")
def bad_gold_runs(tmp_path_factory, tiny_gold_rows, jsonl, good_pairs, run_align_anywhere):
    """For each bad-gold case: `align data check`, `align pairs` into a fresh out dir, and
    `align pairs` into a copy of an earlier good run. The runs are independent subprocesses,
    so they go in parallel to keep the suite fast."""
    root = tmp_path_factory.mktemp("bad")
    cases, jobs = {}, {}
    for case in BAD_GOLD_CASES:
        folder = root / case
        folder.mkdir()
        rows, line, message = _bad_gold(case, copy.deepcopy(list(tiny_gold_rows)))
        gold = folder / "bad.jsonl"
        gold.write_bytes(jsonl(rows))
        kept, fresh = folder / "kept", folder / "fresh"
        shutil.copytree(good_pairs["out"], kept)
        cases[case] = {"gold": gold, "line": line, "message": message, "kept": kept, "fresh": fresh}
        jobs[case, "check"] = (folder, ["data", "check", gold])
        jobs[case, "pairs_fresh"] = (folder, ["pairs", "--gold", gold, "--out", fresh])
        jobs[case, "pairs_kept"] = (
            folder,
            ["pairs", "--gold", gold, "--out", kept, "--overwrite"],
        )
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        futures = {
            key: pool.submit(run_align_anywhere, *args, cwd=cwd)
            for key, (cwd, args) in jobs.items()
        }
        for (case, kind), future in futures.items():
            cases[case][kind] = future.result()
    return cases


@pytest.mark.parametrize("case", BAD_GOLD_CASES)
def test_data_check_rejects_bad_gold_naming_file_line_and_field(bad_gold_runs, case):
    run = bad_gold_runs[case]
    result = run["check"]
    assert result.returncode != 0
    assert f"{run['gold']}:{run['line']}: {run['message']}" in result.stderr
    assert "FAILED" in result.stderr and "ok:" not in result.stdout


@pytest.mark.parametrize("case", BAD_GOLD_CASES)
def test_pairs_on_bad_gold_exits_nonzero_and_creates_nothing(bad_gold_runs, case):
    run = bad_gold_runs[case]
    result = run["pairs_fresh"]
    assert result.returncode == 2
    assert f"{run['gold']}:{run['line']}: {run['message']}" in result.stderr
    assert "nothing written" in result.stderr
    assert not run["fresh"].exists()


@pytest.mark.parametrize("case", BAD_GOLD_CASES)
def test_pairs_on_bad_gold_keeps_an_earlier_run_byte_for_byte(bad_gold_runs, good_pairs, case):
    run = bad_gold_runs[case]
    assert run["pairs_kept"].returncode == 2
    assert f"{run['gold']}:{run['line']}:" in run["pairs_kept"].stderr
    # Same names (no temp files left, nothing new) and the same bytes.
    assert _snapshot(run["kept"]) == good_pairs["files"]


def test_duplicate_id_across_files_names_both_files_and_lines(run_align, write_jsonl, gold_records):
    crush, spine, ref = gold_records
    first = write_jsonl("gold/a.jsonl", [ref, crush])
    second = write_jsonl("gold/b.jsonl", [crush, spine])
    result = run_align("data", "check", first.parent)
    assert result.returncode == 1
    assert f"{second}:1: id: duplicate id '{crush['id']}' (first at {first}:2)" in result.stderr


def test_an_override_sign_in_the_scenario_makes_red_the_policy_color(
    run_align, write_jsonl, gold_records
):
    crush, spine, ref = gold_records  # crush: YELLOW by JumpSTART's steps
    crush["scenario"]["uncontrolled_bleeding"] = True
    crush["expected_triage"] = "RED"
    _recolor(crush, "YELLOW (Delayed)", "RED (Immediate)")
    result = run_align("data", "check", write_jsonl("gold.jsonl", [crush, spine, ref]))
    assert result.returncode == 0, result.stderr


def test_a_free_text_reason_no_longer_excuses_a_color_the_policy_does_not_give(
    run_align, write_jsonl, gold_records
):
    crush, spine, ref = gold_records
    spine["expected_triage"] = "YELLOW"
    _recolor(spine, "RED (Immediate)", "YELLOW (Delayed)")
    spine["triage_override"] = "test fixture: a reason in words is not the policy"
    result = run_align("data", "check", write_jsonl("gold.jsonl", [crush, spine, ref]))
    assert result.returncode == 1
    assert "differs from the triage policy's RED" in result.stderr


def test_pairs_on_a_gold_file_without_records_writes_nothing(
    run_align, write_jsonl, good_pairs, tmp_path
):
    out = tmp_path / "pairs"
    shutil.copytree(good_pairs["out"], out)
    gold = write_jsonl("empty.jsonl", [])
    result = run_align("pairs", "--gold", gold, "--out", out, "--overwrite")
    assert result.returncode == 2
    assert "no gold records" in result.stderr
    assert _snapshot(out) == good_pairs["files"]


# --- align pairs options ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["--perturbations", "bogus"], "--perturbations: unknown bogus"),
        (["--count", "bogus=2"], "--count bogus=2: unknown perturbation 'bogus'"),
        (["--count", "wrong_dose=x"], "--count wrong_dose=x: expected NAME=N"),
        (["--count", "wrong_dose=\u0663"], "--count wrong_dose=\u0663: expected NAME=N"),
        (
            ["--perturbations", "wrong_dose", "--count", "missing_triage=1"],
            "--count missing_triage=1: missing_triage is not among --perturbations",
        ),
    ],
)
def test_pairs_bad_option_exits_2_naming_the_option(run_align, tiny_gold, tmp_path, options, named):
    out = tmp_path / "pairs"
    result = run_align("pairs", "--gold", tiny_gold, "--out", out, *options)
    assert result.returncode == 2
    assert named in result.stderr
    assert not out.exists()


def test_pairs_is_byte_identical_for_the_same_seed_and_differs_for_another(
    run_align, good_pairs, tmp_path
):
    again, other = tmp_path / "again", tmp_path / "other"
    args = ("pairs", "--gold", good_pairs["gold"], "--eval-fraction", "0.34")
    assert run_align(*args, "--out", again).returncode == 0
    assert run_align(*args, "--out", other, "--seed", "1").returncode == 0
    assert _snapshot(again) == good_pairs["files"]
    changed = _snapshot(other)
    assert sorted(changed) == PAIR_FILES

    def without_seed(files):
        return [
            {k: v for k, v in json.loads(line).items() if k != "seed"}
            for split in ("train.jsonl", "eval.jsonl")
            for line in files[split].splitlines()
        ]

    # More than the seed field moves: the split (and perturbation choices) follow the seed.
    assert without_seed(changed) != without_seed(good_pairs["files"])


# --- align triage -----------------------------------------------------------------------------

# (observation, triage, protocol), in input order; rules from the facts file sections 1-2.
TRIAGE_CASES = [
    ({"age_years": 6, "ambulatory": True}, "GREEN", "jumpstart"),
    (
        {
            "age_years": 5,
            "ambulatory": False,
            "breathing": True,
            "resp_rate": 36,
            "peripheral_pulse": True,
            "avpu": "A",
        },
        "YELLOW",
        "jumpstart",
    ),
    ({"age_years": 4, "ambulatory": False, "breathing": True, "resp_rate": 50}, "RED", "jumpstart"),
    (
        {
            "age_years": 4,
            "ambulatory": False,
            "breathing": True,
            "resp_rate": 15,
            "peripheral_pulse": True,
            "avpu": "V",
        },
        "YELLOW",
        "jumpstart",
    ),
    (
        {
            "age_years": 4,
            "ambulatory": False,
            "breathing": True,
            "resp_rate": 45,
            "peripheral_pulse": True,
            "avpu": "A",
        },
        "YELLOW",
        "jumpstart",
    ),
    (
        {
            "age_years": 3,
            "ambulatory": False,
            "breathing": False,
            "breathing_after_airway": False,
            "peripheral_pulse": False,
        },
        "BLACK",
        "jumpstart",
    ),
    (
        {
            "age_years": 0.5,
            "breathing": False,
            "breathing_after_airway": False,
            "peripheral_pulse": True,
            "breathing_after_rescue_breaths": True,
        },
        "RED",
        "jumpstart",
    ),
    (
        {
            "age_years": 7,
            "ambulatory": False,
            "breathing": True,
            "resp_rate": 30,
            "peripheral_pulse": True,
            "avpu": "P",
            "pain_response": "inappropriate",
        },
        "RED",
        "jumpstart",
    ),
    ({"age_years": 8.9, "ambulatory": True}, "GREEN", "jumpstart"),
    ({"age_years": 9, "ambulatory": True}, "GREEN", "start"),
    ({"age_years": 5, "protocol": "start", "ambulatory": True}, "GREEN", "start"),
    (
        {
            "age_years": 12,
            "ambulatory": False,
            "breathing": True,
            "resp_rate": 30,
            "radial_pulse": True,
            "follows_commands": True,
        },
        "YELLOW",
        "start",
    ),
    ({"age_years": 12, "ambulatory": False, "breathing": True, "resp_rate": 31}, "RED", "start"),
    (
        {
            "age_years": 10,
            "ambulatory": False,
            "breathing": True,
            "resp_rate": 20,
            "cap_refill_s": 3,
        },
        "RED",
        "start",
    ),
    (
        {"age_years": 15, "ambulatory": False, "breathing": False, "breathing_after_airway": False},
        "BLACK",
        "start",
    ),
]


def _triage_input() -> bytes:
    return b"".join(json.dumps(obs).encode() + b"\n" for obs, _, _ in TRIAGE_CASES)


def _check_triage_output(result) -> None:
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.lines()]
    assert [(r["triage"], r["protocol"]) for r in lines] == [(t, p) for _, t, p in TRIAGE_CASES]
    assert all(set(r) == {"triage", "protocol", "path"} for r in lines)
    path = lines[1]["path"]  # DESIGN.md's example patient
    assert path.index("ambulatory=no") < path.index("rr=36 in 15..45")
    assert lines[6]["path"][0] == "ambulatory=n/a (infant)"


def test_triage_reads_stdin_and_answers_each_line_in_order(run_align):
    _check_triage_output(run_align("triage", input=_triage_input()))


def test_triage_reads_a_file_argument_like_stdin(run_align, tmp_path):
    observations = tmp_path / "obs.jsonl"
    observations.write_bytes(_triage_input())
    _check_triage_output(run_align("triage", observations))


def test_triage_errors_name_the_field_and_other_lines_still_print(run_align):
    good = {"age_years": 6, "ambulatory": True}
    lines = [
        json.dumps(good),
        json.dumps({"age_years": 5, "ambulatory": False, "breathing": True}),
        json.dumps({"ambulatory": False, "breathing": True, "resp_rate": 20}),
        json.dumps({"age_years": 12, "ambulatory": False, "breathing": True, "resp_rate": 20}),
        json.dumps({"age_years": 5, "ambulatory": False, "resp_rate": "fast"}),
        '{"age_years": 5, "ambulatory": ',
        "[1, 2]",
        '{"age_years": 5, "ambulatory": false, "breathing": true, "resp_rate": NaN, '
        '"peripheral_pulse": true, "avpu": "A"}',
        json.dumps(good),
    ]
    raw = "\n".join(lines).encode() + b"\n" + b'{"age_years": "f\xfcnf"}\n'
    result = run_align("triage", input=raw)
    assert result.returncode == 1
    out = [json.loads(line) for line in result.lines()]
    assert len(out) == 10
    assert (
        out[0] == out[8] == {"triage": "GREEN", "protocol": "jumpstart", "path": ["ambulatory=yes"]}
    )
    errors = [r.get("error", "") for r in out]
    assert all(set(r) == {"error"} for i, r in enumerate(out) if i not in (0, 8))
    assert errors[1].startswith("line 2: ") and "'resp_rate'" in errors[1]
    assert errors[2].startswith("line 3: ") and "'age_years'" in errors[2]
    assert errors[3].startswith("line 4: ") and "'radial_pulse'" in errors[3]
    assert errors[4].startswith("line 5: ") and "'resp_rate' must be a number" in errors[4]
    assert errors[5].startswith("line 6: invalid JSON")
    assert errors[6].startswith("line 7: ") and "JSON object" in errors[6]
    assert errors[7].startswith("line 8: invalid JSON") and "NaN" in errors[7]
    assert errors[9].startswith("line 10: ") and "UTF-8" in errors[9]


def test_triage_exits_0_when_every_line_is_answered(run_align):
    result = run_align("triage", input=json.dumps({"age_years": 6, "ambulatory": True}) + "\n")
    assert (result.returncode, result.stderr) == (0, "")


def test_triage_on_a_missing_file_exits_2_naming_it(run_align, tmp_path):
    missing = tmp_path / "nope.jsonl"
    result = run_align("triage", missing)
    assert result.returncode == 2
    assert str(missing) in result.stderr and result.stdout == ""


@pytest.mark.parametrize(
    ("number", "field"),
    [
        ('"resp_rate": 1e400', "resp_rate"),  # infinity once read
        ('"resp_rate": ' + "9" * 400, "resp_rate"),  # too large for a float
        ('"age_years": ' + "9" * 400, "age_years"),
        ('"age_years": 200', "age_years"),
        ('"resp_rate": 151', "resp_rate"),
    ],
)
def test_triage_refuses_a_number_not_finite_or_not_plausible_naming_its_field(
    run_align, number, field
):
    fields = {"age_years": 5, "ambulatory": False, "breathing": True, "resp_rate": 30,
              "peripheral_pulse": True, "avpu": "A"}  # fmt: skip
    name = number.split(":")[0].strip('"')
    rest = json.dumps({k: v for k, v in fields.items() if k != name})
    line = "{" + number + ", " + rest[1:]
    result = run_align("triage", input=line + "\n" + json.dumps(fields) + "\n")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    bad, good = (json.loads(row) for row in result.lines())
    assert set(bad) == {"error"} and bad["error"].startswith("line 1: ")
    assert f"'{field}'" in bad["error"] and len(bad["error"]) < 200
    assert good["triage"] == "YELLOW"


def test_triage_answers_deeply_nested_json_with_an_error_line(run_align):
    deep = '{"age_years": ' + "[" * 100_000 + "]" * 100_000 + "}"
    result = run_align(
        "triage", input=deep + "\n" + json.dumps({"age_years": 6, "ambulatory": True})
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    bad, good = (json.loads(row) for row in result.lines())
    assert bad["error"].startswith("line 1: invalid JSON") and "nested too deeply" in bad["error"]
    assert good["triage"] == "GREEN"


# --- align score ------------------------------------------------------------------------------


def _score_rows(crush: dict, spine: dict) -> list[dict]:
    wrong = crush["messages"][-1]["content"].replace("YELLOW (Delayed)", "GREEN (Minor)")
    return [
        # {id, scenario, response}: truth is the protocol's answer (YELLOW) -> under-triage.
        {"id": "s-1", "scenario": crush["scenario"], "response": wrong},
        # A gold-style record: the last assistant message is the response; clean.
        spine,
        # No scenario: no patient, so no triage check; the sections are still required.
        {"id": "s-3", "response": "Call for help."},
        # expected_triage is the truth when present (a documented override): RED is over.
        {
            "id": "s-4",
            "scenario": spine["scenario"],
            "expected_triage": "YELLOW",
            "response": spine["messages"][-1]["content"],
        },
    ]


def test_score_takes_both_input_shapes_and_prints_findings_per_line(
    run_align, write_jsonl, gold_records
):
    crush, spine, _ = gold_records
    result = run_align("score", "--input", write_jsonl("score.jsonl", _score_rows(crush, spine)))
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.lines()]
    assert [r["id"] for r in out] == ["s-1", spine["id"], "s-3", "s-4"]
    codes = [[f["code"] for f in r["findings"]] for r in out]
    assert codes == [
        ["wrong_triage_color"],
        [],
        ["missing_do_not", "missing_reassessment"],
        ["wrong_triage_color"],
    ]
    assert out[0]["findings"][0]["detail"] == {
        "stated": "GREEN",
        "expected": "YELLOW",
        "direction": "under",
    }
    assert out[3]["findings"][0]["detail"]["direction"] == "over"


def test_score_summary_is_the_last_line_with_a_rate_for_every_finding_code(run_align, gold_records):
    crush, spine, _ = gold_records
    rows = "".join(json.dumps(r) + "\n" for r in _score_rows(crush, spine))
    result = run_align("score", "--summary", input=rows)  # standard input
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.lines()]
    assert len(lines) == 5 and all("findings" in r for r in lines[:4])
    summary = lines[-1]["summary"]
    assert summary["records"] == 4
    assert list(summary["rates"]) == list(FINDING_CODES)
    assert list(summary["counts"]) == list(FINDING_CODES)
    expected = {code: 0.0 for code in FINDING_CODES}
    expected.update(wrong_triage_color=0.5, missing_do_not=0.25, missing_reassessment=0.25)
    assert summary["rates"] == expected


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"id": "x", "scenario": {"age_years": 5}}, "response: missing"),
        (
            {
                "id": "x",
                "messages": [
                    {"role": "assistant", "content": "hi"},
                    {"role": "user", "content": "?"},
                ],
            },
            "messages: the last message",
        ),
        (
            {"id": "x", "scenario": {"age_years": 5, "resp_rate": "fast"}, "response": "hi"},
            "scenario.resp_rate",
        ),
        (
            {
                "id": "x",
                "scenario": {"age_years": 3, "weight_kg": "heavy"},
                "response": "Fluid bolus 20 mL/kg x 14 kg = 280 mL.",
            },
            "scenario.weight_kg",
        ),
        (
            {"id": "x", "scenario": {"age_years": 3, "hazards": "burn"}, "response": "hi"},
            "scenario.hazards",
        ),
        ({"id": "x", "expected_triage": "PURPLE", "response": "hi"}, "expected_triage"),
        ('{"id": "x", "response": ', "invalid JSON"),
    ],
)
def test_score_bad_line_exits_1_naming_line_and_field_and_scores_the_others(
    run_align, write_jsonl, gold_records, bad, field
):
    path = write_jsonl("score.jsonl", [{"id": "ok", "response": "x"}, bad, gold_records[1]])
    result = run_align("score", "--input", path, "--summary")
    assert result.returncode == 1
    assert f"{path}:2: {field}" in result.stderr
    out = [json.loads(line) for line in result.lines()]
    assert [sorted(r) for r in out[:3]] == [["findings", "id"], ["error", "id"], ["findings", "id"]]
    assert out[1]["error"].startswith(f"line 2: {field}")
    assert out[3]["summary"]["records"] == 2 and out[3]["summary"]["errors"] == 1
    assert "Traceback" not in result.stderr


def test_score_on_a_missing_file_exits_2_naming_it(run_align, tmp_path):
    result = run_align("score", "--input", tmp_path / "nope.jsonl")
    assert result.returncode == 2
    assert "nope.jsonl: cannot read" in result.stderr and result.stdout == ""


# --- one error boundary -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "where",
    ["/proc/align-test", "a-file", "a-file/pairs"],
)
def test_pairs_to_an_out_that_cannot_be_written_exits_2_naming_it_and_writes_nothing(
    run_align, tiny_gold, tmp_path, where
):
    (tmp_path / "a-file").write_text("keep me\n")
    result = run_align("pairs", "--gold", tiny_gold, "--out", where)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: {where}")
    assert (tmp_path / "a-file").read_text() == "keep me\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "gold"]


@pytest.mark.parametrize(
    ("content", "name"),
    [(None, "missing.json"), (b"{}", "tokenizer.json"), (b"\xff\xfe", "tokenizer.json")],
)
def test_data_check_with_a_tokenizer_it_cannot_read_exits_2_naming_it(
    run_align, tiny_gold, tmp_path, content, name
):
    pytest.importorskip("tokenizers")
    tokenizer = tmp_path / name
    if content is not None:
        tokenizer.write_bytes(content)
    result = run_align("data", "check", tiny_gold, "--tokenizer", tokenizer)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"error: {tokenizer}" in result.stderr and "--tokenizer" in result.stderr


@pytest.mark.parametrize(
    "error",
    [
        PermissionError(13, "Permission denied", "/x/out.jsonl"),
        OverflowError("int too large to convert to float"),
        RecursionError("maximum recursion depth exceeded"),
        UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"),
        ValueError("bad value"),
    ],
)
def test_every_command_turns_input_and_os_errors_into_an_error_line_and_exit_2(monkeypatch, error):
    from typer.testing import CliRunner

    import align.commands
    from align.cli import app

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(align.commands, "run_triage", fail)
    result = CliRunner().invoke(app, ["triage"], catch_exceptions=False)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    if isinstance(error, OSError):
        assert "error: /x/out.jsonl: Permission denied" in result.stderr


def test_a_genuine_bug_is_not_hidden_by_the_error_boundary(monkeypatch):
    from typer.testing import CliRunner

    import align.commands
    from align.cli import app

    def bug(*args, **kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr(align.commands, "run_triage", bug)
    with pytest.raises(KeyError):
        CliRunner().invoke(app, ["triage"], catch_exceptions=False)


def test_align_traceback_shows_where_an_input_error_came_from(monkeypatch):
    from typer.testing import CliRunner

    import align.commands
    from align.cli import app

    def fail(*args, **kwargs):
        raise ValueError("from deep inside")

    monkeypatch.setattr(align.commands, "run_triage", fail)
    monkeypatch.setenv("ALIGN_TRACEBACK", "1")
    with pytest.raises(ValueError, match="from deep inside"):
        CliRunner().invoke(app, ["triage"], catch_exceptions=False)


def test_every_registered_command_is_inside_the_error_boundary():
    from align.cli import app, data_app

    callbacks = {c.name: c.callback for a in (app, data_app) for c in a.registered_commands}
    assert {"triage", "score", "pairs", "gate", "export", "publish", "check"} <= set(callbacks)
    assert all(getattr(c, "__wrapped__", None) is not None for c in callbacks.values())


# --- the light commands stay light ----------------------------------------------------------

HEAVY_GUARD = textwrap.dedent("""
    import sys
    HEAVY = {"torch", "transformers", "trl", "peft", "accelerate", "datasets", "unsloth"}
    attempted = []

    class Guard:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in HEAVY:
                attempted.append(name)
                raise ImportError("heavy import blocked: " + name)
            return None

    sys.meta_path.insert(0, Guard())
""")


def test_light_modules_do_not_import_torch_or_transformers():
    code = HEAVY_GUARD + textwrap.dedent("""
        import align.cli, align.commands, align.data.pairs, align.checks.detectors
        import align.evaluation.gate, align.evaluation.report, align.evaluation.scoring
        import align.evaluation.run, align.evaluation.scenarios
        assert "torch" not in sys.modules and "transformers" not in sys.modules
        assert not attempted, attempted
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_light_commands_never_try_a_heavy_import(tiny_gold, tmp_path):
    # The guard records attempts even where torch is not installed, or an import is optional.
    code = HEAVY_GUARD + textwrap.dedent(f"""
        import contextlib, io
        from align.cli import app
        gold, out = {str(tiny_gold)!r}, {str(tmp_path / "pairs")!r}
        runs = [["data", "check", gold], ["pairs", "--gold", gold, "--out", out],
                ["score", "--input", gold, "--summary"],
                ["gate", "--pairs", "--pairs-dir", out, "--gold", gold],
                ["triage", {str(tiny_gold)!r}]]
        codes = []
        for args in runs:
            with contextlib.redirect_stdout(io.StringIO()):
                try:
                    app(args=args, prog_name="align")
                except SystemExit as exit:
                    codes.append(exit.code)
        assert codes[:4] == [0, 0, 0, 0], codes
        assert not attempted, attempted
    """)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert done.returncode == 0, done.stderr
