"""Broselow zones, age-based weight estimates and weight-based dose arithmetic (facts file 4-5).

``DOSE_RULES`` is the generator's table (how much per kilogram, the most a single dose may
be). The ``wrong_dose`` detector reads its rules from align/checks/vocabulary/drugs.toml and
uses the arithmetic here: the weights a child may have (``weight_span_kg``), the doses a
per-kg rule allows over them (``dose_span``) and the rounding a stated figure implies
(``rounding_slack``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class BroselowZone:
    color: str
    min_kg: float
    max_kg: float  # inclusive upper weight as printed on the tape


# Facts file section 4 (weights verified; lengths are not, so they are not used).
BROSELOW_ZONES = (
    BroselowZone("Gray", 3, 5),
    BroselowZone("Pink", 6, 7),
    BroselowZone("Red", 8, 9),
    BroselowZone("Purple", 10, 11),
    BroselowZone("Yellow", 12, 14),
    BroselowZone("White", 15, 18),
    BroselowZone("Blue", 19, 23),
    BroselowZone("Orange", 24, 29),
    BroselowZone("Green", 30, 36),
)


def broselow_zone(weight_kg: float) -> BroselowZone | None:
    """The zone for a weight; a weight between two printed zones (5.5 kg) takes the lower
    one, as the tape's zones are contiguous by length. None off the tape (< 3 or > 36 kg)."""
    if weight_kg < BROSELOW_ZONES[0].min_kg or weight_kg > BROSELOW_ZONES[-1].max_kg:
        return None
    zone = BROSELOW_ZONES[0]
    for candidate in BROSELOW_ZONES:
        if weight_kg >= candidate.min_kg:
            zone = candidate
    return zone


def apls_weight_kg(age_years: float) -> float:
    """Updated APLS (2011) estimate: < 1 y 0.5 x months + 4; 1-5 y 2 x age + 8;
    6-12 y 3 x age + 7. Measured weight or a length tape always wins over this."""
    if age_years < 1:
        return 0.5 * (age_years * 12) + 4
    if age_years <= 5:
        return 2 * age_years + 8
    return 3 * age_years + 7


def original_apls_weight_kg(age_years: float) -> float:
    """Original APLS: (age + 4) x 2, ages 1-10 (known to underestimate)."""
    return (age_years + 4) * 2


def best_guess_weight_kg(age_years: float) -> float:
    """ "Best Guess" (Tinning & Acworth): < 1 y (months + 9) / 2; 1-4 y 2 x (age + 5);
    5-14 y 4 x age."""
    if age_years < 1:
        return (age_years * 12 + 9) / 2
    if age_years < 5:
        return 2 * (age_years + 5)
    return 4 * age_years


# How far an age-based estimate may stray from the published formulas before it is no longer
# an estimate but a wrong weight: real children spread about a third either side of them (the
# original APLS formula is a mean 19-33 % low, facts file 5), so 30 % keeps every defensible
# estimate and still catches a child dosed as an infant or as an adult.
ESTIMATE_SLACK = 0.3


def formula_weight_range_kg(age_years: float) -> tuple[float, float]:
    """The span of the updated APLS, original APLS (from 1 y) and Best Guess formulas for this
    age. Beyond a formula's age range it is extended as written."""
    estimates = [apls_weight_kg(age_years), best_guess_weight_kg(age_years)]
    if age_years >= 1:
        estimates.append(original_apls_weight_kg(age_years))
    return min(estimates), max(estimates)


def plausible_weight_range_kg(age_years: float) -> tuple[float, float]:
    """The weights (kg) an age-based estimate may give for a child of this age: the formulas'
    span widened by ``ESTIMATE_SLACK`` each way."""
    low, high = formula_weight_range_kg(age_years)
    return round(low * (1 - ESTIMATE_SLACK), 1), round(high * (1 + ESTIMATE_SLACK), 1)


@dataclass(frozen=True)
class DoseRule:
    key: str
    name: str
    unit: str  # unit of the total: mg, mL or g
    per_kg: tuple[float, float]  # allowed per-kg dose, inclusive
    max_total: Callable[[float], float | None]
    note: str = ""


def _no_max(weight_kg: float) -> None:
    return None


def _epinephrine_im_max(weight_kg: float) -> float:
    return 0.3 if weight_kg < 30 else 0.5


