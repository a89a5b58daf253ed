"""Finding the quotes: normal ranges, hypotension thresholds, lowest normal pressures and
table rows in a line, each with its vitals and the age it names (what a quote is: the
package's docstring)."""

import re
from dataclasses import dataclass, replace
from functools import lru_cache

from align.checks.text import line_segments, may_hold_any
from align.checks.vital_ranges.patterns import (
    AFTER_TRIGGER,
    AFTER_TRIGGER_WITH_AGE,
    AFTER_WORDS,
    AGE_AFTER_WORD,
    AGE_AFTER_WORD_GATE,
    AGE_IN_NUMBERS,
    AGE_WORD,
    AGE_WORD_GATE,
    ASLEEP,
    BEFORE_TRIGGER,
    CLAUSE_BREAK,
    COMPARISON,
    CONTEXTS,
    CUTOFF,
    CUTOFF_REACH,
    DIGIT,
    EMPHASIS,
    FLOOR,
    FLOOR_GATE,
    FORMULA_RESULT,
    HYPOTENSION_GATE,
    HYPOTENSION_WORD,
    INTERVENTION,
    KEYWORD,
    KEYWORD_VITALS,
    MEASURE,
    NAMED_THRESHOLD,
    NEGATION_JUST_BEFORE,
    NUMBER_VALUES,
    NUMBER_WORD_GATE,
    NUMBER_WORDS,
    OPENING_BRACKET,
    OWN_AGE,
    OWN_AGE_GATE,
    PER_YEAR,
    POPULATION,
    PRESSURE,
    RANGES,
    ROW_END,
    ROW_HEAD,
    SAID_LOW,
    TAIL_END,
    THRESHOLD,
    UNIT,
    VITALS,
    WORDS,
)
from align.protocol.vitals import (
    ADULT_AGE,
)


@dataclass(frozen=True)
class RangeQuote:
    """A quoted norm: a range, or (``kind`` "hypotension") a threshold, ``low == high``."""

    low: int
    high: int
    vitals: tuple[str, ...]  # candidate vitals; one when the quote names it
    age_years: float | None  # the age the text names; None: the patient's
    text: str
    span: tuple[int, int]  # offsets of "low-high" (or the threshold) in the searched text
    asleep: bool = False  # a heart rate said to be asleep
    kind: str = "range"
    age_band: tuple[float, float] | None = None  # the ages an age word names ("toddler": 1-3)


@dataclass(frozen=True)
class _Age:
    start: int
    end: int
    years: float | None  # None: the patient's own age ("for her age")
    band: tuple[float, float] | None = None  # an age word's band; ``years`` is its middle


def quoted_ranges(text: str, patient_age: float | None = None) -> list[RangeQuote]:
    """Every quote in ``text`` with its candidate vitals, age and offsets; a quote that names
    no age takes the patient's."""
    quotes, line_start = [], 0
    for line in text.split("\n"):
        for quote in line_quotes(line):
            span = (line_start + quote.span[0], line_start + quote.span[1])
            age = quote_age(quote, patient_age)
            quotes.append(replace(quote, age_years=age, span=span))
        line_start += len(line) + 1
    return quotes


@lru_cache(maxsize=65536)
def line_quotes(line: str) -> tuple[RangeQuote, ...]:
    """The quotes in one line, spans relative to the line, ``age_years`` the age the text
    names (None when it names none). Memoized: lines repeat across responses."""
    in_words = may_hold_any(line, NUMBER_WORD_GATE)
    if not in_words and not DIGIT.search(line):
        return ()
    line = _without_emphasis(line)
    if _TABLE_ROW.fullmatch(line):
        return _table_row_quotes(line)
    # The cheap tests, once for the line: whether its sentences may hold a number in words,
    # or speak of hypotension.
    may_be_hypotension = may_hold_any(line, HYPOTENSION_GATE)
    quotes: list[RangeQuote] = []
    before = ""  # the sentence before, whose vital a sentence naming none may quote
    for offset, sentence in line_segments(line):
        earlier, before = before, sentence
        if not in_words and not DIGIT.search(sentence):
            continue  # no number: no quote
        # A sentence that names no vital may quote the one the sentence before named ("46
        # breaths a minute is over 45. (Normal for an infant is roughly 30-60 ...)"); only
        # that one, so a long line is read in time linear in its length.
        whole_line = sentence.strip() == line.strip()
        found = sentence_quotes(sentence, earlier, whole_line, in_words, may_be_hypotension)
        if offset:
            found = tuple(_shifted(q, offset) for q in found)
        quotes.extend(found)
    return tuple(quotes)


