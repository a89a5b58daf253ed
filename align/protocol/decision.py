"""The triage decision in an answer: the line that states it in any common form ("TRIAGE: RED
(Immediate)", "Triage: Immediate (RED)", "**Triage** → 🔴 RED", "RED - IMMEDIATE", a label
alone), the sentences that give the child a color ("I'd tag her YELLOW", "she is RED"), and
the colors that are not decisions (conditions, rules, thresholds, someone else). The words live
in align/checks/vocabulary/response_layout.toml ([triage])."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from align.protocol.colors import LABEL_SYNONYMS
from align.protocol.wording import (
    ANY_SENTENCE,
    BRACKETED,
    ITEM,
    LAYOUT,
    Phrases,
    alternatives,
    plain_text,
    table_cells,
    word_alternatives,
    words_of,
)

# Not a compound ("red-faced", "green-ish"), not "red flags".
_COLOR = r"\b(red|yellow|green|black|gr[ae]y|ylw|grn|blk)\b(?!(?-i:-[a-z]))(?!\s*-?\s*flags?\b)"
_COLOR_WORD = re.compile(_COLOR, re.IGNORECASE)
_LABEL_COLOR = {word: color for color, words in LABEL_SYNONYMS.items() for word in words}
_LABEL_WORD = re.compile(r"\b(" + alternatives(_LABEL_COLOR) + r")\b", re.IGNORECASE)
_TRIAGE = LAYOUT["triage"]
# "<name> <separator> <decision>": the name and separator are consumed, the rest is read.
# The separator may be left out before the color itself ("Triage RED (Immediate)").
# A one-letter field ("A: ..." of a SOAP note, "S — ..." of SBAR) only with its colon or a
# spaced dash: "A RED tag here would ..." is a sentence.
FIELD_FORM = re.compile(
    r"(?:(?:" + word_alternatives(_TRIAGE["field_openers"]) + r")\s+)?"
    r"(?:(?:" + word_alternatives(_TRIAGE["fields"]) + r")\s*(?:\([^)]{0,30}\))?\s*"
    r"(?:(?:" + word_alternatives(_TRIAGE["separators"]) + r")\s*"
    r"|(?=\b(?:red|yellow|green|black|gr[ae]y)\b|(?-i:[RYGB])\b))"
    r"|(?:" + word_alternatives(_TRIAGE["letter_fields"]) + r")(?:\s*:|\s[-–—]+)\s*)"
    r"(?P<rest>.+)",
    re.IGNORECASE,
)
# A line that opens with the decision: "RED (Immediate)", "IMMEDIATE - RED", "RED".
_LEADING_FORM = re.compile(
    r"(?:" + _COLOR + r"|\b(?:" + alternatives(_LABEL_COLOR) + r")\b)", re.IGNORECASE
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
    + alternatives(_LABEL_COLOR)
    + r")\b))",
    re.IGNORECASE,
)
_DECISION_FILLERS = frozenset(_TRIAGE["decision_fillers"])
_DECISION_PREFIX = re.compile(
    r"(?:" + word_alternatives(_TRIAGE["decision_prefixes"]) + r")[\s,]+", re.IGNORECASE
)
# A label that closes its statement: "delayed. 13yo ...", "MINOR - walked out", "P2, ..."
# A label given as the category in a sentence: "that means Immediate", "as a delayed priority".
_LABEL_DECISION = re.compile(
    r"\b(?:means|as an?|as)\s+(" + alternatives(_LABEL_COLOR) + r")\b(?=\s+(?:priority|category|"
    r"under|by|on|per|tag)\b|\s*[.,;!]|\s*$)",
    re.IGNORECASE,
)
_LABEL_CLOSED = re.compile(r"\s*(?:priority\b)?\s*(?:[.!,]|\s[-–—]\s|[-–—]\s|$)", re.IGNORECASE)
# "jumpstart says yellow / delayed"
_PROTOCOL_RESULT = re.compile(
    r"\b(?:jump\s?start|start|salt|algorithm|protocol|triage)\s+(?:"
    + alternatives(_TRIAGE["protocol_results"])
    + r")\s*"
    + _COLOR,
    re.IGNORECASE,
)

_CONDITIONAL = Phrases(_TRIAGE["conditional_words"])
_COLORED_THING = Phrases(_TRIAGE["colored_things"])
_NEGATION = Phrases(_TRIAGE["negation_words"])
_OTHER_PERSON = Phrases(_TRIAGE["other_people"])
_PATIENT_NOUN = Phrases(_TRIAGE["patient_nouns"])
_PRONOUN_SUBJECTS = frozenset(_TRIAGE["pronoun_subjects"])
_ASSIGNING_VERB = Phrases(_TRIAGE["assigning_verbs"])
_CHILD = Phrases(_TRIAGE["subjects"])
_SUBJECT_IS = Phrases(
    [f"{subject} {copula}" for subject in _TRIAGE["subjects"] for copula in _COPULAS]
    + ["she's", "he's", "they're", "it's", "that's", "shes", "hes", "theyre"]
)
CONDITION_OPENING = re.compile(
    r"\W*(?:if|when|whenever|should|once|in case|unless|any)\b", re.IGNORECASE
)
_SEGMENT_SPLIT = re.compile(r"\s[-–—]+\s|;\s|(?<=[.!?])\s+")
_TIME_LIMIT = re.compile(r"\b(?:" + alternatives(_TRIAGE["time_limits"]) + r")\b", re.IGNORECASE)
# A color right after a conclusion ("fine → YELLOW", "so YELLOW", "so she's YELLOW").
_CONCLUDES = re.compile(
    r"(?:^|\s)(?:" + word_alternatives(_TRIAGE["conclusion_markers"]) + r")\s*"
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


def _normalise_color(word: str) -> str:
    word = word.upper()
    return _COLOR_SPELLINGS.get(word, word)


# "GREY" as "GRAY"; the abbreviations of notes and SMS ("YLW / delayed")
_COLOR_SPELLINGS = {"GREY": "GRAY", "YLW": "YELLOW", "GRN": "GREEN", "BLK": "BLACK"}


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
    r"\s(?:[-–—]+|->|→|=>|⇒|\|)\s(?!" + _COLOR + r"|\b(?:" + alternatives(_LABEL_COLOR) + r")\b)"
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
    text = BRACKETED.sub(_decision_bracket, text)
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
    item = ITEM.match(line)
    text = plain_text(item.group("text") if item else line)
    match = FIELD_FORM.match(text)
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
    statement = BRACKETED.sub(_decision_bracket, text)
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


# A color written as its tag's letter right after a field's name ("Cat R", "Tag: Y").
_COLOR_LETTER = re.compile(r"([RYGB])(?![\w'’])")
_COLOR_OF_LETTER = {"R": "RED", "Y": "YELLOW", "G": "GREEN", "B": "BLACK"}


def _field_decision(match: re.Match) -> Decision | None:
    """The decision after a field's name, where it opens what follows ("Triage: JumpSTART ->
    RED"); not where the line walks through the steps ("JumpSTART: apneic -> ...")."""
    rest = match.group("rest")
    letter = _COLOR_LETTER.match(rest)
    if letter:  # "Cat Y / Delayed", "T: G (GREEN)": a tag's letter
        rest = _COLOR_OF_LETTER[letter.group(1)] + rest[letter.end() :]
    first = _COLOR_WORD.search(rest) or _LABEL_WORD.search(rest)
    if first is None or len(rest[: first.start()].split()) > 3:
        return None
    return _read_statement(rest)


