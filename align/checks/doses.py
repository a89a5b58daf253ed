"""``wrong_dose``: check weight-based dose statements against weight x dose per kg.

A statement is a sentence with a per-kg dose (``0.01 mg/kg``) and usually a total in the same
unit (``= 0.18 mg``). The drug is read from the sentence (epinephrine IM or IV/IO, fluid bolus,
blood, dextrose D10/D25) to check the per-kg figure (micrograms scaled to mg) and the maximum;
the weight is the one written in the sentence (``x 18 kg``; not the top of a band such as
``19-23 kg``) or the scenario's. The scenario's weight is one the prompt states, so a
different written weight is wrong; with none stated, a written weight must be a plausible
age-based estimate (``plausible_weight_range_kg``). The total is the first figure in the
per-kg unit after the per-kg dose, else one just before that it restates
(``0.22 mg (0.01 mg/kg)``, ``360 mL, i.e. 20 mL/kg``). A figure introduced by "up to", "max"
or "total" is a limit, not a dose, and is skipped.
"""

from __future__ import annotations

import re
from functools import lru_cache

from align.checks.text import holds_any, line_segments, may_hold_any, possessive
from align.protocol.dosing import DOSE_RULES, DoseRule, plausible_weight_range_kg
from align.protocol.vitals import NEONATE_END

# The patterns open with a digit, one character class, so that the regex engine jumps from
# digit to digit instead of trying them at every position: "\d\d*" for "\d+", and what may
# not stand before the number is tested after its first digit ("\d(?<![\d./]\d)" matches
# where "(?<![\d./])\d" does). _PER_KG skips the later digits of a number ("(?<!\d\d)"):
# a match from one of them would end where one from the first digit did, so searches from
# the start find the same. The numbers are possessive ("\d*+", "(?:\.\d++)?+"): what follows
# them (spaces, a unit, "kg") never starts with a digit or a period, so no match needs digits
# given back, and a failing attempt ends at once. Same matches as the plain forms
# (tests/test_detectors.py).
_UNIT = r"(mg|ml|g|mcg|µg)"
_PER_KG = re.compile(
    possessive(r"(\d(?<!\d\d)\d*+(?:\.\d++)?+)\s*" + _UNIT + r"\s*/\s*kg\b"), re.IGNORECASE
)
_TOTAL = re.compile(
    possessive(r"(\d(?<![\d./]\d)\d*+(?:\.\d++)?+)\s*" + _UNIT + r"\b(?!\s*/)"), re.IGNORECASE
)
# A weight, not the top of a band ("Blue zone (19-23 kg)").
_WEIGHT = re.compile(
    possessive(r"(\d(?<![/\d.\-–]\d)(?<!to \d)\d*+(?:\.\d++)?+)[\s-]*kg\b"), re.IGNORECASE
)
_LIMIT_BEFORE = re.compile(
    r"(?:up to|max(?:imum)?|total|cumulative|at most|no more than|capped at|limit)\W{0,3}$",
    re.IGNORECASE,
)
# Every match of _LIMIT_BEFORE holds one of these (lower case; "max" also stands in "maximum").
_LIMIT_WORDS = (
    "up to",
    "max",
    "total",
    "cumulative",
    "at most",
    "no more than",
    "capped at",
    "limit",
)
_LIMIT_AFTER = re.compile(r"\s*(?:max(?:imum)?|cap|limit)\b", re.IGNORECASE)  # "0.3 mg max"

# A total written before its per-kg figure: "0.22 mg (0.01 mg/kg)", "360 mL, i.e. 20 mL/kg".
_TOTAL_BEFORE = re.compile(
    r"(?:(?!max|up to|cap|limit)\D){0,30}?(?:\(|=|\bi\.?\s?e\.?,?|\bthat is,?|\bwhich is)"
    r"\s*(?:about|approx\w*\.?|~|≈)?\s*",
    re.IGNORECASE,
)
# The dose rules are in mg; a per-kg figure in micrograms is scaled to them.
_MG_PER_UNIT = {"mcg": 0.001, "µg": 0.001}

_EPINEPHRINE = re.compile(r"\b(?:epinephrine|adrenaline|epi)\b", re.I)
_ROUTE_IM = re.compile(
    r"\b(?:im|intramuscular\w*|thigh|auto-?injector|anaphyla\w*)\b"
    r"|(?<![\d.])1\s*mg/\s*ml|1:1,?000\b",
    re.I,
)
_ROUTE_IV = re.compile(
    r"\b(?:iv|io|intraosseous|intravenous\w*|arrest|cpr)\b|0\.1\s*mg/\s*ml"
    r"|1:10,?000\b",
    re.I,
)
_D10 = re.compile(r"\bd10\b|dextrose 10\s*%", re.I)
_D25 = re.compile(r"\bd25\b|dextrose 25\s*%", re.I)
_DEXTROSE = re.compile(r"\b(?:dextrose|glucose)\b", re.I)
_BLOOD = re.compile(r"\b(?:prbc|packed red|blood)\b", re.I)
_FLUID = re.compile(r"\b(?:bolus|saline|crystalloid|ringer\w*|fluids?|ns|lr)\b", re.I)


