"""The triage decision and the sections read from ordinary clinical writing (issue 24), and
the triage policy's overrides."""

import pytest

from align.checks.detectors import score_response
from align.protocol.decision import read_decision_line
from align.protocol.schema import parse_response
from align.protocol.sections import section_of
from align.protocol.triage import triage

# JumpSTART, 5 years, not walking, RR 36, pulse, alert: YELLOW by the steps.
CHILD_5Y = {
    "age_years": 5,
    "ambulatory": False,
    "breathing": True,
    "resp_rate": 36,
    "peripheral_pulse": True,
    "avpu": "A",
}
BODY = (
    "Rationale: not walking, RR 36 within 15-45, radial pulse present, alert.\n"
    "Actions:\n1. Splint the leg.\n2. Keep her warm.\n"
    "Do NOT:\n- give food or drink\n"
    "Reassess if:\n- breathing goes above 45/min"
)


def codes(text: str, scenario: dict = CHILD_5Y) -> set[str]:
    return {finding.code for finding in score_response(text, scenario)}


def answer_with(
    do_not: str = "Do NOT:\n- give food or drink",
    reassess: str = "Reassess if:\n- breathing goes above 45/min",
) -> str:
    """A right YELLOW answer with these prohibition and reassessment sections."""
    return f"TRIAGE: YELLOW (Delayed)\nActions:\n1. Splint the leg.\n\n{do_not}\n\n{reassess}"


@pytest.mark.parametrize(
    "first_line",
    [
        "TRIAGE: YELLOW (Delayed)",
        "Triage: Delayed (YELLOW)",
        "Category: YELLOW (Delayed)",
        "TRIAGE: 🟡 YELLOW",
        "Triage → YELLOW",
        "**Triage:** yellow",
        "YELLOW - DELAYED",
        "Triage category - Delayed (Yellow)",
        "Priority: Delayed / Yellow",
        "Triage: Delayed",
        "JumpSTART triage: YELLOW",
        "## Triage: YELLOW",
        "Tag: yellow – delayed",
        "I'd tag her YELLOW.",
    ],
)
def test_a_right_decision_in_any_common_form_gets_no_finding(first_line):
    assert codes(f"{first_line}\n{BODY}") == set()


@pytest.mark.parametrize(
    "first_line",
    ["TRIAGE: RED (Immediate)", "Category: red", "Triage → 🔴 RED", "Triage: Immediate"],
)
def test_a_wrong_decision_in_any_form_is_a_wrong_color(first_line):
    assert codes(f"{first_line}\n{BODY}") == {"wrong_triage_color"}


def test_a_color_changed_later_in_the_answer_is_a_wrong_color_even_if_the_first_is_right():
    text = f"TRIAGE: YELLOW (Delayed)\n{BODY}\nActually she can wait: tag her GREEN."
    (finding,) = score_response(text, CHILD_5Y)
    assert finding.code == "wrong_triage_color"
    assert finding.detail["direction"] == "changed"
    assert finding.detail["changed_to"] == ["GREEN"]


def test_a_wrong_first_color_restated_right_later_is_still_wrong():
    text = f"TRIAGE: RED (Immediate)\n{BODY}\nOn reflection she is YELLOW."
    (finding,) = score_response(text, CHILD_5Y)
    assert finding.detail["direction"] == "over"
    assert finding.detail["changed_to"] == ["YELLOW"]


@pytest.mark.parametrize(
    "sentence",
    [
        "Upgrade to RED if her breathing rises above 45.",
        "She is not GREEN because she cannot walk.",
        "By the steps alone she would be YELLOW either way.",
        "Her brother is GREEN and can wait.",
        "START only tags RED above 30/min.",
        "The burn is red and blistered.",
        "Red flags: grunting, a silent chest.",
        "At 20 kg she is in the Broselow White zone.",
    ],
)
def test_colors_in_conditionals_rejections_rules_or_about_others_are_not_a_change(sentence):
    assert codes(f"TRIAGE: YELLOW (Delayed)\n{BODY}\n{sentence}") == set()


def test_a_label_of_another_color_contradicts_the_decision():
    (finding,) = score_response(f"TRIAGE: YELLOW (Immediate)\n{BODY}", CHILD_5Y)
    assert finding.detail["direction"] == "label"


def test_an_answer_with_no_color_anywhere_misses_the_triage():
    assert codes(BODY) == {"missing_triage"}


def test_a_preamble_before_the_decision_puts_the_triage_not_first():
    assert codes(f"Okay, here is my assessment:\nTriage: YELLOW\n{BODY}") == {"triage_not_first"}


def test_a_section_heading_named_immediate_is_not_a_decision():
    parsed = parse_response("Immediate Actions:\n1. Press on the wound.")
    assert parsed.triage_line_index is None


@pytest.mark.parametrize(
    ("title", "section"),
    [
        ("Do NOT", "do_not"),
        ("Don'ts", "do_not"),
        ("What not to do", "do_not"),
        ("Things to avoid", "do_not"),
        ("⚠️ Avoid", "do_not"),
        ("Never", "do_not"),
        ("Recheck if", "reassess"),
        ("Re-triage if", "reassess"),
        ("Watch for", "reassess"),
        ("Upgrade to RED if", "reassess"),
        ("Red flags to recheck for", "reassess"),
        ("Immediate actions (do not delay)", "actions"),
        ("What to do now", "actions"),
        ("Why", "rationale"),
    ],
)
def test_section_headings_are_known_by_meaning(title, section):
    assert section_of(title) == section


