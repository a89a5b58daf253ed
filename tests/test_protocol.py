"""The protocol engine: JumpSTART and START paths, vital tables, Broselow and doses."""

import pytest

from align.protocol.colors import error_direction, triage_line
from align.protocol.dosing import (
    DOSE_RULES,
    allowed_total,
    apls_weight_kg,
    best_guess_weight_kg,
    broselow_zone,
    format_amount,
    plausible_weight_range_kg,
    total_dose,
)
from align.protocol.triage import (
    InvalidObservation,
    MissingObservation,
    Observation,
    choose_protocol,
    triage,
)
from align.protocol.vitals import (
    canonical_range,
    hypotension_threshold,
    published_ranges,
    range_fits_age,
)

CHILD = {
    "age_years": 5,
    "ambulatory": False,
    "breathing": True,
    "peripheral_pulse": True,
    "avpu": "A",
}
TEEN = {
    "age_years": 13,
    "ambulatory": False,
    "breathing": True,
    "radial_pulse": True,
    "cap_refill_s": 1.5,
    "follows_commands": True,
}


def jump(**fields):
    return triage({**CHILD, "resp_rate": 30, **fields})


def start_(**fields):
    return triage({**TEEN, "resp_rate": 20, **fields})


# --- JumpSTART: every path --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "color", "last_step"),
    [
        ({"ambulatory": True}, "GREEN", "ambulatory=yes"),
        ({"breathing": False, "breathing_after_airway": True}, "RED", "breathing_after_airway=yes"),
        (
            {"breathing": False, "breathing_after_airway": False, "peripheral_pulse": False},
            "BLACK",
            "peripheral_pulse=no",
        ),
        (
            {
                "breathing": False,
                "breathing_after_airway": False,
                "peripheral_pulse": True,
                "breathing_after_rescue_breaths": True,
            },
            "RED",
            "breathing_after_rescue_breaths=yes",
        ),
        (
            {
                "breathing": False,
                "breathing_after_airway": False,
                "peripheral_pulse": True,
                "breathing_after_rescue_breaths": False,
            },
            "BLACK",
            "breathing_after_rescue_breaths=no",
        ),
        ({"resp_rate": 14}, "RED", "rr=14 <15"),
        ({"resp_rate": 46}, "RED", "rr=46 >45"),
        ({"peripheral_pulse": False}, "RED", "peripheral_pulse=no"),
        ({"avpu": "U"}, "RED", "avpu=U"),
        (
            {"avpu": "P", "pain_response": "inappropriate"},
            "RED",
            "avpu=P pain_response=inappropriate",
        ),
        (
            {"avpu": "P", "pain_response": "appropriate"},
            "YELLOW",
            "avpu=P pain_response=appropriate",
        ),
        ({"avpu": "V"}, "YELLOW", "avpu=V"),
        ({"avpu": "A"}, "YELLOW", "avpu=A"),
    ],
)
def test_jumpstart_decision_paths(fields, color, last_step):
    result = jump(**fields)
    assert (result.triage, result.protocol, result.path[-1]) == (color, "jumpstart", last_step)


@pytest.mark.parametrize(
    ("rr", "color"),
    [(14, "RED"), (15, "YELLOW"), (45, "YELLOW"), (46, "RED"), (14.9, "RED"), (45.5, "RED")],
)
def test_jumpstart_rr_band_includes_15_and_45(rr, color):
    assert jump(resp_rate=rr).triage == color


def test_jumpstart_path_reads_like_the_contract():
    assert jump(resp_rate=36).path == [
        "ambulatory=no",
        "breathing=yes",
        "rr=36 in 15..45",
        "peripheral_pulse=yes",
        "avpu=A",
    ]


def test_infants_skip_the_walking_step_and_get_the_full_algorithm():
    result = triage(
        {
            "age_years": 0.5,
            "ambulatory": True,
            "breathing": True,
            "resp_rate": 50,
            "peripheral_pulse": True,
            "avpu": "A",
        }
    )
    assert result.triage == "RED"
    assert result.path[0] == "ambulatory=n/a (infant)"


def test_jumpstart_gives_apneic_child_with_pulse_rescue_breaths_unlike_start():
    apneic = {
        "ambulatory": False,
        "breathing": False,
        "breathing_after_airway": False,
        "peripheral_pulse": True,
        "breathing_after_rescue_breaths": True,
    }
    assert triage({"age_years": 6, **apneic}).triage == "RED"
    assert triage({"age_years": 12, **apneic}).triage == "BLACK"


# --- START: every path ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "color", "last_step"),
    [
        ({"ambulatory": True}, "GREEN", "ambulatory=yes"),
        ({"breathing": False, "breathing_after_airway": True}, "RED", "breathing_after_airway=yes"),
        (
            {"breathing": False, "breathing_after_airway": False},
            "BLACK",
            "breathing_after_airway=no",
        ),
        ({"resp_rate": 31}, "RED", "rr=31 >30"),
        ({"radial_pulse": False}, "RED", "radial_pulse=no"),
        ({"cap_refill_s": 3}, "RED", "cap_refill_s=3 >2"),
        ({"follows_commands": False}, "RED", "follows_commands=no"),
        ({}, "YELLOW", "follows_commands=yes"),
    ],
)
def test_start_decision_paths(fields, color, last_step):
    result = start_(**fields)
    assert (result.triage, result.protocol, result.path[-1]) == (color, "start", last_step)


