"""Perturbations: turn a gold response into a plausible-but-wrong one.

Each perturbation intends exactly one finding code (the closed loop in ``pairs`` checks that
the rejected text shows that finding and no other). A perturbation returns up to ``count``
variants as (rejected text, detail); an empty list means it does not apply to the record
(no dose to corrupt, no hazard to violate, no patient to mis-triage).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from hashlib import blake2b
from typing import TypeVar

from align.checks.doses import line_totals
from align.checks.vital_ranges import judged_ages, line_quotes
from align.data.gold import GoldRecord
from align.protocol.colors import error_direction, triage_line
from align.protocol.decision import states_a_color
from align.protocol.dosing import format_amount
from align.protocol.hazards import contraindications_for
from align.protocol.schema import ParsedResponse, parse_response
from align.protocol.vitals import canonical_range, range_fits_age
from align.protocol.wording import split_sentences

Variant = tuple[str, dict]

# Plausible wrong colors, most plausible first (RED -> BLACK is the classic JumpSTART error of
# skipping the rescue breaths; GREEN is never under-triaged to BLACK).
UNDER_TRIAGE = {"RED": ("YELLOW", "BLACK", "GREEN"), "YELLOW": ("GREEN",)}
OVER_TRIAGE = {"YELLOW": ("RED",), "GREEN": ("YELLOW", "RED"), "BLACK": ("RED", "YELLOW")}

# Ages whose canonical ranges a wrong response borrows (another band's numbers).
DONOR_AGES = {
    "newborn": 0.01,
    "infant": 0.5,
    "toddler": 2.0,
    "preschool": 4.0,
    "school-age": 8.0,
    "preadolescent": 10.5,
    "adolescent": 14.0,
}
_NUMBERED = re.compile(r"^(\s*)(\d{1,2})([.)]\s+)")
_SEPARATOR = re.compile(r"\s*(?:-|–|—|‑|−|to|and|\.\.)\s*")  # as a range quote writes it


_Item = TypeVar("_Item")
_WORDS = struct.Struct("<8Q")  # a 64-byte digest as eight 64-bit numbers
_SPAN = 2**64


class Draws:
    """The random choices of one perturbation of one gold record, from a text key (``align
    pairs`` uses "seed:gold_id:perturbation"): 64-bit numbers read from BLAKE2b digests of the
    key and a block number, so they depend on nothing else (not PYTHONHASHSEED, not which
    other perturbations run). Nothing is hashed until the first draw.

    Not random.Random: seeding its Mersenne Twister costs about 4 us, and ``align pairs``
    needs one per record and perturbation that draws (about 2,000 a build, 4 % of its time);
    one digest here costs about 0.5 us and gives eight draws."""

    __slots__ = ("_blocks", "_numbers", "key")

    def __init__(self, key: str):
        self.key = key
        self._numbers: list[int] = []
        self._blocks = 0

    def _number(self) -> int:
        numbers = self._numbers
        if not numbers:
            block = f"{self.key}:{self._blocks}".encode()
            numbers.extend(_WORDS.unpack(blake2b(block, digest_size=64).digest()))
            self._blocks += 1
        return numbers.pop()

    def below(self, n: int) -> int:
        """A whole number in [0, n), each equally likely (a number at or past the last
        multiple of n below 2**64 is drawn again, so no remainder is favoured)."""
        if not 1 <= n <= _SPAN:
            raise ValueError(f"below() needs 1 <= n <= 2**64, got {n}")
        limit = _SPAN - _SPAN % n
        number = self._number()
        while number >= limit:
            number = self._number()
        return number % n

    def choice(self, items: Sequence[_Item]) -> _Item:
        return items[self.below(len(items))]

    def shuffle(self, items: list) -> None:
        """Shuffle ``items`` in place (Fisher-Yates); fewer than two items draw nothing."""
        for i in range(len(items) - 1, 0, -1):
            j = self.below(i + 1)
            items[i], items[j] = items[j], items[i]


@dataclass(slots=True)
class Context:
    record: GoldRecord
    parsed: ParsedResponse
    draws: Draws
    count: int
    under_share: float
    # The record's fields, read once: every perturbation reads them.
    text: str = field(init=False)  # the gold response (parsed.text)
    lines: tuple[str, ...] = field(init=False)  # its lines (parsed.raw_lines)
    scenario: dict = field(init=False)  # its scenario, {} when it has none
    expected: str | None = field(init=False)  # its expected triage color

    def __init__(
        self,
        record: GoldRecord,
        parsed: ParsedResponse,
        draws: Draws,
        count: int,
        under_share: float,
    ):
        self.record = record
        self.parsed = parsed
        self.draws = draws
        self.count = count
        self.under_share = under_share
        self.text = parsed.text
        self.lines = parsed.raw_lines
        self.scenario = record.scenario or {}
        self.expected = record.expected_triage


def _lines(ctx: Context) -> list[str]:
    """The response's lines, a fresh list to edit."""
    return list(ctx.lines)


