"""wrong_vital_range: vital-sign norms quoted in ordinary wording, judged against the child's
own age band (awake values, published alternates accepted) and hypotension thresholds by age.
Each test is named for the behaviour it protects."""

from __future__ import annotations

import pytest

from align.checks.detectors import score_response
from align.checks.vital_ranges import line_quotes, quoted_ranges, wrong_quotes, wrong_ranges
from align.protocol.vitals import hypotension_thresholds, range_fits_age, threshold_fits_age


def wrong(sentence: str, age: float | None) -> list[dict]:
    return wrong_ranges(tuple(quoted_ranges(sentence, age)), age)


def quotes(sentence: str, age: float | None = None) -> list[tuple]:
    return [(q.low, q.high, q.vitals, q.age_years) for q in quoted_ranges(sentence, age)]


# --- a quote is judged against the child's own band, not the union of the bands ---------------


def test_a_preschool_heart_rate_quoted_for_a_six_month_old_is_wrong():
    # 80-120 lies inside every infant table's span, but no infant table gives it.
    assert wrong("Normal heart rate 80-120 bpm.", 0.5)
    assert not range_fits_age(80, 120, 0.5, "hr")


def test_the_seed_range_for_a_five_year_old_is_a_rounded_published_range():
    assert not wrong("RR 36/min elevated for age (normal 5yr: 20-30/min).", 5)


@pytest.mark.parametrize(
    ("low", "high", "age", "vital"),
    [
        (30, 60, 0.5, "rr"),  # older PALS, CUPS, Wisconsin
        (30, 40, 0.5, "rr"),  # APLS
        (100, 160, 0.5, "hr"),  # CUPS
        (110, 160, 0.5, "hr"),  # APLS
        (100, 180, 0.5, "hr"),  # EPLS
        (24, 40, 2, "rr"),  # older PALS toddler
        (80, 150, 2, "hr"),  # Wisconsin toddler
        (60, 140, 5, "hr"),  # older PALS 2-10 y
        (70, 120, 8, "hr"),  # CUPS school age
        (15, 30, 10, "rr"),  # Wisconsin school age
        (12, 16, 14, "rr"),  # older PALS adolescent
        (107, 132, 15, "sbp"),  # Wisconsin adolescent
        (20, 30, 5, "rr"),  # PALS 2015 20-28 rounded
        (80, 120, 7, "hr"),  # PALS 2015 75-118 rounded
    ],
)
def test_published_ranges_for_the_age_fit(low, high, age, vital):
    assert range_fits_age(low, high, age, vital)


@pytest.mark.parametrize(
    ("low", "high", "age", "vital"),
    [
        (80, 120, 0.5, "hr"),  # a preschooler's
        (12, 20, 0.5, "rr"),  # an adolescent's
        (30, 53, 12, "rr"),  # an infant's
        (90, 110, 5, "hr"),  # inside the tables but no table's range
        (100, 160, 5, "hr"),  # an infant's
        (60, 100, 2, "hr"),  # an adolescent's
    ],
)
def test_ranges_no_table_gives_for_the_age_do_not_fit(low, high, age, vital):
    assert not range_fits_age(low, high, age, vital)


def test_an_asleep_heart_rate_is_judged_against_the_asleep_rows():
    text = "The normal heart rate for a 6-month-old is 100-190/min awake and 90-160/min asleep."
    assert not wrong(text, 0.5)
    assert wrong("The normal heart rate for a 6-month-old is 90-160/min awake.", 0.5)


# --- any phrasing -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sentence",
    [
        "A 6-month-old should breathe 12 to 20 times a minute.",
        "Normal breathing for her is between 12 and 20 breaths a minute.",
        "Expected RR at this age: 12-20/min.",
        "Her breathing typically runs 12-20 breaths per minute.",
        "An infant usually breathes 12-20 times a minute.",
        "A heart rate of 80-120 is fine for her.",
        "HR 80–120 bpm is normal for her age.",
        "Typical heart rate 80 to 120 beats a minute.",
    ],
)
def test_wrong_ranges_are_found_in_any_phrasing(sentence):
    assert wrong(sentence, 0.5), sentence


