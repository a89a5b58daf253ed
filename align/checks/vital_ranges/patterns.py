"""The words and patterns of quoted vital-sign norms (vocabulary/vital_signs.toml compiled):
ranges in digits and in words, units, triggers, hypotension and floor phrasings."""

import re

from align.checks.vocabulary import load

WORDS = load("vital_signs")


def _phrase(word: str, word_start: bool = True) -> str:
    """A regex for one vocabulary entry: spaces match any whitespace, and an entry that starts
    or ends with a letter or digit must stand as a whole word there (a unit may follow its
    number without a space: ``word_start`` False)."""
    pattern = r"\s+".join(re.escape(part) for part in word.split())
    if word[0].isalnum() and word_start:
        pattern = r"(?<!\w)" + pattern
    if word[-1].isalnum():
        pattern += r"(?!\w)"
    return pattern


def _alternatives(words, word_start: bool = True) -> str:
    """One alternation of the entries, longest first (so "per minute" wins over "per min").
    The whole words share one pair of word-boundary tests (fewer lookarounds to run)."""
    ordered = sorted(words, key=len, reverse=True)
    whole = [w for w in ordered if w[0].isalnum() and w[-1].isalnum()]
    rest = [_phrase(w, word_start) for w in ordered if w not in whole]
    if whole:
        inner = "|".join(r"\s+".join(re.escape(p) for p in w.split()) for w in whole)
        start = r"(?<!\w)" if word_start else ""
        rest.insert(0, rf"{start}(?:{inner})(?!\w)")
    return "|".join(rest)


def _units(words) -> str:
    """The alternation of units, which may stand right after their number ("5yr", "80bpm")."""
    return _alternatives(words, word_start=False)


def _words(words, flags=re.IGNORECASE) -> re.Pattern:
    return re.compile(f"(?:{_alternatives(words)})", flags)


def _gate(entries) -> tuple[str, ...]:
    """For ``may_hold_any``, the cheap test before a pattern of the entries: a text one of them
    matches holds its last word (lower case) as a substring."""
    return tuple(sorted({entry.lower().split()[-1] for entry in entries}))


DIGIT = re.compile(r"\d")
_NUMBER = r"(?<![\d.,/])\d{1,3}(?![\d]|[.,]\d)"
# A number in words: "twelve", "twenty", "twenty-eight", "thirty five".
_UNIT_WORDS = {w: n for w, n in WORDS["number_words"].items() if n < 10}
_UNIT_AFTER_TENS = rf"[-\s](?:{_alternatives(_UNIT_WORDS)})"
_NUMBER_IN_WORDS = (  # tens with their unit, or not followed by one ("twenty-six" is no range)
    rf"(?<!\w)(?:(?:{_alternatives(WORDS['tens'])})(?:{_UNIT_AFTER_TENS}|(?!{_UNIT_AFTER_TENS}))"
    rf"|{_alternatives(WORDS['number_words'])})(?!\w)"
)
NUMBER_WORD_GATE = _gate([*WORDS["tens"], *WORDS["number_words"]])
NUMBER_VALUES = WORDS["tens"] | WORDS["number_words"]
_QUALIFIED = rf"(?:(?:{_alternatives(WORDS['numbers']['qualifiers'])})\s*)?"  # "about 20"


def _range_pattern(number: str, between: bool) -> re.Pattern:
    """ "20-28", "20 – 28", "20 to 28", "20..28", with ``between`` also "between (roughly) 20
    and 28"."""
    if not between:
        return re.compile(
            rf"(?P<low>{number})\s*(?:-|–|—|‑|−|to|\.\.)\s*(?P<high>{number})", re.IGNORECASE
        )
    return re.compile(
        rf"(?:(?P<between>\bbetween)\s+{_QUALIFIED})?(?P<low>{number})\s*"
        r"(?(between)(?:and|to|-|–|—)|(?:-|–|—|‑|−|to|\.\.))"
        rf"\s*(?P<high>{number})",
        re.IGNORECASE,
    )


