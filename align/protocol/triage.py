"""JumpSTART and START as deterministic decision procedures (facts file sections 1-2).

``triage(observation)`` returns the color, the protocol used and the path taken, one step a
string (``"rr=36 in 15..45"``). A step whose field is missing raises ``MissingObservation``
naming it; a field of the wrong type raises ``InvalidObservation``. Pure Python, no I/O.

Deliberate choices, each from the facts file or DESIGN.md:
- protocol null: JumpSTART below 9 years, START from 9 up;
- JumpSTART RR 15 and 45 are in band; START RR 30 is in band;
- infants (< 1 year) never pass the walking step, so it is skipped for them;
- the unverified non-ambulatory modification (YELLOW -> GREEN) is not applied;
- a respiratory rate above zero implies spontaneous breathing when ``breathing`` is absent.

``triage`` applies the whole policy (docs/TRIAGE_POLICY.md): the algorithm, then the overrides
(``OVERRIDES``) that raise a GREEN or YELLOW child to RED.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from functools import cache

PROTOCOLS = ("jumpstart", "start")
START_MIN_AGE_YEARS = 9
JUMPSTART_RR_LOW = 15
JUMPSTART_RR_HIGH = 45
START_RR_HIGH = 30
START_CAP_REFILL_MAX_S = 2
AVPU_LEVELS = ("A", "V", "P", "U")
# Plausible ranges of the measured fields (docs/DESIGN.md "Input validation"): a value outside
# is a unit slip, a typo or another tool's patient, never a child to triage. Ages stop at 18,
# where the published pediatric vital-sign tables stop (facts file section 3).
NUMBER_RANGES = {"age_years": (0, 18), "resp_rate": (0, 150), "cap_refill_s": (0, 30)}
PAIN_RESPONSES = ("appropriate", "inappropriate")


class ObservationError(ValueError):
    """An observation that cannot be triaged; ``field`` names the culprit."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name


class MissingObservation(ObservationError):
    def __init__(self, field_name: str, protocol: str):
        super().__init__(field_name, f"missing field '{field_name}' (needed by {protocol})")


class InvalidObservation(ObservationError):
    pass


@dataclass(frozen=True)
class Observation:
    """One patient as observed in the field; ``None`` means not observed."""

    age_years: float | None = None
    protocol: str | None = None
    ambulatory: bool | None = None
    breathing: bool | None = None
    breathing_after_airway: bool | None = None
    peripheral_pulse: bool | None = None
    breathing_after_rescue_breaths: bool | None = None
    resp_rate: float | None = None
    avpu: str | None = None
    pain_response: str | None = None
    radial_pulse: bool | None = None
    cap_refill_s: float | None = None
    follows_commands: bool | None = None
    # The policy's override signs (docs/TRIAGE_POLICY.md): not steps of the algorithm.
    airway_threat: bool | None = None
    uncontrolled_bleeding: bool | None = None

    @classmethod
    def from_dict(cls, record: dict) -> Observation:
        """Build from a scenario or observation dict; unknown keys are ignored."""
        if not isinstance(record, dict):
            raise InvalidObservation("", "an observation must be a JSON object")
        names = _field_names(cls)
        # The fields stored as the generated __init__ of a frozen dataclass would store them,
        # without its object.__setattr__ call per field (most of the cost of this method).
        observation = cls.__new__(cls)
        observation.__dict__.update(zip(names, map(record.get, names), strict=True))
        observation.validate()
        return observation

    def validate(self) -> None:
        for name in (
            "ambulatory",
            "breathing",
            "breathing_after_airway",
            "peripheral_pulse",
            "breathing_after_rescue_breaths",
            "radial_pulse",
            "follows_commands",
            "airway_threat",
            "uncontrolled_bleeding",
        ):
            value = getattr(self, name)
            if value is not None and not isinstance(value, bool):
                raise InvalidObservation(name, f"field '{name}' must be true or false")
        for name, (low, high) in NUMBER_RANGES.items():
            check_number(name, getattr(self, name), low, high)
        if self.protocol is not None and self.protocol not in PROTOCOLS:
            raise InvalidObservation(
                "protocol", f"field 'protocol' must be one of {', '.join(PROTOCOLS)} or null"
            )
        if self.avpu is not None and self.avpu not in AVPU_LEVELS:
            raise InvalidObservation("avpu", "field 'avpu' must be one of A, V, P, U")
        if self.pain_response is not None and self.pain_response not in PAIN_RESPONSES:
            raise InvalidObservation(
                "pain_response", "field 'pain_response' must be 'appropriate' or 'inappropriate'"
            )


