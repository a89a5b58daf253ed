"""Score model responses with the detectors and turn them into rates (no torch).

Rates are per response: the share of responses showing a finding code at least once. The
triage codes count only responses to a described patient (a reference question has no color
to get wrong); the others count every response.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from align.checks.detectors import (
    FINDING_CODES,
    describes_patient,
    expected_color,
    score_response,
)
from align.protocol.colors import COLORS, PRIORITY
from align.protocol.schema import parse_response

TRIAGE_CODES = ("wrong_triage_color", "missing_triage", "triage_not_first")
NO_COLOR = "NONE"  # no triage line, or one naming two colors


@dataclass(frozen=True)
class ScoredResponse:
    id: str
    patient: bool
    expected: str | None  # the true color (patients only)
    stated: str | None  # the color the response states, None if missing or ambiguous
    findings: tuple[dict, ...]

    @property
    def codes(self) -> set[str]:
        return {finding["code"] for finding in self.findings}


def score(
    id: str, response: str, scenario: dict | None, expected_triage: str | None
) -> ScoredResponse:
    patient = describes_patient(scenario, expected_triage)
    findings = score_response(response, scenario, expected_triage)
    return ScoredResponse(
        id=id,
        patient=patient,
        expected=expected_color(scenario, expected_triage) if patient else None,
        stated=parse_response(response).triage_color if patient else None,
        findings=tuple(f.to_dict() for f in findings),
    )


def wilson_interval(count: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score 95% interval of a proportion; sound at 0 and n, unlike the normal
    approximation. (A few lines: not worth a statsmodels dependency on a light path.)"""
    if n == 0:
        return (0.0, 1.0)
    p = count / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def proportion(count: int, n: int) -> dict:
    low, high = wilson_interval(count, n)
    return {
        "count": count,
        "n": n,
        "rate": count / n if n else None,
        "ci95": [round(low, 6), round(high, 6)],
    }


def finding_rates(scored: list[ScoredResponse]) -> dict[str, dict]:
    """Every finding code's rate (with count and Wilson interval), plus ``any_finding``."""
    rates = {}
    for code in FINDING_CODES:
        pool = [s for s in scored if s.patient] if code in TRIAGE_CODES else scored
        rates[code] = proportion(sum(code in s.codes for s in pool), len(pool))
    rates["any_finding"] = proportion(sum(bool(s.findings) for s in scored), len(scored))
    return rates


def triage_metrics(scored: list[ScoredResponse]) -> dict:
    """Accuracy, confusion matrix (expected -> stated), under/over-triage and RED recall over
    the responses to a patient. A missing or ambiguous color is neither under nor over: it is
    counted as missing (and is still wrong for accuracy and recall)."""
    patients = [s for s in scored if s.patient and s.expected]
    confusion = {expected: dict.fromkeys((*COLORS, NO_COLOR), 0) for expected in COLORS}
    direction = Counter()
    for s in patients:
        stated = s.stated or NO_COLOR
        confusion[s.expected][stated] += 1
        if s.stated is None:
            direction["missing"] += 1
        elif s.stated != s.expected:
            under = PRIORITY[s.stated] < PRIORITY[s.expected]
            direction["under" if under else "over"] += 1
    n = len(patients)
    red = [s for s in patients if s.expected == "RED"]
    return {
        "n": n,
        "accuracy": proportion(sum(s.stated == s.expected for s in patients), n),
        "under_triage": proportion(direction["under"], n),
        "over_triage": proportion(direction["over"], n),
        "missing_color": proportion(direction["missing"], n),
        "red_recall": proportion(sum(s.stated == "RED" for s in red), len(red)),
        "confusion": confusion,
    }