@pytest.mark.parametrize(
    ("heading", "code"),
    [
        ("Things to avoid:", "missing_do_not"),
        ("**Don'ts**", "missing_do_not"),
        ("## What NOT to do", "missing_do_not"),
        ("Watch for:", "missing_reassessment"),
        ("Recheck if:", "missing_reassessment"),
    ],
)
def test_a_section_under_another_heading_counts_and_its_absence_is_found(heading, code):
    do_not = "- give food or drink"
    reassess = "- breathing goes above 45/min"
    body = (
        "TRIAGE: YELLOW (Delayed)\nActions:\n1. Splint the leg.\n"
        + (f"{heading}\n{do_not}\n" if code == "missing_do_not" else f"Do NOT:\n{do_not}\n")
        + (f"{heading}\n{reassess}" if code == "missing_reassessment" else f"Reassess:\n{reassess}")
    )
    assert codes(body) == set()
    without = "\n".join(line for line in body.split("\n") if line not in (heading,))
    without = without.replace(f"\n{do_not}" if code == "missing_do_not" else f"\n{reassess}", "")
    assert codes(without) == {code}


def test_a_rule_written_as_a_short_sentence_is_not_a_heading():
    parsed = parse_response("Actions:\n1. Press hard.\nNever leave her alone")
    assert "do_not" not in parsed.section_rows


def test_an_empty_prohibition_heading_is_missing_do_not():
    text = "TRIAGE: YELLOW (Delayed)\nActions:\n1. Splint.\nAvoid:\nReassess if:\n- RR > 45"
    assert codes(text) == {"missing_do_not"}


# --- the policy's overrides ------------------------------------------------------------------


def test_an_airway_threat_raises_a_yellow_child_to_red_and_says_why():
    result = triage({**CHILD_5Y, "airway_threat": True})
    assert result.triage == "RED"
    assert result.to_dict()["algorithm_triage"] == "YELLOW"
    assert result.to_dict()["override"] == "airway_threat"
    assert "airway" in result.to_dict()["override_reason"]


def test_a_walking_child_with_uncontrolled_bleeding_is_red():
    walking = {"age_years": 6, "ambulatory": True, "uncontrolled_bleeding": True}
    assert triage(walking).triage == "RED"


def test_an_override_never_changes_a_black_child():
    apneic = {
        "age_years": 4,
        "ambulatory": False,
        "breathing": False,
        "breathing_after_airway": False,
        "peripheral_pulse": False,
        "airway_threat": True,
    }
    result = triage(apneic)
    assert result.triage == "BLACK"
    assert "override" not in result.to_dict()


def test_without_an_override_the_output_keeps_its_three_fields():
    assert set(triage(CHILD_5Y).to_dict()) == {"triage", "protocol", "path"}


def test_the_detectors_expect_the_policy_color():
    scenario = {**CHILD_5Y, "airway_threat": True}
    assert codes(f"TRIAGE: YELLOW (Delayed)\n{BODY}", scenario) == {"wrong_triage_color"}
    assert codes(f"TRIAGE: RED (Immediate)\n{BODY}", scenario) == set()


@pytest.mark.parametrize(
    "ending",
    [
        "In short: GREEN, it's just an ankle.",
        "Summary: isolated ankle fracture - GREEN, splint and wait.",
        "Honestly, she's basically GREEN and could go with the walking wounded.",
        "**Final tag: GREEN** - it is only a sprain.",
        "Bottom line: she's talking and following commands, so GREEN for now.",
        "**TL;DR:** alert, talking, breathing fine → GREEN, can go with the second wave.",
        "Thinking about the fall though (a ladder, could hide more), she's really GREEN until "
        "a medic has checked her.",
    ],
)
def test_a_closing_summary_that_gives_another_color_is_a_change(ending):
    (finding,) = score_response(f"TRIAGE: YELLOW (Delayed)\n{BODY}\n\n{ending}", CHILD_5Y)
    assert finding.detail["changed_to"] == ["GREEN"]


@pytest.mark.parametrize(
    "first_line",
    [
        "Assign: YELLOW - Delayed",
        "YELLOW (Delayed) by JumpSTART: she cannot walk.",
        "DELAYED",
        "➡️ **Triage: YELLOW (Delayed)**",
        "Triage YELLOW (Delayed)",
    ],
)
def test_more_decision_forms_are_read(first_line):
    assert codes(f"{first_line}\n{BODY}") == set()


def test_a_walk_through_the_steps_that_ends_on_a_label_is_not_the_decision():
    text = f"JumpSTART: apneic, breathes after 5 rescue breaths -> Immediate.\n{BODY}"
    assert "missing_triage" in codes(text)


def test_a_color_word_before_a_noun_is_not_a_decision():
    text = f"TRIAGE: YELLOW (Delayed)\n{BODY}\n\nDrooling and red lips mean a burned mouth."
    assert codes(text) == set()


@pytest.mark.parametrize(
    "reassess",
    [
        "If things change:\n- breathing goes above 45/min",
        "## 👀 Keep an eye on\n- breathing goes above 45/min",
        "Look at her again if her breathing goes above 45 or she turns pale.",
        "Have another look at her if her breathing changes.",
        "Let me know once you have felt for the pulse, and also if:\n- she gets drowsy",
    ],
)
def test_reassessment_in_other_words_and_in_prose_counts(reassess):
    assert codes(answer_with(reassess=reassess)) == set()


def test_a_paragraph_of_prohibitions_after_a_what_not_to_do_lead_in_is_the_section():
    text = (
        "TRIAGE: YELLOW (Delayed)\nActions:\n1. Splint the leg.\n\n"
        "What not to do. Don't give her anything to drink, and don't move the leg.\n\n"
        "Reassess if:\n- breathing goes above 45/min"
    )
    assert codes(text) == set()