def check_number(name: str, value: object, low: float, high: float) -> None:
    """A finite number from ``low`` to ``high``, or None; InvalidObservation otherwise."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidObservation(name, f"field '{name}' must be a number")
    # JSON's 1e400 reads as inf; nan fails every comparison, so it is caught here too. A
    # 400-digit integer compares fine below, and is refused before any float() could overflow.
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidObservation(name, f"field '{name}' must be a finite number")
    if not low <= value <= high:
        raise InvalidObservation(name, f"field '{name}' must be between {low} and {high}")


@cache
def _field_names(cls) -> tuple[str, ...]:
    """A dataclass's field names, read once per class (``fields()`` builds them anew)."""
    return tuple(f.name for f in fields(cls))


@dataclass(frozen=True)
class Override:
    """A sign that raises a GREEN or YELLOW child to ``color`` whatever the algorithm says."""

    field: str
    color: str
    reason: str


# docs/TRIAGE_POLICY.md section 2 gives the sources; a child the algorithm tags RED or BLACK
# is never changed (an override raises priority, never lowers it).
OVERRIDES = (
    Override(
        "airway_threat",
        "RED",
        "airway threat (anaphylaxis or inhalation burn): SALT's respiratory distress is Immediate",
    ),
    Override(
        "uncontrolled_bleeding",
        "RED",
        "uncontrolled major bleeding: SALT's uncontrolled hemorrhage is Immediate",
    ),
)
_OVERRIDDEN = ("GREEN", "YELLOW")


@dataclass(frozen=True)
class TriageResult:
    """The policy's color (``triage``) and how it was reached: the algorithm's own color and
    path, and the override that raised it, if any."""

    triage: str
    protocol: str
    path: list[str] = field(default_factory=list)
    algorithm_triage: str | None = None  # None: the same as ``triage``
    override: Override | None = None

    def to_dict(self) -> dict:
        result = {"triage": self.triage, "protocol": self.protocol, "path": list(self.path)}
        if self.override is not None:
            result["algorithm_triage"] = self.algorithm_triage
            result["override"] = self.override.field
            result["override_reason"] = self.override.reason
        return result


def choose_protocol(observation: Observation) -> str:
    if observation.protocol is not None:
        return observation.protocol
    if observation.age_years is None:
        raise MissingObservation("age_years", "protocol choice (or give 'protocol')")
    return "jumpstart" if observation.age_years < START_MIN_AGE_YEARS else "start"


def triage(observation: Observation | dict) -> TriageResult:
    """The policy's color for one patient: the protocol given, or the one their age calls
    for, then the overrides."""
    if isinstance(observation, dict):
        observation = Observation.from_dict(observation)
    protocol = choose_protocol(observation)
    procedure = jumpstart if protocol == "jumpstart" else start
    color, path = procedure(observation)
    override = applicable_override(observation, color)
    if override is None:
        return TriageResult(color, protocol, path)
    path = [*path, f"override {override.field}: {color} -> {override.color}"]
    return TriageResult(override.color, protocol, path, color, override)


def applicable_override(observation: Observation, algorithm_color: str) -> Override | None:
    """The first override whose sign the patient shows, where the algorithm's color allows."""
    if algorithm_color not in _OVERRIDDEN:
        return None
    for override in OVERRIDES:
        if getattr(observation, override.field):
            return override
    return None


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


