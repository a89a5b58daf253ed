"""``wrong_vital_range``: find quoted normal ranges and judge them against the age.

A quote is a numeric range (``20-28``, ``20–28``, ``20 to 28``) after the word "normal" (or
"typical") in the same sentence, with a vital-sign unit or keyword. The vital is read from the
unit (breaths, beats/bpm, mmHg) or a keyword inside the quote; when the only keywords stand
elsewhere in the sentence ("weak pulse ... (normal 20-28/min)"), every vital they name is a
candidate and the quote passes if it fits one. The age is the nearest age mention in the
sentence ("normal 5yr", "for a 12-year-old", "infant"; "for her age" is the patient's), else
the patient's age. A range that a triage cut-off introduces ("the JumpSTART band of 15-45/min")
is not a quote, even after "normal" in the same sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from align.checks.text import ages_in, holds_any, line_segments, may_hold_any, possessive
from align.protocol.vitals import range_fits_age

_TRIGGER = re.compile(r"\b(?:normal|typical|reference range)\b", re.IGNORECASE)
_TRIGGER_LOWER = re.compile(_TRIGGER.pattern)  # the same, for lower-case ASCII text
# Opens with a digit, one character class, so that the regex engine jumps from digit to digit
# instead of trying every position; the lookbehind after the first digit is "(?<![\d.])"
# before it (the same matches). Both numbers are possessive: what follows each ("-", "to",
# "..", or "(?![\d.])") cannot match a digit given back, so the engine does not retry them.
_RANGE = re.compile(
    possessive(
        r"(\d(?<![\d.]\d)\d{0,2}+)\s*(?:-|–|—|to|\.\.)\s*(\d{1,3}+)(?![\d.])"
        r"(?P<unit>\s*(?:/\s*min\w*|per\s+min\w*|(?:breaths?|resp\w*)\b(?:\s*(?:/|per|a)\s*min\w*)?"
        r"|beats?\b(?:\s*(?:/|per|a)\s*min\w*)?|bpm\b|mm\s*hg\b"
        r"|kg\b|g\b|mg\b|mcg\b|ml\b|%|°|s\b|secs?\b|seconds?\b|min(?:utes?)?\b|hours?\b|h\b|hrs?\b"
        r"|years?\b|yrs?\b|yr\b|y\b|months?\b|mo\b|days?\b|cm\b|weeks?\b|joules?\b|j\b))?"
    ),
    re.IGNORECASE,
)
_UNIT_VITAL = (
    (re.compile(r"breath|resp", re.I), "rr"),
    (re.compile(r"beat|bpm", re.I), "hr"),
    (re.compile(r"mm\s*hg", re.I), "sbp"),
)
_PER_MINUTE = re.compile(r"/\s*min|per\s+min", re.I)
_KEYWORDS = re.compile(
    r"\b(?P<rr>rr|resp\w*|breath\w*|ventilat\w*)\b|\b(?P<hr>hr|heart\s*rate|pulse|heart)\b"
    r"|\b(?P<sbp>sbp|systolic|bp|blood\s*pressure)\b",
    re.IGNORECASE,
)


# A triage cut-off written just before a range is not a normal range, even after "normal" in
# the same sentence ("normal RR 20-28/min; 30 is inside the JumpSTART band of 15-45/min").
# (START in capitals: the protocol, not the verb.)
_CUTOFF = re.compile(r"(?i:jump\s?start|cut-?off|threshold|triage)|\bSTART\b")
# "for her age" names the patient's age, wherever other ages stand in the sentence.
_OWN_AGE = re.compile(r"\bfor (?:her|his|their|the child's|this child's) age\b", re.IGNORECASE)


@dataclass(frozen=True)
class RangeQuote:
    low: int
    high: int
    vitals: tuple[str, ...]  # candidate vitals; one when the quote names it
    age_years: float | None
    text: str
    span: tuple[int, int]  # offsets of "low-high" in the text that was searched

    def __init__(self, low, high, vitals, age_years, text, span):
        # The generated __init__ of a frozen dataclass sets each field by object.__setattr__,
        # twice the cost of the whole object here; the fields are stored as it would store
        # them (an `align pairs` build makes some 1,800 quotes).
        fields = self.__dict__
        fields["low"] = low
        fields["high"] = high
        fields["vitals"] = vitals
        fields["age_years"] = age_years
        fields["text"] = text
        fields["span"] = span


def _trigger(text: str) -> re.Match | None:
    """``_TRIGGER.search(text)``. An ASCII text is searched in lower case, where the words
    can be looked for as plain substrings first (most lines quote no range) and the regex
    needs no case folding (for ASCII, lower() is exactly the regex's folding; the offsets
    do not change)."""
    if not text.isascii():
        return _TRIGGER.search(text)
    lowered = text.lower()
    if not _has_trigger_word(lowered):
        return None
    return _TRIGGER_LOWER.search(lowered)


# Substring tests run before the regexes of this module (most text holds none of the words).
# Each returns False only where its regex cannot match: for ASCII text, lower() is exactly
# the regexes' case folding; other text always goes to the regex.
_TRIGGER_WORDS = ("normal", "typical", "reference range")


def _has_trigger_word(lowered: str) -> bool:
    return holds_any(lowered, _TRIGGER_WORDS)


def _may_quote(line: str) -> bool:
    """False only where no sentence of ``line`` can hold a trigger: an ASCII line without
    the words as substrings (a sentence is a part of its line)."""
    return may_hold_any(line, _TRIGGER_WORDS)


def _may_name_cutoff(segment: str) -> bool:
    """False only where ``_CUTOFF`` cannot match anywhere in ``segment`` (nor in a part of it):
    an ASCII text that holds none of its words ("START" in capitals, the others in any case)."""
    if not segment.isascii():
        return True
    lowered = segment.lower()
    return (
        "START" in segment
        or "jump" in lowered
        or "cut" in lowered
        or "threshold" in lowered
        or "triage" in lowered
    )


def _may_name_own_age(segment: str) -> bool:
    """False only where ``_OWN_AGE`` cannot match: an ASCII text without "age" (any case)."""
    return may_hold_any(segment, ("age",))


def _keywords(text: str) -> list[tuple[int, str]]:
    return [(m.start(), m.lastgroup or "") for m in _KEYWORDS.finditer(text)]  # all groups named


def _vitals_for(segment: str, trigger_end: int, match: re.Match) -> tuple[str, ...]:
    unit = match.group("unit") or ""
    by_unit, per_minute = _unit_vitals(unit)
    if by_unit is not None:
        return by_unit
    inside = _keywords(segment[trigger_end : match.start()])
    if inside:
        return (inside[-1][1],)
    before = _keywords(segment[: match.start()])
    vitals = tuple(dict.fromkeys(v for _, v in reversed(before)))
    if per_minute:
        vitals = tuple(v for v in vitals if v != "sbp")
    return vitals


@lru_cache(maxsize=4096)
def _unit_vitals(unit: str) -> tuple[tuple[str, ...] | None, bool]:
    """(the vitals a quote's unit gives, or None when the words around the quote decide;
    whether the unit is per minute). Memoized: a few units recur in every quote, and the
    regexes cost more than the lookup."""
    for pattern, vital in _UNIT_VITAL:
        if pattern.search(unit):
            return (vital,), False  # per minute or not, the unit names the vital
    per_minute = _PER_MINUTE.search(unit) is not None
    if unit.strip() and not per_minute:
        return (), False  # a non-vital unit: mL, kg, seconds, years ...
    return None, per_minute


def _age_named(segment: str, position: int) -> float | None:
    """The age mentioned nearest to ``position`` in the sentence, if any ("for her age" is the
    patient's: None)."""
    mentions = _age_mentions(segment)
    if not mentions:
        return None
    return min(mentions, key=lambda m: abs(m[0] - position))[1]


@lru_cache(maxsize=65536)
def _age_mentions(segment: str) -> tuple[tuple[int, float | None], ...]:
    """(offset, age) of every age the sentence names; memoized: the same sentences recur in
    many lines, and reading ages is the costliest regex of the detectors."""
    mentions: list[tuple[int, float | None]] = list(ages_in(segment))
    if _may_name_own_age(segment):
        mentions.extend((m.start(), None) for m in _OWN_AGE.finditer(segment))
    return tuple(mentions)


def quoted_ranges(text: str, patient_age: float | None = None) -> list[RangeQuote]:
    """Every normal-range quote in ``text`` with its candidate vitals, age and offsets; a
    quote that names no age takes the patient's."""
    quotes, line_start = [], 0
    for line in text.split("\n"):
        for quote in line_quotes(line):
            span = (line_start + quote.span[0], line_start + quote.span[1])
            age = quote.age_years if quote.age_years is not None else patient_age
            # Built directly: dataclasses.replace costs twice as much.
            quotes.append(RangeQuote(quote.low, quote.high, quote.vitals, age, quote.text, span))
        line_start += len(line) + 1
    return quotes


@lru_cache(maxsize=65536)
def line_quotes(line: str) -> tuple[RangeQuote, ...]:
    """The quotes in one line, spans relative to the line, ``age_years`` the age the text
    names (None when it names none). Memoized: lines repeat across responses."""
    # Most lines quote no range: skip the sentence split. Each sentence is searched for the
    # trigger itself, so the line needs only the cheap substring test.
    if not _may_quote(line):
        return ()
    quotes = []
    for offset, segment in line_segments(line):
        trigger = _trigger(segment)
        if not trigger:
            continue
        previous_end = trigger.end()
        cutoff_words = _may_name_cutoff(segment)  # a context is a part of the segment
        for match in _RANGE.finditer(segment, trigger.end()):
            context = segment[max(previous_end, match.start() - 40) : match.start()]
            previous_end = match.end()
            vitals = _vitals_for(segment, trigger.end(), match)
            if not vitals or (cutoff_words and _CUTOFF.search(context)):
                continue
            low, high = sorted((int(match.group(1)), int(match.group(2))))
            age = _age_named(segment, match.start())
            span = (offset + match.start(1), offset + match.end(2))
            quotes.append(RangeQuote(low, high, vitals, age, match.group(0).strip(), span))
    return tuple(quotes)


def wrong_ranges(quotes: tuple[RangeQuote, ...], patient_age: float | None) -> list[dict]:
    """Details of every quote that fits no published table for its age (the age the quote
    names, else the patient's)."""
    return [range_detail(quote, age) for quote, age in wrong_quotes(quotes, patient_age)]


def wrong_quotes(
    quotes: tuple[RangeQuote, ...], patient_age: float | None
) -> list[tuple[RangeQuote, float]]:
    """(quote, its age) of every quote that fits no published table for its age (the age the
    quote names, else the patient's): what ``wrong_ranges`` details."""
    wrong = []
    for quote in quotes:
        age = quote.age_years if quote.age_years is not None else patient_age
        if age is None or any(range_fits_age(quote.low, quote.high, age, v) for v in quote.vitals):
            continue
        wrong.append((quote, age))
    return wrong


def range_detail(quote: RangeQuote, age: float) -> dict:
    """The detail of a wrong quote (a new dict each call: callers own it)."""
    return {
        "range": [quote.low, quote.high],
        "vital": quote.vitals[0] if len(quote.vitals) == 1 else list(quote.vitals),
        "age_years": age,
        "quote": quote.text,
    }