def test_a_table_row_that_names_the_final_category_is_a_decision():
    table = (
        "| step | finding | result |\n|---|---|---|\n"
        "| **Final category** | she can wait | **GREEN** |"
    )
    (finding,) = score_response(f"TRIAGE: YELLOW (Delayed)\n{BODY}\n\n{table}", CHILD_5Y)
    assert finding.detail["changed_to"] == ["GREEN"]


@pytest.mark.parametrize("first_line", ["CAT: DELAYED (YELLOW)", "Triage: P2", "Priority 2"])
def test_abbreviated_fields_and_priority_numbers_are_read(first_line):
    assert codes(f"{first_line}\n{BODY}") == set()


def test_a_recategorisation_at_the_end_is_a_change():
    text = f"TRIAGE: YELLOW (Delayed)\n{BODY}\n\nEDIT: on recheck she is fine - recat GREEN."
    assert codes(text) == {"wrong_triage_color"}


def test_what_the_steps_would_normally_give_is_not_a_change():
    text = (
        "Triage: RED (Immediate)\n"
        "Walking would normally make him green, but the bleeding is not controlled.\n"
        + BODY.split("\n", 1)[1]
    )
    assert codes(text, {"age_years": 6, "ambulatory": True, "uncontrolled_bleeding": True}) == (
        set()
    )


@pytest.mark.parametrize(
    "first_line",
    [
        "JumpSTART doesn't apply (10 y) — START: Delayed (YELLOW), radial present.",
        "Not walking; Triage: YELLOW",
    ],
)
def test_a_decision_field_after_a_dash_or_semicolon_on_the_first_line_is_read(first_line):
    assert codes(f"{first_line}\n{BODY}") == set()


@pytest.mark.parametrize(
    "sections",
    [
        "Don't • give food or drink\nRe-triage if • breathing goes above 45/min",
        "Don'ts — no food, no drink.\nReassess — breathing goes above 45/min",
        "Don't: give food or drink. Recheck if: breathing goes above 45/min.",
    ],
)
def test_titles_with_a_dash_bullet_or_inline_second_heading_open_their_sections(sections):
    text = f"TRIAGE: YELLOW (Delayed)\nActions:\n1. Splint the leg.\n{sections}"
    assert codes(text) == set()


@pytest.mark.parametrize("empty", ["N/A", "none", "—"])
def test_a_prohibition_heading_that_says_nothing_applies_is_missing_do_not(empty):
    text = f"TRIAGE: YELLOW (Delayed)\nActions:\n1. Splint.\nContraindications: {empty}\n"
    assert codes(text + "Reassess if:\n- RR > 45") == {"missing_do_not"}


def test_a_sign_off_under_an_empty_reassess_heading_is_no_trigger():
    text = f"{BODY.rsplit('Reassess', 1)[0]}\n## Reassess if\n\nStay safe out there!"
    assert codes(f"TRIAGE: YELLOW (Delayed)\n{text}") == {"missing_reassessment"}


@pytest.mark.parametrize(
    "first_line",
    [
        "delayed. 5yo, not walking, rr 36, radial + alert",
        "**Delayed** – not walking",
        "Tx category: DELAYED (YELLOW)",
        "= yellow / delayed",
        "That's YELLOW - Delayed under JumpSTART.",
    ],
)
def test_a_label_closed_by_a_stop_or_dash_and_other_decision_forms_are_read(first_line):
    assert codes(f"{first_line}\n{BODY}") == set()


def test_a_hedged_pair_of_colors_is_a_decision_and_a_wrong_one():
    assert codes(f"prob red, maybe yellow - she's breathing fast\n{BODY}") == {"wrong_triage_color"}


def test_a_protocol_result_is_the_decision_only_where_no_other_is_stated():
    text = f"not walking, rr 36, pulse, alert\njumpstart says yellow / delayed.\n{BODY}"
    assert codes(text) == {"triage_not_first"}


@pytest.mark.parametrize(
    "sentence",
    [
        "If her pulse goes, she needs fluids and she should be re-triaged as RED.",
        "Skin: red, raised, itchy welts on her arms.",
        "Her brother is GREEN and walked over by himself.",
        "Treat her as likely to slip to RED.",
    ],
)
def test_conditions_described_colors_and_other_people_are_not_a_change(sentence):
    assert codes(f"TRIAGE: YELLOW (Delayed)\n{sentence}\n{BODY}") == set()


def test_a_summary_that_manages_the_child_as_another_color_is_a_change():
    ending = "**Summary:** she is stable, so she can be managed as a **GREEN** patient."
    (finding,) = score_response(f"TRIAGE: YELLOW (Delayed)\n{BODY}\n\n{ending}", CHILD_5Y)
    assert finding.detail["changed_to"] == ["GREEN"]


@pytest.mark.parametrize(
    "do_not",
    [
        "whatever happens don't give her food, don't let her walk.",
        "nothing by mouth. don't leave her alone.",
        "NB: nothing by mouth; don't leave her alone.",
        "**Things to steer clear of.** Don't leave her alone. Don't give her food.",
        "Do-not list\n- food or drink",
        "Keep clear of\n- food or drink",
        "things we won't do: food or drink, leaving her alone",
        "nope list - no food, no walking",
    ],
)
def test_prohibitions_in_prose_or_under_unusual_titles_make_the_section(do_not):
    assert codes(answer_with(do_not=do_not)) == set()


def test_an_unindented_prohibition_line_right_after_a_list_is_its_own_paragraph():
    text = (
        "TRIAGE: YELLOW (Delayed)\n- splint the leg\n- keep her warm\n"
        "never leave her alone, no food or drink\nre-triage if: rr over 45"
    )
    assert codes(text) == set()


