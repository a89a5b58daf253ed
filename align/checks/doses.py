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

from align.checks.text import ages_in, clauses, holds_any, is_negated, line_segments
from align.checks.vocabulary import load
from align.protocol.dosing import (
    dose_span,
    formula_weight_range_kg,
    plausible_weight_range_kg,
    rounding_slack,
    weight_span_kg,
)

# --- vocabulary ---------------------------------------------------------------------------


def _phrase(word: str) -> str:
    """A vocabulary word as a pattern: a hyphen or space inside it may be either, or none."""
    return r"[-\s]?".join(re.escape(part) for part in re.split(r"[-\s]+", word.strip()))


def _words_pattern(words, prefix: str = "", suffix: str = "", plural: bool = False) -> re.Pattern:
    """Any of ``words`` as a whole word (longest first, ``plural``: with an "s" or "es" too),
    case-insensitive."""
    alternatives = "|".join(_phrase(w) for w in sorted(words, key=len, reverse=True))
    ending = r"(?:(?<=\w)e?s)?" if plural else ""
    return re.compile(rf"{prefix}(?<!\w)(?:{alternatives}){ending}(?!\w){suffix}", re.IGNORECASE)


def _normal(name: str) -> str:
    return re.sub(r"[-\s]+", "", name.lower())


@dataclass(frozen=True)
class AgeRule:
    up_to_years: float | None
    per_kg: tuple[float, float]
    strengths: tuple[float, ...] | None  # allowed percent strengths (dextrose), None: any
    why: str


@dataclass(frozen=True)
class Route:
    key: str
    words: re.Pattern
    indication: str
    why: str
    per_kg: tuple[float, float]
    concentration: float  # mg/mL a volume is read in when none is stated
    caps: tuple[tuple[float | None, float], ...]  # (below this weight, max); None: any weight
    fixed: tuple[dict, ...]

    def cap(self, weight_kg: float) -> float | None:
        for below_kg, most in self.caps:
            if below_kg is None or weight_kg < below_kg:
                return most
        return None


@dataclass(frozen=True)
class Drug:
    key: str
    unit: str  # "mg", "g", "ml" or "" (known, not checked)
    tolerance: float
    rules: tuple[AgeRule, ...]
    routes: tuple[Route, ...]
    not_before: re.Pattern | None
    oral: re.Pattern | None
    forbidden_under_years: float | None
    forbidden_why: str

    def rule_for(self, age_years: float | None) -> AgeRule | None:
        """The rule for a child of this age; for an unknown age the widest one."""
        if not self.rules:
            return None
        if age_years is None:
            return AgeRule(
                None,
                (min(r.per_kg[0] for r in self.rules), max(r.per_kg[1] for r in self.rules)),
                None,
                self.rules[-1].why,
            )
        for rule in self.rules:
            if rule.up_to_years is None or age_years <= rule.up_to_years:
                return rule
        return self.rules[-1]


def _route(key: str, table: dict) -> Route:
    return Route(
        key,
        _words_pattern(table["words"]),
        table["indication"],
        table["why"],
        tuple(table["per_kg"]),
        table["concentration"],
        tuple((c.get("below_kg"), c["max"]) for c in table["caps"]),
        tuple(table.get("fixed", ())),
    )


def _drug(key: str, table: dict) -> Drug:
    forbidden = table.get("forbidden", {})
    return Drug(
        key,
        table.get("unit", ""),
        table.get("tolerance", 0.0),
        tuple(
            AgeRule(
                r.get("up_to_years"),
                tuple(r["per_kg"]),
                tuple(r["strengths"]) if "strengths" in r else None,
                r["why"],
            )
            for r in table.get("rules", ())
        ),
        tuple(_route(k, t) for k, t in table.get("routes", {}).items()),
        _words_pattern(table["not_before"], prefix=r"\s*") if "not_before" in table else None,
        _words_pattern(table["oral"]) if "oral" in table else None,
        forbidden.get("under_years"),
        forbidden.get("why", ""),
    )


