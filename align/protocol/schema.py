"""The response schema: parse what a model wrote, render what gold data says.

Layout (docs/RESPONSE_FORMAT.md): ``TRIAGE: <COLOR> (<label>)`` first, then Rationale,
numbered Immediate Actions, a ``Do NOT:`` list and reassessment triggers.

Parsing reads ordinary clinical writing, not only the project's template, and is strict about
what matters. The triage decision may take any common form ("TRIAGE: RED (Immediate)",
"Triage: Immediate (RED)", "Category - red", "**Triage** → 🔴 RED", "RED - IMMEDIATE", a label
alone, or a sentence such as "I'd tag her YELLOW"); two colors in the statement make it
ambiguous, and a color named in commentary after it ("- YELLOW by the steps alone, but ...")
does not count. A color later given to the child again ("Actually she can wait: tag her
YELLOW") is kept as a restatement, so a change of mind can be found. Sections are known by
the meaning of their heading (Do NOT / Avoid / Never / Don'ts / What not to do; Reassess /
Recheck / Re-triage if / Watch for ...). The words live in
align/checks/vocabulary/response_layout.toml.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

from align.checks.vocabulary import load
from align.protocol.colors import LABEL_SYNONYMS, LABELS, triage_line

SECTION_KEYS = ("key_points", "rationale", "actions", "do_not", "reassess", "other")
# Sections whose lines are not decisions about the child ("Don't tag her GREEN just because
# she walks"; "re-triage as RED if ..."), so a color there restates nothing.
_NOT_RESTATING = frozenset(("do_not", "reassess"))

_LAYOUT = load("response_layout")


def _alternatives(words) -> str:
    """A regex alternation of phrases, longest first, any run of spaces between words."""
    ordered = sorted(set(words), key=len, reverse=True)
    return "|".join(re.escape(word).replace(r"\ ", r"\s+") for word in ordered)


def _word_alternatives(words) -> str:
    """The same, each phrase as whole words where it starts or ends with a letter."""
    parts = []
    for word in sorted(set(words), key=len, reverse=True):
        part = re.escape(word).replace(r"\ ", r"\s+")
        if word[0].isalnum():
            part = r"\b" + part
        if word[-1].isalnum():
            part += r"\b"
        parts.append(part)
    return "|".join(parts)


# Not a compound ("red-faced", "green-ish"), not "red flags".
_COLOR = r"\b(red|yellow|green|black|gr[ae]y|ylw|grn|blk)\b(?!(?-i:-[a-z]))(?!\s*-?\s*flags?\b)"
_COLOR_WORD = re.compile(_COLOR, re.IGNORECASE)
_LABEL_COLOR = {word: color for color, words in LABEL_SYNONYMS.items() for word in words}
_LABEL_WORD = re.compile(r"\b(" + _alternatives(_LABEL_COLOR) + r")\b", re.IGNORECASE)
_TRIAGE = _LAYOUT["triage"]
# "<name> <separator> <decision>": the name and separator are consumed, the rest is read.
# The separator may be left out before the color itself ("Triage RED (Immediate)").
_FIELD_FORM = re.compile(
    r"(?:(?:" + _word_alternatives(_TRIAGE["field_openers"]) + r")\s+)?"
    r"(?:" + _word_alternatives(_TRIAGE["fields"]) + r")\s*(?:\([^)]{0,30}\))?\s*"
    r"(?:(?:" + _word_alternatives(_TRIAGE["separators"]) + r")\s*(?P<rest>.+)"
    r"|(?P<bare>\b(?:red|yellow|green|black|gr[ae]y)\b.*))",
    re.IGNORECASE,
)
# A line that opens with the decision: "RED (Immediate)", "IMMEDIATE - RED", "RED".
_LEADING_FORM = re.compile(
    r"(?:" + _COLOR + r"|\b(?:" + _alternatives(_LABEL_COLOR) + r")\b)", re.IGNORECASE
)
# Words that give the child a color when they stand a few words before it: an assigning verb
# ("tag her YELLOW"), or a subject and a linking verb ("she is RED", "he's GREEN").
_COPULAS = (
    "is", "are", "was", "remains", "stays", "goes", "gets", "counts as", "will be",
    "should be", "must be", "needs to be", "has to be", "=",
)  # fmt: skip
# A clause that opens with the color and goes on with a mark, a label or "tag" ("In short:
# GREEN, it's just an ankle", "YELLOW - splint and wait"); a color before a noun is a thing of
# that color ("red lips", "the GREEN area").
_OPENING_COLOR = re.compile(
    r"\s*(?:all|just|simply|definitely|clearly)?\s*"
    + _COLOR
    + r"(?=\s*(?:$|[,.;:!(\-–—/]|(?:tag|priority|category|"
    + _alternatives(_LABEL_COLOR)
    + r")\b))",
    re.IGNORECASE,
)
_DECISION_FILLERS = frozenset(_TRIAGE["decision_fillers"])
_DECISION_PREFIX = re.compile(
    r"(?:" + _word_alternatives(_TRIAGE["decision_prefixes"]) + r")[\s,]+", re.IGNORECASE
)
# A label that closes its statement: "delayed. 13yo ...", "MINOR - walked out", "P2, ..."
# A label given as the category in a sentence: "that means Immediate", "as a delayed priority".
_LABEL_DECISION = re.compile(
    r"\b(?:means|as an?|as)\s+(" + _alternatives(_LABEL_COLOR) + r")\b(?=\s+(?:priority|category|"
    r"under|by|on|per|tag)\b|\s*[.,;!]|\s*$)",
    re.IGNORECASE,
)
_LABEL_CLOSED = re.compile(r"\s*(?:priority\b)?\s*(?:[.!,]|\s[-–—]\s|[-–—]\s|$)", re.IGNORECASE)
# "jumpstart says yellow / delayed"
_PROTOCOL_RESULT = re.compile(
    r"\b(?:jump\s?start|start|salt|algorithm|protocol|triage)\s+(?:"
    + _alternatives(_TRIAGE["protocol_results"])
    + r")\s*"
    + _COLOR,
    re.IGNORECASE,
)
_WORD = re.compile(r"[a-z0-9ø]+(?:['’][a-z]+)*|=")


def words_of(text: str) -> list[str]:
    """The lower-case words of a text ("She's RED." -> ["she's", "red"])."""
    return _WORD.findall(text.lower())


class Phrases:
    """A vocabulary of phrases of one or more words, looked up among a text's words (set
    lookups: a regex alternation of a hundred phrases costs tens of microseconds a line)."""

    def __init__(self, phrases):
        self.by_length: dict[int, set[tuple[str, ...]]] = {}
        for phrase in phrases:
            key = tuple(words_of(phrase))
            self.by_length.setdefault(len(key), set()).add(key)

    def position_in(self, words: list[str]) -> int | None:
        """The index of the first word of the first phrase found, or None."""
        found = None
        for length, phrases in self.by_length.items():
            for start in range(len(words) - length + 1):
                if tuple(words[start : start + length]) in phrases:
                    found = start if found is None else min(found, start)
                    break
        return found

    def found_in(self, words: list[str]) -> bool:
        return self.position_in(words) is not None


_CONDITIONAL = Phrases(_TRIAGE["conditional_words"])
_COLORED_THING = Phrases(_TRIAGE["colored_things"])
_NEGATION = Phrases(_TRIAGE["negation_words"])
_OTHER_PERSON = Phrases(_TRIAGE["other_people"])
_ASSIGNING_VERB = Phrases(_TRIAGE["assigning_verbs"])
_CHILD = Phrases(_TRIAGE["subjects"])
_SUBJECT_IS = Phrases(
    [f"{subject} {copula}" for subject in _TRIAGE["subjects"] for copula in _COPULAS]
    + ["she's", "he's", "they're", "it's", "that's", "shes", "hes", "theyre"]
)
_CONDITION_OPENING = re.compile(
    r"\W*(?:if|when|whenever|should|once|in case|unless|any)\b", re.IGNORECASE
)
_SEGMENT_SPLIT = re.compile(r"\s[-–—]+\s|;\s|(?<=[.!?])\s+")
_TIME_LIMIT = re.compile(r"\b(?:" + _alternatives(_TRIAGE["time_limits"]) + r")\b", re.IGNORECASE)
# A color right after a conclusion ("fine → YELLOW", "so YELLOW", "so she's YELLOW").
_CONCLUDES = re.compile(
    r"(?:^|\s)(?:" + _word_alternatives(_TRIAGE["conclusion_markers"]) + r")\s*"
    r"(?:(?:she|he|they|it)(?:'?s|\s+is|\s+are|'?re)\s+)?(?:really|definitely|clearly)?\s*$",
    re.IGNORECASE,
)
_CLAUSE_SPLIT = re.compile(r"[.;:!?]\s+|[,(]\s*(?=(?:so|then)\b)|\b(?:and|but)\b|\s[-–—]\s|\n")
# A clause about what a protocol does ("START only tags RED above 30/min") states a rule, not
# this child's color, nor does a Broselow zone ("the Green zone, 30-36 kg"). START and SALT in
# capitals only: "start oxygen" is an instruction.
_RULE = re.compile(
    r"\b(?:START|SALT)\b"
    r"|\b(?i:jump\s?start|protocol|algorithm|rules?|cut-?off|broselow|tape|zone)\b"
)
# A Broselow zone or tape color is never the child's triage color, whoever the subject is.
_TAPE_ZONE = re.compile(r"\b(?i:broselow|tape|zone)\b")

_SECTIONS = _LAYOUT["sections"]
_SECTION_ORDER = ("do_not", "reassess", "actions", "rationale", "key_points")
_SECTION_START = {
    key: re.compile(r"(?:" + _word_alternatives(_SECTIONS[key]) + r")", re.IGNORECASE)
    for key in _SECTION_ORDER
}
# A prohibition or a reassessment reads as such wherever its words stand in a title ("What NOT
# to do", "When to re-triage"); the other sections' words ("do", "care", "why") only as the
# title's opening.
_MEANING_ANYWHERE = ("do_not", "reassess")
_MEANING_ANYWHERE_SET = frozenset(_MEANING_ANYWHERE)
# A title inside a line or a table's first cell is short ("Cautions (do not)", "Triggers to
# re-triage"); a longer one is a sentence ("Still not breathing after the airway was ...").
_SHORT_TITLE_WORDS = 4
_SECTION_ANYWHERE = {
    key: re.compile(_word_alternatives(_SECTIONS[key]), re.IGNORECASE) for key in _MEANING_ANYWHERE
}
_DO_NOT_TITLE_WORD = re.compile(_word_alternatives(_SECTIONS["do_not_title_words"]))
_DO_NOT_SYMBOLS = tuple(_SECTIONS["do_not_title_symbols"])
_REASSESS_ENDING = re.compile(
    r"(?:" + _word_alternatives(_SECTIONS["reassess_title_endings"]) + r")\W*$"
)
# A schedule as a title: "q5 min", "check every 5 min", "check 5-10 min", "q10-15 min".
_TIMED_TITLE = re.compile(
    r"(?:(?:re-?check|check|look|obs|vitals|review|repeat|again|reassess)\s+){0,2}"
    r"(?:q\s?\d|every\s+\d|\d+(?:\s*-\s*\d+)?\s*mins?\b)"
)
_REASSESS_OPENING_TITLE = re.compile(_word_alternatives(_SECTIONS["reassess_title_openings"]))
_PROHIBITION_OPENING = re.compile(
    r"(?:" + _word_alternatives(_SECTIONS["prohibition_openers"]) + r")", re.IGNORECASE
)
# Filler before a heading's meaning: "Things to avoid", "What to watch for", "The don'ts".
_TITLE_FILLER = re.compile(
    r"(?:(?:\d+[.)]|step \d+|the|some|a few|key|important|critical|things|what|when|how)\s+)*",
    re.IGNORECASE,
)
# A prohibition or reassessment title may run longer ("Things you must not do with him:").
_TITLE_WORDS_WITH_MEANING = 8
_STEP_NUMBER = re.compile(r"step\s+\d+\s*[:.)-]\s*", re.IGNORECASE)
# "Title: rest" with a short title; a time ("at 10:30") or a ratio is not a heading.
_TITLED = re.compile(r"(?P<title>[^:]{1,60}?)\s*:(?!\d)\s*(?P<rest>.*)")
# "Title — rest", "Title • rest": a short title of a known section, another separator.
_DASHED = re.compile(
    r"(?P<title>.{1,40}?)\s*(?:" + _alternatives(_SECTIONS["heading_separators"]) + r")\s*"
    r"(?P<rest>.+)"
)
# A question and answer ("Q: when to look again? A: every few min ..."), or the answer alone.
_QUESTION = re.compile(r"Q\s*[:.]\s*(?P<title>[^?]{1,60})\?\s*(?:A\s*[:.]\s*)?(?P<rest>.*)")
_ANSWER = re.compile(r"A\s*:\s")
_TRAILING_SEPARATOR = re.compile(r"\s+[-–—•]$")
_EMPTY_ITEMS = frozenset(_SECTIONS["empty_items"])
# "none at this time — he's stable", "nothing special, just keep baby warm"
_EMPTY_OPENING = re.compile(
    r"(?:" + _word_alternatives(_SECTIONS["empty_items"]) + r")"
    r"(?:\s+(?:" + _alternatives(_SECTIONS["empty_item_tails"]) + r"))?\s*[—–,;:!(]"
)
_SIGN_OFF = re.compile(r"(?:" + _word_alternatives(_SECTIONS["sign_offs"]) + r")", re.IGNORECASE)
# A line that opens the reassessment section with its content ("Reassess every 5 minutes or
# if: ...", "Watch closely for grunting or a rate above 45", "Look at her again if ...").
_REASSESS_OPENING = re.compile(
    r"(?:" + _word_alternatives(_SECTIONS["reassess_openers"]) + r")", re.IGNORECASE
)
_PROHIBITION_IMPERATIVE = Phrases(_SECTIONS["prohibition_imperatives"])
_PROHIBITION_CUE = Phrases(_SECTIONS["prohibition_imperatives"] + _SECTIONS["prohibition_cues"])
_CUE_REACH = 4  # a sentence's prohibition stands within its first words
_PROHIBITION_CUE_WORD = re.compile(
    _word_alternatives(_SECTIONS["prohibition_imperatives"] + _SECTIONS["prohibition_cues"]),
    re.IGNORECASE,
)
_FULL_STOP = re.compile(r"(?<=[.!?])\s+")
_ANY_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\s+\|\s+")
# "Look at her again if ...", "have a second look when ...": a short lead with a
# reassessment phrase, then the condition, opens the triggers in prose.
_REASSESS_LEAD = re.compile(
    r"(?P<lead>(?:\S+\s+){0,8}?)(?:if|when|whenever|as soon as)\b", re.IGNORECASE
)
_REASSESS_VERB = re.compile(_word_alternatives(_SECTIONS["reassess_verbs"]), re.IGNORECASE)
_REASSESS_LEAD_WORDS = re.compile(_word_alternatives(_SECTIONS["reassess_leads"]), re.IGNORECASE)
# "**Things to steer clear of.** Don't leave him ...": a bold title opens its section.
_BOLD_LEAD = re.compile(r"\s*(\*\*|__)(?P<title>[^*_]{1,60}?)\1\s*(?P<rest>\w.*)")
_BRACKETED = re.compile(r"\([^)]*\)")
_ITEM = re.compile(
    r"\s*(?:[-*•·‣◦–▪►➤✗✘❌✓✔☐→]|\d{1,2}[.)]|\(\d{1,2}\)|[a-z][.)]|\[[ xX✓✔]\])\s+(?P<text>.*)"
)
# Whitespace after a sentence end, before a capital or digit.
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")
# Markdown marks, and symbols other than the arrows, dashes and bullets that separate a
# decision or a title (emoji, variation selectors, pictographs): letters and digits of any
# script stay.
_MARKDOWN = re.compile(r"[*_`~#|\[\]]+")
_SYMBOLS = re.compile(r"[^\w\s\x00-\x7f→⇒➡–—•]")


@lru_cache(maxsize=65536)
def plain_text(line: str) -> str:
    """A line without Markdown marks, emoji and other symbols, its spaces collapsed: what the
    decision and heading rules read ("**Triage:** 🔴 RED" -> "Triage: RED")."""
    # a spaced bar parts the statements of a note ("RED | 1yo apnoeic | O2"); other bars are
    # Markdown
    line = _MARKDOWN.sub(" ", line.replace("’", "'").replace(" | ", "; "))
    if not line.isascii():
        line = _SYMBOLS.sub(" ", line)
    # Arrows and dashes separate a decision from its field; before anything they are marks.
    return " ".join(line.split()).lstrip("> →⇒➡-–—•=")


@dataclass(slots=True)
class Section:
    key: str
    title: str
    line_index: int
    items: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Line:
    index: int  # 0-based line number in the response
    text: str
    section: str  # section key the line belongs to ("triage" or SECTION_KEYS)
    content: str  # the text without its list marker ("3. Press hard" -> "Press hard")


@dataclass
class ParsedResponse:
    text: str
    triage_color: str | None = None  # None when missing or ambiguous
    triage_label: str | None = None
    triage_line_index: int | None = None
    triage_is_first: bool = False
    triage_colors_named: tuple[str, ...] = ()
    triage_label_colors: tuple[str, ...] = ()  # the colors the stated label words stand for
    # (line index, color) of each later statement that gives the child a color again
    triage_restatements: tuple[tuple[int, str], ...] = ()
    # key -> (title, line_index, items) of each section, and (index, text, section, content)
    # of each non-blank line: what ``sections`` and ``lines`` give as Section and Line objects.
    section_rows: dict[str, tuple[str, int, list[str]]] = field(default_factory=dict)
    line_rows: list[tuple[int, str, str, str]] = field(default_factory=list)
    # text.split("\n"), blank lines included (what perturbations edit); from text if not given
    raw_lines: tuple[str, ...] = ()

    def __post_init__(self):
        if not self.raw_lines:  # a split always has a line: empty means not given
            self.raw_lines = tuple(self.text.split("\n"))

    @property
    def sections(self) -> dict[str, Section]:
        """The sections by key (the item lists are the parse's own)."""
        return {key: Section(key, *row) for key, row in self.section_rows.items()}

    @property
    def lines(self) -> list[Line]:
        """The non-blank lines with their sections."""
        return [Line(*row) for row in self.line_rows]

    @property
    def has_triage_line(self) -> bool:
        return self.triage_line_index is not None

    @property
    def triage_ambiguous(self) -> bool:
        return len(self.triage_colors_named) > 1

    @property
    def triage_changed_to(self) -> tuple[str, ...]:
        """The other colors later statements give the child, in order, without repeats."""
        changed: list[str] = []
        for _, color in self.triage_restatements:
            if color != self.triage_color and color not in changed:
                changed.append(color)
        return tuple(changed)

    def items(self, key: str) -> list[str]:
        section = self.section_rows.get(key)
        return section[2] if section else []


def _normalise_color(word: str) -> str:
    word = word.upper()
    return _COLOR_SPELLINGS.get(word, word)


# "GREY" as "GRAY"; the abbreviations of notes and SMS ("YLW / delayed")
_COLOR_SPELLINGS = {"GREY": "GRAY", "YLW": "YELLOW", "GRN": "GREEN", "BLK": "BLACK"}


def split_sentences(text: str) -> list[str]:
    """The sentences of a line of text (a period, ! or ? then a capital or a digit)."""
    return [s.strip() for s in _SENTENCE_SPLIT.split(text) if s.strip()]


def _split_inline(rest: str) -> list[str]:
    return split_sentences(rest.strip().strip("*_ ").strip())


def states_a_color(text: str) -> bool:
    """Whether a line or sentence gives the child a triage color, as a decision line, an
    assigning sentence or the protocol's result."""
    return (
        read_decision_line(text) is not None
        or bool(assigned_colors(text))
        or protocol_result(text) is not None
    )


# Where the stated triage ends and commentary begins: a spaced dash, arrow or bar, a sentence
# or clause mark, or a word that opens an explanation ("RED (Immediate) - YELLOW by the steps
# alone, but ...", "RED -> absent radial", "RED | 1yo apnoeic"). "RED or YELLOW",
# "RED/YELLOW" and "Immediate - RED" stay within the statement.
_COMMENTARY = re.compile(
    r"\s(?:[-–—]+|->|→|=>|⇒|\|)\s(?!" + _COLOR + r"|\b(?:" + _alternatives(_LABEL_COLOR) + r")\b)"
    r"|[.;,:!?](?=\s|$)|\b(?:because|since|but|though|although|as|while|whereas|for|if|when"
    r"|unless|upgrade|downgrade|not|due|given|with)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Decision:
    """A triage decision as stated: its colors (from color words, else from label words) and
    the label words' colors."""

    colors: tuple[str, ...]
    label: str | None
    label_colors: tuple[str, ...]


def _read_statement(text: str) -> Decision | None:
    """The decision a statement gives ("Immediate (RED)", "red or yellow", "Delayed"), or None
    if it names no color and no label. Commentary after the first color or label is cut."""
    text = _BRACKETED.sub(_decision_bracket, text)
    first = _COLOR_WORD.search(text) or _LABEL_WORD.search(text)
    if first is None:
        return None
    end = _COMMENTARY.search(text, first.end())
    statement = text[: end.start()] if end else text
    colors = _unique(_normalise_color(m.group(1)) for m in _COLOR_WORD.finditer(statement))
    labels = [m.group(1) for m in _LABEL_WORD.finditer(statement)]
    label_colors = _unique(_LABEL_COLOR[label.lower()] for label in labels)
    if not colors:
        colors = label_colors
    return Decision(colors, labels[0] if labels else None, label_colors)


def _unique(values) -> tuple:
    return tuple(dict.fromkeys(values))


@lru_cache(maxsize=65536)
def read_decision_line(line: str) -> Decision | None:
    """The decision a line states in a decision form ("Triage: Immediate (RED)",
    "RED - IMMEDIATE", "🔴 RED", "- Tag YELLOW and ..."), or None."""
    if line.lstrip().startswith("|"):
        return _table_row_decision(line)
    item = _ITEM.match(line)
    text = plain_text(item.group("text") if item else line)
    match = _FIELD_FORM.match(text)
    if match:
        return _field_decision(match)
    prefix = _DECISION_PREFIX.match(text)
    if prefix and _COLOR_WORD.match(text, prefix.end()):
        text = text[prefix.end() :]  # "prob red, maybe yellow", "one YELLOW, 15 yo male"
    lead = _LEADING_FORM.match(text)
    if lead is None:
        return _later_field_decision(text)
    decision = _read_statement(text)
    if decision is None:
        return None
    if lead.group(1) is None and not _COLOR_WORD.search(text):
        # A label opens the line: a decision only with its color ("IMMEDIATE - RED"), alone
        # or closed by a full stop or a dash ("Immediate.", "MINOR - walked out"), never as
        # a heading's first word ("Immediate Actions:") or an adjective ("Minor burns").
        alone = not re.search(r"\w", text[: lead.start()] + text[lead.end() :])
        return decision if alone or _LABEL_CLOSED.match(text, lead.end()) else None
    # The decision and nothing else: "RED", "RED (Immediate)", "IMMEDIATE - RED", "GREEN -
    # minor. She walked to you.", "GREEN (walked in)" ("Red lines:", "Red flags" are titles).
    # A bracket without a color or label is commentary; so is whatever follows the statement.
    statement = _BRACKETED.sub(_decision_bracket, text)
    end = _COMMENTARY.search(statement, lead.end())
    statement = statement[: end.start()] if end else statement
    leftover = _LABEL_WORD.sub(" ", _COLOR_WORD.sub(" ", statement))
    leftover = [
        word
        for word in re.sub(r"[^\w\s]", " ", leftover).lower().split()
        if word not in _DECISION_FILLERS
    ]
    if not leftover or _is_color_then_tag(text):
        return decision
    return None


def _field_decision(match: re.Match) -> Decision | None:
    """The decision after a field's name, where it opens what follows ("Triage: JumpSTART ->
    RED"); not where the line walks through the steps ("JumpSTART: apneic -> ...")."""
    rest = match.group("rest") or match.group("bare")
    first = _COLOR_WORD.search(rest) or _LABEL_WORD.search(rest)
    if first is None or len(rest[: first.start()].split()) > 3:
        return None
    return _read_statement(rest)


def _later_field_decision(text: str) -> Decision | None:
    """The decision a field form states after a dash or semicolon ("JumpSTART doesn't apply
    (10 y) — START: Immediate (RED)")."""
    for segment in _SEGMENT_SPLIT.split(text)[1:]:
        match = _FIELD_FORM.match(segment)
        decision = _field_decision(match) if match else None
        if decision is not None:
            return decision
    return None


def _table_row_decision(line: str) -> Decision | None:
    """A Markdown table row whose first cell names the decision and whose last cell states it
    ("| **Final category** | she can wait | **YELLOW** |")."""
    cells = [plain_text(cell) for cell in _cells(line)]
    cells = [cell for cell in cells if cell]
    if len(cells) < 2 or not _FIELD_FORM.match(f"{cells[0]}: x"):
        return None
    return read_decision_line(f"{cells[0]}: {cells[-1]}")


def _decision_bracket(bracket: re.Match) -> str:
    """A bracket that only states the decision ("(Immediate)", "(RED)") stays; one that says
    more is commentary and goes ("(walked in)", "(airway threat overrides JumpSTART
    YELLOW)")."""
    text = bracket.group(0)
    return text if _only_a_decision(text[1:-1]) else " "


def _only_a_decision(text: str) -> bool:
    if not (_COLOR_WORD.search(text) or _LABEL_WORD.search(text)):
        return False
    rest = _LABEL_WORD.sub(" ", _COLOR_WORD.sub(" ", text))
    return all(word in _DECISION_FILLERS for word in re.sub(r"[^\w\s]", " ", rest).lower().split())


def _is_color_then_tag(text: str) -> bool:
    """ "RED tag", "Yellow category: ..." open a line with the decision too."""
    return re.match(_COLOR + r"\s+(?:tag|category|priority|triage)\b", text, re.I) is not None


@lru_cache(maxsize=65536)
def assigned_colors(line: str) -> tuple[str, ...]:
    """Colors a sentence gives the child ("I'd tag her YELLOW", "she is RED"), leaving out
    clauses that are hypothetical, rejected or about someone else."""
    text = plain_text(line)
    if not _COLOR_WORD.search(text):
        return ()
    colors = []
    # a sentence that opens with a condition gives no color now ("If his radial pulse
    # disappears, he needs fluids ... and he should be re-triaged as RED")
    said = " ".join(s for s in _ANY_SENTENCE.split(text) if not _CONDITION_OPENING.match(s))
    for clause in _consequence_free_clauses(said):
        color = _COLOR_WORD.search(clause)
        if not color or _TAPE_ZONE.search(clause):
            continue
        if _RULE.search(clause) and not _said_of_the_child(clause[: color.start()]):
            continue
        if _CONDITIONAL.found_in(_condition_words(clause)) or _about_someone_else(clause):
            continue
        if _is_threshold_rule(clause[: color.start()]):
            continue
        opening = _OPENING_COLOR.match(clause)
        if opening and not _COLORED_THING.found_in(words_of(clause)):
            colors.append(_normalise_color(opening.group(1)))
        for match in _COLOR_WORD.finditer(clause):
            if _is_assigned(clause[: match.start()]):
                colors.append(_normalise_color(match.group(1)))
    return _unique(colors)


def _consequence_free_clauses(said: str) -> list[str]:
    """The clauses of ``said``, less those that follow a condition in the same segment ("if
    it's truly absent, that changes things and she goes to RED": the color is the
    condition's consequence)."""
    kept = []
    for segment in _SEGMENT_SPLIT.split(said):
        for clause in _CLAUSE_SPLIT.split(segment):
            if _CONDITION_OPENING.match(clause):
                break
            kept.append(clause)
    return kept


def _is_threshold_rule(before: str) -> bool:
    """A color after a threshold is a rule where no reading of the child comes before it
    ("only <15 = RED") or the threshold is what makes it ("it's more than 45 that makes it
    red"); after a reading it is a conclusion ("RR 50 (>45) → RED", "that's over 30 = RED")."""
    whole, before = before, before.rsplit(",", 1)[-1]
    symbol = _THRESHOLD_SYMBOL.search(before)
    if symbol is not None and not _DIGIT_BEFORE.search(before, 0, symbol.start()):
        return True
    worded = _THRESHOLD_WORDS.search(before)
    if worded is None:
        return False
    # "over 45, or drowsy → red": no reading of the child anywhere before the threshold
    reading = _DIGIT_BEFORE.search(whole, 0, len(whole) - len(before) + worded.start())
    return reading is None or _MAKES_IT.search(before, worded.end()) is not None


_THRESHOLD_SYMBOL = re.compile(r"[<>≤≥]\s*\d")
_THRESHOLD_WORDS = re.compile(
    r"\b(?:(?:more|less|greater|fewer)\s+than|over|above|under|below)\W*\d", re.IGNORECASE
)
_MAKES_IT = re.compile(r"\b(?:that|what|which)\s+makes?\b", re.IGNORECASE)
_DIGIT_BEFORE = re.compile(r"\d")


def _said_of_the_child(before: str) -> bool:
    """Whether the child is the subject before a color ("He comes out yellow, delayed, on
    JumpSTART"): a clause naming a protocol then speaks of this child, not of the rule."""
    return _CHILD.found_in(words_of(before))


def _about_someone_else(clause: str) -> bool:
    """Whether another person is named before the color ("her brother is GREEN"); one named
    after it is where the child goes ("GREEN, goes with the walking wounded")."""
    color = _COLOR_WORD.search(clause)
    return _OTHER_PERSON.found_in(words_of(clause[: color.start()] if color else clause))


def _condition_words(clause: str) -> list[str]:
    """The words of a clause that may make its color hypothetical: without an aside in
    brackets before the color ("(a crash, could have hidden injuries), he's YELLOW") and
    without a time limit after it ("YELLOW until a medic has seen him")."""
    color = _COLOR_WORD.search(clause)
    if color is None:
        return words_of(clause)
    limit = _TIME_LIMIT.search(clause, color.end())
    before = _BRACKETED.sub(" ", clause[: color.start()])
    return words_of(before + clause[color.start() : limit.start() if limit else None])


def _is_assigned(before: str) -> bool:
    """Whether the words before a color (back to a comma, at most eight) give it to the child
    and do not reject it ("tag her", "she is", "... → ", "so", but not "she is not", "don't
    tag her")."""
    if _CONCLUDES.search(before.rsplit(",", 1)[-1]):
        return True
    window = words_of(before.rsplit(",", 1)[-1])[-8:]
    verb = _ASSIGNING_VERB.position_in(window)
    if verb is None:
        verb = _SUBJECT_IS.position_in(window)
    if verb is None:
        return False
    return not _NEGATION.found_in(window)


def parse_response(text: str) -> ParsedResponse:
    """Parse a response into its triage decision, sections and line-by-line section
    membership."""
    parsed = ParsedResponse(text)
    rows, sections = parsed.line_rows, parsed.section_rows
    key = "other"  # the current section's key, once a section is open
    items: list[str] | None = None  # the current section's items; None before any section
    after_blank = after_item = False
    under_title = False  # text lines right under a bare heading ("Recheck if:"), nothing between
    restated: list[tuple[int, str]] = []
    table_columns = _section_table_columns(parsed.raw_lines) if "|" in text else {}
    for index, line in enumerate(parsed.raw_lines):
        reading = _read_line(line)
        kind, heading_key, title, line_items, content = reading[:5]
        if kind == "blank":
            after_blank = True
            continue
        if index in table_columns and parsed.triage_line_index is not None:
            rows.extend(_table_rows(sections, line, index, table_columns[index]))
            items, after_blank = None, False
            continue
        if parsed.triage_line_index is None:
            decision = reading.decision if kind != "item" or index else read_decision_line(line)
            if decision is not None:
                _set_decision(parsed, index, decision, first=not rows)
                rows.append((index, line, "triage", line))
                rest = _after_first_sentence(line)
                if rest:
                    # a whole answer written on the decision's line: the rest is read as text,
                    # and may give the child another color ("..., so she's really GREEN")
                    rows[-1] = (index, line, "triage", line[: len(line) - len(rest)].rstrip())
                    rest_rows = _paragraph_rows(sections, rest, index, line, "other")
                    rows.extend(rest_rows)
                    # (after its first full stop: "RED for the 5-year-old; the baby is
                    # YELLOW" is one statement about two children)
                    later = _FULL_STOP.split(line, maxsplit=1)[1:]
                    restated.extend(
                        (index, color)
                        for _, _, key, sentence in rest_rows
                        if key not in _NOT_RESTATING and later and sentence in later[0]
                        for color in assigned_colors(sentence)
                    )
                items = None
                after_blank = False
                continue
        if kind == "text" and reading.short_title and _opens_a_list(parsed.raw_lines, index):
            kind, heading_key, title, line_items = "heading", reading.short_title, line.strip(), ()
        # a paragraph: after a blank line, a whole line of text ("lie him down, keep warm\n
        # DONT loosen the TQ ..."), or as an unindented line right after a list
        opens_paragraph = (
            kind == "text"
            and reading.prohibition_prose
            and (
                items is None
                or after_blank
                or not (after_item or under_title)
                or (after_item and _a_new_block(line))
            )
        )
        after_item = kind == "item"
        under_title = (kind == "heading" and not line_items) or (kind == "text" and under_title)
        if opens_paragraph:
            # Prohibitions written as a paragraph are the Do NOT section, but the line stays
            # an ordinary one: its words carry their own negation and are still read for
            # instructions ("Don't panic and put ice on it").
            key, items = "other", None
            _open_section(sections, "do_not", "", index).append(line.strip())
        elif kind == "item":
            if items is None:
                key, items = "other", _open_section(sections, "other", "", index)
            if not _is_empty_item(content):
                items.append(content)
        elif kind == "heading":
            key = heading_key
            items = _open_section(sections, key, title, index)
            heading_rows = _heading_rows(sections, items, line_items, index, line, key)
        elif kind == "text" and (reading.sign_off or _is_empty_item(content)):
            # "Stay safe out there!" closes the answer, "None at this time" says there is
            # nothing: no item of the section above
            pass
        else:
            # Free text: continues the section it follows unless a blank line separated it
            # from a list, in which case it is a paragraph of its own.
            if items is None or (after_blank and items):
                key, items = "other", _open_section(sections, "other", "", index)
            if items and not after_blank:
                items[-1] = f"{items[-1]} {line_items[0]}"
            else:
                items.append(line_items[0])
        line_rows = [(index, line, key, content)]
        if kind == "text":
            line_rows = _paragraph_rows(sections, content, index, line, key)
            rows.extend(line_rows)
        elif kind == "heading":
            rows.extend(heading_rows)
        else:
            rows.append((index, line, key, content))
        after_blank = False
        # A color given again after the decision; the items, headings and text under the
        # headings of the Do NOT and reassessment lists say nothing about the child's color
        # (text after their items may: "Actually she can wait: tag her YELLOW").
        if (
            parsed.triage_line_index is not None
            and reading.colors_given
            and (key not in _NOT_RESTATING or (kind == "text" and not under_title))
        ):
            colors = reading.colors_given
            if any(row[2] != key for row in line_rows):  # not the colors of trigger sentences
                colors = [
                    c
                    for *_, k, text in line_rows
                    if not (k == "do_not" or (k == "reassess" and _is_trigger_sentence(text)))
                    for c in assigned_colors(text)
                ]
            restated.extend((index, color) for color in colors)
    if parsed.triage_line_index is None:
        _find_sentence_decision(parsed)
    if not parsed.items("do_not"):
        promoted = _promote_prohibition_list(parsed)
        restated = [(index, color) for index, color in restated if index not in promoted]
    parsed.triage_restatements = tuple(restated)
    return parsed


_TABLE_RULE = re.compile(r"\s*\|?\s*:?-{3,}")


def _section_table_columns(lines: tuple[str, ...]) -> dict[int, tuple[str, ...]]:
    """{line index: the section of each column} for the rows of a Markdown table whose header
    names a Do NOT or reassessment column ("| ✅ Do | ⛔ Don't | 👀 Re-check if |"), header
    and rule rows included (their columns "other")."""
    found: dict[int, tuple[str, ...]] = {}
    index = 0
    while index + 1 < len(lines):
        header, rule = lines[index], lines[index + 1]
        if not (header.lstrip().startswith("|") and _TABLE_RULE.match(rule)):
            index += 1
            continue
        columns = tuple(section_of(cell.strip()) for cell in _cells(header))
        if columns[0] in _MEANING_ANYWHERE_SET and not any(c.strip() for c in _cells(header)[1:]):
            columns = (columns[0],) * len(columns)  # "| Do not | |": the title over the table
        end = index + 2
        while end < len(lines) and lines[end].lstrip().startswith("|"):
            end += 1
        if _MEANING_ANYWHERE_SET & set(columns):
            found[index] = found[index + 1] = ("other",) * len(columns)
            for row in range(index + 2, end):
                found[row] = columns
        else:
            found.update(_titled_rows(lines, index, end))
        index = end
    return found


def _titled_rows(lines: tuple[str, ...], start: int, end: int) -> dict[int, tuple[str, ...]]:
    """The rows of a table whose first column titles each row ("| Avoid | no ice; ... |",
    "| Re-triage if | ... |") where one of them titles a Do NOT or reassessment row: the
    other cells of such a row are that section's, every other cell "other"."""
    found = {}
    for row in range(start, end):
        cells = _cells(lines[row])
        title = plain_text(cells[0]).strip(" :")
        key = section_of(title) if row >= start + 2 else "other"
        if key not in _MEANING_ANYWHERE_SET or not _is_short_title(title, key):
            key = "other"  # "| Resist the urge to make him vomit | ... |" is a rule, no title
        found[row] = ("other",) + (key,) * (len(cells) - 1)
    if not any(set(columns) & _MEANING_ANYWHERE_SET for columns in found.values()):
        return {}
    return found


def _cells(line: str) -> list[str]:
    return line.strip().strip("|").split("|")


def _table_rows(sections: dict, line: str, index: int, columns: tuple[str, ...]) -> list:
    """One row per cell of a section table's row, with its column's section (a Do NOT cell is
    then not read as an instruction); the cells are the items of their sections."""
    rows = []
    for cell, key in zip(_cells(line), columns, strict=False):
        text = cell.strip()
        if not text or _is_empty_item(text):
            continue
        if key != "other":
            _open_section(sections, key, "", index).append(text)
        rows.append((index, line, key, text))
    return rows


def _after_first_sentence(line: str) -> str:
    """What a line says after its first sentence ("" for one sentence)."""
    parts = _ANY_SENTENCE.split(line.strip(), maxsplit=1)
    return parts[1] if len(parts) == 2 else ""


def _heading_rows(
    sections: dict, items: list[str], line_items: tuple[str, ...], index: int, line: str, key: str
) -> list:
    """The rows of a heading line, its text added to its section's items; a titled Do NOT or
    reassessment list inside it ("Treatment: cool the burn. Cautions (do not): burst blisters;
    cool the whole child. Recheck if: ...") is that section's, and not read as instructions."""
    sentences = _inline_sections(" ".join(line_items), titles_only=True) if line_items else ()
    for section, _, content in sentences:
        target = items if section is None else _open_section(sections, section, "", index)
        if content and not _is_empty_item(content):
            target.append(content)
    first = next((k for k, (section, _, _) in enumerate(sentences) if section is not None), None)
    if first is None:
        return [(index, line, key, line)]
    # the title and the sentences before the first inline section stay one row ("Hypotension
    # for 11 years: SBP < 92." is read with its title)
    opening = line[: line.find(sentences[first][1])].rstrip()
    rows = [(index, line, key, opening)] if opening else []
    return rows + [(index, line, section or key, text) for section, text, _ in sentences[first:]]


def _paragraph_rows(sections: dict, paragraph: str, index: int, line: str, key: str) -> list:
    """The rows of a paragraph: itself, or, where its sentences open Do NOT or reassessment
    sections, one row per sentence, those with their section's key (their content added to
    it, and not read as instructions) and the others with the paragraph's."""
    sentences = _inline_sections(paragraph)
    if all(section is None for section, _, _ in sentences):
        return [(index, line, key, paragraph)]
    rows = []
    for section, sentence, content in sentences:
        if section is not None:
            section_items = _open_section(sections, section, "", index)
            if content:
                section_items.append(content)
        rows.append((index, line, section or key, sentence))
    return rows


@lru_cache(maxsize=65536)
def _inline_sections(
    paragraph: str, titles_only: bool = False
) -> tuple[tuple[str | None, str, str], ...]:
    """(section key or None, sentence, its content) for each sentence of a paragraph; a
    sentence opens a Do NOT or reassessment section with a title and its content ("... Things
    to avoid: please don't roll her.", "Don'ts - do not loosen the tourniquet"), with a
    look-again lead ("She needs a proper recheck if she gets sleepy") or, in prose of several
    sentences, with a reassessment verb ("Recount her breathing in five minutes") or a
    prohibition no plain instruction follows ("Please don't let him stand up.")."""
    found = []
    sentences = _ANY_SENTENCE.split(paragraph.strip())
    # a paragraph, not a one-sentence line ("25 mL IV, recheck BGL"); after a heading's title
    # only titled lists count ("Actions: keep her flat. don't let her stand" has no Do NOT)
    prose = len(sentences) > 1 and not titles_only
    listed = None  # the section whose titled list a ";" continues ("avoid: ice; butter")
    for sentence in sentences:
        heading = _read_heading(sentence)
        if (
            heading is not None
            and heading[0] in _MEANING_ANYWHERE
            and not (titles_only and not _is_short_title(heading[1], heading[0]))
        ):
            # its content, or none: "... Recheck if:" ends the answer with an empty section
            found.append((heading[0], sentence, heading[2].strip()))
        elif listed is not None:
            found.append((listed, sentence, sentence))
        elif prose and _is_prohibition_prose(sentence):
            found.append((_PROSE_PROHIBITION, sentence, sentence))
        elif titles_only and not _REASSESS_OPENING.match(plain_text(sentence)):
            found.append((None, sentence, sentence))
        elif (
            _REASSESS_OPENING.match(plain_text(sentence))
            or _opens_with_a_reassess_lead(sentence)
            or (prose and _REASSESS_VERB.search(sentence))
            or _is_trigger_sentence(sentence)
        ):
            found.append(("reassess", sentence, sentence))
        else:
            found.append((None, sentence, sentence))
        titled = found[-1][0] in _MEANING_ANYWHERE and (heading is not None or listed is not None)
        # a title alone ("Re-triage if | a; b") or a ";" hands its section to what follows
        listed = found[-1][0] if titled and (sentence.endswith(";") or not found[-1][2]) else None
    # A prohibition sentence is the Do NOT section where no plain instruction follows it
    # ("... Please don't let him stand. Keep watching him: if ..."); one in the middle of the
    # actions ("... don't let him drink. then clean clothes ...") is not.
    for i, (key, sentence, content) in enumerate(found):
        if key == _PROSE_PROHIBITION:
            after = found[i + 1][0] if i + 1 < len(found) else "end"
            found[i] = ("do_not" if after is not None else None, sentence, content)
    return tuple(found)


_PROSE_PROHIBITION = "prose prohibition"


def _promote_prohibition_list(parsed: ParsedResponse) -> set[int]:
    """With no Do NOT section, make one of the first list of two or more items that are all
    prohibitions under a title of no known kind ("ice is a bad idea here, also:" then "- no
    butter, no toothpaste" and "- dont pop the blister"); the line indexes it took."""
    rows = parsed.line_rows
    block: list[int] = []  # positions in rows of the current run of unsectioned items
    for position in range(len(rows) + 1):
        if position < len(rows):
            _, line, key, _ = rows[position]
            if key == "other" and _read_line(line).kind == "item":
                block.append(position)
                continue
        if len(block) >= 2 and all(_is_prohibition_item(rows[p][3]) for p in block):
            parsed.section_rows["do_not"] = ("", rows[block[0]][0], [rows[p][3] for p in block])
            for p in block:
                index, line, _, content = rows[p]
                rows[p] = (index, line, "do_not", content)
            return {rows[p][0] for p in block}
        block = []
    return set()


@lru_cache(maxsize=65536)
def _is_prohibition_item(item: str) -> bool:
    """An item that opens with a prohibition ("no butter", "dont pop the blister", "Ø PO")."""
    return _PROHIBITION_CUE.found_in(words_of(plain_text(item))[:2])


class LineReading(NamedTuple):
    """What one line is, read once per distinct line (``_read_line`` is cached)."""

    kind: str  # blank, heading, item or text
    section: str  # the section a heading opens
    title: str
    items: tuple[str, ...]  # a heading's inline items, or the text of an item or text line
    content: str  # the line without its list marker
    decision: Decision | None  # the decision it states, in a decision form (items: a field)
    colors_given: tuple[str, ...]  # colors it gives the child, as a decision or a sentence
    short_title: str | None  # the section it opens when a list follows it
    prohibition_prose: bool  # a paragraph that opens with a prohibition
    sign_off: bool  # a short closing line ("Stay safe out there!")


@lru_cache(maxsize=65536)
def _read_line(line: str) -> LineReading:
    kind, key, title, items, content = _classify(line)
    if kind == "blank":
        return LineReading(kind, key, title, items, content, None, (), None, False, False)
    if kind == "item":
        # an item holds the decision in a field form ("- **Triage:** RED"), or after an arrow
        # that concludes ("→ RED (Immediate), JumpSTART")
        concludes = line.lstrip().startswith(("→", "=>", "->")) or _looks_like_decision(content)
        decision = read_decision_line(content) if concludes else None
    else:
        decision = read_decision_line(line)
    stated = read_decision_line(content)
    colors_given = stated.colors if stated is not None else assigned_colors(content)
    text = kind == "text"
    return LineReading(
        kind,
        key,
        title,
        items,
        content,
        decision,
        colors_given,
        _short_title(line) if text else None,
        text and _is_prohibition_prose(line),
        text and _is_sign_off(line),
    )


def _opens_a_list(lines: tuple[str, ...], index: int) -> bool:
    """Whether the next non-blank line after ``index`` is a list item."""
    for line in lines[index + 1 :]:
        if line.strip():
            return _ITEM.match(line) is not None
    return False


def _short_title(line: str) -> str | None:
    """The section a short line without end punctuation opens when a list follows it
    ("Things to avoid", "Come back to her if", "Immediate care"), or None."""
    text = plain_text(line)
    if not text or text.endswith((".", "!", "?")) or len(text.split()) > 7 or "," in text:
        return None  # (a comma: findings, "NOT WALKING, BREATHING 20, PULSE OK")
    key = section_of(text)
    if key == "other" and _SECTION_START["actions"].search(text.lower()):
        key = "actions"  # "Immediate care": an actions word anywhere in a title over a list
    return None if key == "other" else key


def _is_sign_off(line: str) -> bool:
    """A short closing line ("Stay safe out there! ❄️", "Hope this helps.")."""
    text = plain_text(line)
    return len(text.split()) <= 12 and _SIGN_OFF.match(text) is not None


@lru_cache(maxsize=65536)
def _is_empty_item(text: str) -> bool:
    """An item that says there is nothing ("N/A", "none", "—")."""
    words = plain_text(text).strip(" .!").lower()
    return not words or words in _EMPTY_ITEMS or _EMPTY_OPENING.match(words) is not None


@lru_cache(maxsize=65536)
def _a_new_block(line: str) -> bool:
    """Whether a text line right after a list item opens a paragraph of its own: unindented
    and holding several prohibitions ("never leave him alone, no food or drink, dont pull
    the arm straight"); a single rule there ("Never leave her alone") stays with the list."""
    if line[:1].isspace():
        return False
    return len(_PROHIBITION_CUE_WORD.findall(plain_text(line))) >= 2


def _is_prohibition_prose(line: str) -> bool:
    """A paragraph of prohibitions: it opens with one ("Resist the urge to sit her up ..."),
    or each of its sentences carries a prohibition in its first words and one of them is an
    imperative ("nothing by mouth. don't leave her alone")."""
    text = plain_text(line)
    if _PROHIBITION_OPENING.match(text):
        return True
    openings = [words_of(sentence)[:_CUE_REACH] for sentence in _ANY_SENTENCE.split(text)]
    openings = [words for words in openings if words]
    return (
        bool(openings)
        and all(_PROHIBITION_CUE.found_in(words) for words in openings)
        and (
            _PROHIBITION_IMPERATIVE.found_in(words_of(text)) or _NO_ACTION.search(text) is not None
        )
    )


# "no tight bandages, no straightening", "no food/drink": "no" before an action or an intake
# is a prohibition ("no breathing", "no bleeding" are findings)
_NO_ACTION = re.compile(
    r"\bno\s+(?:(?!(?:breathing|bleeding|moving|responding|walking|talking)\b)\w+ing\b|"
    r"(?:food|drinks?|fluids|oral|tight|belly|tummy|heimlich|neutrali[sz]ing|induced)\b)",
    re.IGNORECASE,
)


def _looks_like_decision(content: str) -> bool:
    """An item may carry the decision ("- **Triage:** RED") only in a decision form."""
    return _FIELD_FORM.match(plain_text(content)) is not None


def _set_decision(parsed: ParsedResponse, index: int, decision: Decision, first: bool) -> None:
    parsed.triage_line_index = index
    parsed.triage_is_first = first
    parsed.triage_colors_named = decision.colors
    parsed.triage_color = decision.colors[0] if len(decision.colors) == 1 else None
    parsed.triage_label = decision.label
    parsed.triage_label_colors = decision.label_colors


def _find_sentence_decision(parsed: ParsedResponse) -> None:
    """With no decision line, the first sentence that gives the child a color is the
    decision ("I'd tag this child YELLOW."), else the first that states what the protocol
    gives ("jumpstart says yellow / delayed")."""
    for position, (index, line, _, _) in enumerate(parsed.line_rows):
        colors = assigned_colors(line)
        if colors:
            _set_decision(parsed, index, Decision(colors, None, ()), first=position == 0)
            return
    for position, (index, line, _, _) in enumerate(parsed.line_rows):
        decision = protocol_result(line) or label_result(line)
        if decision is not None:
            _set_decision(parsed, index, decision, first=position == 0)
            return


@lru_cache(maxsize=65536)
def label_result(line: str) -> Decision | None:
    """The category a sentence gives by its label alone, outside a condition ("That means
    Immediate under JumpSTART", "I would put this toddler as a delayed priority")."""
    text = plain_text(line)
    for sentence in _ANY_SENTENCE.split(text):
        found = _LABEL_DECISION.search(sentence)
        if found and not _CONDITIONAL.found_in(words_of(sentence[: found.start()])):
            label = found.group(1)
            return Decision((_LABEL_COLOR[label.lower()],), label, (_LABEL_COLOR[label.lower()],))
    return None


@lru_cache(maxsize=65536)
def protocol_result(line: str) -> Decision | None:
    """The color a line says the protocol gives, unless hypothetically ("jumpstart says
    yellow / delayed"; not "START would say RED")."""
    text = plain_text(line)
    result = _PROTOCOL_RESULT.search(text)
    if result is None or _CONDITIONAL.found_in(words_of(text[: result.start()])):
        return None
    return _read_statement(text[result.start(1) :])


def _open_section(
    sections: dict[str, tuple[str, int, list[str]]], key: str, title: str, index: int
) -> list[str]:
    """Open a section (in ``ParsedResponse.section_rows``) and return its item list. A second
    heading of a kind that already has items continues the first one's list; "other"
    sections never replace a named one."""
    existing = sections.get(key)
    if existing is not None and key != "other" and existing[2]:
        return existing[2]
    items: list[str] = []
    if existing is None or key != "other":
        sections[key] = (title, index, items)
    return items


@lru_cache(maxsize=65536)
def _classify(line: str) -> tuple[str, str, str, tuple[str, ...], str]:
    """(kind, section key, title, items, content) of one line; kind is blank, heading, item or
    text; key and title are empty but for headings; content is the line without its list
    marker (the line itself but for items)."""
    if not line.strip():
        return "blank", "", "", (), line
    item = _ITEM.match(line)
    if item:
        text = item.group("text").strip()
        heading = _read_heading(text)
        if heading is not None and not heading[2].strip():
            # A marked title with nothing after it ("❌ Do NOT", "- **Don'ts:**") opens a list.
            return "heading", heading[0], heading[1], (), line
        if (
            heading is not None
            and heading[0] == "do_not"
            and _is_short_title(heading[1], heading[0])
            and plain_text(text).startswith(f"{heading[1]}:")
        ):
            # "- dont: ice, butter, popping blisters": a titled list in one item (not "6. **Don't**
            # let him walk", a prohibition among the actions)
            return "heading", heading[0], heading[1], tuple(_split_inline(heading[2])), line
        return "item", "", "", (text,), text
    heading = _read_heading(line)
    if heading is not None:
        key, title, rest = heading
        if key == "other" and rest and _is_prohibition_prose(rest):
            key = "do_not"  # "NB: nothing by mouth; don't leave him alone"
        return "heading", key, title, tuple(_split_inline(rest)), line
    if _REASSESS_OPENING.match(plain_text(line)) or _opens_with_a_reassess_lead(line):
        return "heading", "reassess", "Reassess", (line.strip().strip("*_ "),), line
    return "text", "", "", (line.strip(),), line


def _is_trigger_sentence(sentence: str) -> bool:
    """A sentence of triggers in prose: a timed check ("check every 3-5 min"), a condition
    that escalates ("if the cut starts pouring ..., bump him to red"), or conditions that end
    in a color ("over 45, or drowsy/pale/cold → red")."""
    text = plain_text(sentence)
    if _TIMED_CHECK.search(text) and _CHECK_VERB.search(text):
        return True  # not "2 mg now, repeat q5-15 min": a dose's repeat
    if _CONDITION_OPENING.match(text) and _REASSESS_LEAD_WORDS.search(text):
        return True
    escalation = _ESCALATES_TO.search(text)
    if escalation is None:
        return False
    before = text[: escalation.start()]
    threshold = _THRESHOLD_SYMBOL.search(before) or _THRESHOLD_WORDS.search(before)
    return threshold is not None and not _DIGIT_BEFORE.search(before, 0, threshold.start())


# "every 5 min", "q10min", "every 3-5 minutes", "every minute"
_TIMED_CHECK = re.compile(
    r"\b(?:every|q)\s*(?:\d+\s*(?:-\s*\d+\s*)?)?(?:min|mins|minutes|minute)\b", re.IGNORECASE
)
_CHECK_VERB = re.compile(
    r"\b(?:check|checks|recheck|re-check|count|recount|reassess|re-assess|re-triage|retriage|"
    r"look|watch|monitor|obs|observe)\b",
    re.IGNORECASE,
)
# conditions, then an arrow to a higher category: "drowsy/pale/cold → red"
_ESCALATES_TO = re.compile(r"(?:→|->|=>)\s*(?:red|yellow|immediate)\b", re.IGNORECASE)


def _opens_with_a_reassess_lead(line: str) -> bool:
    """ "have someone look at him again if his fingers go numb ..."."""
    lead = _REASSESS_LEAD.match(plain_text(line))
    return lead is not None and _REASSESS_LEAD_WORDS.search(lead.group("lead")) is not None


def _read_heading(line: str) -> tuple[str, str, str] | None:
    """(section key, title, the rest of the line) when the line is a heading: a short title
    and a colon ("Things to avoid: ice, butter"), or a title alone on a short line or in
    Markdown ("## What not to do", "**Recheck if**", "Don'ts")."""
    text = _STEP_NUMBER.sub("", plain_text(line), count=1)  # "Step 4: Watch for changes"
    question = _QUESTION.fullmatch(text)
    if question:  # "Q: what NOT to do? A: never loosen the TQ": the question is the title
        title = question.group("title").strip()
        return section_of(title), title, question.group("rest")
    if _ANSWER.match(text):
        return None  # "A: every 10 minutes ...": the answer to the question above
    titled = _TITLED.fullmatch(text)
    if (
        titled
        and _REASSESS_ENDING.search(titled.group("title").lower())
        and len(titled.group("title").split()) <= 14  # "Let me know ..., and also if:"
    ):
        return "reassess", titled.group("title").strip(), titled.group("rest")
    if titled and len(titled.group("title").split()) <= _TITLE_WORDS_WITH_MEANING:
        title = titled.group("title").strip()
        if "," in title and len(title.split()) > _SHORT_TITLE_WORDS:
            return None  # a sentence: "Actually, looking at it again: he can wait"
        key = section_of(title)
        short = len(title.split()) <= 6
        if (key != "other" and (short or key in _MEANING_ANYWHERE)) or (
            short and title[:1].isupper()
        ):
            return key, title, titled.group("rest")
        return None
    bold = _BOLD_LEAD.match(line)
    if bold and len(bold.group("title").split()) <= 6:
        title = plain_text(bold.group("title")).rstrip(".:!")
        key = section_of(title)
        if key != "other":
            return key, title, bold.group("rest")
    dashed = _DASHED.fullmatch(text)
    if dashed and len(dashed.group("title").split()) <= 4:
        title = dashed.group("title").strip()
        key = section_of(title)
        if key != "other" and _is_bare_title(title, key):
            return key, title, dashed.group("rest")
    marked = line.lstrip().startswith(("#", "**", "__")) or line.rstrip().endswith(("**", "__"))
    text = _TRAILING_SEPARATOR.sub("", text)  # "escalate if -": a title, its list below
    words = text.split()
    if not words or text.endswith((".", "!", "?")) or len(words) > (8 if marked else 4):
        return None
    key = section_of(line.strip())  # the line itself: its symbols say something ("⚠️")
    if key == "other" and _is_markdown_title(line, words):
        return key, text, ""  # "### 📝 Transport", "**Notes**": a section of another kind
    if key == "other" or (not marked and not _is_bare_title(text, key)):
        return None
    return key, text, ""


def _is_markdown_title(line: str, words: list[str]) -> bool:
    """A Markdown heading, or a whole line in bold of at most three words ("**Notes**"; a
    longer bold line may be a rule: "**Never leave her alone**")."""
    stripped = line.strip()
    bold = stripped.startswith(("**", "__")) and stripped.endswith(("**", "__"))
    return stripped.startswith("#") or (bold and len(words) <= 3)


def _is_short_title(title: str, key: str) -> bool:
    """A title that opens with its section's words and is short ("Cautions (do not)"), not a
    sentence that holds a cue ("No: START tags only ...", "Still not breathing ...")."""
    lowered = _TITLE_FILLER.sub("", plain_text(title).lower(), count=1)
    return len(title.split()) <= _SHORT_TITLE_WORDS and bool(_SECTION_START[key].match(lowered))


def _is_bare_title(text: str, key: str) -> bool:
    """A short unmarked line is a heading only where it is the section's words and little
    else ("Do NOT", "Things to avoid", "Recheck if"): "Never leave her alone" is a rule."""
    lowered = _TITLE_FILLER.sub("", text.lower(), count=1)
    match = _SECTION_START[key].match(lowered)
    if match is None:
        return False
    rest = lowered[match.end() :].split()
    return len(rest) <= 1 and all(
        word in ("if", "when", "for", "these", "this", "list") for word in rest
    )


@lru_cache(maxsize=4096)
def section_of(title: str) -> str:
    """Which section a heading's title opens, by meaning: its opening words first ("Immediate
    actions (do not delay)" is actions), then any words (do-not first: "What NOT to do"), then
    a negation ("Hard stops", "Keep off", "🚫 ...") or a closing "if" ("Look at her again
    if")."""
    lowered = _TITLE_FILLER.sub("", plain_text(title).lower(), count=1)
    # the longest opening wins ("warning signs" is reassessment, "warning" a prohibition)
    openings = [
        (m.end(), key) for key in _SECTION_ORDER if (m := _SECTION_START[key].match(lowered))
    ]
    if openings:
        return max(openings, key=lambda opening: opening[0])[1]
    for key in _MEANING_ANYWHERE:
        if _SECTION_ANYWHERE[key].search(lowered):
            return key
    conditional = _REASSESS_OPENING_TITLE.match(lowered)  # "If her heart stops": no prohibition
    if not conditional and (
        _DO_NOT_TITLE_WORD.search(lowered) or any(s in title for s in _DO_NOT_SYMBOLS)
    ):
        return "do_not"
    if (
        _REASSESS_ENDING.search(lowered)
        or _REASSESS_OPENING_TITLE.match(lowered)
        or _TIMED_TITLE.match(lowered)
    ):
        return "reassess"
    return "other"


@dataclass
class Response:
    """A structured response, rendered in the canonical layout."""

    rationale: str
    actions: list[str]
    do_not: list[str]
    reassess: list[str]
    triage: str | None = None  # color; None for a reference answer (Key points instead)
    key_points: str | None = None
    notes: list[tuple[str, str]] = field(default_factory=list)  # extra (title, text) lines

    def render(self) -> str:
        lines = []
        if self.triage is not None:
            lines.append(triage_line(self.triage))
        if self.key_points:
            lines.append(f"Key points: {self.key_points}")
        if self.rationale:
            lines.append(f"Rationale: {self.rationale}")
        lines.append("Immediate Actions:")
        lines.extend(f"{n}. {action}" for n, action in enumerate(self.actions, 1))
        lines.append("Do NOT:")
        lines.extend(f"- {item}" for item in self.do_not)
        lines.append("Reassess if:")
        lines.extend(f"- {item}" for item in self.reassess)
        lines.extend(f"{title}: {text}" for title, text in self.notes)
        return "\n".join(lines)


__all__ = [
    "LABELS",
    "Line",
    "ParsedResponse",
    "Response",
    "Section",
    "parse_response",
]
