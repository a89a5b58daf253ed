"""The structured gold generator: size, determinism, consistency with the protocol engine and
the detectors, coverage of every protocol path and age band, and wording variety."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import fields

import pytest

from align.checks.detectors import score_response
from align.data.generator import (
    MAX_CHARS,
    MIN_CHARS,
    SYSTEM_PROMPT,
    WEIGHT_ESTIMATE_NOTES,
    generate_gold,
)
from align.protocol.colors import PRIORITY
from align.protocol.dosing import apls_weight_kg
from align.protocol.schema import parse_response
from align.protocol.triage import Observation, triage
from align.protocol.vitals import age_band_label

OBSERVATION_FIELDS = {f.name for f in fields(Observation)}
SCENARIO_FIELDS = OBSERVATION_FIELDS | {"weight_kg", "hazards", "second_patient"}
FAMILIES = ("jumpstart", "start", "vitals", "dosing", "twopatient", "pfa")
REFERENCE_FAMILIES = ("vitals", "dosing")


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return generate_gold()


def _family(record: dict) -> str:
    return record["id"].split("-")[1]


def _response(record: dict) -> str:
    return record["messages"][-1]["content"]


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.?!;])\s+|\n", text) if s.strip()]


def _signature(scenario: dict) -> tuple[str, str, str]:
    """(color, last decision step with the numbers taken out, apneic branch or not)."""
    result = triage(scenario)
    last = re.sub(r"=\d+(?:\.\d+)?", "", result.path[-1])
    branch = "apneic" if any(step.startswith("breathing=no") for step in result.path) else "-"
    return result.triage, last, branch


def _patients(records, family):
    return [r for r in records if _family(r) == family]


def test_generates_at_least_420_records_from_every_family(records):
    assert len(records) >= 420
    counts = Counter(_family(r) for r in records)
    assert set(counts) == set(FAMILIES)
    assert all(counts[family] >= 30 for family in FAMILIES), counts


def test_ids_are_unique_sorted_and_name_their_family(records):
    ids = [r["id"] for r in records]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    for record in records:
        assert re.fullmatch(r"gen-[a-z]+-\d{3}", record["id"])
        assert record["group"].startswith(f"gen-{_family(record)}-")
        assert record["source"] == "generated"


def test_same_seed_gives_identical_records_and_another_seed_differs(records):
    assert generate_gold(3407) == records
    other = generate_gold(11)
    assert other != records
    assert [r["messages"][1]["content"] for r in other] != [
        r["messages"][1]["content"] for r in records
    ]


def test_every_record_scores_zero_detector_findings(records):
    flagged = {}
    for record in records:
        findings = score_response(
            _response(record), record["scenario"], record.get("expected_triage")
        )
        if findings:
            flagged[record["id"]] = [(f.code, f.detail) for f in findings]
    assert not flagged, flagged


def test_expected_triage_is_the_protocol_engines_answer(records):
    for record in records:
        if _family(record) in REFERENCE_FAMILIES:
            assert "expected_triage" not in record
            continue
        color = triage(record["scenario"]).triage
        assert record["expected_triage"] == color, record["id"]
        assert parse_response(_response(record)).triage_color == color, record["id"]


def test_messages_are_system_user_assistant_with_the_shared_system_prompt(records):
    for record in records:
        roles = [m["role"] for m in record["messages"]]
        assert roles == ["system", "user", "assistant"]
        assert record["messages"][0]["content"] == SYSTEM_PROMPT


def test_scenarios_use_only_observation_contract_fields(records):
    for record in records:
        scenario = record["scenario"]
        assert set(scenario) <= SCENARIO_FIELDS, record["id"]
        if "second_patient" in scenario:
            assert set(scenario["second_patient"]) <= OBSERVATION_FIELDS
        if _family(record) in REFERENCE_FAMILIES:
            assert set(scenario) <= {"age_years", "weight_kg"}, record["id"]
            assert _response(record).startswith("Key points:")
        else:
            assert _response(record).startswith("TRIAGE: ")
            assert isinstance(scenario["hazards"], list)
            assert scenario.get("weight_kg", 1) > 0


def test_every_jumpstart_path_appears_including_infants_and_rr_boundaries(records):
    jumpstart = [r["scenario"] for r in _patients(records, "jumpstart")]
    assert all(triage(s).protocol == "jumpstart" for s in jumpstart)
    signatures = {_signature(s) for s in jumpstart}
    expected = {
        ("GREEN", "ambulatory=yes", "-"),
        ("RED", "breathing_after_airway=yes", "apneic"),
        ("BLACK", "peripheral_pulse=no", "apneic"),
        ("RED", "breathing_after_rescue_breaths=yes", "apneic"),
        ("BLACK", "breathing_after_rescue_breaths=no", "apneic"),
        ("RED", "rr <15", "-"),
        ("RED", "rr >45", "-"),
        ("RED", "peripheral_pulse=no", "-"),
        ("RED", "avpu=U", "-"),
        ("RED", "avpu=P pain_response=inappropriate", "-"),
        ("YELLOW", "avpu=P pain_response=appropriate", "-"),
        ("YELLOW", "avpu=A", "-"),
        ("YELLOW", "avpu=V", "-"),
    }
    assert expected <= signatures, expected - signatures
    assert {14, 15, 45, 46} <= {s.get("resp_rate") for s in jumpstart}
    assert any(s["age_years"] < 1 for s in jumpstart)
    assert min(s["age_years"] for s in jumpstart) >= 0.25
    assert max(s["age_years"] for s in jumpstart) < 9


def test_every_start_path_appears_including_rr_30_and_refill_boundaries(records):
    start = [r["scenario"] for r in _patients(records, "start")]
    assert all(triage(s).protocol == "start" and 9 <= s["age_years"] < 18 for s in start)
    signatures = {_signature(s)[:2] for s in start}
    expected = {
        ("GREEN", "ambulatory=yes"),
        ("RED", "breathing_after_airway=yes"),
        ("BLACK", "breathing_after_airway=no"),
        ("RED", "rr >30"),
        ("RED", "radial_pulse=no"),
        ("RED", "cap_refill_s >2"),
        ("RED", "follows_commands=no"),
        ("YELLOW", "follows_commands=yes"),
    }
    assert expected <= signatures, expected - signatures
    by_rr = {s.get("resp_rate"): triage(s).triage for s in start if s.get("resp_rate") in (30, 31)}
    assert by_rr == {30: "YELLOW", 31: "RED"}
    assert any(s.get("cap_refill_s") == 2 and triage(s).triage == "YELLOW" for s in start)


def test_vital_reference_family_covers_every_age_band(records):
    bands = {age_band_label(r["scenario"]["age_years"]) for r in _patients(records, "vitals")}
    assert {
        "newborn",
        "infant",
        "toddler",
        "preschool",
        "school-age",
        "preadolescent",
        "adolescent",
    } <= bands
    for record in _patients(records, "vitals"):
        text = _response(record)
        assert "mmHg" in text and "hypotensi" in text.lower(), record["id"]


def _dose_weight(record: dict) -> tuple[int, str]:
    """The weight a record's doses use and what follows "kg" in them: the stated weight, or
    the APLS age estimate, marked as one in a patient answer (a dosing question that asks for
    an estimate shows the formula in its key points instead)."""
    scenario = record["scenario"]
    if "weight_kg" in scenario:
        return scenario["weight_kg"], " = "
    weight = round(apls_weight_kg(scenario["age_years"]))
    if _family(record) == "dosing":
        assert f"= {weight} kg" in _response(record), record["id"]
        return weight, " = "
    return weight, r"(?:" + "|".join(map(re.escape, WEIGHT_ESTIMATE_NOTES)) + r") = "


def test_doses_are_written_per_kg_times_weight_with_maximums_respected(records):
    dosed = 0
    for record in records:
        weight, after = _dose_weight(record)
        for sentence in _sentences(_response(record)):
            if re.search(r"\d\s*(?:mg|mL|g)/kg", sentence) and "up to" not in sentence:
                dosed += 1
                assert re.search(rf" x {weight} kg{after}", sentence), (record["id"], sentence)
        for amount in re.findall(r"IM 0\.01 mg/kg x \d+ kg = ([\d.]+) mg", _response(record)):
            assert float(amount) <= (0.3 if weight < 30 else 0.5)
    assert dosed >= 100
    dosing = _patients(records, "dosing")
    assert any("the maximum" in _response(r) for r in dosing)  # the 0.5 mg cap bites
    assert all("D25" not in _response(r).split("Do NOT:")[0] for r in dosing)


def test_a_scenario_weight_is_always_one_the_prompt_states(records):
    for record in records:
        weight = record["scenario"].get("weight_kg")
        if weight is not None:
            assert f"{weight} kg" in record["messages"][1]["content"], record["id"]


def test_both_stated_and_estimated_weights_are_dosed(records):
    """A model must learn to use a weight it is given and to estimate one it is not."""
    dosing_patients = [
        r
        for r in records
        if _family(r) in ("jumpstart", "start", "twopatient") and "/kg" in _response(r)
    ]
    stated = sum("weight_kg" in r["scenario"] for r in dosing_patients)
    assert 0.3 <= stated / len(dosing_patients) <= 0.8, (stated, len(dosing_patients))


def test_normal_is_never_written_beside_a_cut_off_or_a_non_vital_range(records):
    for record in records:
        for sentence in _sentences(_response(record)):
            if re.search(r"\bnormal\b", sentence, re.IGNORECASE):
                assert not re.search(r"JumpSTART|START|cut-?off|band|saline|mL|mg", sentence), (
                    record["id"],
                    sentence,
                )


def test_most_patient_rationales_quote_a_normal_range_for_age(records):
    patients = [r for r in records if r.get("expected_triage") not in (None, "BLACK")]
    quoting = [
        r
        for r in patients
        if re.search(
            r"normal (?:RR|heart rate) for an? \d+-(?:year|month|week|day)-old",
            " ".join(parse_response(_response(r)).items("rationale")),
            re.IGNORECASE,
        )
    ]
    assert len(quoting) >= 0.75 * len(patients)


def test_two_patient_answers_tag_the_first_child_and_name_the_second_childs_color(records):
    for record in _patients(records, "twopatient"):
        first = triage(record["scenario"]).triage
        second = triage(record["scenario"]["second_patient"]).triage
        assert PRIORITY[first] > PRIORITY[second], record["id"]
        rationale = " ".join(parse_response(_response(record)).items("rationale"))
        assert second in rationale, record["id"]


def test_psychological_first_aid_children_walk_and_are_green(records):
    for record in _patients(records, "pfa"):
        assert record["scenario"]["ambulatory"] is True
        assert record["scenario"]["hazards"] == []
        assert record["expected_triage"] == "GREEN"


def test_wording_varies_across_records(records):
    first_sentences = [_sentences(r["messages"][1]["content"])[0] for r in records]
    assert len(set(first_sentences)) >= 0.7 * len(records)
    rationales = [
        " ".join(parse_response(_response(r)).items("rationale"))
        for r in records
        if r.get("expected_triage")
    ]
    sentences = [s for text in rationales for s in _sentences(text)]
    assert len(set(sentences)) >= 0.55 * len(sentences)
    openings = Counter(" ".join(text.split()[:4]) for text in rationales)
    assert openings.most_common(1)[0][1] <= 0.08 * len(rationales), openings.most_common(3)
    # Near-copies in one group share the scenario but not the wording.
    by_group: dict[str, list[str]] = {}
    for record in records:
        by_group.setdefault(record["group"], []).append(record["messages"][1]["content"])
    assert all(len(set(users)) == len(users) for users in by_group.values())


def test_conversation_lengths_and_list_sizes_stay_within_bounds(records):
    for record in records:
        length = sum(len(m["content"]) for m in record["messages"])
        assert MIN_CHARS <= length <= MAX_CHARS, (record["id"], length)
        parsed = parse_response(_response(record))
        assert 3 <= len(parsed.items("actions")) <= 6, record["id"]
        assert 2 <= len(parsed.items("do_not")) <= 5, record["id"]
        assert 2 <= len(parsed.items("reassess")) <= 4, record["id"]


def test_groups_cluster_near_copies_within_one_family(records):
    families_of: dict[str, set[str]] = {}
    for record in records:
        families_of.setdefault(record["group"], set()).add(_family(record))
    assert all(len(families) == 1 for families in families_of.values())
    sizes = Counter(r["group"] for r in records).values()
    assert 1.0 < len(records) / len(sizes) <= 2.0
    assert max(sizes) <= 3
    # A group is one scenario core: its records share the scenario.
    scenarios: dict[str, dict] = {}
    for record in records:
        assert scenarios.setdefault(record["group"], record["scenario"]) == record["scenario"]
