"""``wrong_dose``: doses checked against the child's weight and age, and drugs a child must
not be given.

A sentence is read into quantities (an amount "0.22 mg", a per-kg dose "0.01 mg/kg", a
weight "22 kg", a concentration "1 mg/mL" or "1:1000", a strength "10%"; a number in words
before a unit, "one point eight milligrams", is read as digits first) and drug names
(align/checks/vocabulary/drugs.toml). Each quantity belongs to the drug named right after it
("2.2 mg IM epinephrine"), else the one named before it, else the first named after it;
with no drug in the sentence, the drug of an earlier sentence of the line, or of a drug
heading above the line ("**Epinephrine:**", ``drug_heading``). Then, per drug:

- a per-kg dose must fit the drug's rule for the child's age (epinephrine 0.01 mg/kg; bolus
  10-20 mL/kg, a newborn's 10 mL/kg; dextrose 0.5-1 g/kg, 0.25-0.5 g/kg at 6 months or
  younger, D10 only in a newborn; a volume per kg read in the stated concentration);
- its total must be the per-kg dose times the weight, or the cap ("0.01 mg/kg x 22 kg =
  0.22 mg", also written before it: "0.22 mg (0.01 mg/kg)");
- an amount alone must fit weight x dose per kg within the drug's tolerance, or a fixed dose
  right for the weight or age band (auto-injectors), and never pass the cap; a volume of
  epinephrine is read in the stated concentration, else the route's (IM 1 mg/mL, IV/IO
  0.1 mg/mL), so 3 mL of 1 mg/mL IV is 3 mg;
- epinephrine IV/IO outside an arrest, for anaphylaxis, is the IM dose given IV;
- a drug a child must not have (aspirin) named as an instruction is wrong whatever the dose.

The weight is the scenario's (one the prompt states); a different weight written in a per-kg
statement is wrong, and with none stated a written weight must be a plausible age-based
estimate; with neither, any plausible estimate for the age. Figures that are limits ("up to
60 mL/kg", "0.3 mg max"), equipment ("a 1 mL syringe"), negated, or in a clause that warns
of an error ("2.2 mg would be a tenfold overdose") or tells what the child already had are
not doses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from align.checks.doses.drugs import NEWBORN_YEARS, OTHER_PATIENT, Route
from align.checks.doses.quantities import Quantity, quantities_in, with_digits
from align.checks.doses.reading import (
    Patient,
    Reading,
    clause_spans,
    doses_to_give,
    line_readings,
    negated,
    under_negated_heading,
    warned,
)
from align.checks.text import ages_in, line_segments
from align.protocol.dosing import (
    dose_span,
    formula_weight_range_kg,
    plausible_weight_range_kg,
    rounding_slack,
    weight_span_kg,
)


@lru_cache(maxsize=65536)
def line_wrong_doses(
    line: str, weight_kg, age_years, hazards: tuple[str, ...] = (), heading: tuple | None = None
) -> tuple[dict, ...]:
    """The wrong doses of one instruction line (memoized: lines repeat across pairs; callers
    get copies of the details); ``heading``: the ``drug_heading`` of a line above, whose drug
    the figures of a line naming none belong to."""
    patient = Patient(weight_kg, age_years, hazards)
    arrest, anaphylaxis_named, sentences = line_readings(with_digits(line), heading)
    anaphylaxis = "anaphylaxis" in hazards or anaphylaxis_named
    wrong: list[dict] = []
    for sentence, readings in sentences:
        for reading in readings:
            for detail in _check_reading(sentence, reading, patient, arrest, anaphylaxis):
                detail["statement"] = sentence.strip()
                wrong.append(detail)
    unnamed = all(not r.drug.key for _, readings in sentences for r in readings)
    if weight_kg is not None and unnamed and not wrong:
        wrong.extend(_unnamed_totals(line, weight_kg))
    return tuple(wrong)


# A weight written in the line ("for a 20 kg child"): its totals may be for that weight.
_WEIGHT_WRITTEN = re.compile(r"\d\s*kg\b(?!\s*/)", re.IGNORECASE)


def _unnamed_totals(line: str, weight_kg: float) -> list[dict]:
    """A per-kg figure and its total that name no drug ("IV/IO: 20 mL/kg = 380 mL"): whatever
    the drug, the total must be the figure times the child's stated weight."""
    if _WEIGHT_WRITTEN.search(line):
        return []
    wrong = []
    for (start, end), stated, per_kg in line_totals(line):
        expected = per_kg * weight_kg
        text = line[start:end].replace(",", "")
        if abs(stated - expected) > rounding_slack(expected, text):
            wrong.append(
                {
                    "drug": None,
                    "stated": text,
                    "expected": f"{expected:.3g}",
                    "why": "the total is not the dose per kg times the weight",
                    "statement": line.strip(),
                }
            )
    return wrong


