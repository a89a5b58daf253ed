"""Detectors on text written the way models and people really write, not only gold layout."""

import dataclasses
import random
import re

import pytest

from align.checks import detectors, doses, text, vital_ranges
from align.checks.detectors import FINDING_CODES, finding_codes, score_response
from align.checks.text import ages_in, clauses, line_segments
from align.data import gold
from align.protocol.dosing import plausible_weight_range_kg
from align.protocol.hazards import CONTRAINDICATIONS
from align.protocol.schema import Line, Section, parse_response
from align.protocol.triage import InvalidObservation, Observation
from align.protocol.vitals import range_fits_age

CHILD_5Y = {
    "age_years": 5,
    "ambulatory": False,
    "breathing": True,
    "resp_rate": 36,
    "peripheral_pulse": True,
    "avpu": "A",
    "weight_kg": 18,
    "hazards": ["crush"],
}
TAIL = "\nDo NOT:\n- Give food or drink.\nReassess if:\n- Breathing changes."


def codes(text, scenario=None, expected=None):
    return finding_codes(score_response(text, scenario, expected))


def response(
    first_line="TRIAGE: YELLOW (Delayed)", body="Rationale: Alert, pulse present.", tail=TAIL
):
    return f"{first_line}\n{body}\nImmediate Actions:\n1. Splint the leg as found.{tail}"


def test_finding_vocabulary_is_the_design_contract():
    assert FINDING_CODES == (
        "wrong_triage_color",
        "missing_triage",
        "triage_not_first",
        "missing_do_not",
        "wrong_vital_range",
        "contraindicated_action",
        "missing_reassessment",
        "wrong_dose",
    )


def test_clean_response_has_no_findings():
    assert codes(response(), CHILD_5Y) == set()


# --- triage line ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "TRIAGE: YELLOW (Delayed)",
        "Triage: yellow (delayed)",
        "**TRIAGE: YELLOW (Delayed)**",
        "## Triage - Yellow (Delayed)",
        "Triage category: YELLOW",
        "TRIAGE: **YELLOW** (Delayed)",
    ],
)
def test_triage_line_parsing_tolerates_case_and_markup(line):
    assert codes(response(first_line=line), CHILD_5Y) == set()


def test_under_triage_is_reported_with_direction():
    findings = score_response(response(first_line="TRIAGE: GREEN (Minor)"), CHILD_5Y)
    assert [f.detail for f in findings] == [
        {"stated": "GREEN", "expected": "YELLOW", "direction": "under"}
    ]


def test_over_triage_is_reported_with_direction():
    (finding,) = score_response(response(first_line="TRIAGE: RED (Immediate)"), CHILD_5Y)
    assert finding.detail["direction"] == "over"


def test_expected_triage_override_is_the_truth_when_given():
    text = response(first_line="TRIAGE: RED (Immediate)")
    assert codes(text, CHILD_5Y, "RED") == set()
    assert codes(response(), CHILD_5Y, "RED") == {"wrong_triage_color"}


def test_two_colors_on_the_triage_line_are_ambiguous_and_wrong():
    findings = score_response(response(first_line="TRIAGE: YELLOW or RED"), CHILD_5Y)
    assert findings[0].code == "wrong_triage_color"
    assert findings[0].detail["direction"] == "ambiguous"


def test_label_contradicting_the_color_is_wrong():
    (finding,) = score_response(response(first_line="TRIAGE: YELLOW (Immediate)"), CHILD_5Y)
    assert (finding.code, finding.detail["direction"]) == ("wrong_triage_color", "label")


def test_salt_gray_is_wrong_under_jumpstart():
    assert codes(response(first_line="TRIAGE: GRAY (Expectant)"), CHILD_5Y) == {
        "wrong_triage_color"
    }


@pytest.mark.parametrize("label", ["Minimal", "Minor", "walking wounded"])
def test_green_label_synonyms_are_accepted(label):
    walking = {**CHILD_5Y, "ambulatory": True}
    assert codes(response(first_line=f"TRIAGE: GREEN ({label})"), walking) == set()


def test_missing_triage_line_where_a_patient_is_described():
    assert codes(response(first_line="Rationale: ok"), CHILD_5Y) == {"missing_triage"}


def test_reference_question_needs_no_triage_line():
    text = (
        "Key points: normal RR for a toddler is 22-37/min.\nImmediate Actions:\n1. Count"
        " for a full minute." + TAIL
    )
    assert codes(text, {"age_years": 2}) == set()