def _later_field_decision(text: str) -> Decision | None:
    """The decision a field form states after a dash or semicolon ("JumpSTART doesn't apply
    (10 y) — START: Immediate (RED)")."""
    for segment in _SEGMENT_SPLIT.split(text)[1:]:
        match = FIELD_FORM.match(segment)
        decision = _field_decision(match) if match else None
        if decision is not None:
            return decision
    return None


def _table_row_decision(line: str) -> Decision | None:
    """A Markdown table row whose first cell names the decision and whose last cell states it
    ("| **Final category** | she can wait | **YELLOW** |")."""
    cells = [plain_text(cell) for cell in table_cells(line)]
    cells = [cell for cell in cells if cell]
    if len(cells) < 2 or not FIELD_FORM.match(f"{cells[0]}: x"):
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
def assigned_colors(line: str, openings: bool = True) -> tuple[str, ...]:
    """Colors a sentence gives the child ("I'd tag her YELLOW", "she is RED"), leaving out
    clauses that are hypothetical, rejected or about someone else. ``openings``: a clause
    that opens with the color counts too ("GREEN, it's just an ankle"; not in a list of
    triggers: "- grey, floppy, grunting")."""
    text = plain_text(line)
    if not _COLOR_WORD.search(text):
        return ()
    colors = []
    # a sentence that opens with a condition gives no color now ("If his radial pulse
    # disappears, he needs fluids ... and he should be re-triaged as RED")
    # nor does one whose subject is another person ("His sister walked over → she's GREEN",
    # "9 y/o sister: walked out = GREEN")
    said = ""  # the sentences before: where a pronoun's person is named
    for sentence in ANY_SENTENCE.split(text):
        if not (CONDITION_OPENING.match(sentence) or _opens_with_someone_else(sentence)):
            for clause, before in _consequence_free_clauses(sentence):
                color = _COLOR_WORD.search(clause)
                if color and _gives_the_color(clause, color, f"{said} {before}"):
                    opening = _OPENING_COLOR.match(clause) if openings else None
                    if opening and not _COLORED_THING.found_in(words_of(clause)):
                        colors.append(_normalise_color(opening.group(1)))
                    for match in _COLOR_WORD.finditer(clause):
                        if _is_assigned(clause[: match.start()]):
                            colors.append(_normalise_color(match.group(1)))
        said = f"{said} {sentence}"
    return _unique(colors)