@pytest.mark.parametrize(
    "sentence",
    [
        "A 6-month-old should breathe 30 to 53 times a minute.",
        "Normal breathing for her is between 30 and 60 breaths a minute.",
        "Expected RR at this age: 30-53/min.",
        "A heart rate of 100-160 is fine for her.",
        "HR 100–190 bpm is normal for her age.",
        "Typical heart rate 110 to 160 beats a minute.",
    ],
)
def test_right_ranges_pass_in_any_phrasing(sentence):
    assert quoted_ranges(sentence, 0.5), sentence  # read as a quote ...
    assert not wrong(sentence, 0.5), sentence  # ... that fits


@pytest.mark.parametrize(
    "sentence",
    [
        "Her HR is 150-160, well above normal for her age.",
        "RR 50-60, faster than expected.",
        "RR 36 is within the JumpSTART band of 15-45/min.",
        "Normal RR 20-28/min, and the START band is 15-45/min.",
        "Normal RR 20-28, but the triage cut-off is 15-45.",
        "Give normal saline 10-20 mL/kg.",
        "Cool for 10-20 minutes; normal skin colour should return.",
        "Normal SpO2 is 94-100% and normal glucose 70-110 mg/dL.",
        "Compressions should be 100-120 a minute.",
        "Give rescue breaths, normally 20-30 a minute for a child.",
        "Normal RR for an infant is 30-53, not 12-20.",
        "Hypotension cut-off (PALS, ages 1-10): 70 + (2 x age in years).",
    ],
)
def test_cut_offs_readings_interventions_and_non_vital_ranges_are_not_judged(sentence):
    assert not wrong(sentence, 5), sentence


def test_a_per_minute_unit_rules_out_the_blood_pressure():
    assert quotes("Blood pressure fine, pulse weak (normal 80-120/min).") == [
        (80, 120, ("hr",), None)
    ]


def test_keywords_elsewhere_in_the_sentence_are_candidates():
    # "normal 20-28/min" names no vital; the sentence names two: it fits the breathing.
    assert not wrong("A weak pulse and breathing at 36 (normal 20-28/min).", 5)


# --- the age the sentence names -------------------------------------------------------------


def test_an_age_named_in_the_sentence_wins_over_the_patients():
    assert not wrong("Normal RR for a toddler is 22-37/min.", 12)
    assert wrong("Normal RR for a 12-year-old is 30-53/min.", 0.5)
    assert not wrong("Infants normally breathe 30-60 times a minute.", 5)


def test_an_age_right_after_a_range_is_that_ranges():
    sentence = "Normal RR 30-53/min for an infant, 20-28/min for a preschooler."
    assert [q.age_band for q in quoted_ranges(sentence, 12)] == [(0.077, 1), (3, 6)]
    assert not wrong(sentence, 12)


def test_an_age_word_that_names_the_patients_band_means_the_patient():
    # PALS: a 20-month-old is hypotensive below 72, a 2-year-old below 74.
    sentence = "So a toddler is hypotensive below 72 mmHg."
    assert [q.age_years for q in quoted_ranges(sentence, 1.7)] == [1.7]
    assert not wrong(sentence, 1.7)


def test_an_age_word_for_another_band_fits_a_range_of_any_age_in_that_band():
    # A newborn's PALS row (first 4 days) and a neonate's are both "newborn" ranges.
    assert not wrong("Normal systolic BP in a newborn: 60-76 mmHg.", 5)
    assert not wrong("Normal systolic BP in a newborn: 67-84 mmHg.", 5)
    assert wrong("Normal systolic BP in a newborn: 89-112 mmHg.", 5)


def test_for_her_age_is_the_patients_age_beside_another_age():
    sentence = "Her RR is above the normal 12-20/min for her age (an infant's would be 30-53/min)."
    assert not wrong(sentence, 12)


