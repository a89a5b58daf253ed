"""Small text helpers shared by the detectors: clause splitting, ages and negation."""

from __future__ import annotations

import re
from functools import lru_cache

# Sentence ends and semicolons; a period between digits (0.18) or closing "i.e."/"e.g." is
# not a sentence end ("give 360 mL, i.e. 20 mL/kg" is one statement).
_SEGMENT_SPLIT = re.compile(
    r"[!?](?=\s|$)|(?<!\b[iI]\.[eE])(?<!\b[eE]\.[gG])\.(?:(?<!\d\.)(?=\s|$)|(?<=\d\.)(?=\s+[A-Z]))"
    r"|[;\n]"
)
# Clauses for negation scope: sentences, semicolons, colons and spaced dashes. Commas and
# brackets do not end a negation ("do not apply butter, oil, creams or toothpaste").
_CLAUSE_SPLIT = re.compile(r"(?<!\d)[.!?](?=\s|$)|(?<=\d)\.(?=\s+[A-Z])|[;:]|\s[–—-]\s|\n")
# ... unless a new positive instruction starts after the comma ("don't use butter, put ice").
_NEW_INSTRUCTION = re.compile(
    r"^\s*(?:(?:then|and|but|instead|now|so)\s+)?(?:apply|put|use|give|place|start|do|try"
    r"|pour|rub|spread|remove|pull|lift|let|have|make|keep|hold|open|tilt|sit|stand|help|get"
    r"|cool|immerse|soak|pop|burst|drain|peel|loosen|release|take|wait|delay|stop|induce"
    r"|offer|press|push|turn|carry|walk|straighten|realign|neutrali[sz]e|massage)\b",
    re.IGNORECASE,
)

_NEGATION_BEFORE = re.compile(
    r"\b(?:do not|don['’]?t|dont|never|not|avoid\w*|instead of|rather than|nor|refrain from"
    r"|no longer|must not|should not|shouldn['’]?t|cannot|can['’]?t)\b",
    re.IGNORECASE,
)
_NEGATION_ADJACENT = re.compile(r"\b(?:no|without|skip)\s+(?:\w+\s+){0,2}$", re.IGNORECASE)
# The action as the subject of a negative predicate: "head-tilt chin-lift is contraindicated",
# "the tourniquet must not be removed", "ipecac is no longer recommended". Not across a comma
# or a word that opens a condition, reason or new subject ("remove the tourniquet if it is not
# working", "pop the blisters to be sure they are not infected").
_NEGATION_AFTER = re.compile(
    r"(?:(?!\b(?:if|when|unless|once|until|because|since|as|so|that|which|who|while|after"
    r"|before|then|though|although|it|they|she|he|you|we|there)\b)[^,])*?"
    r"\b(?:(?:is|are|be|been)\s+(?:not|never|no longer|contraindicated|avoided|harmful"
    r"|dangerous|unsafe|forbidden|prohibited)\b|(?:should|must|may|can|will)\s*(?:not|never)\b"
    r"|(?:shouldn|mustn|can|won)['’]?t\b|contraindicated\b)",
    re.IGNORECASE,
)

_NUMBER = r"(\d+(?:\.\d+)?)"
_AGE_EXPRESSION = re.compile(
    r"\bage[ds]?\s+" + _NUMBER + r"\b"
    r"|" + _NUMBER + r"\s*(?:-|–|to)\s*" + _NUMBER + r"\s*-?\s*(?:years?|yrs?|yr|y)\b"
    r"|" + _NUMBER + r"\s*-?\s*(?:years?|yrs?|yr|yo|y)(?:[- ]old)?\b"
    r"|" + _NUMBER + r"\s*-?\s*(months?|mos?|mo)(?:[- ]old)?\b"
    r"|" + _NUMBER + r"\s*-?\s*(weeks?|wks?)(?:[- ]old)?\b"
    r"|" + _NUMBER + r"\s*-?\s*(days?)(?:[- ]old)\b"
    r"|\b(newborns?|neonat(?:e|es|al)|infants?|bab(?:y|ies)|toddlers?|pre-?school(?:ers?)?"
    r"|school[- ]age(?:d)?|pre-?adolescents?|adolescents?|teen(?:s|agers?)?|adults?)\b",
    re.IGNORECASE,
)
AGE_WORDS = {
    "newborn": 0.01,
    "neonate": 0.01,
    "neonatal": 0.01,
    "infant": 0.5,
    "baby": 0.5,
    "babie": 0.5,
    "toddler": 2.0,
    "preschool": 4.0,
    "preschooler": 4.0,
    "school-age": 8.0,
    "school age": 8.0,
    "school-aged": 8.0,
    "school aged": 8.0,
    "preadolescent": 10.5,
    "pre-adolescent": 10.5,
    "adolescent": 14.0,
    "teen": 14.0,
    "teenager": 14.0,
    "adult": 17.5,
}