@pytest.mark.parametrize(
    ("rr", "color"), [(30, "YELLOW"), (31, "RED"), (30.5, "RED"), (8, "YELLOW")]
)
def test_start_rr_30_is_in_band_and_low_rr_is_not_canonical_red(rr, color):
    assert start_(resp_rate=rr).triage == color


@pytest.mark.parametrize(("refill", "color"), [(2, "YELLOW"), (2.1, "RED")])
def test_start_capillary_refill_boundary_is_two_seconds(refill, color):
    assert start_(cap_refill_s=refill).triage == color


def test_start_perfusion_accepts_radial_pulse_or_cap_refill_alone():
    assert triage({**TEEN, "resp_rate": 20, "cap_refill_s": None}).triage == "YELLOW"
    assert triage({**TEEN, "resp_rate": 20, "radial_pulse": None}).triage == "YELLOW"
    with pytest.raises(MissingObservation) as error:
        triage({**TEEN, "resp_rate": 20, "radial_pulse": None, "cap_refill_s": None})
    assert error.value.field == "radial_pulse"


# --- protocol choice and bad observations -----------------------------------------------------


@pytest.mark.parametrize(
    ("age", "protocol"),
    [(0.1, "jumpstart"), (8, "jumpstart"), (8.99, "jumpstart"), (9, "start"), (16, "start")],
)
def test_protocol_is_chosen_by_age_with_9_years_starting_start(age, protocol):
    assert choose_protocol(Observation(age_years=age)) == protocol


def test_given_protocol_overrides_age():
    assert triage({**CHILD, "resp_rate": 40, "protocol": "start"}).triage == "RED"


@pytest.mark.parametrize(
    ("fields", "missing"),
    [
        ({"age_years": None}, "age_years"),
        ({"ambulatory": None}, "ambulatory"),
        ({"breathing": None}, "breathing"),
        ({"breathing": False}, "breathing_after_airway"),
        ({"peripheral_pulse": None}, "peripheral_pulse"),
        ({"avpu": None}, "avpu"),
        ({"avpu": "P"}, "pain_response"),
    ],
)
def test_missing_needed_field_is_named(fields, missing):
    record = {**CHILD, "resp_rate": 30, **fields}
    if fields.get("breathing") is None and "breathing" in fields:
        record.pop("resp_rate")
    with pytest.raises(MissingObservation) as error:
        triage(record)
    assert error.value.field == missing
    assert missing in str(error.value)


def test_resp_rate_implies_breathing_when_breathing_is_absent():
    result = triage({**CHILD, "breathing": None, "resp_rate": 30})
    assert result.path[1] == "breathing=yes (from rr)"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"ambulatory": "no"}, "ambulatory"),
        ({"resp_rate": "fast"}, "resp_rate"),
        ({"age_years": -1}, "age_years"),
        ({"avpu": "alert"}, "avpu"),
        ({"protocol": "salt"}, "protocol"),
        ({"pain_response": "yes"}, "pain_response"),
        ({"resp_rate": True}, "resp_rate"),
    ],
)
def test_wrongly_typed_fields_are_rejected_by_name(fields, field):
    with pytest.raises(InvalidObservation) as error:
        triage({**CHILD, "resp_rate": 30, **fields})
    assert error.value.field == field


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"resp_rate": float("inf")}, "resp_rate"),  # JSON's 1e400, read as infinity
        ({"resp_rate": float("-inf")}, "resp_rate"),
        ({"resp_rate": float("nan")}, "resp_rate"),
        ({"resp_rate": 10**400}, "resp_rate"),  # too large for a float: no OverflowError
        ({"age_years": 10**400}, "age_years"),
        ({"age_years": 200}, "age_years"),
        ({"age_years": 18.5}, "age_years"),
        ({"resp_rate": 151}, "resp_rate"),
        ({"cap_refill_s": 31}, "cap_refill_s"),
        ({"cap_refill_s": float("inf")}, "cap_refill_s"),
    ],
)
def test_numbers_not_finite_or_outside_the_plausible_range_are_refused_by_name(fields, field):
    with pytest.raises(InvalidObservation) as error:
        triage({**CHILD, "resp_rate": 30, **fields})
    assert error.value.field == field
    assert f"'{field}'" in str(error.value)


@pytest.mark.parametrize(
    ("fields", "color"),
    [
        ({"age_years": 18, "resp_rate": 20}, "YELLOW"),
        ({"age_years": 0, "resp_rate": 150}, "RED"),
        ({"age_years": 16, "resp_rate": 20, "radial_pulse": None, "cap_refill_s": 30}, "RED"),
    ],
)
def test_the_ends_of_the_plausible_ranges_are_triaged(fields, color):
    assert triage({**TEEN, **fields}).triage == color


