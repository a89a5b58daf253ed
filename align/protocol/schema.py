"""The response schema: parse what a model wrote, render what gold data says.

Layout (docs/RESPONSE_FORMAT.md): ``TRIAGE: <COLOR> (<label>)`` first, then Rationale,
numbered Immediate Actions, a ``Do NOT:`` list and reassessment triggers.

Parsing is tolerant about form (case, Markdown emphasis or an emoji before a heading,
``Do not``/``DO NOT``/``What NOT to do``, bullets or numbers, items on the heading's own line)
and strict about what matters: which color the triage line states (two colors in the statement
make it ambiguous; a color named in commentary after it, "- YELLOW by the steps alone, but
...", does not count), on which line it stands, and whether a line belongs to the Do NOT list
(a prohibition) or anywhere else (an instruction or a statement).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from align.protocol.colors import LABEL_SYNONYMS, LABELS, triage_line
from align.protocol.memo import remember

SECTION_KEYS = ("key_points", "rationale", "actions", "do_not", "reassess", "other")

# Markdown marks, and symbols or emoji set before a heading ("⚠️ **Do NOT:**").
_MARKUP = r"(?:[\s#*_>`]|[^\x00-\x7f\w])*"
_COLOR_WORD = re.compile(r"\b(red|yellow|green|black|gr[ae]y)\b", re.IGNORECASE)
_TRIAGE_LINE = re.compile(
    _MARKUP + r"(?:(?:jump\s?start|start|salt)\s+)?"  # "JumpSTART Triage: RED"
    r"triage(?:\s+(?:category|colou?r|level|tag|decision|priority))?"
    r"\s*[*_]*\s*[:=\-–—]?\s*[*_\"'`\[(]*\s*(red|yellow|green|black|gr[ae]y)\b",
    re.IGNORECASE,
)
_HEADINGS = (
    ("rationale", r"rationale|reasoning|reason|why"),
    ("key_points", r"key points|summary|answer"),
    ("actions", r"immediate actions?|immediate steps|actions?|steps|what to do( now)?|treatment"),
    (
        "do_not",
        r"do not(?: do)?(?: the following)?|don['’]?t|dont|don['’]?ts|avoid(?: the following)?"
        r"|contraindicated|contraindications|never|(?:what|things) not to do|things to avoid",
    ),
    (
        "reassess",
        r"re-?assess(?:ment)?(?: triggers)?(?: if| when| for)?|re-?triage(?: if| when)?"
        r"|reassessment triggers|re-?evaluat(?:e|ion)(?: if| when)?",
    ),
)
_HEADING = re.compile(
    _MARKUP + r"(?:" + "|".join(f"(?P<{key}>{words})" for key, words in _HEADINGS) + r")"
    r"[\s*_]*(?::(?P<rest>.*)|\s*$)",
    re.IGNORECASE,
)
# "Reassess every 5 minutes or if: ..." opens the reassessment section with its content.
_REASSESS_OPENING = re.compile(
    _MARKUP + r"re-?(?:assess|triage|evaluat)\w*\b(?P<rest>.*)", re.IGNORECASE
)
_OTHER_HEADING = re.compile(r"[\s#*_]*(?P<title>[A-Z][\w'/()\- ]{0,40}?)[\s*_]*:(?P<rest>.*)")
_ITEM = re.compile(r"\s*(?:[-*•·‣◦–]|\d{1,2}[.)]|\(\d{1,2}\)|[a-z][.)])\s+(?P<text>.*)")
# Whitespace after a sentence end, before a capital or digit. It opens with the whitespace
# and looks back for the period: the regex engine then only stops at whitespace.
_SENTENCE_SPLIT = re.compile(r"\s(?<=[.!?]\s)\s*(?=[A-Z0-9])")
# The same for printable ASCII, whose only whitespace is the space: the engine finds a literal
# faster than a class (twice as fast on these lines).
_SENTENCE_SPLIT_AT_SPACES = re.compile(r" (?<=[.!?] ) *(?=[A-Z0-9])")


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
    # key -> (title, line_index, items) of each section, and (index, text, section, content)
    # of each non-blank line: what ``sections`` and ``lines`` give as Section and Line
    # objects. The closed loop of ``align pairs`` parses some 4,700 responses of 70,000
    # lines a build, and a tuple costs a fraction of a dataclass instance to make.
    section_rows: dict[str, tuple[str, int, list[str]]] = field(default_factory=dict)
    line_rows: list[tuple[int, str, str, str]] = field(default_factory=list)
    # text.split("\n"), blank lines included (what perturbations edit); from text if not given
    raw_lines: tuple[str, ...] = ()

    def __post_init__(self):
        if not self.raw_lines:  # a split always has a line: empty means not given
            self.raw_lines = tuple(self.text.split("\n"))

    @property
    def sections(self) -> dict[str, Section]:
        """The sections by key (built from ``section_rows`` on each call; the item lists are
        the parse's own)."""
        return {key: Section(key, *row) for key, row in self.section_rows.items()}

    @property
    def lines(self) -> list[Line]:
        """The non-blank lines with their sections (built from ``line_rows`` on each call)."""
        return [Line(*row) for row in self.line_rows]

    @property
    def has_triage_line(self) -> bool:
        return self.triage_line_index is not None

    @property
    def triage_ambiguous(self) -> bool:
        return len(self.triage_colors_named) > 1

    def items(self, key: str) -> list[str]:
        section = self.section_rows.get(key)
        return section[2] if section else []


def _normalise_color(word: str) -> str:
    word = word.upper()
    return "GRAY" if word == "GREY" else word


def _split_inline(rest: str) -> list[str]:
    rest = rest.strip().strip("*_ ").strip()
    if not rest:
        return []
    if rest.isascii() and rest.isprintable():
        splitter = _SENTENCE_SPLIT_AT_SPACES
    else:
        splitter = _SENTENCE_SPLIT
    return [s.strip() for s in splitter.split(rest) if s.strip()]


# Where the stated triage ends and commentary begins: a spaced dash, a sentence or clause
# mark, or a word that opens an explanation ("RED (Immediate) - YELLOW by the steps alone,
# but ..."). "RED or YELLOW" and "RED/YELLOW" stay within the statement (ambiguous).
_COMMENTARY = re.compile(
    r"\s[-–—]+\s(?!(?:red|yellow|green|black|gr[ae]y)\b)|[.;,:!?](?=\s|$)|\b(?:because|since|but|though|although|as|while|whereas"
    r"|for|if|when|unless|upgrade|downgrade|not)\b",
    re.IGNORECASE,
)


@lru_cache(maxsize=16384)
def _read_triage_line(line: str) -> tuple[tuple[str, ...], str | None]:
    """(colors stated, in order, without repeats; the label in brackets) of a triage line.
    Colors named in commentary after the statement do not count."""
    first = _COLOR_WORD.search(line)
    if first is not None:
        end = _COMMENTARY.search(line, first.end())
        line = line[: end.start()] if end else line
    colors = []
    for match in _COLOR_WORD.finditer(line):
        color = _normalise_color(match.group(1))
        if color not in colors:
            colors.append(color)
    label = re.search(r"\(([^)]*)\)", line)
    return tuple(colors), (label.group(1).strip() if label else None)


def parse_response(text: str) -> ParsedResponse:
    """Parse a response into its triage line, sections and line-by-line section membership."""
    parsed = ParsedResponse(text)
    rows, sections = parsed.line_rows, parsed.section_rows
    key = "other"  # the current section's key, once a section is open
    items: list[str] | None = None  # the current section's items; None before any section
    after_blank = False
    for index, line in enumerate(parsed.raw_lines):
        classified = _CLASSIFIED.get(line)
        if classified is None:
            classified = remember(_CLASSIFIED, line, _classify(line))
        is_triage, kind, heading_key, title, line_items, content = classified
        if is_triage and parsed.triage_line_index is None:
            colors, parsed.triage_label = _read_triage_line(line)
            parsed.triage_line_index = index
            parsed.triage_is_first = not rows  # no other non-blank line before it
            parsed.triage_colors_named = colors
            parsed.triage_color = colors[0] if len(colors) == 1 else None
            rows.append((index, line, "triage", line))
            items = None
            after_blank = False
            continue
        if kind == "item":  # the most common kind: one item, its content
            if items is None:
                key, items = "other", _open_section(sections, "other", "", index)
            items.append(content)
        elif kind == "blank":
            after_blank = True
            continue
        elif kind == "heading":
            key = heading_key
            if key in sections:  # a heading of a kind already open: _open_section decides
                items = _open_section(sections, key, title, index)
            else:  # what _open_section does for a new key, without a call per section
                items = []
                sections[key] = (title, index, items)
            items.extend(line_items)
        else:
            # Free text: continues the section it follows unless a blank line separated it
            # from a list, in which case it is a paragraph of its own.
            if items is None or (after_blank and items):
                key, items = "other", _open_section(sections, "other", "", index)
            if items and not after_blank:
                items[-1] = f"{items[-1]} {line_items[0]}"
            else:
                items.append(line_items[0])
        rows.append((index, line, key, content))
        after_blank = False
    return parsed


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


_Classified = tuple[bool, str, str, str, tuple[str, ...], str]
_CLASSIFIED: dict[str, _Classified] = {}  # memo of _classify


def _classify(line: str) -> _Classified:
    """(could be the triage line, kind, section key, title, items, content) for one line;
    kind is blank, heading, item or text; key and title are empty but for headings; content
    is the line without its list marker (the line itself but for items)."""
    if not line.strip():
        return False, "blank", "", "", (), line
    # _TRIAGE_LINE cannot match an ASCII line without "triage" (for ASCII, lower() is exactly
    # the regex's case folding): the substring test skips it for most lines.
    is_triage = (not line.isascii() or "triage" in line.lower()) and bool(_TRIAGE_LINE.match(line))
    item = _ITEM.match(line)
    if item:
        text = item.group("text").strip()
        return is_triage, "item", "", "", (text,), text
    heading = _HEADING.match(line)
    if heading:
        key = next(k for k, _ in _HEADINGS if heading.group(k))
        items = tuple(_split_inline(heading.group("rest") or ""))
        return is_triage, "heading", key, heading.group(key).strip(), items, line
    if _REASSESS_OPENING.match(line):
        return is_triage, "heading", "reassess", "Reassess", (line.strip().strip("*_ "),), line
    other = _OTHER_HEADING.match(line)
    if other and len(other.group("title").split()) <= 4:
        items = tuple(_split_inline(other.group("rest")))
        return is_triage, "heading", "other", other.group("title").strip(), items, line
    return is_triage, "text", "", "", (line.strip(),), line


@lru_cache(maxsize=4096)  # asked once per scored response; few distinct labels recur
def label_matches(color: str, label: str | None) -> bool:
    """Whether a triage label is one of the accepted words for the color."""
    if label is None:
        return True
    words = label.lower().replace("(", "").replace(")", "").strip()
    return any(words.startswith(s) or s in words for s in LABEL_SYNONYMS.get(color, ()))


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
    "label_matches",
    "parse_response",
]