@lru_cache(maxsize=65536)
def sentence_quotes(
    sentence: str, earlier: str, whole_line: bool, in_words: bool, may_be_hypotension: bool
) -> tuple[RangeQuote, ...]:
    """The quotes of one sentence, spans relative to it; ``earlier``: the sentence before it,
    ``whole_line``: it is the whole line; ``in_words`` and ``may_be_hypotension``: the line
    may hold a number in words or speak of hypotension (False only where it cannot).
    Memoized: sentences recur in other lines."""
    range_pattern = RANGES[in_words, "between" in sentence.lower()]
    ranges = list(range_pattern.finditer(sentence))
    hypotension = may_be_hypotension and _about_hypotension(sentence)
    floors = list(FLOOR.finditer(sentence)) if may_hold_any(sentence, FLOOR_GATE) else []
    if not ranges and not hypotension and not floors:
        return ()  # most sentences: no ages to read
    ages = _ages(sentence)
    quotes = _range_quotes(sentence, ranges, ages, earlier, whole_line)
    if hypotension:
        quotes.extend(_threshold_quotes(sentence, ages))
    quotes.extend(_floor_quotes(sentence, floors, ages, quotes))
    return tuple(quotes)


# A row of a Markdown table: "| RR | 22 | 22–34 | ✅ |".
_TABLE_ROW = re.compile(r"\s*\|.*\|\s*")
_CELL = re.compile(r"[^|]+")
_MARK = re.compile(r"[✓✔✅☑❌✗✘⚠]")
# A triage band in a decision table ("| RR | 30 | 15–45 |"): the cut-off, not a norm.
_TABLE_CUTOFFS = {tuple(band) for band in CONTEXTS["cutoff_bands"]}


def _table_row_quotes(line: str) -> tuple[RangeQuote, ...]:
    """The ranges of a table row whose first cell names a vital: a cell that is only a range
    is that vital's norm ("| RR | 22 | 22–34 | ✅ |", the child's reading being one number),
    read as the row "RR 22–34" of a reference table."""
    cells = [m for m in _CELL.finditer(line) if m.group().strip()]
    if len(cells) < 2 or not KEYWORD.search(cells[0].group()):
        return ()
    head = cells[0].group().strip()
    quotes = []
    for cell in cells[1:]:
        if _MARK.search(cell.group()):
            continue  # "15–45 ✔": the reading held against a band, not a norm
        # a cell that names its own vital ("| BP | 92/58 | systolic 60–90 |") is read alone
        own = KEYWORD.search(cell.group()) is not None
        row = cell.group().strip() if own else f"{head} {cell.group().strip()}"
        shift = cell.start() + (len(cell.group()) - len(cell.group().lstrip()))
        if not own:
            shift -= len(head) + 1
        hypotension = may_hold_any(row, HYPOTENSION_GATE)
        for quote in sentence_quotes(row, "", True, True, hypotension):
            if (quote.low, quote.high) not in _TABLE_CUTOFFS:
                quotes.append(_shifted(quote, shift))
    return tuple(quotes)