def _section_lines(ctx: Context, key: str) -> list[int]:
    return [index for index, _, section, _ in ctx.parsed.line_rows if section == key]


def _without(lines: Sequence[str], drop: set[int]) -> str:
    """The text of ``lines`` without the lines at the indices in ``drop`` (indices of lines)."""
    # Slices between the dropped lines: work per dropped line, not per line kept.
    kept: list[str] = []
    start = 0
    for index in sorted(drop):
        kept.extend(lines[start:index])
        start = index + 1
    kept.extend(lines[start:])
    return "\n".join(kept)


def wrong_triage_color(ctx: Context) -> list[Variant]:
    expected = ctx.expected
    if expected is None or ctx.parsed.triage_line_index is None:
        return []
    n_under = min(round(ctx.count * ctx.under_share), len(UNDER_TRIAGE.get(expected, ())))
    n_over = min(ctx.count - n_under, len(OVER_TRIAGE.get(expected, ())))
    n_under = min(ctx.count - n_over, len(UNDER_TRIAGE.get(expected, ())))
    targets = (
        list(UNDER_TRIAGE.get(expected, ()))[:n_under]
        + list(OVER_TRIAGE.get(expected, ()))[:n_over]
    )
    variants = []
    for color in targets:
        lines = _lines(ctx)
        lines[ctx.parsed.triage_line_index] = triage_line(color)
        variants.append(
            (
                "\n".join(lines),
                {"from": expected, "to": color, "direction": error_direction(color, expected)},
            )
        )
    return variants


def missing_triage(ctx: Context) -> list[Variant]:
    """The triage line removed, and every sentence that gives the child a color ("so she is
    YELLOW (Delayed)"): an answer whose rationale still names the color has stated it."""
    index = ctx.parsed.triage_line_index
    if ctx.expected is None or index is None:
        return []
    kept = []
    for number, line in enumerate(ctx.lines):
        if number == index:
            continue
        if states_a_color(line):
            line = " ".join(s for s in split_sentences(line) if not states_a_color(s))
            if not line or _is_bare_heading(line):
                continue
        kept.append(line)
    return [("\n".join(kept), {"removed": "triage line and color statements"})]


def _is_bare_heading(line: str) -> bool:
    """A title such as "Rationale:" left with nothing after it once its sentences are gone."""
    return line.rstrip().endswith(":") and len(line.split()) <= 3


def triage_not_first(ctx: Context) -> list[Variant]:
    index = ctx.parsed.triage_line_index
    actions = ctx.parsed.section_rows.get("actions")  # (title, line_index, items)
    if index is None or actions is None or actions[1] < index:
        return []
    lines = ctx.lines
    moved = lines[index]
    rest = lines[:index] + lines[index + 1 :]
    at = actions[1] - 1  # just above Immediate Actions, below the rationale
    return [("\n".join([*rest[:at], moved, *rest[at:]]), {"moved_below": "rationale"})]


def _remove_section(ctx: Context, key: str, heading: str) -> list[Variant]:
    indices = _section_lines(ctx, key)
    if not indices:
        return []
    # The forms are shuffled before any text is built (the same draw as shuffling the two
    # variants), so a form the count leaves out is never built.
    forms = ["section removed", "heading left empty"]
    ctx.draws.shuffle(forms)
    variants = []
    for form in forms[: ctx.count]:
        if form == "section removed":
            text = _without(ctx.lines, set(indices))
        else:
            headed = _lines(ctx)
            headed[indices[0]] = heading
            text = _without(headed, set(indices[1:]))
        variants.append((text, {"form": form}))
    return variants


def missing_do_not(ctx: Context) -> list[Variant]:
    return _remove_section(ctx, "do_not", "Do NOT:")


