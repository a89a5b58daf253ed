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


# --- words and terms: what the negation rules and the contraindication vocabulary match on ----

# (word in lower case, start, end): "don't" and "child's" are one word, "head-tilt" two.
Token = tuple[str, int, int]
_WORD = re.compile(r"\w+(?:['’]\w+)*")
# Punctuation that closes what a verb reaches, besides clause ends: commas are handled by the
# rules themselves, brackets and arrows always cut ("YELLOW (Delayed) rescue breaths"). A
# negation reaches into brackets ("do not give abdominal thrusts (Heimlich)"), not past arrows.
_ARROWS = ("→", "->", "=>")
_CUTS = ("(", ")", "[", "]", *_ARROWS)


@lru_cache(maxsize=65536)
def words(text: str) -> tuple[Token, ...]:
    """The words of ``text`` in lower case (curly apostrophes made straight), with offsets."""
    lowered = text.lower().replace("’", "'")
    if len(lowered) != len(text):  # lower() changed a length ("İ"): the offsets are the text's
        return tuple(
            (m.group().lower().replace("’", "'"), m.start(), m.end()) for m in _WORD.finditer(text)
        )
    # a list, then a tuple: faster than tuple() over a generator (a word per clause word)
    return tuple([(m.group(), m.start(), m.end()) for m in _WORD.finditer(lowered)])


@lru_cache(maxsize=65536)
def word_set(text: str) -> frozenset[str]:
    """The distinct words of ``text``, as ``words`` finds them: the cheap gate before matching
    terms on it (the words alone, without the offsets ``words`` builds)."""
    lowered = text.lower().replace("’", "'")
    if len(lowered) != len(text):  # lower() changed a length ("İ"): word by word, as words()
        return frozenset(word for word, _, _ in words(text))
    return frozenset(_WORD.findall(lowered))


def verb_forms(verb: str) -> frozenset[str]:
    """A verb and its regular forms: tip -> tipped, tipping; ease -> eased, easing. Not the
    third person ("pushing on the belly makes him vomit" describes, it does not instruct)."""
    forms = {verb, verb + "ed", verb + "d", verb + "ing"}
    if verb.endswith("e"):
        forms.add(verb[:-1] + "ing")
    if len(verb) > 2 and verb.endswith("y") and verb[-2] not in "aeiou":
        forms.add(verb[:-1] + "ied")
    if re.fullmatch(r"[a-z]*[^aeiou][aeiou][bdgklmnprt]", verb):  # pop -> popped, popping
        forms.update((verb + verb[-1] + "ed", verb + verb[-1] + "ing"))
    return frozenset(forms)


def noun_forms(noun: str) -> frozenset[str]:
    """A noun and its plural: blister -> blisters, remedy -> remedies."""
    forms = {noun, noun + "s", noun + "es"}
    if len(noun) > 2 and noun.endswith("y") and noun[-2] not in "aeiou":
        forms.add(noun[:-1] + "ies")
    return frozenset(forms)


class Terms:
    """Phrases of a vocabulary, matched word by word on ``words()``. ``inflect`` "verb" takes
    the first word in all its forms, "noun" the last word also as a plural; ``slots`` fills
    "{name}" in a phrase with each of its entries."""

    def __init__(self, phrases, inflect: str = "", slots: dict | None = None):
        self.terms: list[tuple[frozenset[str], ...]] = []
        for phrase in _filled(phrases, slots or {}):
            found = [word for word, _, _ in words(phrase)]
            if not found:
                continue
            term = [frozenset((word,)) for word in found]
            if inflect == "verb":
                term[0] = verb_forms(found[0])
            elif inflect == "noun":
                term[-1] = noun_forms(found[-1])
            self.terms.append(tuple(term))
        # Terms by each form of their first word: the matcher looks up each word once.
        self.by_first: dict[str, list[tuple[frozenset[str], ...]]] = {}
        for term in self.terms:
            for form in term[0]:
                self.by_first.setdefault(form, []).append(term)
        self.first_words = frozenset(self.by_first)
        # A word (in any of its forms) each term needs: its longest as written, the last of
        # equals, likely its rarest ("drink" in "a drink", "boy" in "the boy"). Text that holds
        # none of them holds no term.
        self.key_words = frozenset().union(*map(_key_word, self.terms))

    def __bool__(self) -> bool:
        return bool(self.terms)

    def end_at(self, tokens: tuple[Token, ...], i: int) -> int | None:
        """The end (exclusive word index) of the longest term that starts at word ``i``."""
        if i >= len(tokens):
            return None
        best = None
        for term in self.by_first.get(tokens[i][0], ()):
            end = i + len(term)
            if end <= len(tokens) and all(
                tokens[i + k][0] in forms for k, forms in enumerate(term[1:], 1)
            ):
                best = end if best is None else max(best, end)
        return best

    def spans(self, tokens: tuple[Token, ...], start: int = 0, stop: int | None = None):
        """(start, end) word indexes of each place a term matches, from ``start``."""
        stop = len(tokens) if stop is None else stop
        found = []
        for i in range(start, stop):
            if tokens[i][0] in self.by_first:  # most words start no term: skip them at once
                end = self.end_at(tokens, i)
                if end is not None:
                    found.append((i, end))
        return found


