"""Quantities in a sentence: amounts, per-kg doses, weights, concentrations and strengths,
with numbers written in words read as digits."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from align.checks.doses.drugs import DIGIT, VOCABULARY
from align.checks.text import holds_any

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
QUANTITY = re.compile(
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
RATIO = re.compile(r"(?<![\d.])1\s*(?::|in)\s*(1[0 ,]*000)(?![\d,])", re.IGNORECASE)
RANGE_BEFORE = re.compile(r"(\d*\.?\d+)\s*(?:-|–|to)\s*$")
DEXTROSE_STRENGTH = re.compile(r"d\s?(\d{1,2})w?$", re.IGNORECASE)


# --- numbers in words ----------------------------------------------------------------------

_NUMBERS = VOCABULARY["numbers"]
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
def quantities_in(sentence: str) -> tuple[Quantity, ...]:
    """The numbers of a sentence that carry a unit, read and classified, in order (memoized:
    each sentence is read by several checks)."""
    if not DIGIT.search(sentence):
        return ()  # every quantity and ratio has a figure
    found = [q for m in QUANTITY.finditer(sentence) if (q := _quantity(sentence, m))]
    for m in RATIO.finditer(sentence):  # "1:1000": 1 g in 1000 mL
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
    m = RANGE_BEFORE.search(sentence[max(0, start - 12) : start])
    return float(m[1]) if m else None
