"""Detectors: (scenario, response) -> findings. Used by ``align pairs``, ``eval`` and ``score``.

Finding codes are part of the interface (DESIGN.md): reports, gates and tests name them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import Any

from align.checks.doses import (
    IV_FOR_ANAPHYLAXIS,
    drug_heading,
    has_dose_statement,
    line_wrong_doses,
)
from align.checks.text import Terms, clauses, is_negated, word_set, words
from align.checks.vital_ranges import RangeQuote, line_quotes, range_detail, wrong_quotes
from align.checks.vocabulary import load
from align.protocol.colors import PRIORITY
from align.protocol.hazards import CONTRAINDICATIONS, Form, contraindications_for
from align.protocol.schema import ParsedResponse, parse_response
from align.protocol.triage import Observation, ObservationError, triage

FINDING_CODES = (
    "wrong_triage_color",
    "missing_triage",
    "triage_not_first",
    "missing_do_not",
    "wrong_vital_range",
    "contraindicated_action",
    "missing_reassessment",
    "wrong_dose",
)

_NO_DETAIL: Any = object()  # Finding's detail when none is given

# Scenario fields that describe a patient (as opposed to an age given for a reference question).
PATIENT_FIELDS = tuple(
    f.name for f in fields(Observation) if f.name not in ("age_years", "protocol")
)


@dataclass(frozen=True)
class Finding:
    code: str
    detail: dict = field(default_factory=dict)

    def __init__(self, code: str, detail: dict = _NO_DETAIL):
        # What the generated __init__ of a frozen dataclass stores, without its
        # object.__setattr__ call per field (the closed loop makes a finding per rejected
        # response); a new dict when no detail is given, as the default factory.
        fields = self.__dict__
        fields["code"] = code
        fields["detail"] = {} if detail is _NO_DETAIL else detail

    def to_dict(self) -> dict:
        return {"code": self.code, "detail": self.detail}


def describes_patient(scenario: dict | None, expected_triage: str | None = None) -> bool:
    if expected_triage:
        return True
    if not scenario:
        return False
    # A loop, not any() over a generator: asked once per response scored.
    for name in PATIENT_FIELDS:  # noqa: SIM110
        if scenario.get(name) is not None:
            return True
    return False


def expected_color(scenario: dict | None, expected_triage: str | None = None) -> str | None:
    """The truth for the triage color: the record's own answer, else the protocol's."""
    if expected_triage:
        return expected_triage
    if not scenario:
        return None
    try:
        return triage(Observation.from_dict(scenario)).triage
    except ObservationError:
        return None


def triage_findings(
    parsed: ParsedResponse, patient: bool, expected: str | None, two_patients: bool = False
) -> list[Finding]:
    findings = []
    index = parsed.triage_line_index
    if index is None:
        if patient:
            findings.append(Finding("missing_triage"))
        return findings
    if not parsed.triage_is_first:
        findings.append(Finding("triage_not_first", {"line": index + 1}))
    if not patient or expected is None:
        return findings
    color_finding = _color_finding(parsed, expected, two_patients)
    if color_finding is not None:
        findings.append(color_finding)
    return findings


def _color_finding(parsed: ParsedResponse, expected: str, two_patients: bool) -> Finding | None:
    """``wrong_triage_color`` when the decision is not the expected color, names two colors,
    carries a label of another color ("YELLOW (Immediate)"), or is changed later in the answer
    ("TRIAGE: RED" ... "tag her YELLOW"): a responder cannot act on an answer that says two
    things, whichever of them is right. Where the scenario has a second patient, the other
    colors named may be that child's, so only the decision is judged."""
    stated = parsed.triage_color
    detail: dict = {"stated": stated, "expected": expected}
    if stated is None:
        detail.update(stated=list(parsed.triage_colors_named), direction="ambiguous")
    elif stated != expected:
        detail["direction"] = "under" if PRIORITY.get(stated, 0) < PRIORITY[expected] else "over"
    elif parsed.triage_label_colors and parsed.triage_label_colors != (stated,):
        detail.update(direction="label", label=parsed.triage_label)
    elif parsed.triage_changed_to and not two_patients:
        detail["direction"] = "changed"
    else:
        return None
    if parsed.triage_changed_to and not two_patients:
        detail["changed_to"] = list(parsed.triage_changed_to)
    return Finding("wrong_triage_color", detail)