def _key_word(term: tuple[frozenset[str], ...]) -> frozenset[str]:
    """The forms of the word of ``term`` that is longest as written (the last of equals)."""
    longest = max(range(len(term)), key=lambda k: (min(map(len, term[k])), k))
    return term[longest]


def _filled(phrases, slots: dict) -> list[str]:
    """``phrases`` with each "{slot}" replaced by every entry of that slot."""
    done = []
    for phrase in phrases:
        names = re.findall(r"\{(\w+)\}", phrase)
        if not names:
            done.append(phrase)
            continue
        name = names[0]
        done.extend(_filled([phrase.replace(f"{{{name}}}", e, 1) for e in slots[name]], slots))
    return done


# --- scope and negation ------------------------------------------------------------------------
# The words come from align/checks/vocabulary/contraindications.toml ([scope], [negation]).


class _Language:
    """The scope and negation vocabulary, compiled once."""

    def __init__(self):
        from align.checks.vocabulary import load  # here: the vocabulary loads on first use

        vocabulary = load("contraindications")
        slots, scope, negation = vocabulary["slots"], vocabulary["scope"], vocabulary["negation"]
        self.slots = slots
        self.instruction_verbs = Terms(scope["instruction_verbs"], "verb")
        self.openers = frozenset(scope["openers"])
        self.coordinators = frozenset(scope["coordinators"])
        self.subordinators = frozenset(scope["subordinators"])
        self.predicates = frozenset(scope["predicates"])
        self.auxiliaries = frozenset(scope["auxiliaries"])
        self.context_stops = frozenset(scope["context_stops"])
        self.after_stops = frozenset(scope["after_stops"])
        self.before_verb = Terms(negation["before_verb"], slots=slots)
        self.before_object = Terms(negation["before_object"], slots=slots)
        self.conditions = Terms(negation["conditions"])
        self.recommending = Terms(negation["recommending"])
        self.condition_openers = frozenset(negation["condition_openers"])
        self.suggesting = frozenset(negation["suggesting"])
        self.condition_subjects = frozenset(negation["condition_subjects"])
        self.affirming = Terms(negation["affirming"])
        self.after = Terms(negation["after"], slots=slots)
        self.availability = Terms(negation["availability"])
        self.determiners = frozenset(scope["determiners"])
        self.relative_pronouns = frozenset(scope["relative_pronouns"])
        self.after_comma = frozenset(
            tuple(word for word, _, _ in words(phrase)) for phrase in negation["after_comma"]
        )


@lru_cache(maxsize=1)
def language() -> _Language:
    return _Language()


def cut_between(clause: str, tokens: tuple[Token, ...], i: int, j: int, comma: bool) -> bool:
    """Whether punctuation stands between word ``i - 1`` and word ``j`` (a bracket or an arrow;
    a comma too where ``comma``)."""
    if i <= 0 or j >= len(tokens) or j < i:
        return False
    between = clause[tokens[i - 1][2] : tokens[j][1]]
    return any(mark in between for mark in _CUTS) or (comma and "," in between)


def opens_instruction(tokens: tuple[Token, ...], i: int) -> bool:
    """Whether an instruction starts at word ``i`` ("put ice on it", "then give her water")."""
    return _instruction_verb(tokens, i) is not None