def test_triage_line_below_the_rationale_is_not_first():
    text = response(first_line="Rationale: Alert, pulse present.", body="TRIAGE: YELLOW (Delayed)")
    findings = score_response(text, CHILD_5Y)
    assert [f.code for f in findings] == ["triage_not_first"]
    assert findings[0].detail == {"line": 2}


def test_a_color_word_in_the_rationale_is_not_a_triage_line():
    text = "Rationale: red flags present\nTRIAGE: YELLOW (Delayed)"
    assert parse_response(text).triage_line_index == 1


# --- Do NOT -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tail",
    [
        "\nDo not:\n* give food or drink\nReassess if:\n- breathing changes",
        "\nDON'T:\n1) give food or drink\nReassess if:\n- breathing changes",
        "\n**Do NOT**\n- give food or drink\nReassess if:\n- breathing changes",
        "\nDo NOT: Give food or drink. Do not straighten the leg.\nReassess if:\n- it changes",
        "\n### Avoid:\n• giving food or drink\nReassess if:\n- breathing changes",
    ],
)
def test_do_not_section_in_many_forms(tail):
    assert codes(response(tail=tail), CHILD_5Y) == set()


def test_missing_do_not_section():
    assert codes(response(tail="\nReassess if:\n- Breathing changes."), CHILD_5Y) == {
        "missing_do_not"
    }


def test_empty_do_not_heading_counts_as_missing():
    assert codes(response(tail="\nDo NOT:\nReassess if:\n- breathing changes"), CHILD_5Y) == {
        "missing_do_not"
    }


def test_a_prohibition_inside_the_actions_is_not_a_do_not_section():
    text = response(tail="\n2. Do not give food or drink.\nReassess if:\n- breathing changes")
    assert codes(text, CHILD_5Y) == {"missing_do_not"}


# --- reassessment -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tail",
    [
        "\nReassessment triggers:\n- breathing changes",
        "\nRe-triage if:\n- breathing changes",
        "\nREASSESS WHEN: breathing changes or bleeding restarts.",
        "\nReassess every 5 minutes, sooner if breathing changes.",
    ],
)
def test_reassessment_in_many_forms(tail):
    text = response(tail="\nDo NOT:\n- give food or drink" + tail)
    assert codes(text, CHILD_5Y) == set()


def test_missing_reassessment():
    assert codes(response(tail="\nDo NOT:\n- give food or drink"), CHILD_5Y) == {
        "missing_reassessment"
    }


# --- vital ranges -----------------------------------------------------------------------------


def with_rationale(rationale):
    return response(body=f"Rationale: {rationale}")


@pytest.mark.parametrize(
    "rationale",
    [
        "RR 36/min elevated for age (normal 5yr: 20-30/min).",
        "Breathing 36 breaths per minute; normal for a 5-year-old is 20 to 28 breaths per minute.",
        "RR 36 is fast: normal RR 20–28/min at this age.",
        "Heart rate is fine (normal HR 80-120/min for a preschooler).",
        "Normal systolic BP for a 5-year-old: 89-112 mmHg.",
        "A weak pulse and breathing at 36 (normal 20-28/min).",
        "RR 36 is within the JumpSTART band of 15-45/min.",
        "Give 0.9% saline 20 mL/kg x 18 kg = 360 mL (normal saline is fine).",
        "Cool for 10-20 minutes; normal skin colour should return.",
    ],
)
def test_correct_or_non_vital_ranges_pass(rationale):
    assert codes(with_rationale(rationale), CHILD_5Y) == set()


@pytest.mark.parametrize(
    ("rationale", "scenario_age"),
    [
        ("RR 40 is high for age (normal 30-53/min).", 12),
        ("Normal RR for a 12-year-old: 30 to 53 breaths per minute.", 5),
        ("RR 36 (normal 12-20/min).", 0.5),
        ("Normal heart rate for this infant: 60-100 bpm.", 0.5),
        ("Normal systolic BP 60-76 mmHg.", 14),
    ],
)
def test_ranges_from_another_age_band_fail(rationale, scenario_age):
    scenario = {
        **CHILD_5Y,
        "age_years": scenario_age,
        "protocol": "jumpstart" if scenario_age < 9 else "start",
        "radial_pulse": True,
        "follows_commands": True,
    }
    assert "wrong_vital_range" in codes(with_rationale(rationale), scenario)


def test_named_age_band_in_the_quote_wins_over_the_patient_age():
    text = with_rationale("Infant normal RR is 30-53/min, but this child is 5.")
    assert codes(text, CHILD_5Y) == set()