_VOCABULARY = load("drugs")
_DEVICE_DOSES = _VOCABULARY["device_doses"]
DRUGS = {key: _drug(key, table) for key, table in _VOCABULARY["drugs"].items()}
_DRUG_OF_NAME = {
    _normal(name): key for key, table in _VOCABULARY["drugs"].items() for name in table["names"]
}
# Names, also in the plural ("both EpiPens", "two boluses").
_NAMES = _words_pattern(
    (name for table in _VOCABULARY["drugs"].values() for name in table["names"]), plural=True
)
_TOKEN = re.compile(r"[a-z0-9]+")
_DIGIT = re.compile(r"\d")


def _name_tokens(names) -> frozenset[str]:
    """Words of which every match of the names holds one as a whole word: each name's last
    word of letters (its rarest: "normal saline" -> "saline", "iv fluid" -> "fluid"), its words
    run together ("autoinjector") and their plurals (a cheap test before the names' long
    pattern)."""
    tokens = set()
    for name in names:
        parts = _TOKEN.findall(name.lower())
        lettered = [p for p in parts if not p.isdigit() and len(p) > 1] or parts
        for word in (lettered[-1], "".join(parts)):
            tokens.update((word, word + "s", word + "es"))
    return frozenset(tokens)


_ALL_NAMES = [n for t in _VOCABULARY["drugs"].values() for n in t["names"]]
_NAME_TOKENS = _name_tokens(_ALL_NAMES)
# Names of one plain word ("blood", "saline", "d10"): such a word in a line names the drug.
_ONE_WORD_NAMES = frozenset(
    n.lower() + ending for n in _ALL_NAMES if n.isalnum() for ending in ("", "s", "es")
)


def _may_name_a_drug(text: str) -> bool:
    return not _NAME_TOKENS.isdisjoint(_TOKEN.findall(text.lower()))


_WORDS = _VOCABULARY["words"]
_LIMIT_BEFORE = _words_pattern(
    _WORDS["limit_before"], suffix=r"[\s(:]*(?:(?:the|a|an|of|single|dose|each)\s+)*$"
)
_LIMIT_NOT_AFTER = _words_pattern(_WORDS["limit_not_after"], suffix=r"\s*$")
_LIMIT_AFTER = _words_pattern(_WORDS["limit_after"], prefix=r"^[\s(,]{0,3}")
_CONTAINER_AFTER = _words_pattern(_WORDS["containers"], prefix=r"^\s*(?:[\w'%.]+\s+)?")
_WARNINGS = _words_pattern(_WORDS["warnings"])
_NOT_GIVEN = _words_pattern(_WORDS["not_given"])
_ARREST = _words_pattern(_WORDS["arrest"])
_ANAPHYLAXIS = _words_pattern(_WORDS["anaphylaxis"])
_THRESHOLD_BEFORE = _words_pattern(_WORDS["threshold_before"], suffix=r"\s*$")
_THRESHOLD_AFTER = _words_pattern(_WORDS["threshold_after"], prefix=r"^\s*")
_OTHER_PATIENT = _words_pattern(_WORDS["other_patient"])
_FILLER = {_normal(w) for w in _WORDS["filler"]}
_ROUTE_COMPARED = _words_pattern(_WORDS["route_compared"], suffix=r"\s*$")
_NEGATION_HEADING = re.compile(
    r"\b(?:avoid\w*|do not|don['’]?t|never|not|no|contraindicated)\b", re.IGNORECASE
)
_NEWBORN_YEARS = 28 / 365

# --- quantities ---------------------------------------------------------------------------