@lru_cache(maxsize=65536)
def _line_contraindications(line: str, forbidden: frozenset[str]) -> tuple[tuple[str, str], ...]:
    """(action, clause) for each action of ``forbidden`` (the scenario's, see
    ``_forbidden_actions``) one instruction line gives: a mention of the action
    (align/checks/vocabulary/contraindications.toml) that no negation governs. Only the
    scenario's actions are looked for: a line holds words of many actions it does not give."""
    present = word_set(line)
    if _action_words(forbidden).isdisjoint(present):  # most lines: no further test
        return ()
    if not _rules_named(present, forbidden):
        return ()
    found = []
    earlier = ""
    for clause in clauses(line):
        keys = _clause_actions(clause, forbidden)
        if not keys and _may_name_an_antecedent(earlier) and _PRONOUN.search(clause):
            keys = _pronoun_actions(earlier, clause, forbidden)
        found.extend((key, clause.strip()) for key in keys)
        earlier = clause  # the clause before: where a pronoun's noun stands (linear in the line)
    return tuple(found)


_PRONOUN = re.compile(r"\b(?:it|them)\b", re.IGNORECASE)
# The words a pronoun form's nouns hold ("tourniquet", "blister"): a text without one names
# nothing a later "it" could stand for.
_ANTECEDENT_WORDS = frozenset().union(
    *(form.antecedents.key_words for rule in CONTRAINDICATIONS for form in rule.forms)
)


@lru_cache(maxsize=65536)
def _line_pronoun_actions(
    previous: str, line: str, forbidden: frozenset[str]
) -> tuple[tuple[str, str], ...]:
    """(action, line) for each action of ``forbidden`` a line gives on a pronoun for a noun of
    the line before ("- tourniquet stays high and tight" then "- loosen it every 15 min")."""
    if not _may_name_an_antecedent(previous) or not _PRONOUN.search(line):
        return ()
    return tuple((key, line) for key in _pronoun_actions(previous, line, forbidden))


def _may_name_an_antecedent(text: str) -> bool:
    return bool(text) and not _ANTECEDENT_WORDS.isdisjoint(word_set(text))


@lru_cache(maxsize=65536)
def _pronoun_actions(earlier: str, clause: str, forbidden: frozenset[str]) -> tuple[str, ...]:
    """The actions a clause gives on a pronoun whose noun the clause before it names ("The big
    blister is tight — pop it with a clean needle"), or the line before it names
    ("- tourniquet stays high and tight" then "- loosen it every 15 min"); the clause's own
    negation decides."""
    joined = f"{earlier} {clause}"
    shift = len(earlier) + 1
    return tuple(
        rule.key
        for rule in _rules_named(word_set(joined), forbidden)
        if any(
            start >= shift and not is_negated(clause, start - shift, end - shift)
            for start, end in rule.mentions(joined)
        )
    )


@lru_cache(maxsize=65536)
def _clause_actions(clause: str, forbidden: frozenset[str]) -> tuple[str, ...]:
    """The keys of the actions of ``forbidden`` one clause gives, in vocabulary order
    (memoized: an edited line keeps most of its clauses). A clause's words are some of its
    line's, so the rules its own words name are the line's rules that can match it."""
    return tuple(
        rule.key
        for rule in _rules_named(word_set(clause), forbidden)
        if any(not is_negated(clause, start, end) for start, end in rule.mentions(clause))
    )