def _instruction_verb(tokens: tuple[Token, ...], i: int) -> int | None:
    """The word index of the verb of an instruction that starts at word ``i`` (after openers
    such as "then"), or None. A verb followed by "it"/"them" continues the thing named
    before ("draw up adrenaline and give it IV") and opens nothing new."""
    lang = language()
    if i > 0 and tokens[i - 1][0] in lang.determiners:  # "skip the drink of water": a noun
        return None
    while i < len(tokens) and tokens[i][0] in lang.openers:
        i += 1
    end = lang.instruction_verbs.end_at(tokens, i)
    if end is None or (end < len(tokens) and tokens[end][0] in ("it", "them")):
        return None
    return i


def reaches(clause: str, tokens: tuple[Token, ...], i: int, j: int, loose: bool = False) -> bool:
    """Whether a verb that ends before word ``i`` still governs word ``j``: no comma, bracket
    or clause word ("if", "until", ...) between them, and no "and"/"then"/"to" that opens a new
    verb. ``loose``: punctuation alone cuts."""
    if cut_between(clause, tokens, i, j, comma=True):
        return False
    if loose:
        return True
    lang = language()
    for k in range(i, j):
        word = tokens[k][0]
        if word in lang.subordinators:
            return False
        if (word in lang.coordinators or word in ("to", "or")) and opens_instruction(tokens, k + 1):
            return False
    return True


def is_negated(clause: str, match_start: int, match_end: int | None = None) -> bool:
    """Whether the action at ``match_start`` (to ``match_end``) of ``clause`` is not given as
    an instruction: a description of what something does ("heads that tip the neck"), a
    negation cue before it whose scope reaches it ("never", "resist the urge to", "instead
    of", "no"), a condition it stands in ("if anyone gave her water,"), or a negative
    predicate after it ("... is contraindicated", "... should be avoided")."""
    tokens = words(clause)
    at = _word_at(tokens, match_start)
    end = at + 1 if match_end is None else max(at + 1, _word_at(tokens, match_end))
    return (
        _described(tokens, at)
        or _negated_before(clause, tokens, at, end)
        or _negated_after(clause, tokens, end)
    )


def _described(tokens: tuple[Token, ...], at: int) -> bool:
    """Whether the action's verb has a relative pronoun for its subject: it describes what
    something does ("toddlers have big heads that tip the neck forward")."""
    lang = language()
    return (
        0 < at < len(tokens)
        and tokens[at - 1][0] in lang.relative_pronouns
        and lang.instruction_verbs.end_at(tokens, at) is not None
    )


def _word_at(tokens: tuple[Token, ...], offset: int) -> int:
    """The index of the first word that starts at or after ``offset``."""
    for i, (_, start, _) in enumerate(tokens):
        if start >= offset:
            return i
    return len(tokens)


def _last_cue(tokens: tuple[Token, ...], at: int) -> tuple[str, int, int] | None:
    """(kind, start, end) of the last negation or condition cue that ends by word ``at``;
    kind is "verb", "object", "condition" or "recommending" ("no harm in"). A cue after
    "if"/"whether"/"or" is a condition ("if not, tip the head back"), one after "why" a
    suggestion ("why not try ice?")."""
    lang = language()
    best = None
    for kind, terms in (
        ("verb", lang.before_verb),
        ("object", lang.before_object),
        ("condition", lang.conditions),
        ("recommending", lang.recommending),
    ):
        for start, end in terms.spans(tokens, 0, at):
            if end > at:
                continue
            if kind != "condition" and start > 0 and tokens[start - 1][0] in lang.condition_openers:
                continue
            if start > 0 and tokens[start - 1][0] in lang.suggesting:
                continue  # "why not try some ice?"
            if best is None or (end, end - start) > (best[2], best[2] - best[1]):
                best = (kind, start, end)
    return best