_MASS_MG = {
    "mcg": 0.001,
    "µg": 0.001,
    "μg": 0.001,
    "ug": 0.001,
    "microgram": 0.001,
    "micrograms": 0.001,
    "mg": 1.0,
    "milligram": 1.0,
    "milligrams": 1.0,
    "g": 1000.0,
    "gram": 1000.0,
    "grams": 1000.0,
}
_VOLUME_ML = {
    "ml": 1.0,
    "mls": 1.0,
    "milliliter": 1.0,
    "milliliters": 1.0,
    "millilitre": 1.0,
    "millilitres": 1.0,
    "cc": 1.0,
    "l": 1000.0,
    "liter": 1000.0,
    "liters": 1000.0,
    "litre": 1000.0,
    "litres": 1000.0,
}
_KG = {"kg", "kgs", "kilo", "kilos", "kilogram", "kilograms"}
_UNITS = "|".join(sorted([*_MASS_MG, *_VOLUME_ML, *_KG], key=len, reverse=True))
# A number (not part of another: "D10", "1.2.3") and its unit, perhaps "per" something:
# "0.01 mg/kg", "20 mL per kg", "1 mg/mL", "1 mg/10 mL", "60 mg/dL", "100 mL/hr".
_QUANTITY = re.compile(
    r"(?<![\w.,])(?P<number>\d{1,3}(?:,\d{3})+(?![\d,])|\d*\.\d+|\d+)\s*(?:"
    rf"(?P<unit>{_UNITS})(?!\w)"
    r"(?:\s*(?:/|\bper\b)\s*(?P<per_number>\d+(?:\.\d+)?)?\s*(?P<per>kg|kilos?|kilograms?"
    r"|ml|mls|l|dl|h|hr|hrs|hours?|min|mins|minutes?|dose|day|d)(?!\w))?"
    r"|(?P<percent>%))",
    re.IGNORECASE,
)
_RATE_AFTER = re.compile(
    r"\s*(?:/|per\b|an?\b)\s*(?:h|hr|hrs|hours?|min|mins|minutes?|day|d)\b", re.I
)
_IN_VOLUME = re.compile(r"\s*in\s+(\d+(?:\.\d+)?)\s*(?:ml|mls)\b", re.IGNORECASE)
# "1:1000", "1:10,000", "1 in 10 000": grams per that many mL.
_RATIO = re.compile(r"(?<![\d.])1\s*(?::|in)\s*(1[0 ,]*000)(?![\d,])", re.IGNORECASE)
_RANGE_BEFORE = re.compile(r"(\d*\.?\d+)\s*(?:-|–|to)\s*$")
_DEXTROSE_STRENGTH = re.compile(r"d\s?(\d{1,2})w?$", re.IGNORECASE)


# --- numbers in words ----------------------------------------------------------------------

_NUMBERS = _VOCABULARY["numbers"]
_NUMBER_WORD_VALUES = {**_NUMBERS["units"], **_NUMBERS["tens"]}
_NUMBER_WORDS = tuple(_NUMBER_WORD_VALUES)  # for the substring gate before _SPELLED
_NUMBER_WORD = "|".join(sorted(_NUMBER_WORD_VALUES, key=len, reverse=True))
_SPELLED_WHOLE = rf"(?:{_NUMBER_WORD})(?:(?:[-\s]+|\s+and\s+(?!an?\b))(?:{_NUMBER_WORD}|hundred))*"
# "one point eight", "zero point one five", "point three", "twenty-two", "two and a half",
# "half a": a number in words, read only where a unit follows it ("... milligrams").
_SPELLED = re.compile(
    rf"(?<!\w)(?:(?P<whole>{_SPELLED_WHOLE})(?:\s+point\s+(?P<decimals>(?:{_NUMBER_WORD})"
    rf"(?:\s+(?:{_NUMBER_WORD}))*)|\s+and\s+an?\s+(?P<fraction>half|quarter))?"
    rf"|point\s+(?P<only_decimals>(?:{_NUMBER_WORD})(?:\s+(?:{_NUMBER_WORD}))*)"
    rf"|(?P<half>half)\s+an?"
    rf"|(?P<one>an?)(?:\s+(?:full|whole))?(?=\s*(?:litre|liter)(?!\w)))"
    rf"(?=\s*(?:{_UNITS})(?!\w))",
    re.IGNORECASE,
)
_FRACTIONS = {"half": 0.5, "quarter": 0.25}


