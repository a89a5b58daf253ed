"""Sections of an answer by meaning: what each line is (a heading, a list item, text), which
section a heading's title opens (Do NOT / Avoid / Never / Don'ts / What not to do; Reassess /
Recheck / Re-triage if / Watch for ...), and the Do NOT and reassessment sections written
inside prose. The words live in align/checks/vocabulary/response_layout.toml ([sections])."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from align.protocol.decision import (
    CONDITION_OPENING,
    DIGIT_BEFORE,
    FIELD_FORM,
    THRESHOLD_SYMBOL,
    THRESHOLD_WORDS,
    Decision,
    assigned_colors,
    labelled_categories,
    read_decision_line,
)
from align.protocol.wording import (
    ANY_SENTENCE,
    ITEM,
    LAYOUT,
    Phrases,
    alternatives,
    plain_text,
    split_sentences,
    word_alternatives,
    words_of,
)

_SECTIONS = LAYOUT["sections"]
_SECTION_ORDER = ("do_not", "reassess", "actions", "rationale", "key_points")
_SECTION_START = {
    key: re.compile(r"(?:" + word_alternatives(_SECTIONS[key]) + r")", re.IGNORECASE)
    for key in _SECTION_ORDER
}
# A prohibition or a reassessment reads as such wherever its words stand in a title ("What NOT
# to do", "When to re-triage"); the other sections' words ("do", "care", "why") only as the
# title's opening.
_MEANING_ANYWHERE = ("do_not", "reassess")
MEANING_ANYWHERE_SET = frozenset(_MEANING_ANYWHERE)
# A title inside a line or a table's first cell is short ("Cautions (do not)", "Triggers to
# re-triage"); a longer one is a sentence ("Still not breathing after the airway was ...").
_SHORT_TITLE_WORDS = 4
_SECTION_ANYWHERE = {
    key: re.compile(word_alternatives(_SECTIONS[key]), re.IGNORECASE) for key in _MEANING_ANYWHERE
}
_DO_NOT_TITLE_WORD = re.compile(word_alternatives(_SECTIONS["do_not_title_words"]))
_DO_NOT_SYMBOLS = tuple(_SECTIONS["do_not_title_symbols"])
_REASSESS_ENDING = re.compile(
    r"(?:" + word_alternatives(_SECTIONS["reassess_title_endings"]) + r")\W*$"
)
# A schedule as a title: "q5 min", "check every 5 min", "check 5-10 min", "q10-15 min".
_TIMED_TITLE = re.compile(
    r"(?:(?:re-?check|check|look|obs|vitals|review|repeat|again|reassess)\s+){0,2}"
    r"(?:q\s?\d|every\s+\d|\d+(?:\s*-\s*\d+)?\s*mins?\b)"
)
_REASSESS_OPENING_TITLE = re.compile(word_alternatives(_SECTIONS["reassess_title_openings"]))
_PROHIBITION_OPENING = re.compile(
    r"(?:" + word_alternatives(_SECTIONS["prohibition_openers"]) + r")", re.IGNORECASE
)
# Filler before a heading's meaning: "Things to avoid", "What to watch for", "The don'ts".
_TITLE_FILLER = re.compile(
    r"(?:(?:\d+[.)]|step \d+|the|some|a few|key|important|critical|things|what|when|how)\s+)*",
    re.IGNORECASE,
)
# A prohibition or reassessment title may run longer ("Things you must not do with him:").
_TITLE_WORDS_WITH_MEANING = 8
_HEADING_SEPARATORS = tuple(_SECTIONS["heading_separators"])
_DO_NOT_WHOLE_TITLES = frozenset(_SECTIONS["do_not_whole_titles"])
_STEP_NUMBER = re.compile(r"step\s+\d+\s*[:.)-]\s*", re.IGNORECASE)
# "Title: rest" with a short title; a time ("at 10:30") or a ratio is not a heading.
_TITLED = re.compile(r"(?P<title>[^:]{1,60}?)\s*:(?!\d)\s*(?P<rest>.*)")
# "Title — rest", "Title • rest": a short title of a known section, another separator.
_DASHED = re.compile(
    r"(?P<title>.{1,40}?)\s*(?:" + alternatives(_SECTIONS["heading_separators"]) + r")\s*"
    r"(?P<rest>.+)"
)
# A question and answer ("Q: when to look again? A: every few min ..."), or the answer alone.
_QUESTION = re.compile(r"Q\s*[:.]\s*(?P<title>[^?]{1,60})\?\s*(?:A\s*[:.]\s*)?(?P<rest>.*)")
_ANSWER = re.compile(r"A\s*:\s")
_TRAILING_SEPARATOR = re.compile(r"\s+[-–—•]$")
_EMPTY_ITEMS = frozenset(_SECTIONS["empty_items"])
# "none at this time — he's stable", "nothing special, just keep baby warm"
_EMPTY_OPENING = re.compile(
    r"(?:" + word_alternatives(_SECTIONS["empty_items"]) + r")"
    r"(?:\s+(?:" + alternatives(_SECTIONS["empty_item_tails"]) + r"))?\s*[—–,;:!(]"
)
_SIGN_OFF = re.compile(r"(?:" + word_alternatives(_SECTIONS["sign_offs"]) + r")", re.IGNORECASE)
# A line that opens the reassessment section with its content ("Reassess every 5 minutes or
# if: ...", "Watch closely for grunting or a rate above 45", "Look at her again if ...").
_REASSESS_OPENING = re.compile(
    r"(?:" + word_alternatives(_SECTIONS["reassess_openers"]) + r")", re.IGNORECASE
)
_PROHIBITION_IMPERATIVE = Phrases(_SECTIONS["prohibition_imperatives"])
_PROHIBITION_CUE = Phrases(_SECTIONS["prohibition_imperatives"] + _SECTIONS["prohibition_cues"])
_CUE_REACH = 4  # a sentence's prohibition stands within its first words
_PROHIBITION_CUE_WORD = re.compile(
    word_alternatives(_SECTIONS["prohibition_imperatives"] + _SECTIONS["prohibition_cues"]),
    re.IGNORECASE,
)
# "Look at her again if ...", "have a second look when ...": a short lead with a
# reassessment phrase, then the condition, opens the triggers in prose.
_REASSESS_LEAD = re.compile(
    r"(?P<lead>(?:\S+\s+){0,8}?)(?:if|when|whenever|as soon as)\b", re.IGNORECASE
)
_REASSESS_VERB = re.compile(word_alternatives(_SECTIONS["reassess_verbs"]), re.IGNORECASE)
_REASSESS_LEAD_WORDS = re.compile(word_alternatives(_SECTIONS["reassess_leads"]), re.IGNORECASE)
# "**Things to steer clear of.** Don't leave him ...": a bold title opens its section.
_BOLD_LEAD = re.compile(r"\s*(\*\*|__)(?P<title>[^*_]{1,60}?)\1\s*(?P<rest>\w.*)")


def _split_inline(rest: str) -> list[str]:
    return split_sentences(rest.strip().strip("*_ ").strip())


@lru_cache(maxsize=65536)
def inline_sections(
    paragraph: str, titles_only: bool = False
) -> tuple[tuple[str | None, str, str], ...]:
    """(section key or None, sentence, its content) for each sentence of a paragraph; a
    sentence opens a Do NOT or reassessment section with a title and its content ("... Things
    to avoid: please don't roll her.", "Don'ts - do not loosen the tourniquet"), with a
    look-again lead ("She needs a proper recheck if she gets sleepy") or, in prose of several
    sentences, with a reassessment verb ("Recount her breathing in five minutes") or a
    prohibition no plain instruction follows ("Please don't let him stand up.")."""
    found = []
    sentences = ANY_SENTENCE.split(paragraph.strip())
    # a paragraph, not a one-sentence line ("25 mL IV, recheck BGL"); after a heading's title
    # only titled lists count ("Actions: keep her flat. don't let her stand" has no Do NOT)
    prose = len(sentences) > 1 and not titles_only
    listed = None  # the section whose titled list a ";" continues ("avoid: ice; butter")
    for sentence in sentences:
        heading = _read_heading(sentence)
        if (
            heading is not None
            and heading[0] in _MEANING_ANYWHERE
            and not (titles_only and not is_short_title(heading[1], heading[0]))
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
            or is_trigger_sentence(sentence)
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


@lru_cache(maxsize=65536)
def is_prohibition_item(item: str) -> bool:
    """An item that opens with a prohibition ("no butter", "dont pop the blister", "Ø PO")."""
    return _PROHIBITION_CUE.found_in(words_of(plain_text(item))[:2])


class LineReading(NamedTuple):
    """What one line is, read once per distinct line (``read_line`` is cached)."""

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
def read_line(line: str) -> LineReading:
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
    colors_given = (
        stated.colors
        if stated is not None
        else assigned_colors(content) or labelled_categories(content)
    )
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


def opens_a_list(lines: tuple[str, ...], index: int) -> bool:
    """Whether the next non-blank line after ``index`` is a list item."""
    for line in lines[index + 1 :]:
        if line.strip():
            return ITEM.match(line) is not None
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
def is_empty_item(text: str) -> bool:
    """An item that says there is nothing ("N/A", "none", "—")."""
    words = plain_text(text).strip(" .!").lower()
    return not words or words in _EMPTY_ITEMS or _EMPTY_OPENING.match(words) is not None


@lru_cache(maxsize=65536)
def a_new_block(line: str) -> bool:
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
    openings = [words_of(sentence)[:_CUE_REACH] for sentence in ANY_SENTENCE.split(text)]
    openings = [words for words in openings if words]
    return (
        bool(openings)
        and all(_opens_with_a_cue(words) for words in openings)
        and (
            _PROHIBITION_IMPERATIVE.found_in(words_of(text)) or _NO_ACTION.search(text) is not None
        )
    )


def _opens_with_a_cue(words: list[str]) -> bool:
    """Whether a sentence's first words carry a prohibition with no subject before it ("Please
    don't let him stand", "nothing by mouth"; not "Pinned legs alone don't make her red")."""
    position = _PROHIBITION_CUE.position_in(words)
    return position is not None and all(word in _CUE_LEADS for word in words[:position])


# Words that may stand before a prohibition's cue ("And please, don't ...").
_CUE_LEADS = frozenset(
    ("please", "and", "but", "just", "also", "then", "so", "oh", "again", "really", "plus",
     "still", "definitely", "absolutely", "seriously", "remember", "important", "nb", "ok",
     "okay", "obviously", "of", "course", "whatever", "happens", "what", "matter", "under",
     "any", "circumstances", "you", "do", "a", "the")
)  # fmt: skip


# "no tight bandages, no straightening", "no food/drink": "no" before an action or an intake
# is a prohibition ("no breathing", "no bleeding" are findings)
_NO_ACTION = re.compile(
    r"\bno\s+(?:(?!(?:breathing|bleeding|moving|responding|walking|talking)\b)\w+ing\b|"
    r"(?:food|drinks?|fluids|oral|tight|belly|tummy|heimlich|neutrali[sz]ing|induced)\b)",
    re.IGNORECASE,
)


def _looks_like_decision(content: str) -> bool:
    """An item may carry the decision ("- **Triage:** RED") only in a decision form."""
    return FIELD_FORM.match(plain_text(content)) is not None


@lru_cache(maxsize=65536)
def _classify(line: str) -> tuple[str, str, str, tuple[str, ...], str]:
    """(kind, section key, title, items, content) of one line; kind is blank, heading, item or
    text; key and title are empty but for headings; content is the line without its list
    marker (the line itself but for items)."""
    if not line.strip():
        return "blank", "", "", (), line
    item = ITEM.match(line)
    if item:
        text = item.group("text").strip()
        heading = _read_heading(text)
        if heading is not None and not heading[2].strip():
            # A marked title with nothing after it ("❌ Do NOT", "- **Don'ts:**") opens a list.
            return "heading", heading[0], heading[1], (), line
        if (
            heading is not None
            and (
                heading[0] == "do_not"
                or (heading[0] == "reassess" and _REASSESS_ENDING.search(heading[1].lower()))
            )
            and is_short_title(heading[1], heading[0])
            and plain_text(text).startswith(f"{heading[1]}:")
        ):
            # "- dont: ice, butter, popping blisters", "8. Re-triage if: radial lost, drowsy": a
            # titled list in one item (not "6. **Don't** let him walk", a prohibition among
            # the actions, nor "- monitor: hyperK, arrhythmia", an action)
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


def is_trigger_sentence(sentence: str) -> bool:
    """A sentence of triggers in prose: a timed check ("check every 3-5 min"), a condition
    that escalates ("if the cut starts pouring ..., bump him to red"), or conditions that end
    in a color ("over 45, or drowsy/pale/cold → red")."""
    text = plain_text(sentence)
    if _TIMED_CHECK.search(text) and _CHECK_VERB.search(text):
        return True  # not "2 mg now, repeat q5-15 min": a dose's repeat
    if CONDITION_OPENING.match(text) and _REASSESS_LEAD_WORDS.search(text):
        return True
    escalation = _ESCALATES_TO.search(text)
    if escalation is None:
        return False
    before = text[: escalation.start()]
    threshold = THRESHOLD_SYMBOL.search(before) or THRESHOLD_WORDS.search(before)
    return threshold is not None and not DIGIT_BEFORE.search(before, 0, threshold.start())


# "every 5 min", "q10min", "every 3-5 minutes", "every minute", "every few minutes"
_TIMED_CHECK = re.compile(
    r"\b(?:every|q)\s*(?:\d+\s*(?:-\s*\d+\s*)?|few\s+|couple\s+(?:of\s+)?)?"
    r"(?:min|mins|minutes|minute)\b",
    re.IGNORECASE,
)
_CHECK_VERB = re.compile(
    r"\b(?:check|checks|recheck|re-check|count|recount|reassess|re-assess|re-triage|retriage|"
    r"look|watch|monitor|obs|observe)\b",
    re.IGNORECASE,
)
# conditions, then an arrow to a higher category: "drowsy/pale/cold → red"
_ESCALATES_TO = re.compile(r"(?:→|->|=>)\s*(?:red|yellow|immediate)\b", re.IGNORECASE)


@lru_cache(maxsize=65536)
def is_trigger_item(item: str) -> bool:
    """A short item that names a change to look for, not a thing to do: a reading past a
    threshold ("RR >45 or <15", "SBP under 80") or a sign of deterioration ("radial lost",
    "drowsy", "stridor or drooling")."""
    text = plain_text(item)
    if len(text.split()) > 14 or is_care_item(item):
        return False
    return bool(_THRESHOLD_READING.search(text) or _DETERIORATION.search(text))


def is_care_item(item: str) -> bool:
    """An item that opens with a verb of care: an action ("give O2 if sats drop")."""
    return _CARE_VERB_OPENING.match(plain_text(item)) is not None


_TRIGGER_WORDS = _SECTIONS["trigger_items"]
_DETERIORATION = re.compile(word_alternatives(_TRIGGER_WORDS["signs"]), re.IGNORECASE)
_THRESHOLD_READING = re.compile(
    r"[<>≤≥]\s*\d|\b(?:over|above|under|below|more than|less than|past|drops?|falls?|rises?)"
    r"\s+(?:to\s+)?\d",
    re.IGNORECASE,
)
# An item that opens with a verb of care is an action ("give O2 if sats < 94").
_CARE_VERB_OPENING = re.compile(
    r"\W*(?:" + word_alternatives(_TRIGGER_WORDS["care_verbs"]) + r")", re.IGNORECASE
)


def _opens_with_a_reassess_lead(line: str) -> bool:
    """ "have someone look at him again if his fingers go numb ..."."""
    lead = _REASSESS_LEAD.match(plain_text(line))
    return lead is not None and _REASSESS_LEAD_WORDS.search(lead.group("lead")) is not None


def _read_heading(line: str) -> tuple[str, str, str] | None:
    """(section key, title, the rest of the line) when the line is a heading: a short title
    and a colon ("Things to avoid: ice, butter"), or a title alone on a short line or in
    Markdown ("## What not to do", "**Recheck if**", "Don'ts")."""
    text = _STEP_NUMBER.sub("", plain_text(line), count=1)  # "Step 4: Watch for changes"
    if (
        ":" not in text
        and len(text.split()) > _TITLE_WORDS_WITH_MEANING + 1
        and not text.startswith("Q")
        and "**" not in line
        and "__" not in line
        and not any(separator in text for separator in _HEADING_SEPARATORS)
    ):
        return None  # a sentence: too long for a title alone, no colon, question, bold or dash
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


def is_short_title(title: str, key: str) -> bool:
    """A title that opens with its section's words and is short ("Cautions (do not)"), not a
    sentence that holds a cue ("No: START tags only ...", "Still not breathing ...")."""
    lowered = _TITLE_FILLER.sub("", plain_text(title).lower(), count=1)
    return len(title.split()) <= _SHORT_TITLE_WORDS and bool(_SECTION_START[key].match(lowered))


def _is_bare_title(text: str, key: str) -> bool:
    """A short unmarked line is a heading only where it is the section's words and little
    else ("Do NOT", "Things to avoid", "Recheck if"): "Never leave her alone" is a rule."""
    lowered = _TITLE_FILLER.sub("", text.lower(), count=1)
    if key == "do_not" and lowered.strip(" :") in _DO_NOT_WHOLE_TITLES:
        return True  # "NOT - leaving him alone; no bottle"
    match = _SECTION_START[key].match(lowered)
    if match is None:
        return False
    rest = lowered[match.end() :].split()
    return len(rest) <= 1 and all(
        word in ("if", "when", "for", "these", "this", "list") for word in rest
    )


@lru_cache(maxsize=65536)
def section_of(title: str) -> str:
    """Which section a heading's title opens, by meaning: its opening words first ("Immediate
    actions (do not delay)" is actions), then any words (do-not first: "What NOT to do"), then
    a negation ("Hard stops", "Keep off", "🚫 ...") or a closing "if" ("Look at her again
    if")."""
    lowered = _TITLE_FILLER.sub("", plain_text(title).lower(), count=1)
    if lowered.strip(" :") in _DO_NOT_WHOLE_TITLES:
        return "do_not"
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
