"""Small text helpers shared by the detectors: clause splitting, ages and negation."""

from __future__ import annotations

import re
import sys
from functools import lru_cache

# Sentence ends and semicolons; a period between digits (0.18) or closing "i.e."/"e.g." is
# not a sentence end ("give 360 mL, i.e. 20 mL/kg" is one statement).
# Both splitters open with one character class and test the context with lookbehinds after
# it: the regex engine then jumps from candidate to candidate character instead of trying
# every alternative at every position (5x faster; same matches, tests/test_detectors.py).
_SEGMENT_SPLIT = re.compile(
    r"[!?.;\n](?:(?<=[!?])(?=\s|$)"
    r"|(?<=\.)(?<!\b[iI]\.[eE]\.)(?<!\b[eE]\.[gG]\.)(?:(?<!\d\.)(?=\s|$)|(?<=\d\.)(?=\s+[A-Z]))"
    r"|(?<=[;\n]))"
)
# The same for text without "!", "?", ";" or a line end, where only periods can split: it
# opens with a literal, which the regex engine finds faster than a character class.
_SEGMENT_SPLIT_AT_PERIODS = re.compile(
    r"\.(?:(?<!\b[iI]\.[eE]\.)(?<!\b[eE]\.[gG]\.)(?:(?<!\d\.)(?=\s|$)|(?<=\d\.)(?=\s+[A-Z])))"
)
# Clauses for negation scope: sentences, semicolons, colons and spaced dashes. Commas and
# brackets do not end a negation ("do not apply butter, oil, creams or toothpaste").
_CLAUSE_SPLIT = re.compile(
    r"[.!?;:\s](?:(?<=[.!?])(?<!\d[.!?])(?=\s|$)|(?<=\d\.)(?=\s+[A-Z])|(?<=[;:])"
    r"|(?<=\s)[–—-]\s|(?<=\n))"
)
# The same without the alternatives that open at whitespace (a spaced dash, a line end), for
# text where they cannot match: the engine then stops at punctuation only, not at every space.
_CLAUSE_SPLIT_AT_PUNCTUATION = re.compile(
    r"[.!?;:](?:(?<=[.!?])(?<!\d[.!?])(?=\s|$)|(?<=\d\.)(?=\s+[A-Z])|(?<=[;:]))"
)
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


def possessive(pattern: str) -> str:
    """``pattern``, whose possessive quantifiers ("\\d*+", "(?:...)?+") Python 3.11's engine
    runs; on 3.10, which has none, the same with plain ones. The patterns written so match the
    same either way (nothing that follows their numbers can start with what a plain quantifier
    would give back; tests/test_detectors.py checks it), the possessive ones just fail sooner."""
    return pattern if sys.version_info >= (3, 11) else without_possessives(pattern)


def without_possessives(pattern: str) -> str:
    """``pattern`` with its possessive quantifiers made plain: every "+" after a quantifier.
    Only for the patterns written for ``possessive``, none of which has such a "+" inside a
    character class, where it would be a literal."""
    return re.sub(r"(?<=[*+?}])\+", "", pattern)