# --- colors -----------------------------------------------------------------------------------


def test_triage_line_and_error_direction():
    assert triage_line("BLACK") == "TRIAGE: BLACK (Deceased/Expectant)"
    assert error_direction("YELLOW", "RED") == "under"
    assert error_direction("BLACK", "RED") == "under"
    assert error_direction("RED", "GREEN") == "over"


# --- vital signs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "vital", "expected"),
    [
        (0.01, "rr", (30, 53)),
        (0.5, "hr", (100, 190)),
        (2, "rr", (22, 37)),
        (5, "rr", (20, 28)),
        (7, "sbp", (97, 115)),
        (10.5, "sbp", (102, 120)),
        (14, "rr", (12, 20)),
        (17, "hr", (60, 100)),
    ],
)
def test_canonical_ranges_are_pals_2015(age, vital, expected):
    assert canonical_range(age, vital) == expected


def test_seed_range_for_a_five_year_old_fits_published_tables():
    assert range_fits_age(20, 30, 5, "rr")


def test_infant_rr_quoted_for_a_twelve_year_old_does_not_fit():
    assert not range_fits_age(30, 53, 12, "rr")


def test_adult_rr_quoted_for_an_infant_does_not_fit():
    assert not range_fits_age(12, 20, 0.5, "rr")


@pytest.mark.parametrize(
    ("low", "high", "age", "vital"),
    [
        (30, 60, 0.5, "rr"),
        (30, 40, 0.5, "rr"),
        (100, 180, 0.5, "hr"),
        (24, 40, 2, "rr"),
        (18, 30, 12, "rr"),
        (60, 140, 5, "hr"),
        (15, 30, 10, "rr"),
        (107, 132, 15, "sbp"),
    ],
)
def test_published_alternate_ranges_pass(low, high, age, vital):
    assert range_fits_age(low, high, age, vital)


def test_every_age_has_ranges_from_several_tables():
    for age in (0.01, 0.5, 2, 4, 7, 10.5, 14, 17):
        for vital in ("rr", "hr", "sbp"):
            assert len(published_ranges(age, vital)) >= 2, (age, vital)


@pytest.mark.parametrize(
    ("age", "threshold"), [(0.01, 60), (0.5, 70), (1, 72), (5, 80), (10, 90), (12, 90)]
)
def test_pals_hypotension_rule(age, threshold):
    assert hypotension_threshold(age) == threshold


# --- Broselow and doses -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("weight", "zone"),
    [
        (3, "Gray"),
        (5.5, "Gray"),
        (7, "Pink"),
        (9, "Red"),
        (10, "Purple"),
        (14, "Yellow"),
        (18, "White"),
        (23, "Blue"),
        (29, "Orange"),
        (36, "Green"),
    ],
)
def test_broselow_zone_for_weight(weight, zone):
    assert broselow_zone(weight).color == zone


@pytest.mark.parametrize("weight", [2.5, 37, 60])
def test_weights_off_the_tape_have_no_zone(weight):
    assert broselow_zone(weight) is None


@pytest.mark.parametrize(("age", "weight"), [(0.5, 7), (3, 14), (8, 31)])
def test_updated_apls_weight_formula(age, weight):
    assert apls_weight_kg(age) == weight


@pytest.mark.parametrize(("age", "weight"), [(0.5, 7.5), (3, 16), (8, 32)])
def test_best_guess_weight_formula(age, weight):
    assert best_guess_weight_kg(age) == weight


@pytest.mark.parametrize(
    ("age", "low", "high"),
    [
        (0.5, 4.9, 9.8),  # APLS 7, Best Guess 7.5
        (5, 12.6, 26.0),  # APLS 18, original 18, Best Guess 20
        (9, 18.2, 46.8),  # original 26, APLS 34, Best Guess 36
    ],
)
def test_plausible_weight_spans_the_published_formulas_30_percent_either_side(age, low, high):
    assert plausible_weight_range_kg(age) == (low, high)


def test_epinephrine_im_caps_at_0_3_mg_under_30_kg_and_0_5_mg_from_30_kg():
    rule = DOSE_RULES["epinephrine_im"]
    assert total_dose(rule, 0.01, 18) == pytest.approx(0.18)
    assert total_dose(rule, 0.01, 29) == pytest.approx(0.29)
    assert total_dose(rule, 0.01, 45) == pytest.approx(0.45)
    assert total_dose(rule, 0.01, 70) == pytest.approx(0.5)
    assert allowed_total(DOSE_RULES["epinephrine_iv"], 150) == (1.0, 1.0)


def test_fluid_bolus_allows_10_to_20_ml_per_kg():
    assert allowed_total(DOSE_RULES["fluid_bolus"], 18) == (180, 360)


@pytest.mark.parametrize(
    ("value", "text"), [(0.18, "0.18"), (0.3, "0.3"), (360.0, "360"), (2.5, "2.5"), (60.0, "60")]
)
def test_amounts_are_written_without_trailing_zeros(value, text):
    assert format_amount(value) == text