def _shifted(quote: RangeQuote, offset: int) -> RangeQuote:
    """The quote with its span moved by ``offset`` (its sentence's place in the line)."""
    start, end = quote.span
    return RangeQuote(
        quote.low,
        quote.high,
        quote.vitals,
        quote.age_years,
        quote.text,
        (offset + start, offset + end),
        quote.asleep,
        quote.kind,
        quote.age_band,
    )


def _without_emphasis(line: str) -> str:
    """The line with its Markdown emphasis blanked out, same length (offsets hold): "below
    **70 mmHg**" reads as "below 70 mmHg"."""
    if "*" not in line and "__" not in line:
        return line
    return EMPHASIS.sub(lambda m: " " * len(m.group()), line)


def _about_hypotension(sentence: str) -> bool:
    """Whether a sentence speaks of hypotension: it names it, or calls the blood pressure low
    ("her blood pressure would count as low only under 90")."""
    if HYPOTENSION_WORD.search(sentence):
        return True
    return bool(SAID_LOW.search(sentence) and PRESSURE.search(sentence))


# --- normal ranges ----------------------------------------------------------------------------


def _range_quotes(
    sentence: str, ranges: list[re.Match], ages: list[_Age], earlier: str, whole_line: bool
) -> list[RangeQuote]:
    quotes = []
    previous_end = 0  # where the previous range (its unit, and an age bound to it) ended
    next_starts = [m.start() for m in ranges[1:]] + [len(sentence)] if ranges else []
    for match, next_start in zip(ranges, next_starts, strict=True):
        if any(a.start <= match.start() < a.end for a in ages):
            continue  # "ages 1-10", "1-3 years": an age, not a range of a vital
        unit = UNIT.match(sentence, match.end())
        unit_kind = unit.lastgroup if unit else None
        unit_end = unit.end() if unit else match.end()
        tail = _tail(sentence, unit_end)
        tail_age = _first_age_in(ages, unit_end, unit_end + len(tail))
        quoted = unit_kind != "other" and (
            BEFORE_TRIGGER.search(sentence, 0, match.start()) is not None
            or _said_of_population(sentence, match.start())
            or _said_of_after(tail, tail_age is not None)
            or (whole_line and _is_table_row(sentence, match.start(), unit_end))
            or _bracketed_after_age(sentence, ages, match.start())
        )
        if quoted and _is_band_check(match, sentence, previous_end):
            quoted = False  # "RR 26 (15-45 ok)": the triage band checked, not a norm
        if quoted and _NAMES_A_GROUP.match(sentence, unit_end):
            quoted = False  # "the APLS 5-12 range (20-25)": the first range names the group
        if quoted and not _excluded(sentence, previous_end, match.start(), tail):
            where = (previous_end, match.start(), next_start)
            vitals = _vitals(sentence, unit_kind, where, earlier, tail)
            if vitals:
                low, high = sorted((_value(match.group("low")), _value(match.group("high"))))
                age = tail_age or _nearest_age(ages, previous_end, match.start())
                before = sentence[previous_end : match.start()]
                asleep = bool(ASLEEP.search(before) or ASLEEP.search(tail))
                span = (match.start("low"), match.end("high"))
                text = sentence[match.start() : unit_end].strip()
                quotes.append(_quote(low, high, vitals, age, text, span, asleep))
        previous_end = max(unit_end, tail_age.end if tail_age else 0)
    return quotes


# A range followed by "range" and a bracketed range names the group whose range is in the
# brackets ("within the APLS 5–12 range (20–25)").
_NAMES_A_GROUP = re.compile(r"\s*(?:range|band|group|age\s+group|bracket)\s*\(\s*\d", re.IGNORECASE)


def _quote(low, high, vitals, age: _Age | None, text, span, asleep=False, kind="range"):
    years, band = (age.years, age.band) if age else (None, None)
    text = " ".join(text.split())  # blanked emphasis ("below **70**") leaves runs of spaces
    return RangeQuote(low, high, vitals, years, text, span, asleep, kind, band)


