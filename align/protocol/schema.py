"""The response schema: parse what a model wrote, render what gold data says.

Layout (docs/RESPONSE_FORMAT.md): ``TRIAGE: <COLOR> (<label>)`` first, then Rationale,
numbered Immediate Actions, a ``Do NOT:`` list and reassessment triggers.

``parse_response`` reads ordinary clinical writing, not only the project's template, line by
line: what each line is and which section it belongs to (align.protocol.sections), the triage
decision and the colors later lines give the child again (align.protocol.decision), so that a
change of mind can be found ("TRIAGE: RED" ... "Actually she can wait: tag her YELLOW").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from align.protocol.colors import LABELS, triage_line
from align.protocol.decision import (
    Decision,
    assigned_colors,
    label_result,
    names_someone_else,
    protocol_result,
    read_decision_line,
)
from align.protocol.sections import (
    MEANING_ANYWHERE_SET,
    a_new_block,
    inline_sections,
    is_care_item,
    is_empty_item,
    is_prohibition_item,
    is_short_title,
    is_trigger_item,
    is_trigger_sentence,
    opens_a_list,
    read_line,
    section_of,
)
from align.protocol.wording import ANY_SENTENCE, FULL_STOP, plain_text, table_cells

SECTION_KEYS = ("key_points", "rationale", "actions", "do_not", "reassess", "other")
# Sections whose lines are not decisions about the child ("Don't tag her GREEN just because
# she walks"; "re-triage as RED if ..."), so a color there restates nothing.
_NOT_RESTATING = frozenset(("do_not", "reassess"))


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


def parse_response(text: str) -> ParsedResponse:
    """Parse a response into its triage decision, sections and line-by-line section
    membership."""
    parsed = ParsedResponse(text)
    rows, sections = parsed.line_rows, parsed.section_rows
    key = "other"  # the current section's key, once a section is open
    items: list[str] | None = None  # the current section's items; None before any section
    after_blank = after_item = False
    under_title = False  # text lines right under a bare heading ("Recheck if:"), nothing between
    other_person = False  # under a heading about another person ("### His sister")
    restated: list[tuple[int, str]] = []
    table_columns = _section_table_columns(parsed.raw_lines) if "|" in text else {}
    for index, line in enumerate(parsed.raw_lines):
        reading = read_line(line)
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
                    later = FULL_STOP.split(line, maxsplit=1)[1:]
                    restated.extend(
                        (index, color)
                        for _, _, key, sentence in rest_rows
                        if key not in _NOT_RESTATING and later and sentence in later[0]
                        for color in assigned_colors(sentence)
                    )
                items = None
                after_blank = False
                continue
        if kind == "text" and reading.short_title and opens_a_list(parsed.raw_lines, index):
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
                or (after_item and a_new_block(line))
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
            if not is_empty_item(content):
                items.append(content)
        elif kind == "heading":
            key = heading_key
            other_person = names_someone_else(title)
            items = _open_section(sections, key, title, index)
            heading_rows = _heading_rows(sections, items, line_items, index, line, key)
        elif kind == "text" and (reading.sign_off or is_empty_item(content)):
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
            and not other_person
            and (key not in _NOT_RESTATING or (kind == "text" and not under_title))
        ):
            colors = reading.colors_given
            if any(row[2] != key for row in line_rows):  # not the colors of trigger sentences
                colors = [
                    c
                    for *_, k, text in line_rows
                    if not (k == "do_not" or (k == "reassess" and is_trigger_sentence(text)))
                    for c in assigned_colors(text)
                ]
            restated.extend((index, color) for color in colors)
    if parsed.triage_line_index is None:
        _find_sentence_decision(parsed)
    if not parsed.items("do_not"):
        promoted = _promote_prohibition_list(parsed)
        restated = [(index, color) for index, color in restated if index not in promoted]
    if not parsed.items("reassess"):
        promoted = _promote_trigger_list(parsed)
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
        columns = tuple(section_of(cell.strip()) for cell in table_cells(header))
        if columns[0] in MEANING_ANYWHERE_SET and not any(
            c.strip() for c in table_cells(header)[1:]
        ):
            columns = (columns[0],) * len(columns)  # "| Do not | |": the title over the table
        end = index + 2
        while end < len(lines) and lines[end].lstrip().startswith("|"):
            end += 1
        if MEANING_ANYWHERE_SET & set(columns):
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
        cells = table_cells(lines[row])
        title = plain_text(cells[0]).strip(" :")
        key = section_of(title) if row >= start + 2 else "other"
        if key not in MEANING_ANYWHERE_SET or not is_short_title(title, key):
            key = "other"  # "| Resist the urge to make him vomit | ... |" is a rule, no title
        found[row] = ("other",) + (key,) * (len(cells) - 1)
    if not any(set(columns) & MEANING_ANYWHERE_SET for columns in found.values()):
        return {}
    return found


def _table_rows(sections: dict, line: str, index: int, columns: tuple[str, ...]) -> list:
    """One row per cell of a section table's row, with its column's section (a Do NOT cell is
    then not read as an instruction); the cells are the items of their sections."""
    rows = []
    for cell, key in zip(table_cells(line), columns, strict=False):
        text = cell.strip()
        if not text or is_empty_item(text):
            continue
        if key != "other":
            _open_section(sections, key, "", index).append(text)
        rows.append((index, line, key, text))
    return rows


def _after_first_sentence(line: str) -> str:
    """What a line says after its first sentence ("" for one sentence)."""
    parts = ANY_SENTENCE.split(line.strip(), maxsplit=1)
    return parts[1] if len(parts) == 2 else ""


def _heading_rows(
    sections: dict, items: list[str], line_items: tuple[str, ...], index: int, line: str, key: str
) -> list:
    """The rows of a heading line, its text added to its section's items; a titled Do NOT or
    reassessment list inside it ("Treatment: cool the burn. Cautions (do not): burst blisters;
    cool the whole child. Recheck if: ...") is that section's, and not read as instructions."""
    sentences = inline_sections(" ".join(line_items), titles_only=True) if line_items else ()
    for section, _, content in sentences:
        target = items if section is None else _open_section(sections, section, "", index)
        if content and not is_empty_item(content):
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
    sentences = inline_sections(paragraph)
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


def _promote_prohibition_list(parsed: ParsedResponse) -> set[int]:
    """With no Do NOT section, make one of the first list of two or more items of which two
    in three or more are prohibitions, under a title of no known kind ("ice is a bad idea
    here, also:" then "- no butter, no toothpaste" and "- dont pop the blister"); the line
    indexes it took."""
    rows = parsed.line_rows
    for block in _unsectioned_lists(rows):
        prohibitions = sum(is_prohibition_item(rows[p][3]) for p in block)
        if len(block) >= 2 and prohibitions >= 2 and 3 * prohibitions >= 2 * len(block):
            return _make_section(parsed, "do_not", block)
    return set()


def _promote_trigger_list(parsed: ParsedResponse) -> set[int]:
    """With no reassessment section, make one of the last list of two or more items, under a
    title of no known kind, that are mostly triggers and hold no action ("Trend:" then "- RR
    >45 or <15", "- radial lost", "- drowsy"): a title the vocabulary does not know must not
    lose the section its items plainly are. The line indexes it took."""
    rows = parsed.line_rows
    lists = _unsectioned_lists(rows)
    last = lists[-1] if lists else []
    if len(last) < 2 or last[-1] != len(rows) - 1:
        return set()  # the triggers close the answer
    triggers = sum(is_trigger_item(rows[p][3]) for p in last)
    if 3 * triggers < 2 * len(last) or any(is_care_item(rows[p][3]) for p in last):
        return set()  # two in three items triggers, none an action
    return _make_section(parsed, "reassess", last)


def _unsectioned_lists(rows: list[tuple[int, str, str, str]]) -> list[list[int]]:
    """The runs of list items outside any known section, as positions in ``rows``."""
    lists: list[list[int]] = []
    block: list[int] = []
    for position, (_, line, key, _) in enumerate(rows):
        if key == "other" and read_line(line).kind == "item":
            block.append(position)
        elif block:
            lists.append(block)
            block = []
    if block:
        lists.append(block)
    return lists


def _make_section(parsed: ParsedResponse, key: str, block: list[int]) -> set[int]:
    """Make the items at ``block`` (positions in the line rows) section ``key``; the line
    indexes they stand on."""
    rows = parsed.line_rows
    parsed.section_rows[key] = ("", rows[block[0]][0], [rows[p][3] for p in block])
    for p in block:
        index, line, _, content = rows[p]
        rows[p] = (index, line, key, content)
    return {rows[p][0] for p in block}


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
    for position, (index, line, key, _) in enumerate(parsed.line_rows):
        # a color opening a trigger or a prohibition describes ("- grey, floppy, grunting")
        colors = assigned_colors(line, openings=key not in _NOT_RESTATING)
        if colors:
            _set_decision(parsed, index, Decision(colors, None, ()), first=position == 0)
            return
    for position, (index, line, _, _) in enumerate(parsed.line_rows):
        decision = protocol_result(line) or label_result(line)
        if decision is not None:
            _set_decision(parsed, index, decision, first=position == 0)
            return


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