def _negated_before(clause: str, tokens: tuple[Token, ...], at: int, last: int) -> bool:
    cue = _last_cue(tokens, at)
    if cue is None:
        return False
    kind, start, end = cue
    if kind == "recommending":
        return False  # "there's no harm in giving her a drink"
    if _is_interjection(clause, tokens, start, end):
        return False  # "no, give D50 50 mL": "no" answers what came before
    if at < len(tokens) and any(
        arrow in clause[tokens[end - 1][2] : tokens[at][1]] for arrow in _ARROWS
    ):
        return False
    if kind == "condition":
        return _in_condition(clause, tokens, end, at)
    lang = language()
    if end < at and lang.affirming.end_at(tokens, end) is not None:
        return False  # "don't hesitate to ...", "never forget to ..."
    governs_verb = lang.instruction_verbs.end_at(tokens, end) is not None
    for k in range(end, at):
        word = tokens[k][0]
        if word in lang.subordinators:
            return False
        # "instead of cool water use ice": a new verb, with its object, after the thing the
        # cue governs (not "skip the cold pack and ice": a noun in a list)
        if (
            kind == "object"
            and k > end
            and _opens_imperative(tokens, k)
            and tokens[k + 1][0] not in lang.coordinators | {"or"}
            and "or" not in (tokens[k][0], tokens[k - 1][0])  # "forget the Heimlich or tipping her"
        ):
            return False
        # "don't panic and put ice on it"; not "don't pop and drain the blisters", where the
        # cue governs a verb and the action's own verb is the next one
        if (
            word in lang.coordinators
            and _opens_imperative(tokens, k + 1)
            and not (governs_verb and k + 1 == at)
        ):
            return False
    return not _new_statement_after_comma(clause, tokens, end, at, last)


def _is_interjection(clause: str, tokens: tuple[Token, ...], start: int, end: int) -> bool:
    """A lone "no" set off by a comma ("No, give D50", "... 220 mL... no, give D50") answers
    or corrects what came before; it negates nothing after it."""
    return (
        end == start + 1
        and tokens[start][0] == "no"
        and clause[tokens[start][2] :].lstrip().startswith(",")
    )


def _opens_imperative(tokens: tuple[Token, ...], i: int) -> bool:
    """An instruction opens at word ``i`` with a verb that is not a gerund: "and put ice on
    it" gives a new order; "no tight bandages, straightening the foot or ..." goes on listing
    what the cue forbids."""
    verb = _instruction_verb(tokens, i)
    return verb is not None and not tokens[verb][0].endswith("ing")


def _in_condition(clause: str, tokens: tuple[Token, ...], end: int, at: int) -> bool:
    """Whether the action at word ``at`` stands in the condition that opens at word ``end``
    ("if anyone gave her water, tell the doctor"): the condition ends at a comma or at an
    instruction verb with no subject or auxiliary before it ("if she is awake give water")."""
    if cut_between(clause, tokens, end, at, comma=True):
        return False
    lang = language()
    if lang.availability.spans(tokens, end, at):
        return False  # "if you have syrup of ipecac, ..." names what is at hand
    for k in range(end + 1, at + 1):
        if tokens[k - 1][0] not in lang.condition_subjects and opens_instruction(tokens, k):
            return False
    return True


def _new_statement_after_comma(
    clause: str, tokens: tuple[Token, ...], end: int, at: int, last: int
) -> bool:
    """Whether a comma between the cue (ending at word ``end``) and the action (words ``at``
    to ``last``) opens a new instruction after the cue governed something ("don't use butter,
    put ice on it") or a new statement ("forget the cool water, frozen peas work"). A list
    goes on after commas ("do not apply butter, oil, creams or ice"), and a cue that has not
    governed anything yet reaches on ("do not, under any circumstances, remove the TQ")."""
    commas = [k for k in range(end, at + 1) if cut_between(clause, tokens, k, k, comma=True)]
    if not commas:
        return False
    governed = commas[0] > end
    if governed and any(_opens_imperative(tokens, k) for k in commas):
        return True
    # The action's piece, up to the next comma: a verb of its own makes it a statement.
    lang = language()
    for k in range(commas[-1], len(tokens)):
        if k > commas[-1] and cut_between(clause, tokens, k, k, comma=True):
            break
        if not at <= k < last and tokens[k][0] in lang.predicates:
            return True
    return False


def _negated_after(clause: str, tokens: tuple[Token, ...], end: int) -> bool:
    """A negative predicate after the action (word ``end`` on), before a comma or a word that
    opens a condition, reason or new subject ("remove the tourniquet if it is not working"
    is an instruction), or a comma and nothing but a prohibition after it ("..., but don't")."""
    lang = language()
    for k in range(end, len(tokens)):
        if cut_between(clause, tokens, k, k, comma=True):
            return tuple(word for word, _, _ in tokens[k:]) in lang.after_comma
        if lang.recommending.end_at(tokens, k) is not None:
            return False  # "ice is not a bad idea"
        if lang.after.end_at(tokens, k) is not None:
            return True
        if tokens[k][0] in lang.subordinators or tokens[k][0] in lang.after_stops:
            return False
    return False


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
