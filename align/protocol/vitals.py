"""Age-specific normal vital signs and hypotension thresholds: one canonical table plus the
published alternates, as data with their sources.

Facts file section 3. The canonical table is AHA PALS 2015 as reproduced by PedsCases; it is
what generated data quotes. The references disagree (older PALS, the EMS "CUPS" card,
Wisconsin EMSC, APLS, EPLS), so a quoted range is judged against each published table on its
own: it fits when it matches one range that a table gives for the child's age, both ends
within a small rounding slack of that range's ends (the seed's "normal 5yr: 20-30/min" is
PALS 2015's 20-28 rounded). A range that no table gives for that age does not fit: an
infant's 30-53/min for a 12-year-old, or 80-120 (a preschooler's) for a 6-month-old, even
though 80-120 lies inside the infant tables' spans.

Ages are in years; a band is ``[age_from, age_to)``. Vitals: ``rr`` (breaths/min), ``hr``
(beats/min), ``sbp`` (systolic mmHg). Heart rates are awake values; the asleep rows are kept,
marked, for quotes that say "asleep".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

VITALS = ("rr", "hr", "sbp")
VITAL_NAMES = {"rr": "respiratory rate", "hr": "heart rate", "sbp": "systolic BP"}
VITAL_UNITS = {"rr": "/min", "hr": "/min", "sbp": "mmHg"}

NEONATE_END = 28 / 365
ADULT_AGE = 18.0


class Range(NamedTuple):
    low: int
    high: int
    asleep: bool = False  # a heart rate while asleep


@dataclass(frozen=True)
class Band:
    age_from: float
    age_to: float
    label: str
    ranges: dict[str, tuple[Range, ...]]  # heart rate: the awake rows, then the asleep ones

    def contains(self, age_years: float) -> bool:
        return self.age_from <= age_years < self.age_to


@dataclass(frozen=True)
class VitalTable:
    name: str
    source: str
    bands: tuple[Band, ...]


def _band(age_from, age_to, label, rr=(), hr=(), hr_asleep=(), sbp=()) -> Band:
    heart = tuple(Range(*r) for r in hr) + tuple(Range(*r, asleep=True) for r in hr_asleep)
    ranges = {
        "rr": tuple(Range(*r) for r in rr),
        "hr": heart,
        "sbp": tuple(Range(*r) for r in sbp),
    }
    return Band(age_from, age_to, label, ranges)


# AHA PALS 2015 (PedsCases chart). PALS 2015 gives no neonatal RR row ("see infant"); its
# adolescent row (12-15 y) is extended to 18 y. BP bands differ from the HR/RR ones (school
# age 6-9 y, preadolescent 10-11 y), hence the split rows.
PALS_2015 = VitalTable(
    "PALS 2015",
    "AHA PALS 2015 via PedsCases Pediatric Vital Signs Reference Chart",
    (
        _band(0, 4 / 365, "newborn", [(30, 53)], [(100, 205)], [(90, 160)], [(60, 76)]),
        _band(0, NEONATE_END, "neonate", [(30, 53)], [(100, 205)], [(90, 160)], [(67, 84)]),
        _band(NEONATE_END, 1, "infant", [(30, 53)], [(100, 190)], [(90, 160)], [(72, 104)]),
        _band(1, 3, "toddler", [(22, 37)], [(98, 140)], [(80, 120)], [(86, 106)]),
        _band(3, 6, "preschool", [(20, 28)], [(80, 120)], [(65, 100)], [(89, 112)]),
        _band(6, 10, "school-age", [(18, 25)], [(75, 118)], [(58, 90)], [(97, 115)]),
        _band(10, 12, "preadolescent", [(18, 25)], [(75, 118)], [(58, 90)], [(102, 120)]),
        _band(12, ADULT_AGE, "adolescent", [(12, 20)], [(60, 100)], [(50, 90)], [(110, 131)]),
    ),
)

ALTERNATE_TABLES = (
    # Older PALS: the second awake heart rate of a band is aclsmedicaltraining's reading.
    VitalTable(
        "PALS 2006-2010",
        "older PALS editions as quoted by tomwademd and aclsmedicaltraining",
        (
            _band(0, 1, "infant", rr=[(30, 60)]),
            _band(1, 4, "toddler", rr=[(24, 40)]),
            _band(4, 6, "preschool", rr=[(22, 34)]),
            _band(6, 13, "school-age", rr=[(18, 30)]),
            _band(13, ADULT_AGE, "adolescent", rr=[(12, 16)]),
            _band(0, 0.25, "newborn to 3 months", hr=[(85, 205), (80, 205)], hr_asleep=[(80, 160)]),
            _band(
                0.25, 2, "3 months to 2 years", hr=[(100, 190), (75, 190)], hr_asleep=[(75, 160)]
            ),
            _band(2, 11, "2 to 10 years", hr=[(60, 140)], hr_asleep=[(60, 90)]),
            _band(10, ADULT_AGE, "over 10 years", hr=[(60, 100), (50, 100)], hr_asleep=[(50, 90)]),
        ),
    ),
    VitalTable(
        "EMS CUPS card",
        "EMS pocket reference card (docslib/studylib reproduction)",
        (
            _band(0, 1, "infant", rr=[(30, 60)], hr=[(100, 160)]),
            _band(1, 4, "toddler", rr=[(24, 40)], hr=[(90, 150)]),
            _band(3, 7, "preschool", rr=[(22, 34)], hr=[(80, 140)]),
            _band(6, 13, "school-age", rr=[(18, 30)], hr=[(70, 120)]),
            _band(12, ADULT_AGE, "adolescent", rr=[(12, 16)], hr=[(60, 100)]),
        ),
    ),
    VitalTable(
        "Wisconsin EMSC",
        "Wisconsin EMSC Quick Reference - Peds",
        (
            _band(0, NEONATE_END, "newborn", [(30, 60)], [(100, 180)], [(80, 160)], [(60, 90)]),
            _band(NEONATE_END, 1, "infant", [(30, 60)], [(100, 170)], [(75, 160)], [(87, 105)]),
            _band(1, 3, "toddler", [(24, 40)], [(80, 150)], [(60, 90)], [(85, 102)]),
            _band(3, 6, "preschool", [(20, 34)], [(70, 130)], [(60, 90)], [(89, 108)]),
            _band(6, 13, "school-age", [(15, 30)], [(65, 120)], [(60, 90)], [(94, 120)]),
            _band(13, ADULT_AGE, "adolescent", [(12, 20)], [(55, 90)], [(50, 90)], [(107, 132)]),
        ),
    ),
    VitalTable(
        "APLS",
        "APLS/PHPLS via Fleming et al. 2011 web appendix (SBP from a secondary site)",
        (
            _band(0, 1, "under 1 year", rr=[(30, 40)], hr=[(110, 160)], sbp=[(70, 90)]),
            _band(1, 3, "1-2 years", rr=[(25, 35)], hr=[(100, 150)], sbp=[(80, 95)]),
            _band(2, 6, "2-5 years", rr=[(25, 30)], hr=[(95, 140)], sbp=[(80, 100)]),
            _band(5, 13, "5-12 years", rr=[(20, 25)], hr=[(80, 120)], sbp=[(90, 110)]),
            _band(12, ADULT_AGE, "over 12 years", rr=[(15, 20)], hr=[(60, 100)], sbp=[(100, 120)]),
        ),
    ),
    VitalTable(
        "EPLS",
        "EPLS infant heart rate via Fleming et al. 2011 web appendix",
        (_band(0, 1, "infant", hr=[(100, 180)]),),
    ),
)

ALL_TABLES = (PALS_2015, *ALTERNATE_TABLES)


def _clamped(age_years: float) -> float:
    return min(max(age_years, 0.0), ADULT_AGE - 1e-9)


def canonical_band(age_years: float, vital: str) -> Band:
    """The PALS 2015 band that gives the canonical range of ``vital`` at this age."""
    age = _clamped(age_years)
    bands = [b for b in PALS_2015.bands if b.contains(age) and b.ranges[vital]]
    # The narrowest band wins (newborn rows sit inside the neonate row).
    return min(bands, key=lambda b: b.age_to - b.age_from)


def canonical_range(age_years: float, vital: str) -> tuple[int, int]:
    """The canonical normal range (awake, for heart rate) of ``vital`` at this age."""
    low, high, _ = canonical_band(age_years, vital).ranges[vital][0]
    return low, high


def published_ranges(
    age_years: float, vital: str, asleep: bool = False
) -> tuple[tuple[str, Range], ...]:
    """Every published normal range for ``vital`` at this age, with its table's name: the
    awake ones, and with ``asleep`` the asleep heart rates too."""
    age = _clamped(age_years)
    return tuple(
        (table.name, r)
        for table in ALL_TABLES
        for band in table.bands
        if band.contains(age)
        for r in band.ranges[vital]
        if asleep or not r.asleep
    )


def rounding_slack(end: int) -> int:
    """How far a quoted end may stand from a published one and still be that end, rounded:
    5 %, at least 2 (28 -> 2, so 20-30 is 20-28; 118 -> 6, so 80-120 is 75-118)."""
    return max(2, round(end * 0.05))


def matches(low: int, high: int, published: Range) -> bool:
    """Whether ``low-high`` is the published range, each end within its rounding slack."""
    return abs(low - published.low) <= rounding_slack(published.low) and abs(
        high - published.high
    ) <= rounding_slack(published.high)


def age_margin(age_years: float) -> float:
    """How far an age may be read either side of a band edge: the tables draw their edges a
    little apart, and ages are given rounded ("a 1-month-old" may be 29 days, on the PALS
    neonate row). A month, or 5 % of the age when that is more."""
    return max(1 / 12, 0.05 * age_years)


@lru_cache(maxsize=65536)  # pure; the same quotes are judged for many children of one age
def range_fits_age(
    low: float, high: float, age_years: float, vital: str, asleep: bool = False
) -> bool:
    """True when a quoted normal range matches a range some published table gives for this
    age, or an age within its margin (awake heart rates; with ``asleep``, the asleep ones as
    well)."""
    low, high = min(low, high), max(low, high)
    margin = age_margin(age_years)
    return any(
        matches(low, high, r)
        for age in (age_years - margin, age_years, age_years + margin)
        for _, r in published_ranges(age, vital, asleep)
    )


def hypotension_threshold(age_years: float) -> int:
    """PALS systolic hypotension cut-off: < 60 neonate, < 70 infant, < 70 + 2 x age (1-10 y),
    < 90 over 10 years."""
    if age_years < NEONATE_END:
        return 60
    if age_years < 1:
        return 70
    if age_years <= 10:
        return 70 + 2 * int(age_years)
    return 90


# The EMS "CUPS" card's lowest normal systolic BP by band (facts 3c, a secondary source):
# below it is hypotension.
CUPS_LOW_NORMAL_SBP = (
    (0, 1, 60),  # infant
    (1, 3, 70),  # toddler
    (3, 6, 75),  # preschool
    (6, 12, 80),  # school age
    (12, ADULT_AGE, 90),  # adolescent
)


def hypotension_thresholds(age_years: float) -> tuple[int, ...]:
    """The published systolic hypotension thresholds for this age: PALS (with the formula
    70 + 2 x age read with the age in whole years or as given, rounded) and the CUPS card."""
    age = _clamped(age_years)
    found = {hypotension_threshold(age)}
    if 1 <= age <= 10:
        found.add(round(70 + 2 * age))
        found.add(70 + 2 * math.ceil(age))  # a child in its year, rounded up
    found.update(t for start, end, t in CUPS_LOW_NORMAL_SBP if start <= age < end)
    return tuple(sorted(found))


@lru_cache(maxsize=65536)
def threshold_fits_age(threshold: float, age_years: float) -> bool:
    """Whether a stated hypotension threshold is a published one for this age (1 mmHg of
    rounding either side)."""
    return any(abs(threshold - t) <= 1 for t in hypotension_thresholds(age_years))


@lru_cache(maxsize=65536)
def floor_fits_age(floor: float, age_years: float) -> bool:
    """Whether a stated lowest normal systolic pressure ("normal SBP > 76") is a published one
    for this age: a hypotension threshold, or the low end of a published normal range (within
    its rounding slack, at an age within the band margin)."""
    if threshold_fits_age(floor, age_years):
        return True
    margin = age_margin(age_years)
    return any(
        abs(floor - r.low) <= rounding_slack(r.low)
        for age in (age_years - margin, age_years, age_years + margin)
        for _, r in published_ranges(age, "sbp")
    )


def age_band_label(age_years: float) -> str:
    """The PALS 2015 band name for an age (heart-rate/respiratory bands)."""
    return canonical_band(age_years, "rr").label