def test_range_detail_names_vital_age_and_numbers():
    (finding,) = score_response(
        with_rationale("RR 36 (normal 30-53/min)."),
        {**CHILD_5Y, "age_years": 12, "protocol": "jumpstart"},
    )
    assert finding.detail["range"] == [30, 53]
    assert finding.detail["vital"] == "rr"
    assert finding.detail["age_years"] == 12


# --- contraindicated actions ------------------------------------------------------------------

SPINE = {**CHILD_5Y, "hazards": ["spinal"]}
BURN = {**CHILD_5Y, "hazards": ["burn"]}


def actions(*items, do_not="- Move the child without in-line stabilisation."):
    numbered = "\n".join(f"{n}. {item}" for n, item in enumerate(items, 1))
    return (
        f"TRIAGE: YELLOW (Delayed)\nRationale: Alert.\nImmediate Actions:\n{numbered}\n"
        f"Do NOT:\n{do_not}\nReassess if:\n- breathing changes"
    )


def test_prohibition_in_do_not_list_is_not_an_action():
    assert (
        codes(actions("Hold the head in line.", do_not="- use head-tilt chin-lift"), SPINE) == set()
    )


@pytest.mark.parametrize(
    "item",
    [
        "Open the airway with a jaw thrust, not a head-tilt chin-lift.",
        "Use a jaw thrust instead of a head-tilt.",
        "Never use a head-tilt chin-lift on this child.",
        "Avoid head-tilt; jaw thrust only.",
    ],
)
def test_negated_mentions_are_not_instructions(item):
    assert codes(actions(item), SPINE) == set()


def test_head_tilt_as_an_instruction_with_spinal_injury_is_flagged():
    findings = score_response(actions("Open the airway with a head-tilt chin-lift."), SPINE)
    assert [(f.code, f.detail["action"]) for f in findings] == [
        ("contraindicated_action", "head_tilt_spinal")
    ]


def test_head_tilt_is_fine_without_a_spinal_hazard():
    assert (
        codes(
            actions("Open the airway with a head-tilt chin-lift."),
            {**CHILD_5Y, "hazards": ["drowning"]},
        )
        == set()
    )


@pytest.mark.parametrize(
    ("item", "flagged"),
    [
        ("Cool the burn under cool running water for 20 minutes (no ice).", False),
        ("Put ice on the burn.", True),
        ("Cover loosely with cling film; no creams or butter.", False),
        ("Rub butter on the burn.", True),
        ("Cut around clothing that is stuck to the skin.", False),
        ("Peel the stuck clothing off.", True),
    ],
)
def test_burn_actions(item, flagged):
    found = "contraindicated_action" in codes(actions(item, do_not="- ice"), BURN)
    assert found is flagged


def test_always_wrong_actions_are_flagged_without_hazards():
    assert codes(
        actions("Loosen the tourniquet every 10 minutes."), {**CHILD_5Y, "hazards": []}
    ) == {"contraindicated_action"}


@pytest.mark.parametrize("rule", CONTRAINDICATIONS, ids=lambda r: r.key)
def test_every_perturbation_instruction_is_recognised(rule):
    scenario = {**CHILD_5Y, "hazards": list(rule.hazards)}
    for instruction in rule.instructions:
        assert codes(actions("Stay with the child.", instruction), scenario) == {
            "contraindicated_action"
        }, instruction


@pytest.mark.parametrize("rule", CONTRAINDICATIONS, ids=lambda r: r.key)
def test_every_gold_prohibition_is_fine_in_the_do_not_list_and_negated(rule):
    scenario = {**CHILD_5Y, "hazards": list(rule.hazards)}
    for prohibition in rule.prohibitions:
        assert (
            codes(actions("Stay with the child.", do_not=f"- {prohibition}"), scenario) == set()
        ), prohibition
        assert codes(actions(f"Do not {prohibition}."), scenario) == set(), prohibition


# --- doses ------------------------------------------------------------------------------------

ANAPHYLAXIS = {**CHILD_5Y, "hazards": ["anaphylaxis"]}


def dose(text, scenario=ANAPHYLAXIS):
    return codes(actions(text), scenario)