def _gives_the_color(clause: str, color: re.Match, before: str) -> bool:
    """Whether a clause may give the child its color: not a tape zone, a rule, a condition,
    a threshold, or a color said of someone else."""
    head = clause[: color.start()]
    if _TAPE_ZONE.search(clause):
        return False
    if _RULE.search(clause) and not _said_of_the_child(head):
        return False
    if _CONDITIONAL.found_in(_condition_words(clause)) or _about_someone_else(clause):
        return False
    return not (_stands_for_someone_else(head, before) or _is_threshold_rule(head))


# Words that may stand before the person a sentence opens with ("Her little brother ...",
# "9 y/o sister: ...", "The classmate with sore eyes ...").
_SUBJECT_LEAD = frozenset(
    ("the", "a", "an", "his", "her", "their", "my", "our", "your", "little", "big", "older",
     "younger", "baby", "twin", "y", "o", "yo", "year", "years", "old", "yr")
)  # fmt: skip


def _opens_with_someone_else(sentence: str) -> bool:
    """Whether a sentence opens with another person as its subject ("Mum walked out too,
    GREEN"; not "Keep her with mum, she's YELLOW")."""
    opening = words_of(plain_text(sentence))[:6]
    position = _OTHER_PERSON.position_in(opening)
    return position is not None and all(
        word in _SUBJECT_LEAD or word.isdigit() for word in opening[:position]
    )


# A reason given before the color ("since he's sitting on the kerb and could walk if asked,
# he's really GREEN"): its "if" and "could" are the reason's, not the color's condition.
_REASON = re.compile(r"\b(?:since|because|seeing as|given that|now that)\b[^,]*,", re.IGNORECASE)


def _colorless_reason(reason: re.Match) -> str:
    """A reason clause drops out unless it names a color itself ("since she's RED, ...")."""
    return reason.group() if _COLOR_WORD.search(reason.group()) else " "


def _consequence_free_clauses(said: str) -> list[tuple[str, str]]:
    """(clause, the text before it) for the clauses of ``said``, less those that follow a
    condition in the same segment ("if it's truly absent, that changes things and she goes
    to RED": the color is the condition's consequence)."""
    kept = []
    before = ""
    for segment in _SEGMENT_SPLIT.split(said):
        conditional = False
        for clause in _CLAUSE_SPLIT.split(_REASON.sub(_colorless_reason, segment)):
            conditional = conditional or CONDITION_OPENING.match(clause) is not None
            if not conditional:
                kept.append((clause, before))
            before = f"{before} {clause}"
    return kept


def _is_threshold_rule(before: str) -> bool:
    """A color after a threshold is a rule where no reading of the child comes before it
    ("only <15 = RED") or the threshold is what makes it ("it's more than 45 that makes it
    red"); after a reading it is a conclusion ("RR 50 (>45) → RED", "that's over 30 = RED")."""
    whole, before = before, before.rsplit(",", 1)[-1]
    symbol = THRESHOLD_SYMBOL.search(before)
    if symbol is not None and not DIGIT_BEFORE.search(before, 0, symbol.start()):
        return True
    worded = THRESHOLD_WORDS.search(before)
    if worded is None:
        return False
    # "over 45, or drowsy → red": no reading of the child anywhere before the threshold
    reading = DIGIT_BEFORE.search(whole, 0, len(whole) - len(before) + worded.start())
    return reading is None or _MAKES_IT.search(before, worded.end()) is not None


THRESHOLD_SYMBOL = re.compile(r"[<>≤≥]\s*\d")
THRESHOLD_WORDS = re.compile(
    r"\b(?:(?:more|less|greater|fewer)\s+than|over|above|under|below)\W*\d", re.IGNORECASE
)
_MAKES_IT = re.compile(r"\b(?:that|what|which)\s+makes?\b", re.IGNORECASE)
DIGIT_BEFORE = re.compile(r"\d")


def _said_of_the_child(before: str) -> bool:
    """Whether the child is the subject before a color ("He comes out yellow, delayed, on
    JumpSTART"): a clause naming a protocol then speaks of this child, not of the rule."""
    return _CHILD.found_in(words_of(before))