# Ranges by (the line holds a number word, it holds "between"): the slower patterns only for
# the lines that need them ("twelve to twenty", "between 20 and 30").
RANGES = {
    (in_words, between): _range_pattern(
        f"{_NUMBER}|{_NUMBER_IN_WORDS}" if in_words else _NUMBER, between
    )
    for in_words in (False, True)
    for between in (False, True)
}
# Markdown emphasis: "**", "__", or one "*" at the edge of a word ("*70*"; not "2 * 5").
EMPHASIS = re.compile(r"\*\*|__|(?<![\w*])\*(?=\w)|(?<=\w)\*(?![\w*])")

_TRIGGERS = WORDS["triggers"]
BEFORE_TRIGGER = _words(_TRIGGERS["before"])
POPULATION = _words(_TRIGGERS["populations"])
AFTER_TRIGGER = _words(_TRIGGERS["after"])
AFTER_TRIGGER_WITH_AGE = _words(_TRIGGERS["after_with_age"])
COMPARISON = _words(_TRIGGERS["comparisons"])
NEGATION_JUST_BEFORE = re.compile(rf"(?:{_alternatives(_TRIGGERS['negations'])})\W*$", re.I)
AFTER_WORDS = _TRIGGERS["after_words"]
# What ends the few words after a range that still speak of it.
TAIL_END = re.compile(r"[,;:.!?)\]]|\b(?:and|but|while|whereas|vs|versus|compared|then)\b", re.I)

VITALS = ("rr", "hr", "sbp")
KEYWORD = re.compile(  # "either": a rate that may be the breathing or the heart
    "|".join(f"(?P<{v}>{_alternatives(WORDS['vitals'][v])})" for v in (*VITALS, "either")),
    re.IGNORECASE,
)
KEYWORD_VITALS = {"rr": ("rr",), "hr": ("hr",), "sbp": ("sbp",), "either": ("rr", "hr")}
# A vital keyword or another measure, whichever stands nearest before a range decides.
MEASURE = re.compile(
    f"{KEYWORD.pattern}|(?P<other>{_alternatives(WORDS['vitals']['other_measures'])})",
    re.IGNORECASE,
)
_UNITS = WORDS["units"]
_PER_MINUTE = _units(_UNITS["per_minute"])
# The unit right after a range: one that names the vital (with its "per minute"), "per
# minute" alone, or another unit (mL, minutes, kg ...). An opening bracket may stand first.
UNIT = re.compile(
    r"\s*\(?\s*(?:"
    + "|".join(f"(?P<{v}>(?:{_units(_UNITS[v])})(?:\\s*(?:{_PER_MINUTE}))?)" for v in VITALS)
    + f"|(?P<per_minute>{_PER_MINUTE})|(?P<other>{_units(_UNITS['other'])}))",
    re.IGNORECASE,
)

CONTEXTS = WORDS["contexts"]
CUTOFF = re.compile(  # "START" in capitals only: the protocol, not the verb
    f"(?i:{_alternatives(CONTEXTS['cutoffs'])})|{_alternatives(CONTEXTS['cutoffs_in_capitals'])}"
)
CUTOFF_REACH = CONTEXTS["cutoff_reach"]
INTERVENTION = _words(CONTEXTS["interventions"])
CLAUSE_BREAK = re.compile(r"[,;]")
ASLEEP = _words(WORDS["state"]["asleep"])
OPENING_BRACKET = re.compile(rf"\s*[(\[]\s*{_QUALIFIED}")
# A line that is only a vital and a range, a row of a table under a heading such as "Normal
# values at 3 months:" ("- Heart rate roughly 100-190 awake", "RR: 20-28/min").
ROW_HEAD = re.compile(rf"[\W_]*(?:{KEYWORD.pattern})[\W_]*{_QUALIFIED}", re.IGNORECASE)
ROW_END = re.compile(
    rf"[\W_]*(?:(?:{_alternatives(WORDS['state']['asleep'] + WORDS['state']['awake'])})[\W_]*)?",
    re.IGNORECASE,
)