def _value(number: str) -> int:
    """A range end as a number: "28", "twenty-eight"."""
    if number.isdigit():
        return int(number)
    return sum(NUMBER_VALUES[word] for word in re.split(r"[-\s]+", number.lower()))


def _tail(sentence: str, start: int) -> str:
    """The few words after a range (and its unit) that still speak of it: up to a comma,
    bracket, sentence end or a word that opens another statement."""
    rest = sentence[start:]
    stop = TAIL_END.search(rest)
    rest = rest[: stop.start()] if stop else rest
    words = rest.split()
    if len(words) > AFTER_WORDS + 3:  # an "after" trigger may have up to three words
        rest = rest[: _nth_word_end(rest, AFTER_WORDS + 3)]
    return rest


def _nth_word_end(text: str, n: int) -> int:
    ends = [m.end() for m in re.finditer(r"\S+", text)]
    return ends[n - 1] if len(ends) >= n else len(text)


def _is_table_row(line: str, start: int, unit_end: int) -> bool:
    """Whether the line is only a vital, a range, its unit and a state ("awake")."""
    return bool(ROW_HEAD.fullmatch(line, 0, start) and ROW_END.fullmatch(line, unit_end))


def _said_of_population(sentence: str, start: int) -> bool:
    """Whether the range is said of a group of children named before it, with no number
    between ("Teenagers breathe between 20 and 30 a minute"; not "infants never walk): rate
    28 sits inside 15-45", where the range is held against the child's reading)."""
    groups = list(POPULATION.finditer(sentence, 0, start))
    return bool(groups) and not DIGIT.search(sentence, groups[-1].end(), start)


def _bracketed_after_age(sentence: str, ages: list[_Age], start: int) -> bool:
    """Whether the range stands in brackets right after an age: "fast for a 5-year-old
    (20-28)", "high for her age (12-20/min)"."""
    return any(OPENING_BRACKET.fullmatch(sentence, a.end, start) for a in ages if a.end <= start)


def _said_of_after(tail: str, names_an_age: bool) -> bool:
    """Whether the words right after a range call it the norm ("is fine for her", "is
    normal", with an age: "teen range"), with no comparison before that word ("is well above
    normal")."""
    trigger = AFTER_TRIGGER.search(tail)
    if not trigger and names_an_age:
        trigger = AFTER_TRIGGER_WITH_AGE.search(tail)
    if not trigger:
        return False
    lead = tail[: trigger.start()]
    return len(lead.split()) <= AFTER_WORDS and not COMPARISON.search(lead)


def _is_band_check(match: re.Match, sentence: str, previous_end: int) -> bool:
    """A range equal to a triage band (JumpSTART's 15-45/min) with no norm's trigger before
    it since the range before it: the band a reading was checked against, not a claim about
    the child's norm ("normal for a 2-year-old is 24-40, so in range and well inside
    15-45")."""
    band = tuple(sorted((_value(match.group("low")), _value(match.group("high")))))
    if band not in _TABLE_CUTOFFS:
        return False
    if _CHECKED.match(sentence, match.end()):
        return True  # "breathing 34 (15-45 OK)", "RR 26 (15-45 ✅)"
    return not BEFORE_TRIGGER.search(sentence, previous_end, match.start())


# A mark right after a range that says a reading passed it.
_CHECKED = re.compile(r"\s*(?:/min\s*)?(?:ok\b|okay\b|fine\b|✓|✔|✅|☑)", re.IGNORECASE)


def _excluded(sentence: str, previous_end: int, start: int, tail: str) -> bool:
    """A triage cut-off just before the range or right after it, an intervention's rate (one
    named anywhere before it in the sentence) or a negated range: not a quote of the norm."""
    near = sentence[max(previous_end, start - CUTOFF_REACH) : start]
    return bool(
        _governing_cutoff(near)
        or CUTOFF.search(tail)
        or _governing_intervention(sentence, start)
        or NEGATION_JUST_BEFORE.search(sentence, previous_end, start)
    )