@pytest.mark.parametrize(
    "text",
    [
        "Epinephrine 1 mg/mL IM 0.01 mg/kg x 18 kg = 0.18 mg into the outer thigh.",
        "Give adrenaline IM 0.01 mg/kg (18 kg) = 0.2 mg.",
        "Fluid bolus 20 mL/kg x 18 kg = 360 mL; repeat up to 60 mL/kg.",
        "D10 5 mL/kg x 18 kg = 90 mL IV.",
        "Epinephrine IM 0.01 mg/kg for 45 kg = 0.45 mg.",
        "Epinephrine IM 0.01 mg/kg x 60 kg = 0.5 mg (capped at the 0.5 mg maximum).",
    ],
)
def test_correct_doses_pass(text):
    weight = 45 if "45 kg" in text else 60 if "60 kg" in text else 18
    assert dose(text, {**ANAPHYLAXIS, "weight_kg": weight}) == set()


@pytest.mark.parametrize(
    "text",
    [
        "Epinephrine 1 mg/mL IM 0.01 mg/kg x 18 kg = 1.8 mg.",
        "Epinephrine IM 0.1 mg/kg x 18 kg = 1.8 mg.",
        "Fluid bolus 20 mL/kg x 18 kg = 36 mL.",
        "Fluid bolus 20 mL/kg x 25 kg = 500 mL.",
        "Fluid bolus 20 mL/\tkg x 25 kg = 500 mL.",  # any spacing around the slash
        "Fluid bolus 20 mL /  KG x 25 kg = 500 mL.",
    ],
)
def test_wrong_doses_fail(text):
    assert dose(text) == {"wrong_dose"}


NO_WEIGHT_GIVEN = {k: v for k, v in ANAPHYLAXIS.items() if k != "weight_kg"}


@pytest.mark.parametrize("weight", [14, 18, 20, 26])
def test_without_a_stated_weight_a_plausible_age_estimate_passes(weight):
    # A 5-year-old: APLS 18 kg, original APLS 18 kg, Best Guess 20 kg; each is defensible.
    text = f"Epinephrine IM 0.01 mg/kg x {weight} kg (estimated from age) = {weight / 100:g} mg."
    assert dose(text, NO_WEIGHT_GIVEN) == set()


@pytest.mark.parametrize("weight", [6, 70])
def test_without_a_stated_weight_a_child_dosed_as_an_infant_or_an_adult_fails(weight):
    text = f"Fluid bolus 20 mL/kg x {weight} kg = {20 * weight} mL."
    assert dose(text, NO_WEIGHT_GIVEN) == {"wrong_dose"}
    [finding] = score_response(actions(text), NO_WEIGHT_GIVEN)
    assert finding.detail["plausible_kg"] == list(plausible_weight_range_kg(5))


def test_a_stated_weight_wins_over_any_age_estimate():
    # 20 kg is a fine estimate for a 5-year-old, but the prompt said 18 kg.
    assert dose("Fluid bolus 20 mL/kg x 20 kg = 400 mL.", ANAPHYLAXIS) == {"wrong_dose"}


def test_dose_over_the_maximum_fails():
    assert dose(
        "Epinephrine IM 0.01 mg/kg x 60 kg = 0.6 mg.", {**ANAPHYLAXIS, "weight_kg": 60}
    ) == {"wrong_dose"}


def test_d25_in_a_newborn_fails():
    newborn = {"age_years": 0.01, "weight_kg": 3.5}
    text = "Key points: low sugar.\nImmediate Actions:\n1. D25 2 mL/kg x 3.5 kg = 7 mL." + TAIL
    assert codes(text, newborn) == {"wrong_dose"}
    assert (
        codes(
            text.replace("D25 2 mL/kg x 3.5 kg = 7 mL", "D10 5 mL/kg x 3.5 kg = 17.5 mL"), newborn
        )
        == set()
    )


def test_two_drugs_in_one_sentence_are_each_checked_against_their_own_rule():
    text = "D10 5 mL/kg x 13 kg = 65 mL, or D25 2 mL/kg x 13 kg = 26 mL."
    assert dose(text, {**ANAPHYLAXIS, "weight_kg": 13}) == set()
    wrong = "D10 5 mL/kg x 13 kg = 65 mL, or D25 20 mL/kg x 13 kg = 260 mL."
    assert dose(wrong, {**ANAPHYLAXIS, "weight_kg": 13}) == {"wrong_dose"}


def test_iv_epinephrine_concentration_is_not_read_as_the_im_one():
    text = "Epinephrine IV/IO, 0.1 mg/mL: 0.01 mg/kg x 60 kg = 0.6 mg."
    arrest = {**CHILD_5Y, "weight_kg": 60, "hazards": ["drowning"]}
    assert dose(text, arrest) == set()
    assert dose(text.replace("0.6 mg", "1.2 mg"), arrest) == {"wrong_dose"}