# Words of which each drug regex cannot match without one (lower case): a substring test on
# them skips the regex (case-folded at every position) for most sentences.
_EPINEPHRINE_WORDS = ("epi", "adrenaline")
_D10_WORDS = ("d10", "dextrose 10")
_D25_WORDS = ("d25", "dextrose 25")
_DEXTROSE_WORDS = ("dextrose", "glucose")
_BLOOD_WORDS = ("prbc", "packed red", "blood")


def _rule_for(sentence: str, unit: str) -> DoseRule | None:
    unit = unit.lower()
    # None for other text, which always goes to the regexes: for ASCII, lower() is exactly
    # their case folding.
    lowered = sentence.lower() if sentence.isascii() else None
    if _names(_EPINEPHRINE, _EPINEPHRINE_WORDS, sentence, lowered):
        route = "im" if _ROUTE_IM.search(sentence) else "iv" if _ROUTE_IV.search(sentence) else None
        if route is None:
            return None
        key = f"epinephrine_{route}" + ("_ml" if unit == "ml" else "")
        return DOSE_RULES.get(key)
    # The unit first: it is free to test, the regex is not.
    if unit == "ml" and _names(_D10, _D10_WORDS, sentence, lowered):
        return DOSE_RULES["d10"]
    if unit == "ml" and _names(_D25, _D25_WORDS, sentence, lowered):
        return DOSE_RULES["d25"]
    if unit == "g" and _names(_DEXTROSE, _DEXTROSE_WORDS, sentence, lowered):
        return DOSE_RULES["dextrose_g"]
    if unit == "ml" and _names(_BLOOD, _BLOOD_WORDS, sentence, lowered):
        return DOSE_RULES["blood"]
    if unit == "ml" and _FLUID.search(sentence):
        return DOSE_RULES["fluid_bolus"]
    return None


def _names(pattern: re.Pattern, words: tuple[str, ...], text: str, lowered: str | None) -> bool:
    """Whether ``pattern`` matches in ``text``; False at once where ``lowered`` (the text in
    lower case, None unless ASCII) holds none of ``words``, without which it cannot match."""
    if lowered is not None and not holds_any(lowered, words):
        return False
    return pattern.search(text) is not None


def _is_limit(sentence: str, start: int, end: int | None = None) -> bool:
    """Whether the figure at ``start`` (ending at ``end``) is a limit: "max 0.3 mg",
    "0.3 mg max"."""
    if end is not None and _LIMIT_AFTER.match(sentence, end):
        return True
    before = sentence[max(0, start - 20) : start]
    return may_hold_any(before, _LIMIT_WORDS) and bool(_LIMIT_BEFORE.search(before))


def _rounding_slack(expected: float, stated_text: str) -> float:
    """5% of the expected dose, or half a unit of the stated figure's last digit."""
    decimals = len(stated_text.split(".")[1]) if "." in stated_text else 0
    return max(0.05 * expected, 0.5 * 10**-decimals)


def _statement_rule(
    sentence: str, per_kg_match: re.Match, others: list[re.Match], unit: str
) -> DoseRule | None:
    """The drug a per-kg figure belongs to: named just before it (since the previous per-kg
    figure, ``others`` being every per-kg figure of the sentence), so "D10 5 mL/kg ..., or
    D25 2 mL/kg ..." gives each figure its own drug; else named after it, before the next
    figure ("0.01 mg/kg of epinephrine"); else anywhere."""
    start = max((m.end() for m in others if m.end() <= per_kg_match.start()), default=0)
    end = min(
        (m.start() for m in others if m.start() > per_kg_match.start()), default=len(sentence)
    )
    return (
        _rule_for(sentence[start : per_kg_match.end()], unit)
        or _rule_for(sentence[start:end], unit)
        or _rule_for(sentence, unit)
    )