def _governing_intervention(sentence: str, start: int) -> bool:
    """Whether an intervention named before a range gives its rate ("rescue breathing ...
    20-30/min", "compressions should be 100-120"): not when a clause after it names the
    vital ("apneic after the rescue-breath trial, normal RR 18-25")."""
    interventions = list(INTERVENTION.finditer(sentence, 0, start))
    if not interventions:
        return False
    clause = CLAUSE_BREAK.search(sentence, interventions[-1].end(), start)
    return clause is None or KEYWORD.search(sentence, clause.end(), start) is None


def _governing_cutoff(near: str) -> bool:
    """Whether a triage cut-off word before a range governs it: not when the child's reading
    and then a trigger stand between ("JumpSTART: RR 26 (nl 30-60 for age)": the cut-off
    heads the reading, the range is the norm)."""
    cutoffs = list(CUTOFF.finditer(near))
    if not cutoffs:
        return False
    after = near[cutoffs[-1].end() :]
    reading = DIGIT.search(after)
    return not (reading and BEFORE_TRIGGER.search(after, reading.end()))


def _vitals(
    sentence: str, unit_kind: str | None, where: tuple[int, int, int], earlier: str, tail: str
) -> tuple:
    """The vital the unit names; else the last keyword between the last trigger (or the
    previous range) and the range, unless another measure stands nearer ("GCS") or right
    after it ("46-72 diastolic"); else every vital named since the previous range, or in the
    sentence before the next range, nearest first, and those earlier in the line unless the
    sentence named one before it (the quote passes if it fits one); else, for a per-minute
    range, the breathing or the heart rate. ``where``: (previous range's end, this range's
    start, next range's start)."""
    previous_end, start, next_start = where
    if unit_kind in VITALS:
        return (unit_kind,)
    after = MEASURE.match(tail.lstrip())
    if after and after.lastgroup == "other":
        return ()
    trigger = None
    for trigger in BEFORE_TRIGGER.finditer(sentence, previous_end, start):  # noqa: B007
        pass  # the last one
    window_start = trigger.end() if trigger else previous_end
    inside = list(MEASURE.finditer(sentence, window_start, start))
    if inside and inside[-1].lastgroup == "other":
        return ()  # "normal GCS 13-15"
    if inside:
        return _per_minute(KEYWORD_VITALS[inside[-1].lastgroup], unit_kind)
    named = list(KEYWORD.finditer(sentence, previous_end, start)) or list(
        KEYWORD.finditer(sentence, 0, next_start)
    )
    named.sort(key=lambda m: abs(m.start() - start))
    vitals = tuple(dict.fromkeys(v for m in named for v in KEYWORD_VITALS[m.lastgroup]))
    if not KEYWORD.search(sentence, 0, start):
        # named only after the range, or nowhere: the vital the line spoke of before it
        # counts too ("RR 28 (...; the preschool norm is about 22–34) → pulse")
        vitals = tuple(dict.fromkeys(vitals + _named_vitals(earlier)))
    if not vitals and unit_kind == "per_minute":
        vitals = ("rr", "hr")  # "his normal would be 18-25 a minute"
    return _per_minute(vitals, unit_kind)


def _named_vitals(text: str) -> tuple[str, ...]:
    """The vitals a text names, last named first."""
    named = reversed(list(KEYWORD.finditer(text)))
    return tuple(dict.fromkeys(v for m in named for v in KEYWORD_VITALS[m.lastgroup]))


def _per_minute(vitals: tuple[str, ...], unit_kind: str | None) -> tuple[str, ...]:
    """Without the blood pressure when the unit is per minute; only the blood pressure has
    no per-minute unit ("12-20 a minute" is no pressure), so without a unit all stand."""
    if unit_kind == "per_minute":
        return tuple(v for v in vitals if v != "sbp")
    return vitals