def test_ages_in_words_and_numbers_are_read():
    assert quotes("A six-month-old's normal HR is 100-160.")[0][3] == 0.5
    assert quotes("Normal HR for infants: 100-160.")[0][3] == pytest.approx(0.5385)
    assert quotes("Normal RR at 18 months: 22-37/min.")[0][3] == 1.5
    assert quotes("Normal RR age 7: 18-25/min.")[0][3] == 7.0


# --- hypotension thresholds -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sentence", "age", "is_wrong"),
    [
        ("A 5-year-old is hypotensive below 80 mmHg.", 5, False),
        ("Hypotension for a 3-year-old: systolic below 90 mmHg.", 3, True),
        ("She would be hypotensive below 90.", 3, True),
        ("In infants, hypotension is a systolic below 70 mmHg.", 5, False),
        ("Hypotension in a term newborn is a systolic below 60 mmHg.", 0.01, False),
        ("Over 10 years, hypotension is a systolic under 90 mmHg.", 14, False),
        (
            "PALS defines hypotension as a systolic below 70 + 2 x age: for a 5-year-old that is "
            "below 70 + 2 x 5 = 80 mmHg.",
            5,
            False,
        ),
        ("PALS defines hypotension as a systolic below 70 + 2 x 5 = 90 mmHg.", 5, True),
        ("Hypotensive if SBP < 70 + 2 x age in years.", 5, False),  # no number to judge
        ("Hypotension with a RR below 15/min needs help.", 5, False),  # not a systolic
    ],
)
def test_hypotension_thresholds_are_judged_by_age(sentence, age, is_wrong):
    assert bool(wrong(sentence, age)) == is_wrong


def test_published_hypotension_thresholds_include_the_cups_card():
    assert threshold_fits_age(80, 5) and threshold_fits_age(75, 5)  # PALS, CUPS preschool
    assert not threshold_fits_age(90, 3)
    assert 90 in hypotension_thresholds(14)


def test_a_wrong_threshold_detail_names_the_threshold_and_the_published_ones():
    scenario = {"age_years": 3}
    text = "TRIAGE: YELLOW (Delayed)\nRationale: she is hypotensive below 90 mmHg."
    (finding,) = [f for f in score_response(text, scenario) if f.code == "wrong_vital_range"]
    assert finding.detail["threshold"] == 90
    assert finding.detail["age_years"] == 3
    assert 76 in finding.detail["expected"]


# --- offsets ----------------------------------------------------------------------------------


def test_a_quote_span_points_at_its_numbers():
    line = "Normal RR is between 30 and 53 breaths a minute; HR 100-190 is typical."
    spans = [line[slice(*q.span)] for q in line_quotes(line)]
    assert spans == ["30 and 53", "100-190"]


# --- regressions from answers written by others ------------------------------------------


def test_a_published_table_named_before_a_range_makes_it_a_quote():
    sentence = "Heart rate 64: older PALS tables give about 60-140 for 2-10-year-olds, so fine."
    assert quoted_ranges(sentence, 4)
    assert not wrong(sentence, 4)
    assert wrong("The PALS chart gives 30-53 for her breathing.", 7)


def test_a_range_named_for_an_age_band_is_a_quote_without_a_trigger_word():
    # "the 15-20 teen range" quotes a norm; "in the 40-50 range" is the child's reading.
    assert not wrong("His RR of 22 is a little above the 15-20 teen range (APLS).", 15)
    assert wrong("His RR of 22 is a little above the 30-60 teen range.", 15)
    assert not quoted_ranges("Her heart rate is in the 150-160 range.", 5)


def test_a_sentence_without_a_vital_takes_the_one_named_earlier_in_the_line():
    line = "46 breaths a minute is over 45. (Normal for an infant is roughly 12-20.)"
    assert wrong(line, 0.9)
    assert not wrong(line.replace("12-20", "30-60"), 0.9)


def test_a_vital_named_earlier_in_the_line_stands_beside_one_named_only_after_the_range():
    line = "RR 28 (in the 15–45 band; the preschool norm is about 22–34, so fine) → pulse → alert"
    assert not _wrong(line, 5)
    assert _wrong(line.replace("22–34", "12–20"), 5)


