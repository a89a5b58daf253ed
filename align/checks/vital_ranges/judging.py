"""Judging a quote against the child's age: whether a published table gives it for the age the
quote speaks of (align.protocol.vitals), and the finding's detail."""

from align.checks.vital_ranges.quotes import RangeQuote, quote_age
from align.protocol.vitals import (
    floor_fits_age,
    hypotension_thresholds,
    range_fits_age,
    threshold_fits_age,
)


def judged_ages(quote: RangeQuote, patient_age: float | None) -> tuple[float, ...]:
    """The ages a quote may be right for: its age, or for an age word that does not name the
    patient's band, ages across that band (a "newborn" row fits a newborn of any day)."""
    age = quote_age(quote, patient_age)
    if age is None:
        return ()
    if quote.age_band is None or age == patient_age:
        return (age,)
    start, end = quote.age_band
    return (*(start + (end - start) * k / 4 for k in range(4)), max(start, end - 1e-6))


def fits(quote: RangeQuote, age: float) -> bool:
    """Whether a quote is a published norm for this age (a range for one of its vitals, or a
    hypotension threshold)."""
    if quote.kind == "hypotension":
        return threshold_fits_age(quote.low, age)
    if quote.kind == "floor":
        return floor_fits_age(quote.low, age)
    return any(range_fits_age(quote.low, quote.high, age, v, quote.asleep) for v in quote.vitals)


def wrong_quotes(
    quotes: tuple[RangeQuote, ...], patient_age: float | None
) -> list[tuple[RangeQuote, float]]:
    """(quote, its age) of every quote that fits no published table for its age (the age the
    quote names, else the patient's)."""
    wrong = []
    for quote in quotes:
        ages = judged_ages(quote, patient_age)
        if ages and not any(fits(quote, age) for age in ages):
            wrong.append((quote, quote_age(quote, patient_age)))
    return wrong


def wrong_ranges(quotes: tuple[RangeQuote, ...], patient_age: float | None) -> list[dict]:
    """Details of every quote that fits no published table for its age."""
    return [range_detail(quote, age) for quote, age in wrong_quotes(quotes, patient_age)]


def range_detail(quote: RangeQuote, age: float) -> dict:
    """The detail of a wrong quote (a new dict each call: callers own it)."""
    if quote.kind in ("floor", "hypotension"):
        name = "lowest_normal" if quote.kind == "floor" else "threshold"
        return {
            name: quote.low,
            "vital": "sbp",
            "age_years": age,
            "quote": quote.text,
            "expected": list(hypotension_thresholds(age)),
        }
    return {
        "range": [quote.low, quote.high],
        "vital": quote.vitals[0] if len(quote.vitals) == 1 else list(quote.vitals),
        "age_years": age,
        "quote": quote.text,
    }