@pytest.mark.parametrize(
    "reassess",
    [
        "have someone look at her again if her fingers go numb or she gets drowsy.",
        "**When to look again.** Straight away if she stops answering you.",
        "watch:\n- if she gets sleepy",
    ],
)
def test_reassessment_led_by_a_look_again_phrase_or_a_bold_title_counts(reassess):
    text = "TRIAGE: YELLOW (Delayed)\nActions:\n1. Splint.\nDo NOT:\n- give food\n\n" + reassess
    assert codes(text) == set()


def test_nothing_needed_under_a_prohibition_heading_is_missing_do_not():
    text = (
        "TRIAGE: YELLOW (Delayed)\nActions:\n1. Splint.\n## ⛔ Don'ts\n"
        "None at this time — she's stable! 👍\nReassess if:\n- RR > 45"
    )
    assert codes(text) == {"missing_do_not"}


@pytest.mark.parametrize(
    "sections",
    [
        "**⚠️ Warning**\n- Don't give food\n\ncheck every 5 min:\n- breathing over 45",
        "Ø list\n- Ø PO\n- Ø leaving her alone\n\nq5 min\n- RR, pulse, AVPU",
        "Nil PO; Ø leave alone\n\n**Step 4: Watch for changes**\n- breathing over 45",
        "ice is a bad idea here, also:\n- no butter, no toothpaste\n- dont pop the blister\n\n"
        "check 5-10 min:\n- breathing over 45",
    ],
)
def test_clinicians_titles_timed_schedules_and_lists_of_prohibitions_make_sections(sections):
    text = f"TRIAGE: YELLOW (Delayed)\nMx\n- splint the leg\n- keep her warm\n\n{sections}"
    assert codes(text) == set()


def test_warning_signs_is_a_reassessment_title_not_a_prohibition():
    assert section_of("Warning signs") == "reassess"
    assert section_of("⚠️ Warning") == "do_not"


@pytest.mark.parametrize("first_line", ["one YELLOW, 5 yo, leg fracture, RR 36", "P2, arm bad"])
def test_a_radio_count_or_a_priority_code_before_a_comma_is_the_decision(first_line):
    assert codes(f"{first_line}\n{BODY}") == set()


def test_an_answer_written_as_one_paragraph_has_its_sections_read_inline():
    text = (
        "RED, immediate priority. She came back breathing after five rescue breaths, so she is "
        "red. Keep her head in line and use the jaw thrust. Things to avoid: please don't roll "
        "her without someone holding her neck, and don't prop a pillow under her head. "
        "Re-check every couple of minutes: if she stops breathing again, shout for a medic."
    )
    scenario = {"age_years": 5, "breathing": False, "breathing_after_airway": False,
                "peripheral_pulse": True, "breathing_after_rescue_breaths": True,
                "hazards": ["spinal"]}  # fmt: skip
    assert codes(text, scenario) == set()


def test_in_prose_a_prohibition_is_the_section_only_where_no_instruction_follows_it():
    ending = "Recount her breathing in five minutes; if it goes over 45, get a medic."
    section = "Splint the leg. Please don't let her stand up or walk. " + ending
    scattered = "Splint the leg. Don't let her stand up. Keep her warm. " + ending
    assert codes(f"TRIAGE: YELLOW (Delayed)\n\n{section}") == set()
    assert codes(f"TRIAGE: YELLOW (Delayed)\n\n{scattered}") == {"missing_do_not"}


@pytest.mark.parametrize(
    "first_line",
    [
        "TRIAGE: YELLOW / Delayed (JumpSTART steps, alert and a pulse)",
        "Yellow by the book - she can't walk, RR 36, pulse, alert.",
        "Hmm, I'd probably say yellow for her, maybe.",
    ],
)
def test_commentary_in_brackets_and_spoken_decisions_are_read(first_line):
    assert codes(f"{first_line}\n{BODY}") == set()


@pytest.mark.parametrize(
    "sentence",
    [
        "She's red-faced and crying, which pushes the rate up.",
        "At 18 kg she is in the Broselow Red zone.",
        "By JumpSTART numbers she is yellow, and nothing overrides it.",
    ],
)
def test_compounds_tape_zones_and_explanations_give_no_other_color(sentence):
    assert codes(f"TRIAGE: YELLOW (Delayed)\n{sentence}\n{BODY}") == set()


def test_an_encouraging_sign_off_under_an_empty_heading_is_no_item():
    text = answer_with(reassess="### 🔄 Reassess if\n\nYou've done a brilliant job! 💙")
    assert codes(text) == {"missing_reassessment"}


def test_a_decision_after_a_preamble_line_is_read_as_a_conclusion():
    text = f"Right, so:\nshe's breathing 36, that's fine = YELLOW on JumpSTART.\n{BODY}"
    assert codes(text) == {"triage_not_first"}


def test_a_table_with_do_not_and_recheck_columns_holds_those_sections():
    text = (
        "TRIAGE: YELLOW (Delayed)\n\n| ✅ Do | ⛔ Don't | 👀 Re-check if |\n|---|---|---|\n"
        "| Splint the leg as it lies | Pull the leg straight | Foot turns cold |\n"
        "| Keep her warm | Give food or drink | RR over 45 |"
    )
    assert codes(text, {**CHILD_5Y, "hazards": ["fracture"]}) == set()


def test_a_title_that_opens_with_a_condition_is_no_prohibition_list():
    assert section_of("If her heart stops") != "do_not"


CRUSH_8Y = {**CHILD_5Y, "age_years": 8, "hazards": ["crush", "fracture"]}


def test_a_semicolon_list_after_an_inline_title_stays_in_that_section():
    # every item of "avoid: a; b; c" is a prohibition, not only the first
    text = (
        "Triage RED.\nrr 6, not walking. management: keep warm; get IV access first. "
        "avoid: straighten a deformed limb; release the compression before fluids are "
        "running. reassess if: breathing stops; skin goes mottled."
    )
    assert codes(text, {**CRUSH_8Y, "resp_rate": 6}) == set()