# Ages: "5-year-old", "18 months", "a six-month-old", "1-3 years", "age 7", "infant", "for
# her age" (the patient's: no value).
_AGE_UNITS = WORDS["age_units"]
NUMBER_WORDS = WORDS["number_words"]
_AGE_NUMBER = rf"(?:\d{{1,2}}(?:\.\d+)?|{_alternatives(NUMBER_WORDS)})"
AGE_IN_NUMBERS = re.compile(
    rf"(?<![\w.])(?P<n>{_AGE_NUMBER})(?:\s*(?:-|–|to)\s*(?P<to>{_AGE_NUMBER}))?\s*-?\s*(?:"
    rf"(?P<years>{_units(_AGE_UNITS['years'])})"
    rf"|(?P<months>{_units(_AGE_UNITS['months'])})"
    rf"|(?P<weeks>{_units(_AGE_UNITS['weeks'])})"
    rf"|(?P<days>{_units(_AGE_UNITS['days_old'])}))(?:[- ]old)?(?!\w)",
    re.IGNORECASE,
)
AGE_AFTER_WORD = re.compile(
    rf"(?:{_alternatives(_AGE_UNITS['age_words'])})\s+(?P<n>\d{{1,2}}(?:\.\d+)?)"
    r"(?:\s*(?:-|–|to)\s*(?P<to>\d{1,2}(?:\.\d+)?))?(?![\d.])",
    re.IGNORECASE,
)
AGE_WORD = _words(WORDS["ages"])
OWN_AGE = _words(WORDS["own_age"]["phrases"])
AGE_AFTER_WORD_GATE = _gate(_AGE_UNITS["age_words"])
AGE_WORD_GATE = _gate(WORDS["ages"])
OWN_AGE_GATE = _gate(WORDS["own_age"]["phrases"])
PER_YEAR = {"years": 1, "months": 12, "weeks": 52, "days": 365}

_HYPOTENSION = WORDS["hypotension"]
HYPOTENSION_WORD = _words(_HYPOTENSION["words"])
SAID_LOW = _words(_HYPOTENSION["said_low"])
PRESSURE = _words(WORDS["vitals"]["sbp"])
HYPOTENSION_GATE = _gate(_HYPOTENSION["words"] + _HYPOTENSION["said_low"])
THRESHOLD = re.compile(
    rf"(?:{_alternatives(_HYPOTENSION['below'])})\s*{_QUALIFIED}(?P<value>{_NUMBER})"
    r"(?P<formula>\s*(?:\+|x\b|×|\*))?",
    re.IGNORECASE,
)
FORMULA_RESULT = re.compile(rf"=\s*(?P<value>{_NUMBER})")
# A threshold named as such: "the 70 mmHg hypotension threshold", "hypotension cut-off of 70".
NAMED_THRESHOLD = re.compile(
    r"(?P<value>\d{2,3})\s*(?:mm\s*hg)?\s+(?:hypotension|hypotensive|systolic)\s+"
    r"(?:threshold|cut-?off|limit|line)\b"
    r"|(?:hypotension|hypotensive)\s+(?:threshold|cut-?off|limit|line)\s*"
    r"(?:is|of|at|:|=)?\s*(?:<\s*)?(?P<after>\d{2,3})"
    # not a formula, not an age ("Hypotension threshold at 10 y: SBP <90")
    r"(?!\s*(?:\+|x\b|×|\*)|\s*-?\s*(?:y|yo|yrs?|years?|mo|months?)\b)",
    re.IGNORECASE,
)
# The lowest normal systolic pressure: "nl SBP >100", "normal systolic above 76 mmHg" (no
# number between the pressure and its floor).
FLOOR = re.compile(
    rf"(?:{_alternatives(WORDS['normal_floor']['above'])})\s*{_QUALIFIED}(?P<value>{_NUMBER})"
    r"(?P<formula>\s*(?:\+|x\b|×|\*))?",
    re.IGNORECASE,
)
FLOOR_GATE = _gate(WORDS["vitals"]["sbp"])
