"""The response schema: parse what a model wrote, render what gold data says.

Layout (docs/RESPONSE_FORMAT.md): ``TRIAGE: <COLOR> (<label>)`` first, then Rationale,
numbered Immediate Actions, a ``Do NOT:`` list and reassessment triggers.

Parsing is tolerant about form (case, Markdown emphasis, ``Do not``/``DO NOT``, bullets or
numbers, items on the heading's own line) and strict about what matters: which color the
triage line names (two colors make it ambiguous), on which line it stands, and whether a line
belongs to the Do NOT list (a prohibition) or anywhere else (an instruction or a statement).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from align.protocol.colors import LABEL_SYNONYMS, LABELS, triage_line

SECTION_KEYS = ("key_points", "rationale", "actions", "do_not", "reassess", "other")

_MARKUP = r"[\s#*_>`]*"
_COLOR_WORD = re.compile(r"\b(red|yellow|green|black|gr[ae]y)\b", re.IGNORECASE)
_TRIAGE_LINE = re.compile(
    _MARKUP + r"triage(?:\s+(?:category|colou?r|level|tag|decision|priority))?"
    r"\s*[*_]*\s*[:=\-–—]?\s*[*_\"'`\[(]*\s*(red|yellow|green|black|gr[ae]y)\b",
    re.IGNORECASE,
)
_HEADINGS = (
    ("rationale", r"rationale|reasoning|reason|why"),
    ("key_points", r"key points|summary|answer"),
    ("actions", r"immediate actions?|immediate steps|actions?|steps|what to do( now)?|treatment"),
    ("do_not", r"do not|don'?t|dont|avoid|contraindicated|contraindications|never"),
    (
        "reassess",
        r"re-?assess(?:ment)?(?: triggers)?(?: if| when| for)?|re-?triage(?: if| when)?"
        r"|reassessment triggers",
    ),
)
_HEADING = re.compile(
    _MARKUP + r"(?:" + "|".join(f"(?P<{key}>{words})" for key, words in _HEADINGS) + r")"
    r"[\s*_]*(?::(?P<rest>.*)|\s*$)",
    re.IGNORECASE,
)
# "Reassess every 5 minutes or if: ..." opens the reassessment section with its content.
_REASSESS_OPENING = re.compile(_MARKUP + r"re-?(?:assess|triage)\w*\b(?P<rest>.*)", re.IGNORECASE)
_OTHER_HEADING = re.compile(r"[\s#*_]*(?P<title>[A-Z][\w'/()\- ]{0,40}?)[\s*_]*:(?P<rest>.*)")
_ITEM = re.compile(r"\s*(?:[-*•·‣◦–]|\d{1,2}[.)]|\(\d{1,2}\)|[a-z][.)])\s+(?P<text>.*)")
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")


@dataclass
class Section:
    key: str
    title: str
    line_index: int
    items: list[str] = field(default_factory=list)


@dataclass
class Line:
    index: int  # 0-based line number in the response
    text: str
    section: str  # section key the line belongs to ("triage", "preamble", or SECTION_KEYS)


@dataclass
class ParsedResponse:
    text: str
    triage_color: str | None = None  # None when missing or ambiguous
    triage_label: str | None = None
    triage_line_index: int | None = None
    triage_is_first: bool = False
    triage_colors_named: tuple[str, ...] = ()
    sections: dict[str, Section] = field(default_factory=dict)
    lines: list[Line] = field(default_factory=list)

    @property
    def has_triage_line(self) -> bool:
        return self.triage_line_index is not None

    @property
    def triage_ambiguous(self) -> bool:
        return len(self.triage_colors_named) > 1

    def items(self, key: str) -> list[str]:
        section = self.sections.get(key)
        return section.items if section else []

    def instruction_lines(self) -> list[Line]:
        """Every line outside the Do NOT list and the triage line."""
        return [ln for ln in self.lines if ln.section not in ("do_not", "triage")]


def _normalise_color(word: str) -> str:
    word = word.upper()
    return "GRAY" if word == "GREY" else word


def _split_inline(rest: str) -> list[str]:
    rest = rest.strip().strip("*_ ").strip()
    if not rest:
        return []
    return [s.strip() for s in _SENTENCE_SPLIT.split(rest) if s.strip()]


def _parse_triage_line(parsed: ParsedResponse, line: str, index: int, first_index: int):
    colors = []
    for match in _COLOR_WORD.finditer(line):
        color = _normalise_color(match.group(1))
        if color not in colors:
            colors.append(color)
    parsed.triage_line_index = index
    parsed.triage_is_first = index == first_index
    parsed.triage_colors_named = tuple(colors)
    parsed.triage_color = colors[0] if len(colors) == 1 else None
    label = re.search(r"\(([^)]*)\)", line)
    parsed.triage_label = label.group(1).strip() if label else None


def parse_response(text: str) -> ParsedResponse:
    """Parse a response into its triage line, sections and line-by-line section membership."""
    parsed = ParsedResponse(text=text)
    raw_lines = text.splitlines()
    first_index = next((i for i, ln in enumerate(raw_lines) if ln.strip()), -1)
    current: Section | None = None
    after_blank = False
    for index, line in enumerate(raw_lines):
        if not line.strip():
            after_blank = True
            continue
        if parsed.triage_line_index is None and _TRIAGE_LINE.match(line):
            _parse_triage_line(parsed, line, index, first_index)
            parsed.lines.append(Line(index, line, "triage"))
            current = None
            after_blank = False
            continue
        item = _ITEM.match(line)
        heading = None if item else _HEADING.match(line)
        if heading:
            key = next(k for k, _ in _HEADINGS if heading.group(k))
            current = _open_section(parsed, key, heading.group(key), index)
            current.items.extend(_split_inline(heading.group("rest") or ""))
        elif not item and _REASSESS_OPENING.match(line):
            current = _open_section(parsed, "reassess", "Reassess", index)
            current.items.append(line.strip().strip("*_ "))
        elif (
            not item
            and (other := _OTHER_HEADING.match(line))
            and len(other.group("title").split()) <= 4
        ):
            current = _open_section(parsed, "other", other.group("title"), index)
            current.items.extend(_split_inline(other.group("rest")))
        elif item:
            if current is None:
                current = _open_section(parsed, "other", "", index)
            current.items.append(item.group("text").strip())
        else:
            # Free text: continues the section it follows unless a blank line separated it
            # from a list, in which case it is a paragraph of its own.
            if current is None or (after_blank and current.items):
                current = _open_section(parsed, "other", "", index)
            if current.items and not after_blank:
                current.items[-1] = f"{current.items[-1]} {line.strip()}"
            else:
                current.items.append(line.strip())
        parsed.lines.append(Line(index, line, current.key))
        after_blank = False
    return parsed


def _open_section(parsed: ParsedResponse, key: str, title: str, index: int) -> Section:
    section = Section(key, title.strip(), index)
    existing = parsed.sections.get(key)
    if existing is None or (key != "other" and not existing.items):
        parsed.sections[key] = section
    elif key != "other":
        # A second heading of the same kind continues the first one's list.
        return existing
    return section


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
