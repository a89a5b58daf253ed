"""Reading a dose line: the drugs a sentence names, which of them each quantity belongs to,
its routes and concentration, and which figures are doses to give (not limits, equipment,
negated figures or warnings)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from align.checks.doses.drugs import (
    ANAPHYLAXIS,
    ARREST,
    CONTAINER_AFTER,
    DEVICE_DOSES,
    DIGIT,
    DRUG_OF_NAME,
    DRUGS,
    FILLER,
    LIMIT_AFTER,
    LIMIT_BEFORE,
    LIMIT_NOT_AFTER,
    NAME_TOKENS,
    NAMES,
    NEGATION_HEADING,
    NOT_DOSED,
    NOT_GIVEN,
    ONE_WORD_NAMES,
    ROUTE_COMPARED,
    THRESHOLD_AFTER,
    THRESHOLD_BEFORE,
    TOKEN,
    UNJUDGED_ROUTES,
    WARNINGS,
    Drug,
    may_name_a_drug,
    normal_name,
)
from align.checks.doses.quantities import (
    DEXTROSE_STRENGTH,
    QUANTITY,
    RANGE_BEFORE,
    RATIO,
    Quantity,
    quantities_in,
    with_digits,
)
from align.checks.text import clauses, is_negated, line_segments


@dataclass(frozen=True)
class Mention:
    drug: str
    text: str
    start: int
    end: int


@lru_cache(maxsize=65536)
def _mentions(sentence: str) -> tuple[Mention, ...]:
    found = []
    if not may_name_a_drug(sentence):
        return ()
    for m in NAMES.finditer(sentence):
        drug = DRUGS[_drug_named(m[0])]
        if drug.not_before is not None and drug.not_before.match(sentence, m.end()):
            continue  # "blood pressure", "glucose level", "fluid overload"
        found.append(Mention(drug.key, m[0], m.start(), m.end()))
    return tuple(found)


def _drug_named(name: str) -> str:
    """The drug a name found in text is (a plural is its singular's)."""
    normal = normal_name(name)
    for candidate in (normal, normal.removesuffix("s"), normal.removesuffix("es")):
        if candidate in DRUG_OF_NAME:
            return DRUG_OF_NAME[candidate]
    raise KeyError(name)


def _owner(sentence: str, mentions: tuple[Mention, ...], start: int, end: int) -> Mention | None:
    """The drug a figure at ``start:end`` belongs to: the one named right after it ("2.2 mg
    IM epinephrine", "3 mL of 1 mg/mL epinephrine"), else the last one before it, else the
    first one after it; None where the sentence names none."""
    after = [m for m in mentions if m.start >= end]
    if after and _is_filler(sentence[end : after[0].start]):
        return after[0]
    before = [m for m in mentions if m.end <= start]
    if before:
        return before[-1]
    return after[0] if after else None


def _is_filler(gap: str) -> bool:
    """Whether only filler stands between a figure and a drug name: "of the", "IM", a
    concentration."""
    gap = QUANTITY.sub(" ", RATIO.sub(" ", gap))
    words = re.findall(r"[\w/.]+", gap.lower())
    return len(gap) <= 40 and all(normal_name(w).strip(".") in FILLER for w in words)


# --- clauses ------------------------------------------------------------------------------


@lru_cache(maxsize=65536)
def clause_spans(sentence: str) -> tuple[tuple[int, str], ...]:
    """The clauses of a sentence with their offsets."""
    spans, cursor = [], 0
    for clause in clauses(sentence):
        at = sentence.find(clause, cursor)
        if at < 0:
            continue
        spans.append((at, clause))
        cursor = at + len(clause)
    return tuple(spans)


def _clause_at(spans: tuple[tuple[int, str], ...], position: int) -> tuple[int, str]:
    for at, clause in reversed(spans):
        if at <= position:
            return at, clause
    return (0, spans[0][1]) if spans else (0, "")


@lru_cache(maxsize=65536)
def negated(sentence: str, position: int) -> bool:
    """Whether a negation (or a condition) governs the word at ``position`` in its clause
    (memoized: a figure is asked about once per drug, line and patient)."""
    at, clause = _clause_at(clause_spans(sentence), position)
    return is_negated(clause, position - at)


def under_negated_heading(sentence: str, spans: tuple[tuple[int, str], ...], position: int) -> bool:
    """Whether the clause at ``position`` follows a prohibition and a colon: "Medicines to
    avoid: aspirin, ibuprofen"."""
    at, _ = _clause_at(spans, position)
    head = sentence[:at].rstrip()
    if not head.endswith(":"):
        return False
    _, heading = _clause_at(spans, len(head) - 1)
    return bool(NEGATION_HEADING.search(heading))


@dataclass
class Reading:
    """What a sentence says about one drug."""

    drug: Drug
    mention: str
    quantities: list[Quantity]
    routes: set[str]  # non-negated routes named ("im", "iv")
    concentration: float | None  # mg/mL stated
    strength: float | None  # percent stated (dextrose)


@dataclass(frozen=True)
class Patient:
    weight_kg: float | None  # stated in the prompt
    age_years: float | None
    hazards: tuple[str, ...]


@lru_cache(maxsize=65536)  # a line recurs in many answers (a gold answer and its variants)
def has_dose_statement(line: str) -> bool:
    """Whether a line names a drug the detector knows or gives an amount (the only lines
    ``line_wrong_doses`` can flag; an amount may belong to the drug of a heading above)."""
    line = with_digits(line)
    words = TOKEN.findall(line.lower())
    if not NAME_TOKENS.isdisjoint(words) and (
        not ONE_WORD_NAMES.isdisjoint(words) or NAMES.search(line)
    ):
        return True
    return DIGIT.search(line) is not None and any(
        q.kind in ("amount", "per_kg") for q in quantities_in(line)
    )


# A drug heading: a short line naming a drug and no dose ("**Epinephrine (1 mg/mL):**"),
# whose drug the doses of the lines below it are for.
_HEADING_WORDS = 6


@lru_cache(maxsize=65536)
def drug_heading(line: str) -> tuple | None:
    """The drug a heading line names, as (drug, routes, concentration, strength), or None
    where the line is no drug heading."""
    text = re.sub(r"[*#_`]", "", line).strip().rstrip(":").strip()
    if not text or len(text.split()) > _HEADING_WORDS:
        return None
    readings = [r for r in _readings(text, None) if r.mention]
    if len(readings) != 1 or any(q.kind in ("amount", "per_kg") for q in quantities_in(text)):
        return None
    r = readings[0]
    return (r.drug.key, frozenset(r.routes), r.concentration, r.strength)


@lru_cache(maxsize=65536)
def line_readings(
    line: str, heading: tuple | None
) -> tuple[bool, bool, tuple[tuple[str, tuple[Reading, ...]], ...]]:
    """What a line says, whoever the child: (names an arrest, names anaphylaxis, each
    sentence with its readings). Memoized: a line is judged for many children; the readings
    are only read after."""
    carried: Reading | None = None
    if heading is not None:
        key, routes, concentration, strength = heading
        carried = Reading(DRUGS[key], "", [], set(routes), concentration, strength)
    sentences = []
    for _, sentence in line_segments(line):
        # "...; O2 15 L": oxygen's flow is no figure of the drug named before
        readings = _readings(sentence, None if NOT_DOSED.search(sentence) else carried)
        sentences.append((sentence, tuple(readings)))
        named = [r for r in readings if r.mention]
        if named:
            carried = named[-1]
    arrest = bool(ARREST.search(line))
    return arrest, bool(ANAPHYLAXIS.search(line)), tuple(sentences)


def _readings(sentence: str, carried: Reading | None) -> list[Reading]:
    """Each drug of the sentence with its quantities, routes and concentration; figures of a
    sentence that names no drug go to the drug of an earlier sentence (``carried``)."""
    mentions = _mentions(sentence)
    quantities = quantities_in(sentence)
    group = _mention_groups(mentions)
    readings: dict[int, Reading] = {}
    for m in mentions:
        if group[m.start] not in readings:
            readings[group[m.start]] = Reading(
                DRUGS[m.drug], m.text, [], set(), None, _strength_named(m)
            )
    if carried is not None:
        readings[-1] = Reading(
            carried.drug, "", [], set(carried.routes), carried.concentration, carried.strength
        )

    def key_of(start: int, end: int) -> int | None:
        owner = _owner(sentence, mentions, start, end)
        if owner is not None:
            return group[owner.start]
        return -1 if carried is not None else None

    for q in quantities:
        if q.kind == "weight":
            continue  # the sentence's, below
        key = key_of(q.start, q.end)
        if key is None:
            if q.kind == "per_kg":  # a per-kg dose of no named drug: its arithmetic still counts
                readings.setdefault(-2, Reading(_UNKNOWN, "", [], set(), None, None))
                readings[-2].quantities.append(q)
            continue
        reading = readings[key]
        if q.kind == "concentration":
            reading.concentration = q.value
        elif q.kind == "strength":
            if reading.drug.key == "dextrose":
                reading.strength = q.value
        else:
            reading.quantities.append(q)
    for reading in readings.values():
        implied = DEVICE_DOSES.get(reading.mention.lower())
        if implied is not None and not any(q.kind == "amount" for q in reading.quantities):
            # "epipen jr 0.15 into his thigh": the device says the dose
            where = sentence.lower().find(reading.mention.lower())
            end = where + len(reading.mention)
            dose = Quantity("amount", "mass", implied, None, f"{implied:g}", "mg", 1.0, where, end)
            reading.quantities.append(dose)
    for key, reading in readings.items():
        for route in reading.drug.routes:
            for m in route.words.finditer(sentence):
                compared = ROUTE_COMPARED.search(sentence[max(0, m.start() - 12) : m.start()])
                if key_of(m.start(), m.end()) != key or compared:
                    continue
                if not negated(sentence, m.start()):
                    reading.routes.add(route.key)
    weights = [q for q in quantities if q.kind == "weight" and not _is_threshold(sentence, q)]
    for reading in readings.values():
        reading.quantities.extend(weights)
    return list(readings.values())


def _strength_named(mention: Mention) -> float | None:
    """The dextrose strength a name gives: "D10" -> 10."""
    strength = DEXTROSE_STRENGTH.search(normal_name(mention.text))
    return float(strength[1]) if strength else None


def _mention_groups(mentions: tuple[Mention, ...]) -> dict[int, int]:
    """Each mention's group (the start of its first mention): a name that repeats the drug
    of the mention before it ("a fluid bolus ... of 0.9% saline") is the same drug, unless
    it names another strength ("D10 ..., or D25 ...")."""
    group: dict[int, int] = {}
    previous: Mention | None = None
    for m in mentions:
        same = (
            previous is not None
            and previous.drug == m.drug
            and _strength_named(m) in (None, _strength_named(previous))
        )
        group[m.start] = group[previous.start] if same else m.start
        if not same or _strength_named(m) is not None:
            previous = m
    return group


_UNKNOWN = Drug("", "", 0.0, (), (), None, None, None, "")


def _is_threshold(sentence: str, q: Quantity) -> bool:
    """Whether a weight is a band or threshold ("19-23 kg", "under 30 kg", "30 kg or more"),
    not the child's."""
    before = sentence[max(0, q.start - 24) : q.start]
    if RANGE_BEFORE.search(before):
        return True
    return bool(THRESHOLD_BEFORE.search(before) or THRESHOLD_AFTER.match(sentence[q.end :]))


def _is_limit(sentence: str, q: Quantity, alone: bool = False) -> bool:
    """A figure that is a limit, not a dose: "up to 60 mL/kg", "0.3 mg max" (not "round up
    to 0.5 mg"). A figure ``alone`` (no other dose figure in the sentence) with "max" after
    it is the dose, at its maximum: "so 0.3 mg (max for a child)"."""
    if LIMIT_AFTER.match(sentence[q.end :]):
        return not alone
    before = sentence[max(0, q.start - 40) : q.start]
    limit = LIMIT_BEFORE.search(before)
    return limit is not None and not LIMIT_NOT_AFTER.search(before[: limit.start()])


def _is_container(sentence: str, q: Quantity) -> bool:
    """A volume that sizes equipment ("a 500 mL bag"), unless the whole of it is given ("give
    the whole 500 mL bag")."""
    if q.dim != "volume" or not CONTAINER_AFTER.match(sentence[q.end :]):
        return False
    return not _WHOLE_BEFORE.search(sentence[max(0, q.start - 16) : q.start])


_WHOLE_BEFORE = re.compile(r"\b(?:whole|entire|full|all of the|all the)\s*$", re.IGNORECASE)


def doses_to_give(sentence: str, quantities: list[Quantity]) -> list[Quantity]:
    """The amounts and per-kg figures that are doses to give: not limits, not equipment, not
    negated, not in a clause that warns of an error or tells what the child already had."""
    figures = [q for q in quantities if q.kind in ("amount", "per_kg")]
    alone = len(figures) == 1
    return [
        q
        for q in figures
        if not _is_limit(sentence, q, alone)
        and not _is_container(sentence, q)
        and not _for_a_weight_band(sentence, q)
        and not _is_cumulative(q, figures)
        and not _SUPERSEDED.match(sentence, q.end)
        and not warned(sentence, q.start)
        and not negated(sentence, q.start)
    ]


# A figure the cap replaces, the capped figure given after it: "Weight-based 0.55 mg, capped
# at 0.5" (not "= 0.5 mg, capped at the maximum", where the figure is the capped dose).
_SUPERSEDED = re.compile(r"[\s,;]*(?:capped|limited|rounded down)\s+(?:at|to)\s+\d", re.IGNORECASE)


def _for_a_weight_band(sentence: str, q: Quantity) -> bool:
    """An amount for a weight band, a rule rather than this child's dose: "0.5 mg (30 kg and
    over)", "0.3 mg for over 25 kg", "for children over 30 kg, 0.5 mg"."""
    if q.kind != "amount":
        return False
    return any(
        w.kind == "weight" and abs(w.start - q.start) <= 30 and _is_threshold(sentence, w)
        for w in quantities_in(sentence)
    )


def _is_cumulative(q: Quantity, figures: list[Quantity]) -> bool:
    """A per-kg figure that is a whole multiple of an earlier one, a running total: "20 mL/kg,
    repeat up to three times (60 mL/kg)"."""
    if q.kind != "per_kg":
        return False
    for other in figures:
        if other.kind != "per_kg" or other.start >= q.start or other.dim != q.dim:
            continue
        ratio = q.value / other.value if other.value else 0
        if ratio >= 2 and abs(ratio - round(ratio)) < 1e-9:
            return True
    return False


@lru_cache(maxsize=65536)
def warned(sentence: str, position: int) -> bool:
    """Whether the clause at ``position`` warns of an error, tells what the child had, or
    gives the drug by a route the dose rules do not cover (nebulised adrenaline for
    stridor: the facts file gives no rule to judge it by)."""
    at, clause = _clause_at(clause_spans(sentence), position)
    if WARNINGS.search(clause):
        return True
    # What the child had is told in the figure's own part of the clause: "Since an IV is
    # already in, give 0.1 mg IV" gives a dose; "if she already had 0.15 mg" does not.
    part_start = clause.rfind(",", 0, position - at) + 1
    part_end = clause.find(",", position - at)
    part = clause[part_start : part_end if part_end >= 0 else len(clause)]
    return bool(NOT_GIVEN.search(part) or UNJUDGED_ROUTES.search(part))