def _check_reading(
    sentence: str, reading: Reading, patient: Patient, arrest: bool, anaphylaxis: bool
) -> list[dict]:
    """The first wrong thing a sentence says about one drug, as a finding detail."""
    drug = reading.drug
    if drug.forbidden_under_years is not None:
        return _forbidden(sentence, clause_spans(sentence), reading, patient)
    if drug.oral is not None and drug.oral.search(sentence):
        return []  # an oral dose: the IV/IO rule does not cover it
    age = _age_in(sentence, patient.age_years)
    if not _same_age(age, patient.age_years):
        # another child than this one ("the adult dose is 0.5 mg"): not this child's weight
        patient = Patient(None, age, patient.hazards)
    if drug.unit == "g" and _strength_not_allowed(sentence, reading, age):
        rule = drug.rule_for(age)
        allowed = "/".join(f"D{s:g}" for s in rule.strengths)
        return [{"drug": drug.key, "stated": reading.mention, "expected": allowed, "why": rule.why}]
    doses = doses_to_give(sentence, reading.quantities)
    if not doses:
        return []
    if (
        drug.key == "epinephrine"
    ):  # the route first: an IV dose for anaphylaxis is wrong at any size
        detail = _iv_for_anaphylaxis(reading, arrest, anaphylaxis)
        if detail is not None:
            return [detail]
    totals = set()
    for q in doses:
        if q.kind != "per_kg":
            continue
        total = _total_of(sentence, q, doses)
        detail = _check_per_kg(reading, q, total, patient, age, arrest, anaphylaxis)
        if detail is not None:
            return [detail]
        totals.add(total)
    if drug.unit:
        for q in doses:
            if q.kind == "amount" and q not in totals:
                detail = _check_amount(reading, q, patient, age, arrest, anaphylaxis)
                if detail is not None:
                    return [detail]
    return []


def _strength_not_allowed(sentence: str, reading: Reading, age: float | None) -> bool:
    """A dextrose strength the child's age does not allow (D25 in a newborn), given as an
    instruction."""
    rule = reading.drug.rule_for(age)
    if not (rule and rule.strengths and reading.strength and reading.mention):
        return False
    if reading.strength in rule.strengths:
        return False
    start = sentence.find(reading.mention)
    return not negated(sentence, start) and not warned(sentence, start)


def _same_age(age: float | None, other: float | None) -> bool:
    if age is None or other is None:
        return age is other
    return abs(age - other) <= max(0.1, 0.1 * other)


def _age_in(sentence: str, patient_age: float | None) -> float | None:
    """The age whose rules apply: a numeric age or a newborn written in the sentence
    ("for a 3-month-old"), else the patient's; None where the sentence speaks of other
    children ("older children get 20 mL/kg"). Words such as "infant" or "baby" are too vague
    to replace the patient's age."""
    if OTHER_PATIENT.search(sentence):
        return None
    for offset, age in ages_in(sentence):
        if sentence[offset].isdigit() or age < NEWBORN_YEARS:
            return age
    return patient_age