# Age expressions: "5-year-old", "1-3 y", "18 months", "age 7", "infant". Written for the
# regex engine's sake (this is the costliest regex of the detectors): the number is read once
# and the unit alternatives follow it, and the expressions that start with a number are a
# pattern of their own, which the engine can skip through from digit to digit: it opens with
# one character class ("\d\d*", where "\d+" would make it try every position), and
# "(?<!\d\d)" after that digit skips the later digits of a number (a match from one of them
# would end where one from the number's first digit did: same matches, searched from the
# start). The full pattern runs only on text that holds one of the words (_AGE_WORD_STEMS).
# Its numbers are possessive ("\d*+", "(?:\.\d++)?+"): nothing after them can start with a
# digit or a period, so no match needs one back, and the engine gives up on "80-120 bpm" at
# once instead of retrying shorter numbers. Not the "aged" number: "age 1.5x" matches "age 1".
_NUMBER = r"\d+(?:\.\d+)?"
_AGES_BY_NUMBER = possessive(
    r"(?P<number>\d(?<!\d\d)\d*+(?:\.\d++)?+)\s*(?:"
    r"(?:-|–|to)\s*(?P<to>\d++(?:\.\d++)?+)\s*-?\s*(?:years?|yrs?|yr|y)\b"
    r"|-?\s*(?:(?:years?|yrs?|yr|yo|y)(?:[- ]old)?\b"
    r"|(?P<months>months?|mos?|mo)(?:[- ]old)?\b"
    r"|(?P<weeks>weeks?|wks?)(?:[- ]old)?\b"
    r"|(?P<days>days?)(?:[- ]old)\b))"
)
_AGES_BY_WORD = (
    r"\b(?:age[ds]?\s+(?P<aged>" + _NUMBER + r")\b"
    r"|(?P<word>newborns?|neonat(?:e|es|al)|infants?|bab(?:y|ies)|toddlers?|pre-?school(?:ers?)?"
    r"|school[- ]age(?:d)?|pre-?adolescents?|adolescents?|teen(?:s|agers?)?|adults?)\b)"
)
_AGE_EXPRESSION = re.compile(_AGES_BY_NUMBER + "|" + _AGES_BY_WORD, re.IGNORECASE)
_AGE_NUMBERS = re.compile(_AGES_BY_NUMBER, re.IGNORECASE)
# Every match of _AGES_BY_WORD holds one of these (lower case).
_AGE_WORD_STEMS = (
    "age",
    "newborn",
    "neonat",
    "infant",
    "bab",
    "toddler",
    "school",
    "adolescent",
    "teen",
    "adult",
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
    found: list[tuple[int, str]] = []
    line_start = 0
    for line in text.split("\n"):
        found.extend((line_start + offset, seg) for offset, seg in line_segments(line))
        line_start += len(line) + 1
    return found


# Detectors see the same lines over and over (a rejected response differs from its chosen
# one in a line or two), so the per-line work is memoized; every cached function is pure.
@lru_cache(maxsize=65536)
def line_segments(line: str) -> tuple[tuple[int, str], ...]:
    """Sentences of one line with their offsets in it."""
    # split, not finditer: no match objects. Every split mark is one character (the rest of
    # the pattern looks around), so each piece starts one past the end of the one before.
    if "!" in line or "?" in line or ";" in line or "\n" in line:
        splitter = _SEGMENT_SPLIT
    else:
        splitter = _SEGMENT_SPLIT_AT_PERIODS
    found, offset = [], 0
    for seg in splitter.split(line):
        if seg.strip():
            found.append((offset, seg))
        offset += len(seg) + 1
    return tuple(found)


@lru_cache(maxsize=65536)
def clauses(text: str) -> tuple[str, ...]:
    """Clauses: the scope in which a negation word governs an action."""
    # Printable ASCII holds no whitespace but the space (no tab, no line end), and its only
    # dash is "-": without " -", no split opens at whitespace.
    if text.isascii() and text.isprintable() and " -" not in text:
        splitter = _CLAUSE_SPLIT_AT_PUNCTUATION
    else:
        splitter = _CLAUSE_SPLIT
    return tuple(c for c in splitter.split(text) if c and c.strip())


def is_negated(clause: str, match_start: int) -> bool:
    """Whether a negation cue governs the action that starts at ``match_start``: a cue
    earlier in the clause, carried across commas unless a new instruction begins after
    the last comma, "no"/"without" right before the action, or a negative predicate
    after it ("... is contraindicated", "... should be avoided")."""
    if _negated_before(clause, match_start):
        return True
    return may_hold_any(clause[match_start:], _NEGATION_AFTER_WORDS) and bool(
        _NEGATION_AFTER.match(clause, match_start)
    )


# Every match of _NEGATION_AFTER holds one of these (lower case).
_NEGATION_AFTER_WORDS = (
    "not",
    "never",
    "no longer",
    "contraindicated",
    "avoided",
    "harmful",
    "dangerous",
    "unsafe",
    "forbidden",
    "prohibited",
    "shouldn",
    "mustn",
    "can",
    "won",
)


def holds_any(lowered: str, words: tuple[str, ...]) -> bool:
    """Whether ``lowered`` holds one of ``words`` as a substring."""
    for word in words:  # noqa: SIM110 (a loop: cheaper than any() over a generator)
        if word in lowered:
            return True
    return False


def may_hold_any(text: str, words: tuple[str, ...]) -> bool:
    """The gate before a case-insensitive regex that cannot match without one of ``words``
    (lower case): False only for ASCII text that holds none of them, where ``lower()`` is
    exactly the regex's case folding; other text always goes to the regex. Substring tests
    cost far less than a regex that tries its words at every character."""
    return not text.isascii() or holds_any(text.lower(), words)


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
    word = word.lower().replace("pre-school", "preschool")
    for suffix in ("s", "es"):
        if word not in AGE_WORDS and word.endswith(suffix) and word[: -len(suffix)] in AGE_WORDS:
            word = word[: -len(suffix)]
    return AGE_WORDS.get(word)


def ages_in(text: str) -> list[tuple[int, float]]:
    """Age mentions as (offset, age in years): 5-year-old, 18 months, infant, age 7, 1-3 y."""
    found = []
    for m in _age_pattern(text).finditer(text):
        g = m.groupdict()  # _AGE_NUMBERS has no "aged" or "word" group
        number = g["number"]
        if g.get("aged"):
            age = float(g["aged"])
        elif g["to"]:
            age = (float(number) + float(g["to"])) / 2
        elif g["months"]:
            age = float(number) / 12
        elif g["weeks"]:
            age = float(number) / 52
        elif g["days"]:
            age = float(number) / 365
        elif number:
            age = float(number)
        else:
            word_age = _word_age(g["word"])
            if word_age is None:
                continue
            age = word_age
        found.append((m.start(), age))
    return found


def _age_pattern(text: str) -> re.Pattern:
    """The full age pattern, or the one for numbers alone when the text holds none of the
    age words (for ASCII, lower() is exactly the regex's case folding; other text gets the
    full pattern)."""
    return _AGE_EXPRESSION if may_hold_any(text, _AGE_WORD_STEMS) else _AGE_NUMBERS