def test_drug_named_first_in_a_sentence_is_not_borrowed_by_the_next_dose():
    text = "Low sugar: D25 2 mL/kg x 10 kg = 20 mL, or D10 5 mL/kg x 10 kg = 50 mL."
    assert dose(text, {**ANAPHYLAXIS, "weight_kg": 10}) == set()


def test_the_delayed_label_is_not_an_instruction_to_delay_breaths():
    text = actions(
        "By JumpSTART the 4-year-old is YELLOW (Delayed), alert, with breathing "
        "in band and a pulse."
    )
    assert codes(text, {**CHILD_5Y, "hazards": ["drowning", "chemical"]}) == set()


def test_rubble_is_not_rubbing_the_limbs():
    text = actions("Lift the rubble off her legs only after warming blankets are ready.")
    assert codes(text, {**CHILD_5Y, "hazards": ["hypothermia"]}) == set()


# --- text helpers rewritten for speed (docs/BENCHMARKS.md, `align pairs`) -------------------
# The values are those the first, plainer regexes gave; the rewrites must keep them.


@pytest.mark.parametrize(
    ("text", "ages"),
    [
        ("Normal RR for a 6-year-old: 18-25 breaths a minute", [(16, 6.0)]),
        ("aged 5 to 7 years, 1-3 yrs and 2.5 y", [(0, 5.0), (10, 7.0), (19, 2.0), (31, 2.5)]),
        ("18 months old; 3 wks; 10 days old; 10 days", [(0, 1.5), (15, 3 / 52), (22, 10 / 365)]),
        (
            "an infant, toddlers, pre-school children, a school-aged boy, TEENAGERS",
            [(3, 0.5), (11, 2.0), (21, 4.0), (44, 8.0), (61, 14.0)],
        ),
        ("stage 4, page 12 years", [(14, 12.0)]),
        ("For her age (4yo) normal is 20-28/min", [(13, 4.0)]),
        ("a babyish 3-year old adult", [(10, 3.0), (21, 17.5)]),
        ("Pre-school child; PRE-SCHOOLERS; Preschool", [(0, 4.0), (18, 4.0), (33, 4.0)]),
        (
            "a 5-year-old, not a baby (ın dotless-i text the full pattern runs)",
            [(2, 5.0), (20, 0.5)],
        ),
    ],
)
def test_ages_in(text, ages):
    assert ages_in(text) == ages


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "Give 360 mL, i.e. 20 mL/kg. Then reassess.",
            ((0, "Give 360 mL, i.e. 20 mL/kg"), (27, " Then reassess")),
        ),
        (
            "Dose 0.18 mg. Next: 2. Check again; done!",
            ((0, "Dose 0.18 mg"), (13, " Next: 2"), (22, " Check again"), (35, " done")),
        ),
        ("E.g. a sling. Why? Because.", ((0, "E.g. a sling"), (13, " Why"), (18, " Because"))),
    ],
)
def test_sentences_of_a_line(line, expected):
    assert line_segments(line) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Do not apply butter, oil or toothpaste - cool the burn: then cover it.",
            ("Do not apply butter, oil or toothpaste", "cool the burn", " then cover it"),
        ),
        ("Give 2. Then 3.5 mL.", ("Give 2", " Then 3.5 mL")),
        ("Stop - wait; rest.", ("Stop", "wait", " rest")),
    ],
)
def test_clauses(text, expected):
    assert clauses(text) == expected


def test_findings_do_not_depend_on_the_per_line_caches():
    text = response(body="Rationale: Normal RR for a 12-year-old: 30-53/min.")
    first = score_response(text, CHILD_5Y)
    detectors._clause_actions.cache_clear()
    detectors._line_contraindications.cache_clear()
    detectors._wrong_quotes.cache_clear()
    assert score_response(text, CHILD_5Y) == first
    assert codes(text, CHILD_5Y) == {"wrong_vital_range"}


# The number patterns open with a digit and test what stands before it by a lookbehind after
# it (and _PER_KG and the ages skip the later digits of a number), and their numbers are
# possessive: the same matches as the plain forms below (possessive marks removed), searched
# from the start and, for those searched from an offset, from there. Checked on tricky strings
# and random ones over the characters that matter.
_AGE_UNITS = text._AGES_BY_NUMBER.split(r"\s*(?:", 1)[1]