def test_a_titled_list_inside_a_heading_line_is_its_own_section():
    text = (
        "TRIAGE: YELLOW (Delayed)\nTreatment: splint the leg as found; keep her warm. "
        "Cautions (do not): straighten a deformed limb; give food. "
        "Recheck if: breathing goes above 45; the foot goes cold."
    )
    assert codes(text, CRUSH_8Y) == set()


def test_a_sentence_with_a_cue_word_inside_a_heading_line_is_no_title():
    # "No: START tags ..." answers a question; it opens no Do NOT list
    text = (
        "TRIAGE: YELLOW (Delayed)\nRationale: No: the rate is in band, so YELLOW.\n"
        "Actions:\n1. Splint the leg.\nDo NOT:\nReassess if:\n- breathing goes above 45/min"
    )
    assert codes(text) == {"missing_do_not"}


@pytest.mark.parametrize(
    "table",
    [
        "| Avoid | don't pull the leg straight; no food or drink |\n"
        "| Re-triage if | breathing goes above 45; foot goes cold |",
        "| Things to avoid | pulling the leg straight |\n| Triggers to re-triage | RR over 45 |",
    ],
)
def test_a_table_whose_first_column_titles_its_rows_holds_those_sections(table):
    text = f"TRIAGE: YELLOW (Delayed)\n\n| | |\n|---|---|\n| Do now | splint the leg |\n{table}"
    assert codes(text, CRUSH_8Y) == set()


def test_a_rule_in_a_tables_first_cell_is_no_title():
    # under a Do NOT heading, "| Resist the urge to pull it straight | ... |" is a prohibition
    text = (
        "TRIAGE: YELLOW (Delayed)\nThings to avoid:\n| Tempting | Why not |\n|---|---|\n"
        "| Resist the urge to pull the leg straight | nerve damage |\n"
        "| Giving food | may need surgery |\nReassess if:\n- breathing goes above 45/min"
    )
    assert codes(text, CRUSH_8Y) == set()


def test_a_prohibition_at_the_end_of_an_actions_row_makes_no_section():
    text = (
        "TRIAGE: YELLOW (Delayed)\n\n| Section | Notes |\n|---|---|\n"
        "| Do now | splint the leg; don't give her anything to eat |\n"
        "| Escalate if | RR over 45; the foot goes cold |"
    )
    assert codes(text, CRUSH_8Y) == {"missing_do_not"}


@pytest.mark.parametrize("title", ["re-evaluate when:", "escalate if -", "Re-eval if"])
def test_a_color_in_the_text_under_a_reassessment_title_is_a_condition(title):
    text = (
        "TRIAGE: YELLOW (Delayed)\nActions:\n1. Splint the leg.\nDo NOT:\n- give food\n"
        f"{title}\nbreathing goes over 45: that's a red; gets drowsy - re-tag red."
    )
    assert codes(text) == set()


def test_a_color_after_the_reassessment_items_is_still_a_change():
    text = (
        f"{BODY}\nre-check every 5 min: if she gets sleepy, move her up\nactually, tag her red now"
    )
    assert codes(text.replace("Rationale", "TRIAGE: YELLOW\nRationale", 1)) == {
        "wrong_triage_color"
    }


def test_handover_obs_are_findings_not_reassessment_triggers():
    text = (
        "Tx category: YELLOW - delayed\nObs: RR 36, pulse palpable, alert\n"
        "Rx: splint the leg\nAvoid: don't give food\n"
    )
    assert codes(text) == {"missing_reassessment"}


def test_a_reassessment_title_ending_a_paragraph_with_nothing_after_it_is_empty():
    text = (
        "Triage: YELLOW. Not walking, RR 36, pulse there. Do now: splint the leg. "
        "Do NOT: don't give food, don't let her walk. Recheck if:"
    )
    assert codes(text) == {"missing_reassessment"}


@pytest.mark.parametrize(
    "first_line", ["RED | 1yo apnoeic | O2", "RED -> absent radial (START)", "RED → no pulse"]
)
def test_a_color_closed_by_a_bar_or_an_arrow_is_the_decision(first_line):
    assert read_decision_line(first_line).colors == ("RED",)


def test_sections_packed_on_one_line_between_bars_are_read():
    text = (
        "YELLOW | not walking, RR 36, pulse there\n"
        "Do: splint the leg as found, keep warm | Dont: pull the leg straight, let her walk\n"
        "Recheck if: breathing over 45; foot goes cold"
    )
    assert codes(text, CRUSH_8Y) == set()


@pytest.mark.parametrize(
    "prohibitions",
    ["DONT loosen the splint, dont let her walk about", "Negatives - do NOT give food; no walking"],
)
def test_a_line_of_prohibitions_after_lines_of_text_is_the_do_not_section(prohibitions):
    text = (
        "YELLOW - not walking, RR 36\nsplint the leg as it lies\nlie her down, keep warm\n"
        f"{prohibitions}\nrecheck: breathing over 45, foot goes cold"
    )
    assert codes(text) == set()


def test_a_recount_line_opens_the_triggers_and_its_color_is_a_condition():
    text = (
        "YELLOW - RR 36 is inside the band\n- splint the leg\ndont: give food, leave her\n"
        "recount RR every few mins - if >45 or she goes floppy -> bump to RED"
    )
    assert codes(text) == set()