def _forbidden(sentence: str, spans, reading: Reading, patient: Patient) -> list[dict]:
    """A drug a child must not have, named as an instruction: not negated ("no aspirin",
    "never give aspirin"), not a warning ("aspirin can cause Reye's syndrome") nor what the
    child already had ("if she took aspirin")."""
    drug = reading.drug
    if not reading.mention:
        return []
    if patient.age_years is not None and patient.age_years >= drug.forbidden_under_years:
        return []
    start = sentence.find(reading.mention)
    if negated(sentence, start) or warned(sentence, start):
        return []
    if under_negated_heading(sentence, spans, start):
        return []
    return [
        {"drug": drug.key, "stated": reading.mention, "expected": "none", "why": drug.forbidden_why}
    ]


def _total_of(sentence: str, per_kg: Quantity, doses: list[Quantity]) -> Quantity | None:
    """The total of a per-kg dose: an amount just before it that it restates ("0.22 mg
    (0.01 mg/kg)"), else the first amount of the same kind after it, before the next per-kg
    figure ("0.01 mg/kg x 22 kg = 0.22 mg")."""
    before = [
        q for q in doses if q.kind == "amount" and q.end <= per_kg.start and q.dim == per_kg.dim
    ]
    if before and _RESTATES.fullmatch(sentence, before[-1].end, per_kg.start):
        return before[-1]
    for q in doses:
        if q.start <= per_kg.start:
            continue
        if q.kind == "per_kg" or _ALTERNATIVE.search(sentence, per_kg.end, q.start):
            break  # "..., or his own 0.3 mg pen": another dose, not this one's total
        if q.kind == "amount" and q.dim == per_kg.dim:
            return q
    return None


_ALTERNATIVE = re.compile(r"\b(?:or|alternatively|otherwise)\b", re.IGNORECASE)