# --- hypotension thresholds -------------------------------------------------------------------


def _threshold_quotes(sentence: str, ages: list[_Age]) -> list[RangeQuote]:
    quotes, seen = [], set()
    for match in THRESHOLD.finditer(sentence):
        value = match
        if match.group("formula"):  # "below 70 + 2 x 5 = 80": the result is the threshold
            value = FORMULA_RESULT.search(sentence, match.end())
            if not value:
                continue
        start, end = value.span("value")
        if start in seen or not _is_systolic(sentence, match.start(), end):
            continue
        seen.add(start)
        threshold = int(value.group("value"))
        unit = UNIT.match(sentence, end)
        unit_end = unit.end() if unit else end
        tail_age = _first_age_in(ages, unit_end, unit_end + len(_tail(sentence, unit_end)))
        age = tail_age or _nearest_age(ages, 0, start)
        text = sentence[match.start() : unit_end].strip()
        span = (start, end)
        quotes.append(_quote(threshold, threshold, ("sbp",), age, text, span, kind="hypotension"))
    for match in NAMED_THRESHOLD.finditer(sentence):
        group = "value" if match.group("value") else "after"
        start, end = match.span(group)
        if start in seen:
            continue
        seen.add(start)
        threshold = int(match.group(group))
        tail_age = _first_age_in(ages, match.end(), match.end() + len(_tail(sentence, match.end())))
        age = tail_age or _nearest_age(ages, 0, start)
        text = " ".join(match.group(0).split())
        quotes.append(
            _quote(threshold, threshold, ("sbp",), age, text, (start, end), kind="hypotension")
        )
    return quotes


def _floor_quotes(
    sentence: str, floors: list[re.Match], ages: list[_Age], norms: list[RangeQuote]
) -> list[RangeQuote]:
    """The lowest normal systolic pressures a sentence quotes: since the child's reading (the
    last figure before that is no age), the pressure named and a trigger ("nl SBP >100 at
    this age", "normal systolic for a 3-year-old is above 76"), or a norm word right after
    the figure ("SBP over 90 is normal"), or a list of norms before it ("Normal: RR 24-40,
    HR 90-150, SBP > 74"); a unit other than mmHg makes it no pressure."""
    quotes = []
    for match in floors:
        value = match
        if match.group("formula"):  # "at least 70 + 2 x age = 78": the result is the floor
            value = FORMULA_RESULT.search(sentence, match.end())
            if not value:
                continue
        start, end = value.span("value")
        unit = UNIT.match(sentence, end)
        if unit and unit.lastgroup != "sbp":
            continue
        window_start = _since_last_figure(sentence, ages, match.start())
        if not PRESSURE.search(sentence, window_start, match.start()):
            continue
        unit_end = unit.end() if unit else end
        tail = _tail(sentence, unit_end)
        said = (
            BEFORE_TRIGGER.search(sentence, window_start, start)
            or _said_of_after(tail, False)
            or any(q.span[1] <= window_start for q in norms)
        )
        if not said or _excluded(sentence, window_start, match.start(), tail):
            continue
        tail_age = _first_age_in(ages, unit_end, unit_end + len(tail))
        age = tail_age or _nearest_age(ages, window_start, start)
        text = sentence[window_start:unit_end].strip(" ,;:(")
        floor = int(value.group("value"))
        quotes.append(_quote(floor, floor, ("sbp",), age, text, (start, end), kind="floor"))
    return quotes


def _since_last_figure(sentence: str, ages: list[_Age], position: int) -> int:
    """Where the text after the last figure before ``position`` that is no age begins."""
    figures = [
        d.end()
        for d in DIGIT.finditer(sentence, 0, position)
        if not any(a.start <= d.start() < a.end for a in ages)
    ]
    return figures[-1] if figures else 0