@pytest.mark.parametrize(
    "sentence",
    [
        "honestly tho shes fine + chatty, so shes really GREEN",
        "Honestly it's just a leg. She's bright, so she's really GREEN.",
    ],
)
def test_a_later_change_without_apostrophes_or_inside_the_decision_paragraph_is_found(sentence):
    inline = f"Triage: YELLOW, delayed. Not walking, RR 36. {sentence} Do NOT: give food."
    assert "wrong_triage_color" in codes(f"TRIAGE: YELLOW\n{sentence}\n{BODY}")
    assert "wrong_triage_color" in codes(inline)


@pytest.mark.parametrize(
    "sentence",
    [
        "RR 36, in band (only <15 = RED).",
        "45 is the top of the band, it's more than 45 that makes it red.",
        "Check again later; any sign of distress and she's red.",
    ],
)
def test_thresholds_rules_and_any_sign_conditions_give_no_other_color(sentence):
    assert codes(f"TRIAGE: YELLOW (Delayed)\n{sentence}\n{BODY}") == set()


def test_a_reading_over_a_threshold_still_concludes_the_decision():
    text = f"Right, so:\nshe's breathing 50, that's over 45 = RED on JumpSTART.\n{BODY}"
    assert "missing_triage" not in codes(text)


def test_a_markdown_title_of_another_kind_closes_an_empty_reassessment_heading():
    text = answer_with(reassess="**Reassess if:** \n\n**Notes**\nTransport with the delayed group.")
    assert codes(text) == {"missing_reassessment"}


def test_a_title_that_takes_something_off_is_an_action_and_hold_off_is_a_prohibition():
    assert section_of("Get the chemical off him NOW") != "do_not"
    assert section_of("Hold off on") == "do_not"


def test_a_question_and_answer_answer_has_its_sections_in_the_questions():
    text = (
        "Q: category? A: YELLOW (delayed) - not walking, RR 36\n"
        "Q: first thing? A: splint the leg as it lies\n"
        "Q: what NOT to do? A: don't pull it straight; no food\n"
        "**Q: When should I look at her again?**\n"
        "A: every 10 minutes, or at once if breathing goes over 45."
    )
    assert codes(text) == set()


def test_a_bracketed_color_and_checklist_boxes_are_read():
    text = (
        "[YELLOW] delayed - not walking\n[x] breathing 36 ok\ndo:\n[ ] splint the leg\n"
        "dont:\n[ ] dont pull the leg straight\nrecheck:\n[ ] breathing over 45, foot cold"
    )
    assert codes(text) == set()


def test_an_impression_field_states_the_decision():
    text = f"Hx: fell from the climbing frame.\nImpression: JumpSTART YELLOW (Delayed).\n{BODY}"
    assert codes(text) == {"triage_not_first"}


def test_findings_in_capitals_with_commas_are_no_prohibition_title():
    text = (
        "TRIAGE: YELLOW - DELAYED\nNOT WALKING, BREATHING 36, PULSE OK, ALERT\n"
        "- SPLINT THE LEG\n- KEEP WARM\nRECHECK: BREATHING OVER 45, FOOT COLD"
    )
    assert codes(text) == {"missing_do_not"}


def test_a_change_after_a_comma_and_a_look_again_phrase_is_still_a_change():
    text = f"TRIAGE: YELLOW\n{BODY}\n\nActually, looking at it again: tag her GREEN and move on."
    assert codes(text) == {"wrong_triage_color"}


def test_call_me_back_if_opens_the_triggers_and_forget_about_the_prohibitions():
    text = answer_with(
        do_not="**Forget about:**\n- pulling the leg straight",
        reassess="Call me back if she gets drowsy or breathing goes over 45.",
    )
    assert codes(text) == set()


@pytest.mark.parametrize(
    "first_line",
    [
        "YLW / delayed. Not walking, RR 36.",
        "Immediate priority - breathing restarted after the rescue breaths.",
        "Sector 2: copy. Category YELLOW, delayed. How copy?",
    ],
)
def test_abbreviations_label_priorities_and_radio_replies_state_the_decision(first_line):
    decision = read_decision_line(first_line)
    assert decision is not None and decision.colors in (("YELLOW",), ("RED",))


def test_a_soap_assessment_and_a_concluding_arrow_state_the_decision():
    soap = f"S: 5F, leg trapped.\nO: RR 36, pulse +.\nA: JumpSTART YELLOW (Delayed).\n{BODY}"
    arrow = f"Not walking, RR 36, pulse there.\n→ YELLOW (Delayed), JumpSTART.\n{BODY}"
    assert codes(soap) == {"triage_not_first"}
    assert codes(arrow) == {"triage_not_first"}


@pytest.mark.parametrize(
    "trigger",
    [
        "Up to RED if breathing goes over 45 or she gets drowsy.",
        "She goes up to red if breathing goes over 45.",
        "Move her up if she starts wheezing or gets drowsy.",
        "Straight to RED if the breathing drops under 15.",
        "Watch her for getting sleepy, pale or floppy.",
    ],
)
def test_prose_triggers_that_move_the_child_up_are_the_reassessment(trigger):
    assert codes(answer_with(reassess=trigger)) == set()


def test_a_trigger_written_as_a_noun_is_a_condition():
    assert (
        codes(f"TRIAGE: YELLOW (Delayed)\nNote: borderline - any deterioration → RED.\n{BODY}")
        == set()
    )


@pytest.mark.parametrize(
    "do_not",
    ["Negative on: pulling the leg straight, food.", "What she doesn't get: food, a walk."],
)
def test_radio_and_prose_prohibition_titles(do_not):
    assert codes(answer_with(do_not=do_not)) == set()


def test_a_titled_prohibition_list_in_one_item_is_the_section_but_a_bold_dont_is_not():
    recheck = "\n\nRecheck if: RR over 45"
    titled = f"TRIAGE: YELLOW\n- splint the leg\n- dont: pull it straight, give food{recheck}"
    bold = f"TRIAGE: YELLOW\n1. splint the leg\n2. **Don't** let her walk{recheck}"
    assert codes(titled) == set()
    assert codes(bold) == {"missing_do_not"}


