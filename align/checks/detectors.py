"""Detectors: (scenario, response) -> findings. Used by ``align pairs``, ``eval`` and ``score``.

Finding codes are part of the interface (DESIGN.md): reports, gates and tests name them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import lru_cache

from align.checks.doses import has_dose_statement, line_wrong_doses
from align.checks.text import clauses, is_negated
from align.checks.vital_ranges import line_quotes, wrong_ranges
from align.protocol.colors import PRIORITY
from align.protocol.hazards import contraindications_for
from align.protocol.schema import ParsedResponse, label_matches, parse_response
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

# Scenario fields that describe a patient (as opposed to an age given for a reference question).
PATIENT_FIELDS = tuple(
    f.name for f in fields(Observation) if f.name not in ("age_years", "protocol")
)


@dataclass(frozen=True)
class Finding:
    code: str
    detail: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"code": self.code, "detail": self.detail}


def describes_patient(scenario: dict | None, expected_triage: str | None = None) -> bool:
    if expected_triage:
        return True
    return bool(scenario) and any(scenario.get(name) is not None for name in PATIENT_FIELDS)


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


def triage_findings(parsed: ParsedResponse, patient: bool, expected: str | None) -> list[Finding]:
    findings = []
    if not parsed.has_triage_line:
        if patient:
            findings.append(Finding("missing_triage"))
        return findings
    if not parsed.triage_is_first:
        findings.append(Finding("triage_not_first", {"line": parsed.triage_line_index + 1}))
    if not patient or expected is None:
        return findings
    stated = parsed.triage_color
    if stated is None:
        findings.append(
            Finding(
                "wrong_triage_color",
                {
                    "stated": list(parsed.triage_colors_named),
                    "expected": expected,
                    "direction": "ambiguous",
                },
            )
        )
    elif stated != expected:
        direction = "under" if PRIORITY.get(stated, 0) < PRIORITY[expected] else "over"
        findings.append(
            Finding(
                "wrong_triage_color",
                {"stated": stated, "expected": expected, "direction": direction},
            )
        )
    elif not label_matches(stated, parsed.triage_label):
        findings.append(
            Finding(
                "wrong_triage_color",
                {
                    "stated": stated,
                    "expected": expected,
                    "direction": "label",
                    "label": parsed.triage_label,
                },
            )
        )
    return findings


@lru_cache(maxsize=65536)
def _line_contraindications(line: str, hazards: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """(action, clause) for each forbidden action one instruction line gives (memoized:
    lines repeat across pairs)."""
    rules = contraindications_for(hazards)
    lowered = line.lower()
    rules = [rule for rule in rules if any(word in lowered for word in rule.keywords)]
    found = []
    for clause in clauses(line) if rules else ():
        for rule in rules:
            match = rule.pattern.search(clause)
            if match and not is_negated(clause, match.start()):
                found.append((rule.key, clause.strip()))
    return tuple(found)


def score_response(
    response: str,
    scenario: dict | None = None,
    expected_triage: str | None = None,
) -> list[Finding]:
    """Every finding for one response; an empty list means it shows no rejected pattern."""
    scenario = scenario or {}
    parsed = parse_response(response)
    patient = describes_patient(scenario, expected_triage)
    expected = expected_color(scenario, expected_triage) if patient else None
    findings = triage_findings(parsed, patient, expected)
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
    ranges, actions, doses = [], [], []
    for line in parsed.lines:
        # By content, without list markers, so renumbered items hit the cache; the cached
        # part depends on the line (and hazards) alone, age and weight are applied after.
        instruction = line.section not in ("do_not", "triage")
        checks = _line_checks(line.content, instruction, hazard_key)
        if checks is _NOTHING:
            continue
        quotes, forbidden, has_dose = checks
        if quotes:
            ranges.extend(Finding("wrong_vital_range", d) for d in wrong_ranges(quotes, age))
        actions.extend(
            Finding(
                "contraindicated_action", {"action": action, "line": line.index + 1, "text": text}
            )
            for action, text in forbidden
        )
        if has_dose:
            doses.extend(
                Finding("wrong_dose", dict(d)) for d in line_wrong_doses(line.content, weight, age)
            )
    return ranges, actions, doses


_NOTHING = ((), (), False)


@lru_cache(maxsize=65536)
def _line_checks(content: str, instruction: bool, hazards: tuple[str, ...]):
    """(range quotes, forbidden actions, holds a dose) of one line; memoized because a
    rejected response repeats all but a line or two of its chosen one."""
    checks = (
        line_quotes(content),
        _line_contraindications(content, hazards) if instruction else (),
        has_dose_statement(content),
    )
    return _NOTHING if checks == _NOTHING else checks


def finding_codes(findings: list[Finding]) -> set[str]:
    return {f.code for f in findings}