@lru_cache(maxsize=65536)
def with_digits(line: str) -> str:
    """The line with each number written in words before a unit in digits: "one point eight
    milligrams" -> "1.8 milligrams", "twenty mL per kilo" -> "20 mL per kilo" (memoized: the
    dose gate and the dose check both read a line)."""
    if not _may_spell_a_number(line):
        return line
    return _SPELLED.sub(_spelled_value, line)


def _may_spell_a_number(line: str) -> bool:
    lowered = line.lower()
    return (
        "half" in lowered
        or "litre" in lowered
        or "liter" in lowered
        or holds_any(lowered, _NUMBER_WORDS)
    )


def _spelled_value(m: re.Match) -> str:
    if m["half"]:
        return "0.5"
    if m["one"]:
        return "1"  # "a full litre"
    if m["only_decimals"]:
        return "0." + _digits(m["only_decimals"])
    whole = _whole(m["whole"])
    if m["decimals"]:
        return f"{whole}.{_digits(m['decimals'])}"
    if m["fraction"]:
        return f"{whole + _FRACTIONS[m['fraction'].lower()]:g}"
    return str(whole)


def _words_of(text: str) -> list[int]:
    words = re.split(r"[-\s]+", text.strip())
    return [_NUMBER_WORD_VALUES[w.lower()] for w in words if w.lower() != "and"]


def _whole(text: str) -> int:
    """ "twenty-two" -> 22, "eighteen" -> 18, "two hundred and twenty" -> 220; "one eight"
    (digits read out) -> 18."""
    hundreds, _, rest = text.lower().partition("hundred")
    if rest or text.lower().endswith("hundred"):
        return 100 * _whole(hundreds) + (_whole(rest) if rest.strip(" -and") else 0)
    values = _words_of(text)
    if len(values) == 2 and values[0] >= 20 and values[1] < 10:
        return values[0] + values[1]
    return int("".join(str(v) for v in values))


def _digits(text: str) -> str:
    """Decimals read digit by digit: "one five" -> "15"."""
    return "".join(str(v) for v in _words_of(text))


@dataclass(frozen=True)
class Quantity:
    kind: str  # "amount", "per_kg", "weight", "concentration", "strength"
    dim: str  # "mass" (mg), "volume" (mL), "" for the other kinds
    value: float  # mg, mL, mg/kg, mL/kg, kg, mg/mL or percent
    low: float | None  # the other end of a range ("0.15-0.3 mg"), same units
    text: str  # the number as written
    unit: str  # the unit as written, "mg/kg" ...
    scale: float  # value per unit of the written number
    start: int
    end: int


_TIMES_WEIGHT = re.compile(r"\s*(?:×|x|\*|times)\s*\d+(?:\.\d+)?\s*(?:kg|kilos?)\b", re.I)


@lru_cache(maxsize=65536)
def _quantities(sentence: str) -> tuple[Quantity, ...]:
    """The numbers of a sentence that carry a unit, read and classified, in order (memoized:
    each sentence is read by several checks)."""
    if not _DIGIT.search(sentence):
        return ()  # every quantity and ratio has a figure
    found = [q for m in _QUANTITY.finditer(sentence) if (q := _quantity(sentence, m))]
    for m in _RATIO.finditer(sentence):  # "1:1000": 1 g in 1000 mL
        per_mg = 1000 / float(re.sub(r"[ ,]", "", m[1]))
        found.append(Quantity("concentration", "", per_mg, None, m[0], "ratio", 1, *m.span()))
    return tuple(sorted(found, key=lambda q: q.start))