def test_a_heading_lines_title_stays_with_its_first_sentence():
    text = answer_with(reassess="Hypotension at 11: SBP < 92. Re-triage if below that or RR > 30.")
    found = codes(text, {**CHILD_5Y, "age_years": 11})
    assert "wrong_vital_range" in found and "missing_reassessment" not in found


@pytest.mark.parametrize(
    ("sentence", "color"),
    [
        ("That means Immediate under JumpSTART.", "RED"),
        ("I would put this toddler as a delayed priority.", "YELLOW"),
    ],
)
def test_a_category_given_by_its_label_in_a_sentence_is_the_decision(sentence, color):
    parsed = parse_response(f"Not walking, RR 36.\n{sentence}\n{BODY}")
    assert parsed.triage_color == color and not parsed.triage_is_first


def test_a_label_in_a_condition_or_a_heading_is_no_decision():
    text = "Treat as immediate if breathing stops.\nImmediate actions: splint the leg."
    assert codes(f"{text}\n{BODY}") >= {"missing_triage"}


@pytest.mark.parametrize(
    "trigger",
    [
        "check every 3-5 min; under 15 or stops answering, tell the medic",
        "if the splint slips or she goes pale and clammy, bump her to red and get a medic",
        "count her breathing again after pain relief. over 45, or drowsy/pale/cold → red",
        "**🔁 Check every minute**\n- breathing present\n- responsiveness",
        "Re-sieve:\n- breathing over 45",
    ],
)
def test_triggers_as_timed_checks_escalating_conditions_and_sieve_titles(trigger):
    assert codes(answer_with(reassess=trigger)) == set()


def test_a_dose_repeated_on_a_timer_is_no_trigger():
    text = answer_with(reassess="Epinephrine 0.2 mg IM now, repeat q5-15 min if no better.")
    assert "missing_reassessment" in codes(text)


@pytest.mark.parametrize(
    "do_not",
    [
        "no tight bandages, no straightening if anything looks bent",
        "No neutralising agents; no oral fluids; no induced emesis.",
        "**Hold back from**\n- pulling the leg straight",
        "| Do not | |\n|---|---|\n| Intake | Give food or fluids by mouth |",
    ],
)
def test_prohibitions_as_no_lists_and_titles_over_a_table(do_not):
    assert codes(answer_with(do_not=do_not)) == set()


def test_findings_written_with_no_are_no_prohibitions():
    assert "missing_do_not" in codes(answer_with(do_not="no bleeding, no breathing trouble"))


def test_a_color_that_a_condition_leads_to_in_the_same_sentence_is_no_change():
    sentence = (
        "Try the pulse again - if it's truly absent, that changes things and she goes to RED."
    )
    assert codes(f"TRIAGE: YELLOW (Delayed)\n{sentence}\n{BODY}") == set()


def test_a_reason_before_a_color_does_not_make_the_color_a_condition():
    # "could walk if asked" is the reason's; the color after the comma is given to the child
    change = "Oh and actually, since she's sitting up and could walk if asked, she's really GREEN."
    assert codes(f"TRIAGE: YELLOW (Delayed)\n{BODY}\n\n{change}") == {"wrong_triage_color"}
    upgrade = "Because her breathing could get worse, re-triage her if it rises above 45."
    assert codes(f"TRIAGE: YELLOW (Delayed)\n{upgrade}\n{BODY}") == set()


@pytest.mark.parametrize(
    "title", ["Re-tri", "Re-tri if", "Re-ax", "R/A", "If worse", "Deteriorating"]
)
def test_note_abbreviations_of_the_reassessment_heading(title):
    answer = BODY.replace("Reassess if:", f"{title}:")
    assert codes(f"TRIAGE: YELLOW (Delayed)\n{answer}") == set()


def test_a_field_named_correct_or_confirmed_states_the_decision():
    assert codes(f"Correct tag: YELLOW (Delayed)\n{BODY}") == set()
    assert codes(f"Confirmed category: YELLOW\n{BODY}") == set()


def test_a_one_letter_field_states_a_decision_only_with_its_colon():
    # SOAP's "A: RED" is a field; "A RED tag here would ..." is a sentence about a tag
    sentence = "A RED tag here would only be right if one of those gates failed."
    assert codes(f"TRIAGE: YELLOW (Delayed)\n{sentence}\n{BODY}") == set()
    assert read_decision_line("A: YELLOW, delayed").colors == ("YELLOW",)


def test_an_age_as_the_subject_gives_the_color():
    answer = f"Copy. Five-year-old is YELLOW, Delayed.\n{BODY}"
    assert parse_response(answer).triage_color == "YELLOW"
    assert codes(answer) == set()


@pytest.mark.parametrize(
    "sentence",
    [
        "The sister walked, so she's GREEN and goes with the walkers.",
        "I'm sorry about his sister. She's BLACK and someone else should handle that.",
        "Her 7-year-old brother walked out, so on the first pass he's GREEN.",
    ],
)
def test_a_pronoun_after_another_person_is_that_persons_color(sentence):
    assert codes(f"TRIAGE: YELLOW (Delayed)\n{sentence}\n{BODY}") == set()


def test_colors_under_a_heading_about_another_person_are_that_persons():
    other = "### His sister\nShe's standing and walking, so she's **GREEN**."
    assert codes(f"TRIAGE: YELLOW (Delayed)\n{BODY}\n{other}") == set()


