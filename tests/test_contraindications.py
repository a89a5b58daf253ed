"""The contraindicated_action detector: actions found by meaning (synonyms, abbreviations,
descriptions) and negation by what it governs. Vocabulary:
align/checks/vocabulary/contraindications.toml."""

import pytest

from align.checks.detectors import _line_contraindications
from align.checks.text import is_negated, verb_forms, words
from align.protocol.hazards import CONTRAINDICATIONS, HAZARDS


def forbidden(line, *hazards):
    """The actions one instruction line gives that the hazards forbid."""
    return [action for action, _ in _line_contraindications(line, tuple(sorted(hazards)))]


@pytest.mark.parametrize(
    ("hazard", "line", "action"),
    [
        ("burn", "Forget the cool water, a bag of frozen peas works", "ice_on_burn"),
        ("bleeding", "Loosen the TQ every 10 min", "remove_tourniquet"),
        ("chemical", "Give her a few sips of water to rinse her mouth", "give_by_mouth"),
        ("spinal", "Tip his head back to open the airway", "head_tilt_spinal"),
        ("drowning", "Do abdominal thrusts to get the water out", "abdominal_thrusts_drowning"),
        ("burn", "Hold a cold pack wrapped in a tea towel on it", "ice_on_burn"),
        ("bleeding", "The tourniquet can be loosened after 20 minutes", "remove_tourniquet"),
        ("bleeding", "Take the TQ off once the bleeding stops", "remove_tourniquet"),
        ("chemical", "Give syrup of ipecac", "induce_vomiting"),
        ("chemical", "Stick two fingers down his throat", "induce_vomiting"),
        ("chemical", "Let him have some milk", "give_by_mouth"),
        ("spinal", "Airway: HTCL to open it, then hold the position", "head_tilt_spinal"),
        ("spinal", "Roll him over onto his back yourself", "move_unstabilised"),
        (
            "hypothermia",
            "If there's no pulse after 20 minutes of CPR, stop",
            "stop_resuscitation_cold",
        ),
        (
            "head_injury",
            "You can leave him lying there and go triage the others",
            "leave_unobserved",
        ),
        ("anaphylaxis", "Draw up adrenaline and give it intravenously", "epinephrine_iv_field"),
    ],
)
def test_synonyms_abbreviations_and_descriptions_name_the_action(hazard, line, action):
    assert action in forbidden(line, hazard)


@pytest.mark.parametrize(
    ("hazard", "line"),
    [
        ("burn", "Resist the urge to use ice"),
        ("drowning", "Forget the Heimlich: start rescue breaths"),
        ("burn", "Instead of ice, run cool tap water over it for 20 minutes"),
        ("spinal", "Don't tip the head back; use a jaw thrust"),
        ("burn", "Use cool water rather than ice"),
        ("burn", "No ice, no butter"),
        ("burn", "Skip the cold pack and ice - they damage the skin"),
        ("spinal", "Head-tilt chin-lift is contraindicated here"),
        ("burn", "Ice is a bad idea on a burn"),
        ("spinal", "A head tilt should be avoided with this mechanism"),
        ("burn", "Do not apply butter, oil, creams or ice"),
        ("bleeding", "Do not, under any circumstances, remove the TQ"),
        ("burn", "It is tempting to put ice on it, but don't"),
        ("spinal", "Open the airway with a jaw thrust, not a head-tilt"),
        ("chemical", "Don't make her throw up, and skip the drink of water too"),
    ],
)
def test_a_negation_that_governs_the_action_clears_it(hazard, line):
    assert forbidden(line, hazard) == []


@pytest.mark.parametrize(
    ("hazard", "line"),
    [
        ("burn", "Don't panic and put ice on it"),
        ("bleeding", "Do not wait: loosen the tourniquet now"),
        ("bleeding", "Do not wait, loosen the tourniquet now"),
        ("burn", "No need to worry, just pop the blisters"),
        ("burn", "Don't use butter, put ice on it instead"),
        ("burn", "Rather than cool water, use ice"),
        ("spinal", "If not breathing, tilt the head back"),
        ("bleeding", "Remove the tourniquet if it is not controlling the bleeding"),
        ("chemical", "If you have syrup of ipecac in the kit, give a dose"),
    ],
)
def test_a_negation_that_governs_something_else_leaves_the_action(hazard, line):
    assert forbidden(line, hazard) != []


@pytest.mark.parametrize(
    ("hazard", "line"),
    [
        ("burn", "Cool the burned hand under cool running water for 20 minutes"),
        ("burn", "Take off wet clothes that aren't stuck"),
        ("burn", "Wrap her whole body in a dry blanket"),
        ("chemical", "Let the water run over the skin for 15 minutes"),
        ("chemical", "If anyone gave her water, tell the poison centre"),
        ("bleeding", "Leave the tourniquet on until a surgeon removes it"),
        ("head_injury", "Let him sleep but wake him every 15 minutes"),
        ("anaphylaxis", "Give epinephrine IM into the thigh, then start an IV"),
        ("drowning", "Pushing on the belly just makes him vomit and aspirate"),
    ],
)
def test_what_only_looks_like_the_action_is_not_it(hazard, line):
    assert forbidden(line, hazard) == []


def test_removing_a_tourniquet_and_inducing_vomiting_are_checked_in_every_scenario():
    assert forbidden("Loosen the TQ every 10 min.") == ["remove_tourniquet"]
    assert forbidden("Make him throw up.", "burn") == ["induce_vomiting"]
    assert forbidden("Put ice on it.") == []  # the burn rule needs the burn hazard


@pytest.mark.parametrize("rule", CONTRAINDICATIONS, ids=lambda r: r.key)
def test_every_instruction_of_the_perturbation_is_found(rule):
    for instruction in rule.instructions:
        assert rule.key in forbidden(instruction, *rule.hazards), instruction


@pytest.mark.parametrize("rule", CONTRAINDICATIONS, ids=lambda r: r.key)
def test_every_gold_prohibition_is_negated_after_do_not(rule):
    for prohibition in rule.prohibitions:
        assert forbidden(f"Do not {prohibition}.", *rule.hazards) == [], prohibition


def test_the_vocabulary_names_known_hazards_only():
    assert all(set(rule.hazards) <= set(HAZARDS) for rule in CONTRAINDICATIONS)


def test_is_negated_reads_offsets_of_the_clause():
    assert is_negated("Heimlich is contraindicated", 0)
    assert not is_negated("give sips of water", 0)
    assert is_negated("Resist the urge to use ice", 23, 26)


def test_words_are_lower_case_with_straight_apostrophes_and_offsets():
    assert words("Don’t TQ") == (("don't", 0, 5), ("tq", 6, 8))
    assert {"popped", "popping", "pop"} <= verb_forms("pop")
    assert "pops" not in verb_forms("pop")  # "pushing on it makes him vomit" describes