def test_a_per_minute_range_with_no_vital_named_is_a_breathing_or_heart_rate():
    assert wrong("His normal would be 150-200 a minute.", 8)
    assert not wrong("His normal would be 18-25 a minute.", 8)


def test_qualified_numbers_are_read():
    assert not wrong("For his age a systolic between roughly 110 and 131 is normal.", 12)
    assert wrong("For his age a systolic between roughly 70 and 90 is normal.", 12)
    assert not wrong("Systolic under about 73 (70 + 2 x age) would count as hypotension.", 1.5)


def test_a_threshold_is_systolic_by_the_vital_named_nearest_to_it():
    assert wrong("Under 70 systolic is hypotension.", 12)
    assert not wrong("Shock: watch for a RR under 15 and hypotension.", 12)


def test_an_age_on_a_band_edge_may_be_read_on_either_side():
    # A 1-month-old may be 29 days old: the PALS neonate row (100-205) still applies.
    assert range_fits_age(100, 205, 1 / 12, "hr")
    assert not range_fits_age(80, 120, 1 / 12, "hr")


def test_a_count_over_part_of_a_minute_is_not_a_rate():
    assert not quoted_ranges("Count for 30 seconds; a normal count is 10-14 in that time.", 5)


@pytest.mark.parametrize(
    "sentence",
    [
        "Normal GCS is 15; 13-15 is mild.",
        "Normal BP 89-112 systolic / 46-72 diastolic.",
        "Normal diastolic for a 4-year-old is 46-72.",
        "Normal sats 94-100.",
        "She should slow her breathing to 6-10 breaths a minute.",
    ],
)
def test_ranges_of_other_measures_are_not_vital_quotes(sentence):
    assert not wrong(sentence, 4), sentence


@pytest.mark.parametrize(
    "sentence",
    [
        "Give compressions at 100-120/min; a normal heart rate is higher.",
        "Rescue breathing: normally 1 breath every 2-3 seconds (20-30 breaths/min).",
        "JumpSTART: RR under 15 or over 45 is RED; normal for this 6-year-old is 18-25.",
        "Her HR of 140-150 is higher than the normal 80-120 for a 4-year-old.",
        "Normally a toddler's HR is 98-140 bpm; his is 180-190 bpm now.",
        "Normal RR for adults is 12-20 but for this infant it's 30-60.",
    ],
)
def test_correct_answers_with_other_numbers_nearby_pass(sentence):
    ages = {"6-year-old": 6, "4-year-old": 4, "toddler": 2}
    age = next((a for word, a in ages.items() if word in sentence), 0.5)
    assert not wrong(sentence, age), sentence


@pytest.mark.parametrize(
    ("line", "is_wrong"),
    [
        ("- Heart rate roughly 100-190 awake", False),
        ("- Breathing about 30-53 a minute", False),
        ("**HR:** 80–120 bpm", True),
        ("RR: 12-20/min", True),
    ],
)
def test_a_line_that_is_only_a_vital_and_a_range_is_a_table_row(line, is_wrong):
    # Rows under a heading such as "Normal values at 3 months:", judged for the patient.
    assert bool(wrong(line, 0.25)) == is_wrong


@pytest.mark.parametrize("line", ["- HR 150-160, thready", "- RR goes outside 15-45"])
def test_a_line_with_more_than_a_vital_and_a_range_is_not_a_table_row(line):
    assert not quoted_ranges(line, 0.25)


def test_an_age_unit_may_follow_its_number_without_a_space():
    assert quotes("PALS normal HR for 1-2y: 98-140.")[0][3] == 1.5
    assert quotes("Normal 5yr: 20-30/min.")[0][3] == 5.0


def test_numbers_after_age_beyond_childhood_are_a_range_not_an_age():
    assert quotes("RR 36 (normal for age 20-28).") == [(20, 28, ("rr",), None)]
    assert wrong("RR 36 (normal for age 12-20).", 5)