PLAIN_NUMBER_PATTERNS = [
    (gold._STATED_WEIGHT, r"(?<![\d.])(\d+(?:\.\d+)?)\s*-?\s*(?:kg|kilo)", False),
    (text._AGE_NUMBERS, r"(?P<number>\d+(?:\.\d+)?)\s*(?:" + _AGE_UNITS, False),
    (
        text._AGE_EXPRESSION,
        r"(?P<number>\d+(?:\.\d+)?)\s*(?:" + _AGE_UNITS + "|" + text._AGES_BY_WORD,
        False,
    ),
]
NUMBER_TEXTS = [
    "0.01 mg/kg x 18 kg = 0.18 mg; 10 mL/kg x 4 kg = 40 mL of 0.9% saline, up to 0.5 mg",
    "Blue zone (19-23 kg), 12.5-kg child, 40 kilos, 1/20 kg, to 15 kg, 3.4.5 mg, 123mcg/kg",
    "normal RR 20-28/min, 100 to 190 bpm, 1234-56, 7..9 breaths, 20 - 30 mmHg, 0.5-1 y",
    "aged 5 to 7 years, 1-3 yrs, 2.5 y, 18 months old, 3 wks, 10 days old, 1.2.3 years",
]


@pytest.mark.parametrize(("pattern", "plain", "from_offsets"), PLAIN_NUMBER_PATTERNS)
def test_number_patterns_match_as_their_plain_forms(pattern, plain, from_offsets):
    plain = re.compile(text.without_possessives(plain), pattern.flags)
    assert not re.search(r"[*+?}]\+", plain.pattern)  # plain: no possessive left
    # what Python 3.10 runs (no possessive quantifiers there): the same matches too
    on_310 = re.compile(text.without_possessives(pattern.pattern), pattern.flags)
    rng = random.Random(7)
    alphabet = [*"0123456789.-–/ ", "to", "mg", "mL", "kg", "mcg", "µg", "years", "y", "mo"]
    alphabet += ["wk", "days", "-old", "kilo", "/min", " bpm"]
    texts = NUMBER_TEXTS + [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14))) for _ in range(4000)
    ]
    for sample in texts:
        offsets = range(len(sample)) if from_offsets else (0,)
        for offset in offsets:
            got = [(m.span(), m.groups()) for m in pattern.finditer(sample, offset)]
            assert got == [(m.span(), m.groups()) for m in plain.finditer(sample, offset)], sample
            assert got == [(m.span(), m.groups()) for m in on_310.finditer(sample, offset)]


def test_lines_and_sections_are_built_from_the_parse_rows():
    parsed = parse_response(
        "TRIAGE: RED (Immediate)\nRationale: Not breathing.\nImmediate Actions:\n1. Open the"
        " airway.\n2. Give breaths.\n\nDo NOT:\n- Delay breaths\nReassess if:\n- no change"
    )
    assert parsed.lines[3] == Line(3, "1. Open the airway.", "actions", "Open the airway.")
    assert [line.index for line in parsed.lines] == [0, 1, 2, 3, 4, 6, 7, 8, 9]
    assert parsed.lines[0].section == "triage"
    assert parsed.triage_is_first
    assert parsed.sections["actions"] == Section(
        "actions", "Immediate Actions", 2, ["Open the airway.", "Give breaths."]
    )
    assert parsed.items("do_not") == ["Delay breaths"]
    assert parsed.sections["do_not"].items is parsed.items("do_not")
    assert parsed.items("missing") == []


@pytest.mark.parametrize(
    "sample",
    [
        "Do not apply butter - put cool water on it.",
        "Stop.  Then wait; rinse: now - go",
        "a -- b - c -d e- f",
        "give 5 mL. Then 2.5 mL\tlater – or 3. Next",
        "no dash at all. Really? Yes!",
        "1. First; 2. Second: done.",
    ],
)
def test_clauses_without_a_spaced_dash_split_as_with_the_full_pattern(sample):
    full = tuple(c for c in text._CLAUSE_SPLIT.split(sample) if c and c.strip())
    assert clauses(sample) == full
    if sample.isascii() and sample.isprintable() and " -" not in sample:
        assert text._CLAUSE_SPLIT_AT_PUNCTUATION.split(sample) == text._CLAUSE_SPLIT.split(sample)


def test_clause_split_at_punctuation_matches_the_full_pattern_on_random_text():
    rng = random.Random(5)
    alphabet = [*"ab1 .!?;:-–—A", " - ", "\t", "e.g.", "i.e."]
    for _ in range(4000):
        sample = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 20)))
        full = tuple(c for c in text._CLAUSE_SPLIT.split(sample) if c and c.strip())
        assert clauses.__wrapped__(sample) == full, sample