def missing_reassessment(ctx: Context) -> list[Variant]:
    return _remove_section(ctx, "reassess", "Reassess if:")


def _in_text(ctx: Context, index: int, line: str, content: str) -> int:
    """Where ``content``, line ``index`` as the detectors read it, starts in the response."""
    start = sum(map(len, ctx.lines[:index])) + index  # the lines before and their "\n"s
    if len(content) == len(line):  # the line itself
        return start
    # An item's text without its list marker: the line's tail, stripped, so its last
    # occurrence (a later one would have to end in the trailing whitespace).
    return start + line.rindex(content)


def _found_in_lines(
    ctx: Context, find: Callable[[str], Iterable[_Item]]
) -> list[tuple[int, _Item]]:
    """(offset in the response of the line's text, what ``find`` finds) for each line, read
    as the detectors read it (without list markers), so that a perturbation edits what the
    detectors judge; for ``line_quotes`` the memo that gold validation filled answers."""
    found = []
    for index, line, _, content in ctx.parsed.line_rows:
        items = find(content)
        if items:
            at = _in_text(ctx, index, line, content)
            found.extend((at, item) for item in items)
    return found


def wrong_vital_range(ctx: Context) -> list[Variant]:
    text = ctx.text
    patient_age = ctx.scenario.get("age_years")
    quotes = []  # (start, end in the text, the quote, its age)
    for at, quote in _found_in_lines(ctx, line_quotes):
        # A range of one vital judged at one age (not an age word for another band, which
        # fits any age in it), so that the donor fits it no more than the detector allows.
        ages = judged_ages(quote, patient_age)
        if quote.kind == "range" and len(quote.vitals) == 1 and len(ages) == 1:
            quotes.append((at + quote.span[0], at + quote.span[1], quote, ages[0]))
    ctx.draws.shuffle(quotes)
    variants = []
    for start, end, quote, age in quotes:
        vital = quote.vitals[0]
        donors = donor_ranges(age, vital, quote.asleep)
        if not donors:
            continue
        band, (low, high) = ctx.draws.choice(donors)
        separator = _SEPARATOR.search(text[start:end])
        assert separator is not None  # a quote's span is "low<separator>high"
        rejected = f"{text[:start]}{low}{separator.group(0)}{high}{text[end:]}"
        variants.append(
            (
                rejected,
                {
                    "vital": vital,
                    "age_years": age,
                    "from": [quote.low, quote.high],
                    "to": [low, high],
                    "taken_from": band,
                },
            )
        )
        if len(variants) == ctx.count:
            break
    return variants


@lru_cache(maxsize=4096)
def donor_ranges(
    age_years: float, vital: str, asleep: bool = False
) -> tuple[tuple[str, tuple[int, int]], ...]:
    """Other age bands' canonical ranges that do not fit this age (the wrong-range pool); for
    a heart rate said to be asleep, ranges that fit no asleep row either."""
    donors: list[tuple[str, tuple[int, int]]] = []
    for band, age in DONOR_AGES.items():
        low, high = canonical_range(age, vital)
        if (low, high) not in [d[1] for d in donors] and not range_fits_age(
            low, high, age_years, vital, asleep
        ):
            donors.append((band, (low, high)))
    return tuple(donors)


def contraindicated_action(ctx: Context) -> list[Variant]:
    hazards = ctx.scenario.get("hazards")
    if not hazards:
        return []
    original = ctx.lines
    numbered_actions = {
        i: numbered
        for i in _section_lines(ctx, "actions")
        if (numbered := _NUMBERED.match(original[i])) is not None
    }
    action_lines = list(numbered_actions)
    if not action_lines:
        return []
    # Only actions tied to this scenario's hazards: an always-wrong action from another
    # setting (inducing vomiting in a crush case) would be implausible, not hard.
    wanted = set(hazards)
    options = [
        (rule, text)
        for rule in contraindications_for(hazards)
        if not wanted.isdisjoint(rule.hazards)  # shares a hazard: no set made per rule
        for text in rule.instructions
    ]
    ctx.draws.shuffle(options)
    # The number of each line from the first numbered action to the last, matched once for
    # all variants (each variant renumbers these lines plus the one it inserts).
    first, last = action_lines[0], action_lines[-1]
    span = [numbered_actions.get(i) or _NUMBERED.match(original[i]) for i in range(first, last + 1)]
    variants, used = [], set()
    for rule, instruction in options:
        if rule.key in used:
            continue
        used.add(rule.key)
        lines = list(original)
        after = ctx.draws.choice(action_lines)
        indent, _, separator = numbered_actions[after].groups()
        inserted = f"{indent}0{separator}{instruction}"
        lines.insert(after + 1, inserted)
        at = after + 1 - first  # the inserted line's place in the span
        matches = [*span[:at], _NUMBERED.match(inserted), *span[at:]]
        number = 0
        for i, numbered in enumerate(matches, first):
            if numbered:
                number += 1
                indent, _, separator = numbered.groups()
                lines[i] = f"{indent}{number}{separator}{lines[i][numbered.end() :]}"
        variants.append(("\n".join(lines), {"action": rule.key, "text": instruction}))
        if len(variants) == ctx.count:
            break
    return variants