def _quantity(sentence: str, m: re.Match) -> Quantity | None:
    """One number and its unit as an amount, a per-kg dose, a weight, a concentration or a
    strength; None for a rate or a lab value ("100 mL/hr", "60 mg/dL")."""
    text, start, end = m["number"], m.start(), m.end()
    number = float(text.replace(",", ""))
    if m["percent"]:
        return Quantity("strength", "", number, None, text, "%", 1, start, end)
    unit, per = m["unit"].lower(), (m["per"] or "").lower()
    if unit in _KG:
        return None if per else Quantity("weight", "", number, None, text, unit, 1, start, end)
    dim = "mass" if unit in _MASS_MG else "volume"
    scale = _MASS_MG[unit] if dim == "mass" else _VOLUME_ML[unit]
    shown = unit + (f"/{per}" if per else "")
    in_volume = _IN_VOLUME.match(sentence, end) if dim == "mass" and not per else None
    if in_volume or (dim == "mass" and per in ("ml", "mls")):  # "1 mg/mL", "1 mg in 10 mL"
        per_ml = float(in_volume[1] if in_volume else m["per_number"] or 1)
        end = in_volume.end() if in_volume else end
        value = number * scale / per_ml
        return Quantity("concentration", "", value, None, text, shown, scale, start, end)
    if per in _KG:
        if _RATE_AFTER.match(sentence, end):
            return None  # "4 mL/kg/hr": a rate, not a bolus
        kind = "per_kg"
    elif not per and _TIMES_WEIGHT.match(sentence, end):
        kind = "per_kg"  # "0.01 mg × 26 kg": the per-kg dose with its "/kg" left out
    elif per and per != "dose":
        return None
    else:
        kind = "amount"
    low = _range_low(sentence, start)
    low = None if low is None else low * scale
    return Quantity(kind, dim, number * scale, low, text, shown, scale, start, end)


def _range_low(sentence: str, start: int) -> float | None:
    """The first number of a range written before this one: "0.15-0.3 mg" -> 0.15."""
    m = _RANGE_BEFORE.search(sentence[max(0, start - 12) : start])
    return float(m[1]) if m else None


# --- drugs in a sentence ------------------------------------------------------------------


@dataclass(frozen=True)
class Mention:
    drug: str
    text: str
    start: int
    end: int


@lru_cache(maxsize=65536)
def _mentions(sentence: str) -> tuple[Mention, ...]:
    found = []
    if not _may_name_a_drug(sentence):
        return ()
    for m in _NAMES.finditer(sentence):
        drug = DRUGS[_drug_named(m[0])]
        if drug.not_before is not None and drug.not_before.match(sentence, m.end()):
            continue  # "blood pressure", "glucose level", "fluid overload"
        found.append(Mention(drug.key, m[0], m.start(), m.end()))
    return tuple(found)


def _drug_named(name: str) -> str:
    """The drug a name found in text is (a plural is its singular's)."""
    normal = _normal(name)
    for candidate in (normal, normal.removesuffix("s"), normal.removesuffix("es")):
        if candidate in _DRUG_OF_NAME:
            return _DRUG_OF_NAME[candidate]
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
    gap = _QUANTITY.sub(" ", _RATIO.sub(" ", gap))
    words = re.findall(r"[\w/.]+", gap.lower())
    return len(gap) <= 40 and all(_normal(w).strip(".") in _FILLER for w in words)


# --- clauses ------------------------------------------------------------------------------


@lru_cache(maxsize=65536)
def _clause_spans(sentence: str) -> tuple[tuple[int, str], ...]:
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
def _negated(sentence: str, position: int) -> bool:
    """Whether a negation (or a condition) governs the word at ``position`` in its clause
    (memoized: a figure is asked about once per drug, line and patient)."""
    at, clause = _clause_at(_clause_spans(sentence), position)
    return is_negated(clause, position - at)