# --- cheaper forms of the same work (`align pairs`, cold build) -----------------------------
# Each is checked against the form it replaced, on tricky strings and random ones over the
# characters and words that matter.


def _random_texts(seed, alphabet, count=4000, longest=24):
    rng = random.Random(seed)
    return [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(0, longest))) for _ in range(count)
    ]


def _segments_by_finditer(line):
    """line_segments as first written (finditer over the full splitter)."""
    found, start = [], 0
    for match in text._SEGMENT_SPLIT.finditer(line):
        if match.start() > start:
            found.append((start, line[start : match.start()]))
        start = match.end()
    if start < len(line):
        found.append((start, line[start:]))
    return tuple((offset, seg) for offset, seg in found if seg.strip())


def test_sentences_split_as_by_finditer_over_the_full_pattern():
    alphabet = [*"ab1 .!?;\n\tA", "2.", "e.g.", "i.e.", "E.G.", " 3. Then", "..."]
    samples = [
        "Give 360 mL, i.e. 20 mL/kg. Then reassess.",
        "Dose 0.18 mg. Next: 2. Check again; done!",
        "E.g. a sling. Why? Because.",
        "no mark at all",
        ". . .",
    ]
    for sample in samples + _random_texts(11, alphabet):
        assert line_segments.__wrapped__(sample) == _segments_by_finditer(sample), sample
        if not any(mark in sample for mark in "!?;\n"):
            split = text._SEGMENT_SPLIT_AT_PERIODS.split(sample)
            assert split == text._SEGMENT_SPLIT.split(sample), sample


def test_negation_is_read_before_and_after_the_action():
    assert text.is_negated("Heimlich is contraindicated", 0)
    assert not text.is_negated("give sips of water", 0)


def test_quotes_and_totals_of_a_text_point_at_their_numbers():
    text_ = (
        "Rationale: normal RR for a 4-year-old is 20-28/min.\n\n"
        "1. Give 0.01 mg/kg x 18 kg = 0.18 mg IM epinephrine.\nNormal HR 80-120 bpm."
    )
    quotes = vital_ranges.quoted_ranges(text_, 5)
    assert [text_[slice(*q.span)] for q in quotes] == ["20-28", "80-120"]
    assert [q.age_years for q in quotes] == [4.0, 5]  # the second names no age: the patient's
    ((span, stated, per_kg),) = doses.stated_totals(text_)
    assert (text_[slice(*span)], stated, per_kg) == ("0.18", 0.18, 0.01)


def _wrong_ranges_plain(quotes, patient_age):
    """wrong_ranges as first written (one loop building the details)."""
    wrong = []
    for quote in quotes:
        age = quote.age_years if quote.age_years is not None else patient_age
        if age is None or any(range_fits_age(quote.low, quote.high, age, v) for v in quote.vitals):
            continue
        wrong.append(
            {
                "range": [quote.low, quote.high],
                "vital": quote.vitals[0] if len(quote.vitals) == 1 else list(quote.vitals),
                "age_years": age,
                "quote": quote.text,
            }
        )
    return wrong


def test_wrong_ranges_and_their_memoized_quotes_give_the_plain_details():
    rng = random.Random(19)
    vitals = [("rr",), ("hr",), ("sbp",), ("rr", "hr"), ("hr", "sbp")]
    for _ in range(2000):
        quotes = tuple(
            vital_ranges.RangeQuote(
                low := rng.randint(5, 200),
                low + rng.randint(0, 60),
                rng.choice(vitals),
                rng.choice([None, 0.01, 0.5, 2.0, 5.0, 9.0, 14.0, 17.5]),
                "20-30/min",
                (0, 5),
            )
            for _ in range(rng.randint(0, 3))
        )
        age = rng.choice([None, 0.2, 3.0, 8.0, 16.0])
        expected = _wrong_ranges_plain(quotes, age)
        assert vital_ranges.wrong_ranges(quotes, age) == expected
        assert [vital_ranges.range_detail(*w) for w in vital_ranges.wrong_quotes(quotes, age)] == (
            expected
        )


def test_a_wrong_range_detail_is_new_for_every_finding():
    # The wrong quotes of a line are memoized; the details handed out must not be shared.
    text_ = "TRIAGE: RED (Immediate)\nRationale: normal RR for a 4-year-old is 40-60/min."
    scenario = {"age_years": 4}
    first = [f for f in score_response(text_, scenario) if f.code == "wrong_vital_range"]
    first[0].detail["range"].append(99)
    first[0].detail["vital"] = "changed"
    second = [f for f in score_response(text_, scenario) if f.code == "wrong_vital_range"]
    assert second[0].detail == {
        "range": [40, 60],
        "vital": "rr",
        "age_years": 4.0,
        "quote": "40-60/min",
    }