def _is_systolic(sentence: str, below: int, value_end: int) -> bool:
    """The number after "below" is a systolic pressure: its unit is mmHg, or it has none and
    the measure named nearest to it is the blood pressure (or hypotension itself), not
    another vital or measure ("sats low, below 92")."""
    unit = UNIT.match(sentence, value_end)
    if unit:
        return unit.lastgroup == "sbp"
    named = sorted(MEASURE.finditer(sentence), key=lambda m: abs(m.start() - below))
    return bool(named) and named[0].lastgroup == "sbp"


# --- ages -------------------------------------------------------------------------------------


@lru_cache(maxsize=65536)
def _ages_cached(sentence: str) -> tuple[_Age, ...]:
    found: list[_Age] = []
    for m in AGE_IN_NUMBERS.finditer(sentence):
        unit = next(u for u in PER_YEAR if m.group(u))
        years = _years(m.group("n"), m.group("to")) / PER_YEAR[unit]
        found.append(_Age(m.start(), m.end(), years))
    if may_hold_any(sentence, AGE_AFTER_WORD_GATE):
        for m in AGE_AFTER_WORD.finditer(sentence):
            numbers = [float(n) for n in (m.group("n"), m.group("to")) if n]
            if max(numbers) <= ADULT_AGE:  # "normal for age 20-28" is a range, not an age
                found.append(_Age(m.start(), m.end(), _years(m.group("n"), m.group("to"))))
    if may_hold_any(sentence, AGE_WORD_GATE):
        for m in AGE_WORD.finditer(sentence):
            start, end = WORDS["ages"][" ".join(m.group(0).lower().split())]
            found.append(_Age(m.start(), m.end(), (start + end) / 2, (start, end)))
    if may_hold_any(sentence, OWN_AGE_GATE):
        found.extend(_Age(m.start(), m.end(), None) for m in OWN_AGE.finditer(sentence))
    # An age inside another ("age 5" within "age 5 years") counts once: the longer one.
    found.sort(key=lambda a: (a.start, -(a.end - a.start)))
    kept: list[_Age] = []
    for age in found:
        if kept and age.start < kept[-1].end:
            continue
        if _COMPARED_WITH.search(sentence, 0, age.start):
            continue  # "under 90, same as an adult": the age compared with, not the quote's
        kept.append(age)
    return tuple(kept)


_COMPARED_WITH = re.compile(
    r"\b(?:same\s+as|just\s+like|like|as\s+for|as\s+with|unlike)\s+(?:an?\s+|the\s+)?$",
    re.IGNORECASE,
)


def _ages(sentence: str) -> list[_Age]:
    return list(_ages_cached(sentence))


def _number(word: str) -> float:
    word = word.lower()
    return float(NUMBER_WORDS[word]) if word in NUMBER_WORDS else float(word)


def _years(number: str, to: str | None) -> float:
    """A number or the middle of a span of numbers ("1-3 years" is 2)."""
    return (_number(number) + _number(to)) / 2 if to else _number(number)


def _first_age_in(ages: list[_Age], start: int, end: int) -> _Age | None:
    return next((a for a in ages if start <= a.start < end), None)


def _nearest_age(ages: list[_Age], window_start: int, position: int) -> _Age | None:
    """The last age named between ``window_start`` and ``position``, else the age nearest to
    ``position`` anywhere in the sentence."""
    before = [a for a in ages if window_start <= a.start < position]
    if before:
        return before[-1]
    return min(ages, key=lambda a: abs(a.start - position), default=None)


def quote_age(quote: RangeQuote, patient_age: float | None) -> float | None:
    """The age a quote speaks of: the patient's when it names none, or names the patient's band
    ("a toddler" for a 20-month-old); else the age it names (an age word's middle)."""
    if quote.age_years is None or _in_band(patient_age, quote.age_band):
        return patient_age
    return quote.age_years


def _in_band(age: float | None, band: tuple[float, float] | None) -> bool:
    return age is not None and band is not None and band[0] <= age < band[1]