# What stands between a total and the per-kg dose it restates: "0.22 mg (0.01 mg/kg)",
# "360 mL, i.e. 20 mL/kg", "400 mL bolus = 20 mL/kg".
_RESTATES = re.compile(
    r"[^\d]{0,30}?(?:\(|=|\bi\.?\s?e\.?,?|\bthat is,?|\bwhich is)\s*(?:about|approx\w*\.?|~|≈)?\s*",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Candidate:
    """One way to read a drug's figures: a route of epinephrine, a dextrose strength."""

    label: str  # "im", "iv", "D10" ... or "" where the drug has one reading
    per_kg: tuple[float, float] | None  # in the rule's unit per kg; None: not checked
    factor: dict  # dim -> rule units per mg or mL of the figure; a dim absent: not checked
    cap: object  # weight -> the most a single dose may be (rule unit), or None
    why: str
    fixed: tuple[dict, ...] = ()


def _no_cap(weight_kg: float) -> None:
    return None


def _candidates(reading: Reading, age: float | None, arrest: bool, anaphylaxis: bool):
    drug = reading.drug
    if drug.routes:
        return [
            Candidate(
                route.key,
                route.per_kg,
                {"mass": 1.0, "volume": reading.concentration or route.concentration},
                route.cap,
                route.why,
                route.fixed,
            )
            for route in _routes(reading, arrest, anaphylaxis)
        ]
    rule = drug.rule_for(age)
    if rule is None:  # a per-kg dose of no known drug: the arithmetic alone
        return [Candidate("", None, {"mass": 1.0, "volume": 1.0}, _no_cap, "")]
    if drug.unit == "g":  # dextrose: grams, from a volume by its strength
        strengths = [reading.strength] if reading.strength else list(rule.strengths or (10, 25))
        return [
            Candidate(f"D{s:g}", rule.per_kg, {"mass": 0.001, "volume": s / 100}, _no_cap, rule.why)
            for s in strengths
        ]
    return [Candidate("", rule.per_kg, {"volume": 1.0}, _no_cap, rule.why)]


def _routes(reading: Reading, arrest: bool, anaphylaxis: bool) -> list[Route]:
    """The routes epinephrine may be meant for: those named, else the arrest's, else the one
    of the stated concentration, else anaphylaxis's (IM), else both."""
    by_key = {route.key: route for route in reading.drug.routes}
    keys = set(reading.routes)
    if not keys and arrest:
        keys = {"iv"}
    if not keys and reading.concentration is not None:
        keys = {
            r.key for r in by_key.values() if abs(r.concentration - reading.concentration) < 1e-9
        }
    if not keys and anaphylaxis:
        keys = {"im"}
    return [by_key[k] for k in sorted(keys)] or list(by_key.values())


def _weights(reading: Reading, patient: Patient, age: float | None) -> tuple[float, float] | None:
    """The weights to check a dose against: the stated weight, a weight written in the
    sentence, or any plausible estimate for the age."""
    if patient.weight_kg is not None:
        return (patient.weight_kg, patient.weight_kg)
    written = [q.value for q in reading.quantities if q.kind == "weight"]
    if written:
        return (written[0], written[0])
    if age is not None and age == patient.age_years:
        return weight_span_kg(None, age)
    return None


def _written_weight_detail(
    reading: Reading, patient: Patient, implausible_only: bool = False
) -> dict | None:
    """A weight written in a dose statement that is not the child's: not the one the prompt
    states (unless ``implausible_only``), or with none stated, no plausible estimate for the
    age."""
    written = [q.value for q in reading.quantities if q.kind == "weight"]
    if not written:
        return None
    weight = written[0]
    drug = reading.drug.key or None
    mismatch = patient.weight_kg is not None and abs(weight - patient.weight_kg) > 0.5
    if mismatch and not implausible_only:
        return {
            "drug": drug,
            "weight_used": weight,
            "weight_kg": patient.weight_kg,
            "why": "the dose is worked out for another weight than the child's",
        }
    if patient.weight_kg is None and patient.age_years is not None:
        low, high = plausible_weight_range_kg(patient.age_years)
        if not low <= weight <= high:
            return {
                "drug": drug,
                "weight_used": weight,
                "plausible_kg": [low, high],
                "why": "the weight used is no plausible estimate for the child's age",
            }
    return None


def _ends(q: Quantity) -> list[float]:
    return [q.value] if q.low is None else [q.low, q.value]


def _rounding(q: Quantity, expected: float) -> float:
    """``rounding_slack`` of a figure for an expected value, both in mg or mL."""
    return rounding_slack(expected / q.scale, q.text.replace(",", "")) * q.scale


def _check_per_kg(reading, q, total, patient, age, arrest, anaphylaxis) -> dict | None:
    """A per-kg dose out of the drug's rule, or a total that is not per-kg dose x weight."""
    weight_detail = _written_weight_detail(reading, patient)
    if weight_detail is not None:
        return weight_detail
    weights = _weights(reading, patient, age)
    failures = []
    for c in _candidates(reading, age, arrest, anaphylaxis):
        factor = c.factor.get(q.dim)
        if factor is None:
            return None  # a figure the rule is not written in: not judged
        failure = _per_kg_failure(reading, c, q, factor, age) or _total_failure(
            reading, c, q, total, factor, weights
        )
        if failure is None:
            return None
        failures.append(failure)
    return failures[0] if failures else None


def _per_kg_failure(reading, c: Candidate, q: Quantity, factor: float, age) -> dict | None:
    if c.per_kg is None:
        return None
    low, high = c.per_kg
    stated = [v * factor for v in _ends(q)]
    if all(low - 1e-9 <= v <= high + 1e-9 for v in stated):
        return None
    unit = f"{reading.drug.unit}/kg"
    expected = f"{low:g} {unit}" if low == high else f"{low:g}-{high:g} {unit}"
    detail = _detail(reading, q, f"{q.text} {q.unit}", expected, c.why)
    detail["per_kg"] = float(q.text.replace(",", ""))
    detail["allowed_per_kg"] = [low, high]
    return detail


def _total_failure(reading, c: Candidate, q: Quantity, total, factor, weights) -> dict | None:
    """The total against per-kg dose x weight (capped), in the total's unit."""
    if total is None or weights is None:
        return None
    per_kg = q.value  # mg/kg or mL/kg, as the total is mg or mL

    def cap(weight_kg: float) -> float | None:
        most = c.cap(weight_kg)
        return None if most is None else most / factor  # the rule's unit -> the figure's

    low, high = dose_span((per_kg, per_kg), weights, cap)
    slack_low, slack_high = _rounding(total, low), _rounding(total, high)
    if low - slack_low <= total.value <= high + slack_high:
        return None
    written = f"{total.text} {total.unit}"
    most = cap(weights[1])
    if most is not None and per_kg * weights[1] > most and _states(reading, most, total):
        return None  # "gives 0.55 mg, so use the 0.5 mg maximum": the total is the working
    if most is not None and total.value > most + slack_high and per_kg * weights[1] > most:
        detail = _detail(
            reading, total, written, f"at most {most / total.scale:g} {total.unit}", c.why
        )
        detail["max"] = most / total.scale
        return detail
    expected = (
        f"{low / total.scale:.3g}"
        if low == high
        else f"{low / total.scale:.3g}-{high / total.scale:.3g}"
    )
    detail = _detail(
        reading,
        total,
        written,
        f"{expected} {total.unit}",
        "the total is not the dose per kg times the weight",
    )
    return detail


def _states(reading: Reading, value: float, like: Quantity) -> bool:
    """Whether the sentence states ``value`` (mg or mL) as an amount, dose or limit."""
    return any(
        q.kind == "amount" and q.dim == like.dim and abs(q.value - value) <= _rounding(q, value)
        for q in reading.quantities
    )


def _check_amount(reading, q, patient, age, arrest, anaphylaxis) -> dict | None:
    """An amount stated without its per-kg dose against weight x dose per kg, the fixed doses
    right for the child, and the cap."""
    weight_detail = _written_weight_detail(reading, patient, implausible_only=True)
    if weight_detail is not None:
        return weight_detail
    weights = _weights(reading, patient, age)
    failures = []
    for c in _candidates(reading, age, arrest, anaphylaxis):
        factor = c.factor.get(q.dim)
        if factor is None or c.per_kg is None:
            return None
        failure = _amount_failure(reading, c, q, factor, weights, patient)
        if failure is None:
            return None
        failures.append(failure)
    return failures[0] if failures else None


def _amount_failure(reading, c: Candidate, q, factor, weights, patient) -> dict | None:
    drug = reading.drug
    stated = [v * factor for v in _ends(q)]  # in the rule's unit
    # half a unit of the last digit written, but a small whole number is meant as written
    # ("1 mg" is not a rounded 0.5 mg)
    slack = min(0.5 * 10 ** -_decimals(q.text), 0.1 * q.value / q.scale) * q.scale * factor
    sized = _sizing_weights(reading, patient, weights)
    if all(_fixed_dose_fits(c, v, slack, sized, patient.age_years) for v in stated):
        return None
    unit = drug.unit if drug.unit != "ml" else "mL"
    if weights is None:
        most = c.cap(1000.0)
        if most is None or all(v <= most + slack for v in stated):
            return None
        return _detail(reading, q, f"{q.text} {q.unit}", f"at most {most:g} {unit}", c.why)
    low, high = dose_span(c.per_kg, weights, c.cap)
    most = c.cap(sized[1])
    top = high * (1 + drug.tolerance) + slack
    if most is not None:
        top = min(top, most + slack)
    bottom = low * (1 - drug.tolerance) - slack
    if all(bottom <= v <= top for v in stated):
        return None
    expected = f"{low:.3g}" if abs(low - high) < 1e-9 else f"{low:.3g}-{high:.3g}"
    detail = _detail(reading, q, f"{q.text} {q.unit}", f"{expected} {unit}", c.why)
    detail["weight_kg"] = weights[0] if weights[0] == weights[1] else list(weights)
    if c.label:
        detail["read_as"] = c.label
    return detail


def _sizing_weights(reading: Reading, patient: Patient, weights):
    """The weights that decide a cap or a fixed dose's weight band: with no weight stated or
    written, the age formulas' own span, not widened (a 7-year-old is not dosed as a 36 kg
    child: the widening only keeps an answer's own estimate from counting as wrong)."""
    estimated = patient.weight_kg is None and not any(
        q.kind == "weight" for q in reading.quantities
    )
    if weights is None or not estimated or patient.age_years is None:
        return weights
    return formula_weight_range_kg(patient.age_years)


def _fixed_dose_fits(c: Candidate, value: float, slack: float, weights, age) -> bool:
    """Whether a dose is a fixed one right for the child's weight or age band (auto-injectors,
    the UK age bands)."""
    for fixed in c.fixed:
        if abs(value - fixed["dose"]) > max(slack, 0.05 * fixed["dose"]):
            continue
        band = fixed.get("kg")
        if band and weights is not None and weights[0] <= band[1] and weights[1] >= band[0]:
            return True
        years = fixed.get("years")
        if years and age is not None and years[0] <= age <= years[1]:
            return True
    return False


def _decimals(text: str) -> int:
    return len(text.split(".")[1]) if "." in text else 0


IV_FOR_ANAPHYLAXIS = "IV/IO for anaphylaxis"


def _iv_for_anaphylaxis(reading: Reading, arrest: bool, anaphylaxis: bool) -> dict | None:
    """IV/IO epinephrine outside an arrest, for anaphylaxis: the IM dose given IV."""
    if reading.routes != {"iv"} or arrest or not anaphylaxis:
        return None
    return {
        "drug": "epinephrine",
        "stated": IV_FOR_ANAPHYLAXIS,
        "expected": "IM, 0.01 mg/kg of 1 mg/mL into the thigh",
        "why": "IV epinephrine outside an arrest is the IM dose given IV (a bolus that can "
        "cause arrhythmia)",
    }


def _detail(reading: Reading, q: Quantity, stated: str, expected: str, why: str) -> dict:
    return {
        "drug": reading.drug.key or None,
        "stated": stated,
        "expected": expected,
        "why": why,
        "unit": q.unit,
    }


# --- totals for the wrong_dose perturbation ---------------------------------------------


def stated_totals(text: str) -> list[tuple[tuple[int, int], float, float]]:
    """Each per-kg statement's total: (span of its number in ``text``, stated value, per-kg
    dose), as written. Only statements with a per-kg dose and a total after it count."""
    found, line_start = [], 0
    for line in text.split("\n"):
        for (start, end), stated, per_kg in line_totals(line):
            found.append(((line_start + start, line_start + end), stated, per_kg))
        line_start += len(line) + 1
    return found


@lru_cache(maxsize=65536)
def line_totals(line: str) -> tuple[tuple[tuple[int, int], float, float], ...]:
    """``stated_totals`` of one line, spans relative to the line (memoized: lines repeat)."""
    found = []
    for offset, sentence in line_segments(line):
        doses = doses_to_give(sentence, quantities_in(sentence))
        for q in doses:
            if q.kind != "per_kg":
                continue
            total = _total_of(sentence, q, doses)
            if total is not None and total.start > q.start:
                number_end = total.start + len(total.text)
                span = (offset + total.start, offset + number_end)
                found.append((span, float(total.text.replace(",", "")), float(q.text)))
    return tuple(found)