def test_a_bracketed_range_right_after_an_age_is_a_quote():
    assert wrong("RR 36, fast for his age (12-20).", 5)
    assert not wrong("RR 36, fast for a 5-year-old (20-28/min).", 5)
    assert not quoted_ranges("RR 36 (15-45) so JumpSTART continues.", 5)


# --- ranges in words, said of a population, low blood pressure, Markdown emphasis -----------


@pytest.mark.parametrize(
    ("sentence", "age", "is_wrong"),
    [
        (
            "A five-year-old normally breathes somewhere between twelve and twenty times a minute.",
            5,
            True,
        ),
        (
            "Her breathing is within the normal twenty to twenty-eight for a four-year-old.",
            4,
            False,
        ),
        ("Normal RR is thirty to sixty at this age.", 0.5, False),
    ],
)
def test_ranges_written_in_words_are_judged(sentence, age, is_wrong):
    assert quoted_ranges(sentence, age), sentence
    assert bool(wrong(sentence, age)) is is_wrong, sentence


def test_a_compound_number_word_is_one_number_not_a_range():
    assert not quoted_ranges("Her breathing at twenty-six is fine, normally.", 4)


def test_a_range_said_of_a_group_of_children_is_a_quote():
    assert wrong("Teenagers breathe between 20 and 30 times a minute at rest.", 16)
    assert not wrong("Toddlers breathe 24 to 40 times a minute.", 2)


def test_a_group_named_before_the_childs_own_reading_does_not_make_a_band_a_quote():
    line = 'JumpSTART (infants never "walk"): breathing, rate 28 sits inside 15-45, pulse present.'
    assert not quoted_ranges(line, 0.05)


@pytest.mark.parametrize(
    ("sentence", "age"),
    [
        ("Her blood pressure would count as low only once the systolic is under 90.", 1.5),
        ("In a baby, blood pressure only counts as low when the systolic drops below 90.", 0.7),
    ],
)
def test_a_blood_pressure_called_low_below_a_threshold_is_a_hypotension_quote(sentence, age):
    assert wrong(sentence, age)


def test_a_threshold_of_another_measure_called_low_is_not_systolic():
    assert not quoted_ranges("BP is fine but sats are low, below 92.", 5)


def test_markdown_emphasis_does_not_hide_a_threshold_or_a_unit():
    line = "For a 10-year-old you only call it hypotension below **70 mmHg** systolic."
    (quote,) = line_quotes(line)
    assert (quote.low, quote.text) == (70, "below 70 mmHg")
    assert line[slice(*quote.span)] == "70"
    assert wrong(line, 10)
    assert wrong("Normal RR for him is *30-40* breaths a minute.", 10)


# Tables, norms after a cut-off word, lowest normal pressures.
def _wrong(line: str, age: float) -> bool:
    return bool(wrong_quotes(line_quotes(line), age))


def test_table_row_range_cell_is_the_norm():
    assert _wrong("| RR | 22 | 22–34 | ✅ |", 14)
    assert not _wrong("| RR | 22 | 12–20 | ⚠️ |", 14)
    assert not _wrong("| **Heart rate** | 96 | 60-100 bpm | ok |", 14)


def test_table_row_cell_that_names_its_own_vital_is_read_alone():
    assert _wrong("| BP | 92/58 | systolic 60–90 |", 9)
    assert not _wrong("| BP | 102/60 | systolic 97–115 |", 9)


def test_table_row_band_with_a_mark_or_the_triage_band_is_no_norm():
    assert not _wrong("| RR | 30 | 15–45 ✔ |", 7)
    assert not _wrong("| RR | 30 | 15–45 |", 7)


def test_table_row_hypotension_threshold():
    assert _wrong("| SBP | 84 | hypotension if < 90 |", 4)
    assert not _wrong("| SBP | 84 | hypotension if < 78 |", 4)


def test_norm_after_the_reading_under_a_cutoff_word_is_judged():
    assert _wrong("START: non-amb, RR 24 (nl 18-30 for age, fine), radial +.", 15)
    assert _wrong("JumpSTART: non-amb, RR 26 (nl 30-60 for age), pulse +.", 2)
    assert not _wrong("START: RR 24 (normal 12-20 for a teen).", 14)
    assert not _wrong("the JumpSTART band of 15-45/min", 5)