def forbidden_instructions(line: str, hazards: tuple[str, ...]) -> list[tuple[str, str]]:
    """(action, clause) for each action the hazards forbid that an instruction line gives."""
    return list(_line_contraindications(line, _forbidden_actions(tuple(sorted(hazards)))))


@lru_cache(maxsize=1024)
def _forbidden_actions(hazards: tuple[str, ...]) -> frozenset[str]:
    """The keys of the actions a hazard set forbids (the always-wrong ones included)."""
    return frozenset(rule.key for rule in contraindications_for(hazards))


@lru_cache(maxsize=4096)
def _heading_contraindications(
    line: str, hazards: tuple[str, ...], drug: str
) -> tuple[tuple[str, str], ...]:
    """(action, clause) for each forbidden action a line under a drug heading gives with the
    heading's drug ("**Epinephrine**" then "- 0.3 mg IV push"); a clause that names a drug of
    its own is about that one."""
    found = []
    for clause in clauses(line):
        if _drug_names().spans(words(clause)):
            continue
        for rule in contraindications_for(hazards):
            mentions = rule.mentions(clause, given=drug)
            if any(not is_negated(clause, start, end) for start, end in mentions):
                found.append((rule.key, clause.strip()))
    return tuple(found)


@lru_cache(maxsize=1)
def _drug_names() -> Terms:
    """Every name of a drug the dose vocabulary knows (align/checks/vocabulary/drugs.toml)."""
    return Terms(name for drug in load("drugs")["drugs"].values() for name in drug["names"])


@lru_cache(maxsize=1024)
def _action_words(forbidden: frozenset[str]) -> frozenset[str]:
    """The words a text must hold to name one of the ``forbidden`` actions."""
    return frozenset().union(*(rule.words for rule in CONTRAINDICATIONS if rule.key in forbidden))


def _forms_by_word() -> dict[str, tuple[tuple[int, int, Form], ...]]:
    """(rule index in CONTRAINDICATIONS, form index, form) of the forms each key word of an
    action's objects belongs to."""
    found: dict[str, list[tuple[int, int, Form]]] = {}
    for i, rule in enumerate(CONTRAINDICATIONS):
        for k, form in enumerate(rule.forms):
            for word in form.objects.key_words:
                found.setdefault(word, []).append((i, k, form))
    return {word: tuple(forms) for word, forms in found.items()}


_FORMS_BY_WORD = _forms_by_word()


def _rules_named(present: frozenset[str], forbidden: frozenset[str]) -> list:
    """The rules of ``forbidden`` whose action a text of the words ``present`` may name, in
    vocabulary order: it holds a key word of each part of one of the action's forms. Only
    the forms whose object key words are present are tested (every form needs one)."""
    candidates = {
        (i, k): form
        for word in _action_words(forbidden).intersection(present)
        for i, k, form in _FORMS_BY_WORD[word]
        if CONTRAINDICATIONS[i].key in forbidden
    }
    named = {i for (i, _), form in candidates.items() if form.possible(present)}
    return [CONTRAINDICATIONS[i] for i in sorted(named)]


def score_response(
    response: str,
    scenario: dict | None = None,
    expected_triage: str | None = None,
) -> list[Finding]:
    """Every finding for one response; an empty list means it shows no rejected pattern."""
    return score_parsed(parse_response(response), scenario, expected_triage)


def score_parsed(
    parsed: ParsedResponse,
    scenario: dict | None = None,
    expected_triage: str | None = None,
) -> list[Finding]:
    """``score_response`` on a response already parsed (``align pairs`` parses each gold
    response once for its perturbations and its own check)."""
    scenario = scenario or {}
    patient = describes_patient(scenario, expected_triage)
    expected = expected_color(scenario, expected_triage) if patient else None
    two_patients = bool(scenario.get("second_patient"))
    findings = triage_findings(parsed, patient, expected, two_patients)
    if not parsed.items("do_not"):
        findings.append(Finding("missing_do_not"))
    ranges, actions, doses = line_findings(parsed, scenario)
    findings.extend(ranges)
    findings.extend(actions)
    if not parsed.items("reassess"):
        findings.append(Finding("missing_reassessment"))
    findings.extend(doses)
    return findings