class _Steps:
    """Reads fields for one procedure, recording each answer in the path."""

    def __init__(self, observation: Observation, protocol: str):
        self.observation = observation
        self.protocol = protocol
        self.path: list[str] = []

    def need(self, name: str):
        value = getattr(self.observation, name)
        if value is None:
            raise MissingObservation(name, self.protocol)
        return value

    def ask(self, name: str) -> bool:
        value = self.need(name)
        self.path.append(f"{name}={_yes_no(value)}")
        return value

    def breathing(self) -> bool:
        observation = self.observation
        if observation.breathing is None and observation.resp_rate is not None:
            breathing = observation.resp_rate > 0
            self.path.append(f"breathing={_yes_no(breathing)} (from rr)")
            return breathing
        return self.ask("breathing")


def jumpstart(observation: Observation) -> tuple[str, list[str]]:
    """JumpSTART (Romig): facts file section 1, steps 1-5."""
    steps = _Steps(observation, "jumpstart")
    is_infant = observation.age_years is not None and observation.age_years < 1
    if is_infant:
        steps.path.append("ambulatory=n/a (infant)")
    elif steps.ask("ambulatory"):
        return "GREEN", steps.path
    if not steps.breathing():
        if steps.ask("breathing_after_airway"):
            return "RED", steps.path
        if not steps.ask("peripheral_pulse"):
            return "BLACK", steps.path
        if steps.ask("breathing_after_rescue_breaths"):
            return "RED", steps.path
        return "BLACK", steps.path
    rr = steps.need("resp_rate")
    if rr < JUMPSTART_RR_LOW:
        steps.path.append(f"rr={rr:g} <{JUMPSTART_RR_LOW}")
        return "RED", steps.path
    if rr > JUMPSTART_RR_HIGH:
        steps.path.append(f"rr={rr:g} >{JUMPSTART_RR_HIGH}")
        return "RED", steps.path
    steps.path.append(f"rr={rr:g} in {JUMPSTART_RR_LOW}..{JUMPSTART_RR_HIGH}")
    if not steps.ask("peripheral_pulse"):
        return "RED", steps.path
    avpu = steps.need("avpu")
    if avpu == "U":
        steps.path.append("avpu=U")
        return "RED", steps.path
    if avpu == "P":
        response = steps.need("pain_response")
        steps.path.append(f"avpu=P pain_response={response}")
        return ("RED" if response == "inappropriate" else "YELLOW"), steps.path
    steps.path.append(f"avpu={avpu}")
    return "YELLOW", steps.path


def start(observation: Observation) -> tuple[str, list[str]]:
    """START (Hoag/Newport Beach): facts file section 2."""
    steps = _Steps(observation, "start")
    if steps.ask("ambulatory"):
        return "GREEN", steps.path
    if not steps.breathing():
        return ("RED" if steps.ask("breathing_after_airway") else "BLACK"), steps.path
    rr = steps.need("resp_rate")
    if rr > START_RR_HIGH:
        steps.path.append(f"rr={rr:g} >{START_RR_HIGH}")
        return "RED", steps.path
    steps.path.append(f"rr={rr:g} <={START_RR_HIGH}")
    if observation.radial_pulse is None and observation.cap_refill_s is None:
        raise MissingObservation("radial_pulse", "start (or give 'cap_refill_s')")
    if observation.radial_pulse is not None and not steps.ask("radial_pulse"):
        return "RED", steps.path
    if observation.cap_refill_s is not None:
        refill = observation.cap_refill_s
        if refill > START_CAP_REFILL_MAX_S:
            steps.path.append(f"cap_refill_s={refill:g} >{START_CAP_REFILL_MAX_S}")
            return "RED", steps.path
        steps.path.append(f"cap_refill_s={refill:g} <={START_CAP_REFILL_MAX_S}")
    if not steps.ask("follows_commands"):
        return "RED", steps.path
    return "YELLOW", steps.path
