"""A scenario as input: checked and normalised before the triage engine or the detectors read it.

A scenario is the structured patient a response answers: the fields of ``Observation``, plus
``weight_kg`` and ``hazards``. ``validate_scenario`` names the first field that is wrong (and,
for an unknown value, the values allowed) and returns a new dict in which hazard synonyms
("smoke", "burns", "near-drowning") are replaced by the canonical tags of ``HAZARDS``, so the
detectors only ever see those.
"""

from __future__ import annotations

import re

from align.protocol.hazards import HAZARDS
from align.protocol.triage import Observation, ObservationError, check_number


class ScenarioError(ValueError):
    """A scenario that cannot be read; ``field`` names the culprit ("" for the whole)."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}" if field_name else message)
        self.field = field_name
        self.message = message


# A child's weight: 0.3 kg (the smallest surviving newborns) to 200 kg (a heavy teenager);
# outside is a unit slip (grams, pounds x 1000). The observation fields' ranges live with
# the triage engine (``align.protocol.triage.NUMBER_RANGES``), which checks them too.
WEIGHT_RANGE_KG = (0.3, 200)

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
        check_number("weight_kg", scenario.get("weight_kg"), *WEIGHT_RANGE_KG)
    except ObservationError as error:
        message = _with_value(str(error), scenario.get(error.field))
        raise ScenarioError(error.field, message) from None
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


def _with_value(message: str, value: object) -> str:
    return message if value is None else f"{message}, got {_shown(value)}"


def _shown(value: object, limit: int = 30) -> str:
    """A value as the user wrote it, cut short (a 400-digit number is not worth printing)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