def line_findings(parsed: ParsedResponse, scenario: dict) -> tuple[list, list, list]:
    """Findings that live on single lines: quoted ranges, forbidden instructions (outside the
    Do NOT list and the triage line, not negated) and doses."""
    age, weight = scenario.get("age_years"), scenario.get("weight_kg")
    hazards = scenario.get("hazards")
    hazard_key = tuple(sorted(hazards)) if hazards else ()
    forbidden_here = _forbidden_actions(hazard_key)
    ranges: list[Finding] = []
    actions: list[Finding] = []
    doses: list[Finding] = []
    heading, heading_section = None, None
    previous = ""  # the line before, whose nouns a pronoun may stand for
    for index, _, section, content in parsed.line_rows:
        # By content, without list markers, so renumbered items are read once.
        instruction = section not in _STATEMENT_SECTIONS
        mentioned = _line_contraindications(content, forbidden_here) if instruction else ()
        if instruction and not mentioned and previous:
            mentioned = _line_pronoun_actions(previous, content, forbidden_here)
        previous = content
        if line_quotes(content):
            wrong = _wrong_quotes(content, age)
            if wrong:
                ranges.extend(Finding("wrong_vital_range", range_detail(*w)) for w in wrong)
        forbidden = list(mentioned)
        for action, text in forbidden:
            detail = {"action": action, "line": index + 1, "text": text}
            actions.append(Finding("contraindicated_action", detail))
        if instruction and has_dose_statement(content):
            # a drug heading ("**Epinephrine:**") names the drug of the doses below it
            if section != heading_section:
                heading, heading_section = None, section
            named = drug_heading(content)
            carried = None if named else heading
            wrong = line_wrong_doses(content, weight, age, hazard_key, carried)
            heading = named or heading
            if wrong:  # most dose lines are right: no generator made for them
                doses.extend(Finding("wrong_dose", dict(d)) for d in wrong)
            if carried is not None and not forbidden:  # the line speaks of the heading's drug
                for action, text in _heading_contraindications(content, hazard_key, carried[0]):
                    forbidden.append((action, text))
                    detail = {"action": action, "line": index + 1, "text": text}
                    actions.append(Finding("contraindicated_action", detail))
            if _gives_iv_epinephrine(wrong, forbidden, forbidden_here):
                # the dose reading found the route ("epi: ... push 0.5 mg IV now"): IV
                # epinephrine in the field is a forbidden action as well as a wrong dose
                detail = {"action": _IV_EPINEPHRINE, "line": index + 1, "text": content}
                actions.append(Finding("contraindicated_action", detail))
    return ranges, actions, doses


_IV_EPINEPHRINE = "epinephrine_iv_field"


def _gives_iv_epinephrine(wrong_doses, forbidden, forbidden_here) -> bool:
    return (
        _IV_EPINEPHRINE in forbidden_here
        and any(d.get("stated") == IV_FOR_ANAPHYLAXIS for d in wrong_doses)
        and all(action != _IV_EPINEPHRINE for action, _ in forbidden)
    )


# A Do NOT or triage line is not an instruction: it gives no action and no dose.
_STATEMENT_SECTIONS = frozenset(("do_not", "triage"))


@lru_cache(maxsize=65536)
def _wrong_quotes(content: str, age: float | None) -> tuple[tuple[RangeQuote, float], ...]:
    """(quote, age) of each range a line quotes that does not fit the age (memoized; the
    details, dicts the caller may change, are built afresh for the few lines that have any)."""
    return tuple(wrong_quotes(line_quotes(content), age))


def finding_codes(findings: list[Finding]) -> set[str]:
    if len(findings) == 1:  # a rejected response's usual case: no comprehension to run
        return {findings[0].code}
    return {f.code for f in findings}
