"""Age-specific normal vital signs: one canonical table plus the published alternates.

Facts file section 3. The canonical table is AHA PALS 2015 as reproduced by PedsCases; it
is what generated data quotes. A quoted range is judged against every published table whose
band contains the child's age (older PALS, the EMS "CUPS" card, Wisconsin EMSC, APLS, EPLS),
because the references disagree: a quote fits when it lies inside the span those tables give
for that age (the seed's "normal 5yr: 20-30/min" lies inside 20..34). A range copied from
another age band (an infant's 30-53/min for a 12-year-old) does not.

Ages are in years; a band is ``[age_from, age_to)``. Vitals: ``rr`` (breaths/min), ``hr``
(beats/min, awake and asleep), ``sbp`` (systolic mmHg).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

VITALS = ("rr", "hr", "sbp")
VITAL_NAMES = {"rr": "respiratory rate", "hr": "heart rate", "sbp": "systolic BP"}
VITAL_UNITS = {"rr": "/min", "hr": "/min", "sbp": "mmHg"}

NEONATE_END = 28 / 365
ADULT_AGE = 18.0

Range = tuple[int, int]


@dataclass(frozen=True)
class Band:
    age_from: float
    age_to: float
    label: str
    ranges: dict[str, tuple[Range, ...]]

    def contains(self, age_years: float) -> bool:
        return self.age_from <= age_years < self.age_to


@dataclass(frozen=True)
class VitalTable:
    name: str
    source: str
    bands: tuple[Band, ...]


def _band(age_from, age_to, label, rr=(), hr=(), sbp=()) -> Band:
    return Band(age_from, age_to, label, {"rr": tuple(rr), "hr": tuple(hr), "sbp": tuple(sbp)})


# AHA PALS 2015 (PedsCases chart). HR rows hold (awake, asleep). PALS 2015 gives no neonatal
# RR row ("see infant"); its adolescent row (12-15 y) is extended to 18 y. BP bands differ
# from the HR/RR ones (school age 6-9 y, preadolescent 10-11 y), hence the split rows.
PALS_2015 = VitalTable(
    "PALS 2015",
    "AHA PALS 2015 via PedsCases Pediatric Vital Signs Reference Chart",
    (
        _band(0, 4 / 365, "newborn", rr=[(30, 53)], hr=[(100, 205), (90, 160)], sbp=[(60, 76)]),
        _band(0, NEONATE_END, "neonate", rr=[(30, 53)], hr=[(100, 205), (90, 160)], sbp=[(67, 84)]),
        _band(NEONATE_END, 1, "infant", rr=[(30, 53)], hr=[(100, 190), (90, 160)], sbp=[(72, 104)]),
        _band(1, 3, "toddler", rr=[(22, 37)], hr=[(98, 140), (80, 120)], sbp=[(86, 106)]),
        _band(3, 6, "preschool", rr=[(20, 28)], hr=[(80, 120), (65, 100)], sbp=[(89, 112)]),
        _band(6, 10, "school-age", rr=[(18, 25)], hr=[(75, 118), (58, 90)], sbp=[(97, 115)]),
        _band(10, 12, "preadolescent", rr=[(18, 25)], hr=[(75, 118), (58, 90)], sbp=[(102, 120)]),
        _band(
            12, ADULT_AGE, "adolescent", rr=[(12, 20)], hr=[(60, 100), (50, 90)], sbp=[(110, 131)]
        ),
    ),
)

ALTERNATE_TABLES = (
    VitalTable(
        "PALS 2006-2010",
        "older PALS editions as quoted by tomwademd and aclsmedicaltraining",
        (
            _band(0, 1, "infant", rr=[(30, 60)]),
            _band(1, 4, "toddler", rr=[(24, 40)]),
            _band(4, 6, "preschool", rr=[(22, 34)]),
            _band(6, 13, "school-age", rr=[(18, 30)]),
            _band(13, ADULT_AGE, "adolescent", rr=[(12, 16)]),
            _band(0, 0.25, "newborn to 3 months", hr=[(85, 205), (80, 160), (80, 205)]),
            _band(0.25, 3, "3 months to 2 years", hr=[(100, 190), (75, 160), (75, 190)]),
            _band(2, 11, "2 to 10 years", hr=[(60, 140), (60, 90)]),
            _band(10, ADULT_AGE, "over 10 years", hr=[(60, 100), (50, 90), (50, 100)]),
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
            _band(
                0, NEONATE_END, "newborn", rr=[(30, 60)], hr=[(100, 180), (80, 160)], sbp=[(60, 90)]
            ),
            _band(
                NEONATE_END, 1, "infant", rr=[(30, 60)], hr=[(100, 170), (75, 160)], sbp=[(87, 105)]
            ),
            _band(1, 3, "toddler", rr=[(24, 40)], hr=[(80, 150), (60, 90)], sbp=[(85, 102)]),
            _band(3, 6, "preschool", rr=[(20, 34)], hr=[(70, 130), (60, 90)], sbp=[(89, 108)]),
            _band(6, 13, "school-age", rr=[(15, 30)], hr=[(65, 120), (60, 90)], sbp=[(94, 120)]),
            _band(
                13,
                ADULT_AGE,
                "adolescent",
                rr=[(12, 20)],
                hr=[(55, 90), (50, 90)],
                sbp=[(107, 132)],
            ),
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

# Age words as responses write them -> (representative age in years, canonical label).
AGE_BAND_WORDS = {
    "newborn": 0.01,
    "neonate": 0.01,
    "neonatal": 0.01,
    "infant": 0.5,
    "baby": 0.5,
    "toddler": 2.0,
    "preschool": 4.0,
    "preschooler": 4.0,
    "school-age": 8.0,
    "school age": 8.0,
    "preadolescent": 10.5,
    "adolescent": 14.0,
    "teen": 14.0,
    "teenager": 14.0,
}


@lru_cache(maxsize=4096)
def canonical_band(age_years: float, vital: str) -> Band:
    """The PALS 2015 band that gives the canonical range of ``vital`` at this age."""
    age = min(max(age_years, 0.0), ADULT_AGE - 1e-9)
    bands = [b for b in PALS_2015.bands if b.contains(age) and b.ranges[vital]]
    # The narrowest band wins (newborn rows sit inside the neonate row).
    return min(bands, key=lambda b: b.age_to - b.age_from)


def canonical_range(age_years: float, vital: str) -> Range:
    """The canonical normal range (awake, for heart rate) of ``vital`` at this age."""
    return canonical_band(age_years, vital).ranges[vital][0]


@lru_cache(maxsize=4096)
def published_ranges(age_years: float, vital: str) -> tuple[tuple[str, Range], ...]:
    """Every published normal range for ``vital`` at this age, with its table's name."""
    age = min(max(age_years, 0.0), ADULT_AGE - 1e-9)
    found: list[tuple[str, Range]] = []
    for table in ALL_TABLES:
        for band in table.bands:
            if band.contains(age):
                found.extend((table.name, r) for r in band.ranges[vital])
    return tuple(found)


@lru_cache(maxsize=4096)
def published_span(age_years: float, vital: str) -> Range:
    """Lowest low and highest high over all published ranges for this age."""
    ranges = [r for _, r in published_ranges(age_years, vital)]
    return min(lo for lo, _ in ranges), max(hi for _, hi in ranges)


def span_tolerance(high: int) -> int:
    """Rounding slack at the span's edges (3%, at least 1): 34 -> 1, 140 -> 4."""
    return max(1, round(high * 0.03))


def range_fits_age(low: float, high: float, age_years: float, vital: str) -> bool:
    """True when a quoted normal range lies within what published tables say for this age."""
    low, high = min(low, high), max(low, high)
    span_low, span_high = published_span(age_years, vital)
    slack = span_tolerance(span_high)
    return span_low - slack <= low and high <= span_high + slack


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


def age_band_label(age_years: float) -> str:
    """The PALS 2015 band name for an age (heart-rate/respiratory bands)."""
    return canonical_band(age_years, "rr").label