def test_a_purpose_after_the_color_is_not_its_condition():
    change = "wait, actually I'd tag her RED so she doesn't get missed, she might have a bleed."
    assert codes(f"TRIAGE: YELLOW (Delayed)\n{BODY}\n\n{change}") == {"wrong_triage_color"}


def test_a_label_named_as_the_category_in_a_handover_restates_the_decision():
    handover = "Handover: 5 y/o, smoke inhalation, Minor priority, alert, RR 36."
    assert codes(f"TRIAGE: YELLOW (Delayed)\n{BODY}\n{handover}") == {"wrong_triage_color"}
    plain = "The immediate priority is her airway."
    assert codes(f"TRIAGE: YELLOW (Delayed)\n{plain}\n{BODY}") == set()


@pytest.mark.parametrize(
    ("first_line", "color"),
    [
        ("T: RED (START - CRT 3 s >2)", "RED"),
        ("T: GRN (START walker)", "GREEN"),
        ("Cat Y / Delayed", "YELLOW"),
        ("Cat R (RED) - uncontrolled haem override", "RED"),
        ("S — DELAYED (yellow), START; 13 y/o male", "YELLOW"),
    ],
)
def test_tag_letters_and_one_letter_fields_state_the_decision(first_line, color):
    assert read_decision_line(first_line).colors == (color,)


@pytest.mark.parametrize("title", ["C/I", "NOT -", "Restrictions"])
def test_note_titles_of_the_do_not_section(title):
    answer = BODY.replace("Do NOT:\n- give food or drink", f"{title}\n- give food or drink")
    if not title.endswith("-"):
        answer = answer.replace(f"{title}\n", f"{title}:\n")
    assert codes(f"TRIAGE: YELLOW (Delayed)\n{answer}") == set()


def test_a_color_opening_a_trigger_describes_the_child_and_decides_nothing():
    answer = "child, 7 months, in flood water\nRecheck:\n- grey, floppy, grunting\n- RR over 45"
    assert codes(answer) >= {"missing_triage"}
    decided = "child, 7 months\nWatch for: stridor\n→ Tag her RED (over 45)."
    assert parse_response(decided).triage_color == "RED"


def test_a_finding_before_an_arrow_names_no_other_person():
    late = "NB: settled, mum here → re-tag GRN, not worth a delayed slot"
    assert codes(f"TRIAGE: YELLOW (Delayed)\n{BODY}\n{late}") == {"wrong_triage_color"}


def test_every_few_minutes_is_a_timed_check():
    answer = BODY.replace("Reassess if:\n- breathing goes above 45/min", "")
    timed = "Check him every few minutes - breathing slowing or stopping, any fitting."
    assert codes(f"TRIAGE: YELLOW (Delayed)\n{answer}\n\n{timed}") == set()


@pytest.mark.parametrize(
    "sentence",
    [
        "His sister walked over on her own → she's GREEN, a separate tag.",
        "- 9 y/o sister: walked out = GREEN, recheck for cough.",
        "Sister 12, ambulatory -> GREEN.",
        "Mate w/ sprained wrist walked = green, other team.",
    ],
)
def test_a_sentence_about_another_person_gives_that_persons_color(sentence):
    assert codes(f"TRIAGE: YELLOW (Delayed)\n{sentence}\n{BODY}") == set()


@pytest.mark.parametrize(
    ("do_not", "reassess"),
    [("Nix", "Re-sweep q10"), ("NO", "Check back"), ("Stop list", "Eyes on"), ("Hold", "Trend q5")],
)
def test_responders_shorthand_titles(do_not, reassess):
    answer = BODY.replace("Do NOT:", f"{do_not}:").replace("Reassess if:", f"{reassess}:")
    assert codes(f"TRIAGE: YELLOW (Delayed)\n{answer}") == set()


def test_t4_is_black_and_an_emoji_pair_leaves_no_mark_before_the_decision():
    assert read_decision_line("T4 / BLACK - expectant").colors == ("BLACK",)
    assert read_decision_line("## 🟢/🟡 Triage: GREEN or YELLOW").colors == ("GREEN", "YELLOW")


def test_a_statement_with_dont_after_its_subject_is_no_prohibition():
    answer = BODY.replace("Do NOT:\n- give food or drink\n", "")
    statement = "Breathing 36 is in range. Pinned legs alone don't make her red."
    assert codes(f"TRIAGE: YELLOW (Delayed)\n{statement}\n{answer}") == {"missing_do_not"}


def test_a_titled_trigger_list_inside_a_numbered_item_is_the_reassessment():
    answer = BODY.replace("Reassess if:\n- breathing goes above 45/min", "")
    item = "8. Re-triage if: bleeding continues past the TQ, radial lost, drowsy"
    assert codes(f"TRIAGE: YELLOW (Delayed)\n{answer}\n{item}") == set()


def test_a_closing_list_of_triggers_under_an_unknown_title_is_the_reassessment():
    triggers = "Qwerty:\n- RR over 45 or under 15\n- radial lost\n- drowsy or confused"
    answer = BODY.replace("Reassess if:\n- breathing goes above 45/min", triggers)
    assert codes(f"TRIAGE: YELLOW (Delayed)\n{answer}") == set()
    actions = "Qwerty:\n- give O2 if sats drop\n- keep her warm"
    answer = BODY.replace("Reassess if:\n- breathing goes above 45/min", actions)
    assert codes(f"TRIAGE: YELLOW (Delayed)\n{answer}") == {"missing_reassessment"}


def test_a_list_mostly_of_prohibitions_under_an_unknown_title_is_the_do_not_section():
    listed = "Qwerty:\n- no ice\n- don't pop the blister\n- butter"
    answer = BODY.replace("Do NOT:\n- give food or drink", listed)
    assert codes(f"TRIAGE: YELLOW (Delayed)\n{answer}") == set()