def _check_statement(sentence, per_kg_match, per_kg_matches, scenario_weight, age_years):
    """The detail of a wrong dose statement, or None (``per_kg_matches``: every per-kg figure
    of the sentence, ``per_kg_match`` among them)."""
    per_kg = float(per_kg_match.group(1))
    unit = per_kg_match.group(2).lower()
    scale = _MG_PER_UNIT.get(unit, 1.0)
    rule = _statement_rule(sentence, per_kg_match, per_kg_matches, unit)
    if rule is not None:
        low, high = rule.per_kg
        if not low - 1e-9 <= per_kg * scale <= high + 1e-9:
            return {
                "drug": rule.key,
                "per_kg": per_kg,
                "allowed_per_kg": [low, high],
                "unit": f"{unit}/kg",
            }
        if rule.key == "d25" and age_years is not None and age_years < NEONATE_END:
            return {"drug": rule.key, "reason": "D25 in a newborn (D10 only)"}
    rest = sentence[per_kg_match.end() :]
    weights = [float(m.group(1)) for m in _WEIGHT.finditer(sentence)]
    weight = weights[0] if weights else scenario_weight
    if weights and scenario_weight is not None and abs(weights[0] - scenario_weight) > 0.5:
        return {
            "drug": rule.key if rule else None,
            "weight_used": weights[0],
            "weight_kg": scenario_weight,
        }
    if weights and scenario_weight is None and age_years is not None:
        low, high = plausible_weight_range_kg(age_years)
        if not low <= weights[0] <= high:  # no weight given: an estimate must fit the age
            return {
                "drug": rule.key if rule else None,
                "weight_used": weights[0],
                "plausible_kg": [low, high],
            }
    totals = [
        m
        for m in _TOTAL.finditer(rest)
        if m.group(2).lower() == unit and not _is_limit(rest, m.start(), m.end())
    ] or _totals_before(sentence, per_kg_match, unit)
    if not totals or weight is None:
        return None
    stated = float(totals[0].group(1))
    expected = per_kg * weight
    cap = rule.max_total(weight) if rule else None
    if cap is not None:
        cap /= scale  # in the statement's unit
    slack = _rounding_slack(expected, totals[0].group(1))
    if rule is not None and cap is not None and expected > cap:  # a cap comes with a rule
        if abs(stated - cap) <= _rounding_slack(cap, totals[0].group(1)):
            return None
        return {"drug": rule.key, "stated": stated, "max": cap, "unit": unit}
    if abs(stated - expected) > slack:
        return {
            "drug": rule.key if rule else None,
            "stated": stated,
            "expected": round(expected, 3),
            "unit": unit,
        }
    return None


def _totals_before(sentence: str, per_kg_match: re.Match, unit: str) -> list[re.Match]:
    """The total just before a per-kg figure that restates it ("0.22 mg (0.01 mg/kg)")."""
    head = sentence[: per_kg_match.start()]
    found = [
        m
        for m in _TOTAL.finditer(head)
        if m.group(2).lower() == unit
        and not _is_limit(head, m.start(), m.end())
        and _TOTAL_BEFORE.fullmatch(head, m.end())
    ]
    return found[-1:]


def has_dose_statement(line: str) -> bool:
    """Whether a line holds a per-kg dose (the only lines ``line_wrong_doses`` can flag)."""
    return "/" in line and "kg" in line.lower() and _PER_KG.search(line) is not None


@lru_cache(maxsize=65536)
def line_wrong_doses(line: str, weight_kg, age_years) -> tuple[dict, ...]:
    """The wrong dose statements of one line (memoized: lines repeat across pairs; callers
    get copies of the details)."""
    wrong = []
    for _, sentence in line_segments(line):
        # what _PER_KG needs ("/", any spaces, "kg"), whatever the spacing ("mg/\tkg")
        if "/" not in sentence or "kg" not in sentence.lower():
            continue
        per_kg_matches = list(_PER_KG.finditer(sentence))
        for per_kg_match in per_kg_matches:
            if _is_limit(sentence, per_kg_match.start()):
                continue
            detail = _check_statement(sentence, per_kg_match, per_kg_matches, weight_kg, age_years)
            if detail is not None:
                detail["statement"] = sentence.strip()
                wrong.append(detail)
                break
    return tuple(wrong)


def stated_totals(text: str) -> list[tuple[tuple[int, int], float, float]]:
    """Each dose statement's total: (span of its number in ``text``, stated value, per-kg
    dose). Only statements with a per-kg dose and a total in the same unit count."""
    found, line_start = [], 0
    for line in text.split("\n"):
        for (start, end), stated, per_kg in line_totals(line):
            found.append(((line_start + start, line_start + end), stated, per_kg))
        line_start += len(line) + 1
    return found


@lru_cache(maxsize=65536)
def line_totals(line: str) -> tuple[tuple[tuple[int, int], float, float], ...]:
    """``stated_totals`` of one line, spans relative to the line (memoized: lines repeat)."""
    if not has_dose_statement(line):  # a sentence holds a per-kg dose only if its line does
        return ()
    found = []
    for offset, sentence in line_segments(line):
        for per_kg_match in _PER_KG.finditer(sentence):
            if _is_limit(sentence, per_kg_match.start()):
                continue
            unit = per_kg_match.group(2).lower()
            for total in _TOTAL.finditer(sentence, per_kg_match.end()):
                if total.group(2).lower() == unit and not _is_limit(sentence, total.start()):
                    span = (offset + total.start(1), offset + total.end(1))
                    found.append((span, float(total.group(1)), float(per_kg_match.group(1))))
                    break
    return tuple(found)
