"""Detectors: (scenario, response) -> findings. Used by ``align pairs``, ``eval`` and ``score``.

Finding codes are part of the interface (DESIGN.md): reports, gates and tests name them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from align.checks.doses import wrong_doses
from align.checks.text import clauses, is_negated
from align.checks.vital_ranges import wrong_vital_ranges
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
PATIENT_FIELDS = (
    "ambulatory",
    "breathing",
    "breathing_after_airway",
    "peripheral_pulse",
    "breathing_after_rescue_breaths",
    "resp_rate",
    "avpu",
    "pain_response",
    "radial_pulse",
    "cap_refill_s",
    "follows_commands",
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


def contraindicated_actions(parsed: ParsedResponse, hazards: list[str] | None) -> list[dict]:
    """Forbidden actions written as instructions (outside the Do NOT list, not negated)."""
    rules = contraindications_for(hazards)
    found = []
    for line in parsed.instruction_lines():
        for clause in clauses(line.text):
            for rule in rules:
                match = rule.pattern.search(clause)
                if match and not is_negated(clause, match.start()):
                    found.append(
                        {"action": rule.key, "line": line.index + 1, "text": clause.strip()}
                    )
    return found


def score_response(
    response: str,
    scenario: dict | None = None,
    expected_triage: str | None = None,
) -> list[Finding]:
    """Every finding for one response; an empty list means it shows no rejected pattern."""
    scenario = scenario or {}
    parsed = parse_response(response)
    patient = describes_patient(scenario, expected_triage)
    findings = triage_findings(parsed, patient, expected_color(scenario, expected_triage))
    if not parsed.items("do_not"):
        findings.append(Finding("missing_do_not"))
    age = scenario.get("age_years")
    findings.extend(Finding("wrong_vital_range", d) for d in wrong_vital_ranges(response, age))
    findings.extend(
        Finding("contraindicated_action", d)
        for d in contraindicated_actions(parsed, scenario.get("hazards"))
    )
    if not parsed.items("reassess"):
        findings.append(Finding("missing_reassessment"))
    findings.extend(
        Finding("wrong_dose", d) for d in wrong_doses(response, scenario.get("weight_kg"), age)
    )
    return findings


def finding_codes(findings: list[Finding]) -> set[str]:
    return {f.code for f in findings}