def _stands_for_someone_else(head: str, before: str) -> bool:
    """Whether the pronoun that is the subject before a color stands for another person, the
    one named last before it ("The sister walked, so she's GREEN"; "I'm sorry about his
    sister. She's BLACK")."""
    head_words = words_of(head)
    if _PRONOUN_SUBJECTS.isdisjoint(head_words) or _PATIENT_NOUN.found_in(head_words):
        return False
    earlier = words_of(before)
    other = _OTHER_PERSON.last_position_in(earlier)
    if other is None:
        return False
    patient = _PATIENT_NOUN.last_position_in(earlier)
    return patient is None or patient < other


@lru_cache(maxsize=65536)
def names_someone_else(title: str) -> bool:
    """Whether a heading is about another person than the child ("### His sister")."""
    title_words = words_of(title)
    return _OTHER_PERSON.found_in(title_words) and not _PATIENT_NOUN.found_in(title_words)


def _about_someone_else(clause: str) -> bool:
    """Whether another person is named before the color ("her brother is GREEN"); one named
    after it is where the child goes ("GREEN, goes with the walking wounded"), and one named
    before an arrow is a finding that leads to the child's color ("mum here → re-tag GRN")."""
    color = _COLOR_WORD.search(clause)
    before = clause[: color.start()] if color else clause
    return _OTHER_PERSON.found_in(words_of(_CONCLUSION_ARROW.split(before)[-1]))


_CONCLUSION_ARROW = re.compile(r"→|->|=>|⇒")


def _condition_words(clause: str) -> list[str]:
    """The words of a clause that may make its color hypothetical: without an aside in
    brackets before the color ("(a crash, could have hidden injuries), he's YELLOW") and
    without a time limit, a purpose or a reason after it ("YELLOW until a medic has seen
    him", "YELLOW so she isn't missed")."""
    color = _COLOR_WORD.search(clause)
    if color is None:
        return words_of(clause)
    limit = _TIME_LIMIT.search(clause, color.end()) or _PURPOSE.search(clause, color.end())
    before = BRACKETED.sub(" ", clause[: color.start()])
    return words_of(before + clause[color.start() : limit.start() if limit else None])


# A purpose or reason after the color ("I'd tag her YELLOW so she doesn't get missed, she
# might have a fracture"): its "might" is not the color's condition.
_PURPOSE = re.compile(r"\b(?:so|because|since|as)\b", re.IGNORECASE)


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


@lru_cache(maxsize=65536)
def label_result(line: str) -> Decision | None:
    """The category a sentence gives by its label alone, outside a condition ("That means
    Immediate under JumpSTART", "I would put this toddler as a delayed priority")."""
    text = plain_text(line)
    for sentence in ANY_SENTENCE.split(text):
        found = _LABEL_DECISION.search(sentence)
        if found and not _CONDITIONAL.found_in(words_of(sentence[: found.start()])):
            label = found.group(1)
            return Decision((_LABEL_COLOR[label.lower()],), label, (_LABEL_COLOR[label.lower()],))
    return None


# A label named as the child's category in a note ("5 y/o male, smoke inhalation, Delayed
# priority, alert"); "the immediate priority is the airway" is plain English.
_LABEL_AS_CATEGORY = re.compile(
    r"\b(" + alternatives(_LABEL_COLOR) + r")\s+(?:priority|category|tag)\b", re.IGNORECASE
)


@lru_cache(maxsize=65536)
def labelled_categories(line: str) -> tuple[str, ...]:
    """The colors a line gives the child by a label and a category word ("Delayed priority"),
    outside a condition or a negation."""
    lowered = line.lower()
    if "priority" not in lowered and "category" not in lowered and "tag" not in lowered:
        return ()  # most lines: no category word, no regex
    text = plain_text(line)
    colors = []
    for found in _LABEL_AS_CATEGORY.finditer(text):
        label = found.group(1).lower()
        if label == "immediate" and found.group().lower().endswith("priority"):
            continue
        clause = _CLAUSE_SPLIT.split(text[: found.start()])[-1]
        before = words_of(clause)
        if _CONDITIONAL.found_in(before) or _NEGATION.found_in(before):
            continue
        colors.append(_LABEL_COLOR[label])
    return _unique(colors)


@lru_cache(maxsize=65536)
def protocol_result(line: str) -> Decision | None:
    """The color a line says the protocol gives, unless hypothetically ("jumpstart says
    yellow / delayed"; not "START would say RED")."""
    text = plain_text(line)
    result = _PROTOCOL_RESULT.search(text)
    if result is None or _CONDITIONAL.found_in(words_of(text[: result.start()])):
        return None
    return _read_statement(text[result.start(1) :])