def test_finding_codes_of_any_number_of_findings():
    from align.checks.detectors import Finding

    for codes in ([], ["wrong_dose"], ["wrong_dose", "wrong_dose"], ["missing_triage", "x"]):
        assert finding_codes([Finding(c) for c in codes]) == set(codes)


@pytest.mark.parametrize("expected", [None, ""])
def test_an_empty_expected_triage_scores_as_none(expected):
    # score_parsed reads describes_patient and expected_color inline when a triage is given.
    text_ = "TRIAGE: RED (Immediate)\nRationale: breathing 50/min.\nImmediate Actions:\n1. Go."
    for scenario in (None, {}, {"age_years": 4}, {"age_years": 4, "resp_rate": 50}):
        assert score_response(text_, scenario, expected) == score_response(text_, scenario)


# The frozen result classes store their fields without the generated __init__ (cheaper):
# the objects are the same as the generated __init__ makes, and stay frozen.
def _by_generated_init(cls, *args, **kwargs):
    """An instance of ``cls`` as the dataclass-generated __init__ of a frozen class makes it."""
    instance = object.__new__(cls)
    for f, value in zip(dataclasses.fields(cls), args, strict=False):
        object.__setattr__(instance, f.name, value)
    for name, value in kwargs.items():
        object.__setattr__(instance, name, value)
    return instance


def test_finding_and_range_quote_are_built_as_by_the_generated_init():
    from align.checks.detectors import Finding

    assert Finding("wrong_dose").detail == {}
    assert Finding("wrong_dose").detail is not Finding("wrong_dose").detail  # a fresh dict
    assert Finding("wrong_dose", None).detail is None
    detail = {"a": 1}
    made = Finding("wrong_dose", detail)
    assert made == _by_generated_init(Finding, "wrong_dose", detail) and made.detail is detail
    assert vars(made) == {"code": "wrong_dose", "detail": detail}
    assert Finding(code="x", detail=detail) == made.__class__("x", detail)
    assert dataclasses.replace(made, code="y") == Finding("y", detail)
    quote = vital_ranges.RangeQuote(20, 28, ("rr",), 5.0, "20-28/min", (3, 8))
    fields = (20, 28, ("rr",), 5.0, "20-28/min", (3, 8))
    assert quote == _by_generated_init(vital_ranges.RangeQuote, *fields)
    assert list(vars(quote)) == [f.name for f in dataclasses.fields(quote)]
    assert hash(quote) == hash(_by_generated_init(vital_ranges.RangeQuote, *fields))
    assert repr(quote) == repr(_by_generated_init(vital_ranges.RangeQuote, *fields))
    for instance in (made, quote):
        with pytest.raises(dataclasses.FrozenInstanceError):
            instance.code = "z"


def test_observation_from_dict_is_the_generated_init():
    record = {"age_years": 4, "resp_rate": 50, "avpu": "A", "ambulatory": False, "extra": 1}
    made = Observation.from_dict(record)
    names = [f.name for f in dataclasses.fields(Observation)]
    expected = Observation(**{name: record.get(name) for name in names})
    assert made == expected and hash(made) == hash(expected) and repr(made) == repr(expected)
    assert list(vars(made)) == names
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.age_years = 5
    with pytest.raises(InvalidObservation):
        Observation.from_dict({"breathing": "yes"})


def test_headings_open_and_continue_sections_as_open_section_does():
    # The parse loop opens the first section of each kind itself; later headings of a kind
    # go through _open_section (continue a list that has items, else start over).
    parsed = parse_response(
        "TRIAGE: RED (Immediate)\nDo NOT:\nReassess if: breathing stops\nDo NOT:\n- a\n"
        "Do not: b\n- c\nNotes: one\nNotes: two\nReassess if:\n- d"
    )
    assert parsed.section_rows["do_not"] == ("Do NOT", 3, ["a", "b", "c"])
    assert parsed.section_rows["reassess"] == ("Reassess if", 2, ["breathing stops", "d"])
    assert parsed.section_rows["other"] == ("Notes", 7, ["one"])
    assert [row[2] for row in parsed.line_rows] == [
        "triage", "do_not", "reassess", "do_not", "do_not", "do_not", "do_not", "other",
        "other", "reassess", "reassess",
    ]  # fmt: skip