DOSE_RULES = {
    rule.key: rule
    for rule in (
        DoseRule(
            "epinephrine_im",
            "epinephrine 1 mg/mL IM (anaphylaxis)",
            "mg",
            (0.01, 0.01),
            _epinephrine_im_max,
            "0.01 mg/kg, max 0.3 mg under 30 kg, 0.5 mg from 30 kg",
        ),
        DoseRule(
            "epinephrine_im_ml",
            "epinephrine 1 mg/mL IM volume",
            "mL",
            (0.01, 0.01),
            _epinephrine_im_max,
            "0.01 mL/kg of 1 mg/mL",
        ),
        DoseRule(
            "epinephrine_iv",
            "epinephrine 0.1 mg/mL IV/IO (cardiac arrest)",
            "mg",
            (0.01, 0.01),
            lambda w: 1.0,
            "0.01 mg/kg, max 1 mg",
        ),
        DoseRule(
            "epinephrine_iv_ml",
            "epinephrine 0.1 mg/mL IV/IO volume",
            "mL",
            (0.1, 0.1),
            lambda w: 10.0,
            "0.1 mL/kg of 0.1 mg/mL, max 10 mL",
        ),
        DoseRule(
            "fluid_bolus",
            "isotonic crystalloid bolus",
            "mL",
            (10, 20),
            _no_max,
            "20 mL/kg (10 mL/kg neonates and sepsis aliquots), reassess after each",
        ),
        DoseRule("blood", "packed red cells", "mL", (10, 20), _no_max, "10-20 mL/kg"),
        DoseRule(
            "dextrose_g",
            "dextrose",
            "g",
            (0.25, 1.0),
            _no_max,
            "0.5-1 g/kg (0.25-0.5 g/kg at 6 months or younger)",
        ),
        DoseRule("d10", "dextrose 10%", "mL", (2.5, 10), _no_max, "5-10 mL/kg"),
        DoseRule("d25", "dextrose 25%", "mL", (1, 4), _no_max, "2-4 mL/kg; not for newborns"),
    )
}


def total_dose(rule: DoseRule, per_kg: float, weight_kg: float) -> float:
    """per-kg dose times weight, capped at the rule's maximum."""
    total = per_kg * weight_kg
    cap = rule.max_total(weight_kg)
    return min(total, cap) if cap is not None else total


def allowed_total(rule: DoseRule, weight_kg: float) -> tuple[float, float]:
    """The lowest and highest correct single dose for this weight."""
    low, high = rule.per_kg
    return total_dose(rule, low, weight_kg), total_dose(rule, high, weight_kg)


def weight_span_kg(weight_kg: float | None, age_years: float | None) -> tuple[float, float] | None:
    """The weights to dose this child on: the stated weight, else the span of plausible
    age-based estimates, else None (nothing known)."""
    if weight_kg is not None:
        return (weight_kg, weight_kg)
    if age_years is not None:
        return plausible_weight_range_kg(age_years)
    return None


def dose_span(
    per_kg: tuple[float, float],
    weights_kg: tuple[float, float],
    cap: Callable[[float], float | None] = _no_max,
) -> tuple[float, float]:
    """The lowest and highest correct single dose over a span of weights: the per-kg dose
    times the weight, capped. A cap never falls as the weight rises, so the dose does not
    either, and the ends of the span give the ends of the doses."""

    def capped(dose: float, weight: float) -> float:
        limit = cap(weight)
        return dose if limit is None else min(dose, limit)

    low_kg, high_kg = weights_kg
    return capped(per_kg[0] * low_kg, low_kg), capped(per_kg[1] * high_kg, high_kg)


def rounding_slack(expected: float, stated_text: str) -> float:
    """How far a stated figure may stand from the exact one and still be it: 5 % of the
    expected dose, or half a unit of the stated figure's last digit (0.2 for 0.22)."""
    decimals = len(stated_text.split(".")[1]) if "." in stated_text else 0
    return max(0.05 * expected, 0.5 * 10**-decimals)


def format_amount(value: float) -> str:
    """A dose as a responder would write it: 0.18, 360, 0.3 (no trailing zeros)."""
    if value >= 10:
        return f"{value:.0f}"
    return f"{value:.2f}".rstrip("0").rstrip(".")
