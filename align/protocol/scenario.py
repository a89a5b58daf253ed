"""A scenario as input: checked and normalised before the triage engine or the detectors read it.

A scenario is the structured patient a response answers: the fields of ``Observation``, plus
``weight_kg`` and ``hazards``. ``validate_scenario`` names the first field that is wrong (and,
for an unknown value, the values allowed) and returns a new dict in which hazard synonyms
("smoke", "burns", "near-drowning") are replaced by the canonical tags of ``HAZARDS``, so the
detectors only ever see those.
"""

from __future__ import annotations

import math
import re

from align.protocol.hazards import HAZARDS
from align.protocol.triage import Observation, ObservationError


class ScenarioError(ValueError):
    """A scenario that cannot be read; ``field`` names the culprit ("" for the whole)."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}" if field_name else message)
        self.field = field_name
        self.message = message


# Plausible ranges: wider than any child's, narrow enough to catch a unit slip or a typo
# (a weight in grams, a rate per hour). JumpSTART and START cover children and teenagers.
NUMBER_RANGES = {
    "age_years": (0, 25),
    "resp_rate": (0, 150),
    "cap_refill_s": (0, 30),
    "weight_kg": (0.3, 200),
}

# Words people tag a hazard with, in normalised form (see ``_normalised_tag``), and the
# canonical tag each one means.
HAZARD_SYNONYMS = {
    "smoke": "smoke_inhalation",
    "inhalation": "smoke_inhalation",
    "inhalation_injury": "smoke_inhalation",
    "burns": "burn",
    "scald": "burn",
    "scalds": "burn",
    "bleed": "bleeding",
    "haemorrhage": "bleeding",
    "hemorrhage": "bleeding",
    "crush_injury": "crush",
    "spine": "spinal",
    "spinal_injury": "spinal",
    "neck_injury": "spinal",
    "near_drowning": "drowning",
    "submersion": "drowning",
    "cold": "hypothermia",
    "allergy": "anaphylaxis",
    "allergic_reaction": "anaphylaxis",
    "tbi": "head_injury",
    "head": "head_injury",
    "broken_bone": "fracture",
    "broken_bones": "fracture",
    "fractures": "fracture",
    "poison": "chemical",
    "poisoning": "chemical",
    "ingestion": "chemical",
}


def validate_scenario(scenario: object) -> dict:
    """The scenario, checked, as a new dict with canonical hazard tags; raise ScenarioError."""
    if not isinstance(scenario, dict):
        raise ScenarioError("", "a scenario must be a JSON object")
    try:
        Observation.from_dict(scenario)
    except ObservationError as error:
        message = _with_value(str(error), scenario.get(error.field))
        raise ScenarioError(error.field, message) from None
    for name, (low, high) in NUMBER_RANGES.items():
        _check_number(name, scenario.get(name), low, high)
    normalised = dict(scenario)
    if scenario.get("hazards") is not None:
        normalised["hazards"] = canonical_hazards(scenario["hazards"])
    return normalised


def canonical_hazards(tags: object) -> list[str]:
    """The canonical tags, synonyms mapped, each once, in the order given."""
    if not isinstance(tags, list):
        raise ScenarioError("hazards", f"must be a list of hazard tags from: {', '.join(HAZARDS)}")
    canonical: list[str] = []
    for tag in tags:
        hazard = canonical_hazard(tag)
        if hazard not in canonical:
            canonical.append(hazard)
    return canonical


def canonical_hazard(tag: object) -> str:
    if not isinstance(tag, str):
        raise ScenarioError("hazards", f"each hazard must be a string, got {_shown(tag)}")
    word = _normalised_tag(tag)
    if word in HAZARDS:
        return word
    if word in HAZARD_SYNONYMS:
        return HAZARD_SYNONYMS[word]
    raise ScenarioError(
        "hazards",
        f"unknown hazard {_shown(tag)}; allowed: {', '.join(HAZARDS)}"
        " (common synonyms such as 'smoke' or 'burns' are accepted)",
    )


def _normalised_tag(tag: str) -> str:
    """Lower case, with runs of spaces, hyphens and underscores as one underscore."""
    return re.sub(r"[\s_-]+", "_", tag.strip().lower())


def _check_number(name: str, value: object, low: float, high: float) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ScenarioError(name, f"must be a number, got {_shown(value)}")
    # inf and nan are floats (JSON's 1e999 reads as inf); nan fails no comparison below.
    if isinstance(value, float) and not math.isfinite(value):
        raise ScenarioError(name, f"must be a finite number, got {_shown(value)}")
    if not low <= value <= high:
        raise ScenarioError(name, f"must be between {low} and {high}, got {_shown(value)}")


def _with_value(message: str, value: object) -> str:
    return message if value is None else f"{message}, got {_shown(value)}"


def _shown(value: object, limit: int = 30) -> str:
    """A value as the user wrote it, cut short (a 400-digit number is not worth printing)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