def _under_negated_heading(
    sentence: str, spans: tuple[tuple[int, str], ...], position: int
) -> bool:
    """Whether the clause at ``position`` follows a prohibition and a colon: "Medicines to
    avoid: aspirin, ibuprofen"."""
    at, _ = _clause_at(spans, position)
    head = sentence[:at].rstrip()
    if not head.endswith(":"):
        return False
    _, heading = _clause_at(spans, len(head) - 1)
    return bool(_NEGATION_HEADING.search(heading))


# --- the checks -----------------------------------------------------------------------------


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


def has_dose_statement(line: str) -> bool:
    """Whether a line names a drug the detector knows or gives an amount (the only lines
    ``line_wrong_doses`` can flag; an amount may belong to the drug of a heading above)."""
    line = with_digits(line)
    words = _TOKEN.findall(line.lower())
    if not _NAME_TOKENS.isdisjoint(words) and (
        not _ONE_WORD_NAMES.isdisjoint(words) or _NAMES.search(line)
    ):
        return True
    return _DIGIT.search(line) is not None and any(
        q.kind in ("amount", "per_kg") for q in _quantities(line)
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
    if len(readings) != 1 or any(q.kind in ("amount", "per_kg") for q in _quantities(text)):
        return None
    r = readings[0]
    return (r.drug.key, frozenset(r.routes), r.concentration, r.strength)


@lru_cache(maxsize=65536)
def line_wrong_doses(
    line: str, weight_kg, age_years, hazards: tuple[str, ...] = (), heading: tuple | None = None
) -> tuple[dict, ...]:
    """The wrong doses of one instruction line (memoized: lines repeat across pairs; callers
    get copies of the details); ``heading``: the ``drug_heading`` of a line above, whose drug
    the figures of a line naming none belong to."""
    patient = Patient(weight_kg, age_years, hazards)
    arrest, anaphylaxis_named, sentences = _line_readings(with_digits(line), heading)
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


@lru_cache(maxsize=65536)
def _line_readings(
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
        readings = _readings(sentence, carried)
        sentences.append((sentence, tuple(readings)))
        named = [r for r in readings if r.mention]
        if named:
            carried = named[-1]
    arrest = bool(_ARREST.search(line))
    return arrest, bool(_ANAPHYLAXIS.search(line)), tuple(sentences)


def _readings(sentence: str, carried: Reading | None) -> list[Reading]:
    """Each drug of the sentence with its quantities, routes and concentration; figures of a
    sentence that names no drug go to the drug of an earlier sentence (``carried``)."""
    mentions = _mentions(sentence)
    quantities = _quantities(sentence)
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
        implied = _DEVICE_DOSES.get(reading.mention.lower())
        if implied is not None and not any(q.kind == "amount" for q in reading.quantities):
            # "epipen jr 0.15 into his thigh": the device says the dose
            where = sentence.lower().find(reading.mention.lower())
            end = where + len(reading.mention)
            dose = Quantity("amount", "mass", implied, None, f"{implied:g}", "mg", 1.0, where, end)
            reading.quantities.append(dose)
    for key, reading in readings.items():
        for route in reading.drug.routes:
            for m in route.words.finditer(sentence):
                compared = _ROUTE_COMPARED.search(sentence[max(0, m.start() - 12) : m.start()])
                if key_of(m.start(), m.end()) != key or compared:
                    continue
                if not _negated(sentence, m.start()):
                    reading.routes.add(route.key)
    weights = [q for q in quantities if q.kind == "weight" and not _is_threshold(sentence, q)]
    for reading in readings.values():
        reading.quantities.extend(weights)
    return list(readings.values())


def _strength_named(mention: Mention) -> float | None:
    """The dextrose strength a name gives: "D10" -> 10."""
    strength = _DEXTROSE_STRENGTH.search(_normal(mention.text))
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
    if _RANGE_BEFORE.search(before):
        return True
    return bool(_THRESHOLD_BEFORE.search(before) or _THRESHOLD_AFTER.match(sentence[q.end :]))


def _is_limit(sentence: str, q: Quantity, alone: bool = False) -> bool:
    """A figure that is a limit, not a dose: "up to 60 mL/kg", "0.3 mg max" (not "round up
    to 0.5 mg"). A figure ``alone`` (no other dose figure in the sentence) with "max" after
    it is the dose, at its maximum: "so 0.3 mg (max for a child)"."""
    if _LIMIT_AFTER.match(sentence[q.end :]):
        return not alone
    before = sentence[max(0, q.start - 40) : q.start]
    limit = _LIMIT_BEFORE.search(before)
    return limit is not None and not _LIMIT_NOT_AFTER.search(before[: limit.start()])


def _is_container(sentence: str, q: Quantity) -> bool:
    """A volume that sizes equipment ("a 500 mL bag"), unless the whole of it is given ("give
    the whole 500 mL bag")."""
    if q.dim != "volume" or not _CONTAINER_AFTER.match(sentence[q.end :]):
        return False
    return not _WHOLE_BEFORE.search(sentence[max(0, q.start - 16) : q.start])


_WHOLE_BEFORE = re.compile(r"\b(?:whole|entire|full|all of the|all the)\s*$", re.IGNORECASE)


def _doses(sentence: str, quantities: list[Quantity]) -> list[Quantity]:
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
        and not _warned(sentence, q.start)
        and not _negated(sentence, q.start)
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
        for w in _quantities(sentence)
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


def _check_reading(
    sentence: str, reading: Reading, patient: Patient, arrest: bool, anaphylaxis: bool
) -> list[dict]:
    """The first wrong thing a sentence says about one drug, as a finding detail."""
    drug = reading.drug
    if drug.forbidden_under_years is not None:
        return _forbidden(sentence, _clause_spans(sentence), reading, patient)
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
    doses = _doses(sentence, reading.quantities)
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
    return not _negated(sentence, start) and not _warned(sentence, start)


@lru_cache(maxsize=65536)
def _warned(sentence: str, position: int) -> bool:
    """Whether the clause at ``position`` warns of an error or tells what the child had."""
    at, clause = _clause_at(_clause_spans(sentence), position)
    if _WARNINGS.search(clause):
        return True
    # What the child had is told in the figure's own part of the clause: "Since an IV is
    # already in, give 0.1 mg IV" gives a dose; "if she already had 0.15 mg" does not.
    part_start = clause.rfind(",", 0, position - at) + 1
    part_end = clause.find(",", position - at)
    part = clause[part_start : part_end if part_end >= 0 else len(clause)]
    return bool(_NOT_GIVEN.search(part))


def _same_age(age: float | None, other: float | None) -> bool:
    if age is None or other is None:
        return age is other
    return abs(age - other) <= max(0.1, 0.1 * other)


def _age_in(sentence: str, patient_age: float | None) -> float | None:
    """The age whose rules apply: a numeric age or a newborn written in the sentence
    ("for a 3-month-old"), else the patient's; None where the sentence speaks of other
    children ("older children get 20 mL/kg"). Words such as "infant" or "baby" are too vague
    to replace the patient's age."""
    if _OTHER_PATIENT.search(sentence):
        return None
    for offset, age in ages_in(sentence):
        if sentence[offset].isdigit() or age < _NEWBORN_YEARS:
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
    if _negated(sentence, start) or _warned(sentence, start):
        return []
    if _under_negated_heading(sentence, spans, start):
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
        doses = _doses(sentence, _quantities(sentence))
        for q in doses:
            if q.kind != "per_kg":
                continue
            total = _total_of(sentence, q, doses)
            if total is not None and total.start > q.start:
                number_end = total.start + len(total.text)
                span = (offset + total.start, offset + number_end)
                found.append((span, float(total.text.replace(",", "")), float(q.text)))
    return tuple(found)