def wrong_dose(ctx: Context) -> list[Variant]:
    text = ctx.text
    # Only instruction lines: the detector reads a Do NOT or triage line as no dose to give.
    totals = [
        (_in_text(ctx, index, line, content), total)
        for index, line, section, content in ctx.parsed.line_rows
        if section not in ("do_not", "triage")
        for total in line_totals(content)
    ]
    if not totals:
        return []
    weight = ctx.scenario.get("weight_kg")
    variants: list[Variant] = []
    ctx.draws.shuffle(totals)
    for at, ((start, end), stated, per_kg) in totals:
        start, end = at + start, at + end
        kinds = ["tenfold", "tenth"] + (["wrong_weight"] if weight else [])
        kind = ctx.draws.choice(kinds)
        if kind == "tenfold":
            wrong = stated * 10
        elif kind == "tenth":
            wrong = stated / 10
        else:
            assert weight is not None  # "wrong_weight" is drawn only when there is a weight
            wrong = per_kg * (weight + ctx.draws.choice((5, 8, 10)))
        new = format_amount(wrong)
        variants.append(
            (f"{text[:start]}{new}{text[end:]}", {"kind": kind, "from": text[start:end], "to": new})
        )
        if len(variants) == ctx.count:
            break
    return variants


@dataclass(frozen=True)
class Perturbation:
    name: str
    intended_code: str
    apply: Callable[[Context], list[Variant]]
    default_count: int
    description: str


PERTURBATIONS = {
    p.name: p
    for p in (
        Perturbation(
            "wrong_triage_color",
            "wrong_triage_color",
            wrong_triage_color,
            3,
            "the triage line names another color; under-triage weighted higher",
        ),
        Perturbation(
            "missing_do_not",
            "missing_do_not",
            missing_do_not,
            1,
            "the Do NOT list is removed or left empty",
        ),
        Perturbation(
            "wrong_vital_range",
            "wrong_vital_range",
            wrong_vital_range,
            2,
            "a quoted normal range is replaced by another age band's range",
        ),
        Perturbation(
            "triage_not_first",
            "triage_not_first",
            triage_not_first,
            1,
            "the triage line is buried below the rationale",
        ),
        Perturbation(
            "contraindicated_action",
            "contraindicated_action",
            contraindicated_action,
            2,
            "an action the scenario's hazards forbid is inserted as an instruction",
        ),
        Perturbation(
            "missing_reassessment",
            "missing_reassessment",
            missing_reassessment,
            1,
            "the reassessment triggers are removed or left empty",
        ),
        Perturbation(
            "wrong_dose",
            "wrong_dose",
            wrong_dose,
            1,
            "a weight-based dose total is off tenfold or computed for the wrong weight",
        ),
        Perturbation(
            "missing_triage", "missing_triage", missing_triage, 1, "the triage line is dropped"
        ),
    )
}
REQUIRED_PERTURBATIONS = ("wrong_triage_color", "missing_do_not", "wrong_vital_range")


def perturb(
    record: GoldRecord,
    name: str,
    draws: Draws,
    count: int,
    under_share: float = 2 / 3,
    parsed: ParsedResponse | None = None,
) -> list[Variant]:
    """Up to ``count`` rejected variants of ``record``'s response for perturbation ``name``,
    its random choices taken from ``draws``."""
    parsed = parsed or parse_response(record.response)
    ctx = Context(record, parsed, draws, count, under_share)
    return PERTURBATIONS[name].apply(ctx)