def test_lowest_normal_systolic_is_judged():
    assert _wrong("BP 82/50 (hypotensive - nl SBP >100 at this age).", 3)
    assert not _wrong("Normal systolic BP for a 3-year-old is above 76 mmHg.", 3)
    assert not _wrong("A normal systolic for her age is over 86 mmHg.", 2)
    assert not _wrong("Systolic BP should be at least 70 + 2 x age = 78 at 4.", 4)
    assert _wrong("Normal ranges for a 2-year-old: RR 24–40, HR 90–150, SBP > 100.", 2)
    assert not _wrong("Normal ranges for a 2-year-old: RR 24–40, HR 90–150, SBP > 74.", 2)


def test_the_ages_of_a_chart_are_no_range_of_a_vital():
    line = "His HR of 84 is fine — published teen values are roughly 55–90 awake (chart for 13–17)."
    assert not _wrong(line, 13)


def test_a_vital_named_for_a_later_range_is_not_this_ranges():
    line = "many EMS cards give 30–60/min as normal for an infant and 100–160 for heart rate"
    assert not _wrong(line, 0.7)
    assert _wrong(line.replace("30–60", "12–20"), 0.7)


def test_a_threshold_named_as_the_hypotension_threshold_is_judged():
    assert _wrong("SBP 84: above the 70 mmHg hypotension threshold for his age", 10)
    assert not _wrong("SBP 94: above the 90 mmHg hypotension threshold for his age", 10)
    assert not _wrong("The PALS hypotension line is 70 + 2 x age in years", 4)


def test_a_norm_named_after_an_intervention_clause_is_still_judged():
    # the rescue breaths head the first clause; the RR norm after the comma is the child's
    assert wrong("Still apneic after the rescue-breath trial, normal RR 18-25.", 0.75)
    assert not wrong("Still apneic after the rescue-breath trial, normal RR 30-53.", 0.75)


def test_age_norms_are_a_quote_of_the_norm():
    assert wrong("Age norms: RR 30-60, HR 100-160, so RR 28 is on the low side.", 8)


def test_the_jumpstart_band_beside_a_reading_is_a_check_not_a_norm():
    assert not wrong("RR 26 (15-45 ok), pulse there.", 3)
    assert wrong("Normal RR is 15-45 at this age.", 3)


def test_nml_is_normal():
    assert wrong("RR is well above infant nml (12-20).", 0.25)


def test_the_older_pals_infant_heart_rate_band_ends_at_two_years():
    # "3 months to 2 years: 100-190", then "2 to 10 years: 60-140" (facts 3b)
    assert not wrong("Normal heart rate for an 18-month-old is 100-190.", 1.5)
    assert wrong("Normal heart rate for a 3-year-old is 100-190.", 3)


def test_normals_as_a_title_quote_the_norm():
    line = "Newborn normals: breathing 30-60/min, heart rate **80-120**/min."
    assert [w["range"] for w in wrong(line, 0.02)] == [[80, 120]]


def test_an_age_after_the_hypotension_threshold_is_not_the_threshold():
    assert not wrong("Hypotension threshold at 10 y: SBP <90 (70 + 2x10)", 10)


def test_a_range_that_names_the_group_of_a_bracketed_range_is_no_quote():
    assert not wrong("Breathing 22/min is within the APLS 5-12 range (20-25).", 7)


def test_the_jumpstart_band_checked_after_a_norm_is_no_second_norm():
    line = "normal breathing for a 2-year-old is roughly 24-40, so that's well inside 15-45."
    assert not wrong(line, 2)
    assert not wrong("So we run the full algorithm: breathing 34 (15-45 OK), pulse present.", 0.9)


def test_an_age_compared_with_is_not_the_quotes_age():
    line = "for a child her age hypotension is anything under 90, same as an adult"
    assert wrong(line, 4)


def test_a_range_we_would_expect_is_a_norm():
    assert wrong("her heart rate of 150 is above the 75-118 we'd expect at her age", 1.5)