def segments(text: str) -> list[tuple[int, str]]:
    """Sentences (split at . ! ? ; and line ends), each with its offset in ``text``."""
    found, line_start = [], 0
    for line in text.split("\n"):
        found.extend((line_start + offset, seg) for offset, seg in line_segments(line))
        line_start += len(line) + 1
    return found


# Detectors see the same lines over and over (a rejected response differs from its chosen
# one in a line or two), so the per-line work is memoized; every cached function is pure.
@lru_cache(maxsize=65536)
def line_segments(line: str) -> tuple[tuple[int, str], ...]:
    """Sentences of one line with their offsets in it."""
    found, start = [], 0
    for match in _SEGMENT_SPLIT.finditer(line):
        if match.start() > start:
            found.append((start, line[start : match.start()]))
        start = match.end()
    if start < len(line):
        found.append((start, line[start:]))
    return tuple((offset, seg) for offset, seg in found if seg.strip())


@lru_cache(maxsize=65536)
def clauses(text: str) -> tuple[str, ...]:
    """Clauses: the scope in which a negation word governs an action."""
    return tuple(c for c in _CLAUSE_SPLIT.split(text) if c and c.strip())


def is_negated(clause: str, match_start: int) -> bool:
    """Whether a negation cue governs the action that starts at ``match_start``: a cue
    earlier in the clause, carried across commas unless a new instruction begins after
    the last comma, "no"/"without" right before the action, or a negative predicate
    after it ("... is contraindicated", "... should be avoided")."""
    return _negated_before(clause, match_start) or bool(_NEGATION_AFTER.match(clause, match_start))


def _negated_before(clause: str, match_start: int) -> bool:
    before = clause[:match_start]
    if _NEGATION_ADJACENT.search(before):
        return True
    head, comma, tail = before.rpartition(",")
    if not comma:
        return bool(_NEGATION_BEFORE.search(before))
    if _NEGATION_BEFORE.search(tail):
        return True
    return bool(_NEGATION_BEFORE.search(head)) and not _NEW_INSTRUCTION.match(tail)


def _word_age(word: str) -> float | None:
    word = word.lower()
    for suffix in ("s", "es"):
        if word not in AGE_WORDS and word.endswith(suffix) and word[: -len(suffix)] in AGE_WORDS:
            word = word[: -len(suffix)]
    return AGE_WORDS.get(word)


def ages_in(text: str) -> list[tuple[int, float]]:
    """Age mentions as (offset, age in years): 5-year-old, 18 months, infant, age 7, 1-3 y."""
    found = []
    for m in _AGE_EXPRESSION.finditer(text):
        g = m.groups()
        if g[0]:
            age = float(g[0])
        elif g[1]:
            age = (float(g[1]) + float(g[2])) / 2
        elif g[3]:
            age = float(g[3])
        elif g[4]:
            age = float(g[4]) / 12
        elif g[6]:
            age = float(g[6]) / 52
        elif g[8]:
            age = float(g[8]) / 365
        else:
            age = _word_age(g[10].replace("pre-school", "preschool"))
            if age is None:
                continue
        found.append((m.start(), age))
    return found
