"""Gold records: load, validate, and measure.

A gold record (DESIGN.md "Records") is a ChatML conversation plus the structured scenario it
answers. Validation checks what the rest of the pipeline relies on: roles in order, a
non-empty assistant turn, a scenario the protocol engine can read, an ``expected_triage`` that
equals the engine's answer unless a documented override says why, unique ids, and zero
detector findings on the gold response itself.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path

from align.checks.detectors import describes_patient, score_parsed
from align.checks.text import possessive
from align.data.io import DataError, iter_jsonl
from align.protocol.colors import COLORS, PRIORITY
from align.protocol.hazards import HAZARDS
from align.protocol.scenario import WEIGHT_RANGE_KG
from align.protocol.schema import ParsedResponse, parse_response
from align.protocol.triage import Observation, ObservationError, check_number, triage

# The fields a gold scenario may carry: the observation's, and what the checks read.
SCENARIO_FIELDS = frozenset(
    {f.name for f in fields(Observation)} | {"weight_kg", "hazards", "second_patient"}
)

GOLD_DIR = Path("preference_data/gold")
ROLES = ("system", "user", "assistant")
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,127}$")
# A weight in kilograms as a prompt writes it ("33 kg", "12.5-kg", "40 kilos"). Opens with a
# digit, the digit before it excluded by a lookbehind after it: the regex engine jumps from
# digit to digit (the same matches as "(?<![\d.])(\d+...").
_STATED_WEIGHT = re.compile(
    possessive(r"(\d(?<![\d.]\d)\d*+(?:\.\d++)?+)\s*-?\s*(?:kg|kilo)"), re.IGNORECASE
)
SCENARIO_EXTRA_FIELDS = ("weight_kg", "hazards", "second_patient")


@dataclass
class GoldRecord:
    path: str
    line: int
    data: dict
    # The response as validation parsed it; set by ``load_gold``, whose records have passed
    # every check, zero detector findings included (so ``align pairs`` needs neither again).
    parsed: ParsedResponse | None = field(default=None, repr=False, compare=False)

    @property
    def validated(self) -> bool:
        return self.parsed is not None

    @property
    def parsed_response(self) -> ParsedResponse:
        return self.parsed if self.parsed is not None else parse_response(self.response)

    @property
    def id(self) -> str:
        return self.data["id"]

    @property
    def group(self) -> str:
        """Near-copies share a group; the train/eval split never separates a group."""
        return self.data.get("group") or self.data["id"]

    @property
    def messages(self) -> list[dict]:
        return self.data["messages"]

    @property
    def prompt(self) -> list[dict]:
        return self.messages[:-1]

    @property
    def response(self) -> str:
        return self.messages[-1]["content"]

    @property
    def scenario(self) -> dict | None:
        return self.data.get("scenario")

    @property
    def expected_triage(self) -> str | None:
        return self.data.get("expected_triage")


@dataclass
class ValidationReport:
    records: list[GoldRecord] = field(default_factory=list)
    problems: list[DataError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def gold_files(paths: Iterable[str | Path] | None = None) -> list[Path]:
    """The files named, or every ``*.jsonl`` under preference_data/gold/ (sorted)."""
    if paths:
        found = []
        for path in map(Path, paths):
            found.extend(sorted(path.glob("*.jsonl")) if path.is_dir() else [path])
        return found
    return sorted(GOLD_DIR.glob("*.jsonl"))


def _check_messages(messages, where) -> list[DataError]:
    path, line = where
    if not isinstance(messages, list) or len(messages) < 2:
        return [DataError(path, line, "messages", "must be a list of at least user and assistant")]
    problems = []
    for i, message in enumerate(messages):
        name = f"messages[{i}]"
        if not isinstance(message, dict):
            problems.append(DataError(path, line, name, "must be an object"))
            continue
        if not isinstance(message.get("content"), str):
            problems.append(DataError(path, line, f"{name}.content", "must be a string"))
        if message.get("role") not in ROLES:
            problems.append(
                DataError(path, line, f"{name}.role", f"unknown role {message.get('role')!r}")
            )
    if problems:
        return problems
    roles = [m["role"] for m in messages]
    body = roles[1:] if roles[0] == "system" else roles
    expected = ["user", "assistant"] * (len(body) // 2)
    if body != expected or not body:
        return [
            DataError(
                path,
                line,
                "messages",
                f"role order {'/'.join(roles)}: expected an "
                "optional system turn, then user and assistant turns alternating, "
                "ending with assistant",
            )
        ]
    if not messages[-1]["content"].strip():
        return [
            DataError(path, line, f"messages[{len(messages) - 1}].content", "empty assistant turn")
        ]
    return []


def _check_observation(obs, path, line, name) -> tuple[str | None, list[DataError]]:
    """Validate an observation dict; return the engine's color when it can triage it."""
    if not isinstance(obs, dict):
        return None, [DataError(path, line, name, "must be an object")]
    try:
        observation = Observation.from_dict(obs)
    except ObservationError as error:
        return None, [DataError(path, line, f"{name}.{error.field}", str(error))]
    if not describes_patient(obs):
        return None, []
    try:
        return triage(observation).triage, []
    except ObservationError as error:
        return None, [DataError(path, line, f"{name}.{error.field}", f"cannot be triaged: {error}")]


def _unknown_field(path, line, name: str) -> DataError:
    close = difflib.get_close_matches(name, SCENARIO_FIELDS, n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    message = f"unknown field; {hint}allowed: {', '.join(sorted(SCENARIO_FIELDS))}"
    return DataError(path, line, f"scenario.{name}", message)


def _check_scenario(record: dict, path, line) -> tuple[str | None, list[DataError]]:
    scenario = record.get("scenario")
    if scenario is None:
        return None, []
    engine_color, problems = _check_observation(scenario, path, line, "scenario")
    if problems:
        return None, problems
    unknown = sorted(set(scenario) - SCENARIO_FIELDS)
    if unknown:
        # a misspelt field ("hazard") would silently drop what it says from the checks
        return None, [_unknown_field(path, line, name) for name in unknown]
    try:
        check_number("weight_kg", scenario.get("weight_kg"), *WEIGHT_RANGE_KG)
    except ObservationError as error:
        return None, [DataError(path, line, "scenario.weight_kg", str(error))]
    hazards = scenario.get("hazards", [])
    if not isinstance(hazards, list) or any(h not in HAZARDS for h in hazards):
        problems.append(
            DataError(
                path, line, "scenario.hazards", f"must be a list drawn from: {', '.join(HAZARDS)}"
            )
        )
    second = scenario.get("second_patient")
    if second is not None:
        second_color, second_problems = _check_observation(
            second, path, line, "scenario.second_patient"
        )
        problems.extend(second_problems)
        first_color = record.get("expected_triage") or engine_color
        if second_color and first_color and PRIORITY[second_color] > PRIORITY[first_color]:
            problems.append(
                DataError(
                    path,
                    line,
                    "scenario.second_patient",
                    f"is {second_color} but the child treated first is "
                    f"{first_color}: the priority order is reversed",
                )
            )
    return engine_color, problems


def _check_weight_stated(record: dict, path, line) -> list[DataError]:
    """A scenario's ``weight_kg`` must be one the user turn gives: a model cannot be held to a
    weight it was never told (without one, ``wrong_dose`` checks an age-based estimate)."""
    weight = (record.get("scenario") or {}).get("weight_kg")
    if weight is None:
        return []
    user_text = " ".join(m["content"] for m in record["messages"] if m["role"] == "user")
    if any(float(m.group(1)) == weight for m in _STATED_WEIGHT.finditer(user_text)):
        return []
    return [
        DataError(
            path,
            line,
            "scenario.weight_kg",
            f"{weight:g} kg is not stated in the user turn; leave weight_kg out when the prompt "
            "gives no weight (the answer then doses on an age-based estimate)",
        )
    ]


def validate_record(
    record: dict, path: str, line: int
) -> tuple[list[DataError], ParsedResponse | None]:
    """Every problem with one record (an empty list means it is valid gold), and its parsed
    response once the record is well formed."""
    record_id = record.get("id")
    if not isinstance(record_id, str) or not _ID.match(record_id):
        message = "must be a lowercase id (letters, digits, . _ -)"
        return [DataError(path, line, "id", message)], None
    problems = _check_messages(record.get("messages"), (path, line))
    if problems:
        return problems, None
    engine_color, problems = _check_scenario(record, path, line)
    problems = problems or _check_weight_stated(record, path, line)
    if problems:
        return problems, None
    expected = record.get("expected_triage")
    if expected is not None and expected not in COLORS:
        message = f"must be one of {', '.join(COLORS)}"
        return [DataError(path, line, "expected_triage", message)], None
    scenario = record.get("scenario")
    if expected is None and engine_color is not None:
        problems.append(
            DataError(
                path,
                line,
                "expected_triage",
                f"missing for a described patient (the protocol gives {engine_color})",
            )
        )
    elif expected and engine_color and expected != engine_color:
        # One policy (docs/TRIAGE_POLICY.md): a clinical reason to depart from the algorithm is
        # an override field of the scenario, which the engine applies, not free text here.
        problems.append(
            DataError(
                path,
                line,
                "expected_triage",
                f"{expected} differs from the triage policy's {engine_color}; where an override "
                "applies, set its field in the scenario (airway_threat, uncontrolled_bleeding)",
            )
        )
    parsed = parse_response(record["messages"][-1]["content"])
    for finding in score_parsed(parsed, scenario, expected):
        problems.append(
            DataError(
                path,
                line,
                "messages[-1].content",
                f"detector finding {finding.code}: {finding.detail}",
            )
        )
    return problems, parsed


def load_gold(paths: Iterable[str | Path] | None = None) -> ValidationReport:
    """Load and validate every gold file; problems are collected, not raised."""
    report = ValidationReport()
    seen: dict[str, str] = {}
    files = gold_files(paths)
    if not files:
        report.problems.append(DataError(GOLD_DIR, None, None, "no gold .jsonl files found"))
    for path in files:
        try:
            for line, data in iter_jsonl(path):
                problems, parsed = validate_record(data, str(path), line)
                record_id = data.get("id")
                if isinstance(record_id, str) and record_id in seen:
                    problems.append(
                        DataError(
                            path,
                            line,
                            "id",
                            f"duplicate id {record_id!r} (first at {seen[record_id]})",
                        )
                    )
                elif isinstance(record_id, str):
                    seen[record_id] = f"{path}:{line}"
                if problems:
                    report.problems.extend(problems)
                else:
                    report.records.append(GoldRecord(str(path), line, data, parsed))
        except DataError as error:
            report.problems.append(error)
    return report


# Byte-level BPE pre-tokenizer split (GPT/LLaMA-3 style, ASCII approximation): a BPE trained
# on this corpus yields close to one token per piece for domain words, so the count is an
# estimate until a real tokenizer is given (``--tokenizer``).
_PIECES = re.compile(r"'(?:s|t|re|ve|m|ll|d)|[^\r\n\w\d]?[A-Za-z]+|\d{1,3}| ?[^\sA-Za-z\d]+|\s+")
_CHATML_OVERHEAD_PER_MESSAGE = 5  # <|im_start|> role \n ... <|im_end|> \n


def estimate_tokens(messages: list[dict]) -> int:
    """Approximate ChatML token count of a conversation (see ``_PIECES``)."""
    pieces = sum(len(_PIECES.findall(m["content"])) for m in messages)
    return pieces + _CHATML_OVERHEAD_PER_MESSAGE * len(messages)


def count_tokens(messages: list[dict], tokenizer_file: str | Path) -> int:
    """Exact ChatML token count with a ``tokenizers`` tokenizer.json (optional dependency)."""
    tokenizer = load_tokenizer(tokenizer_file)
    text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return len(tokenizer.encode(text, add_special_tokens=False).ids)


_TOKENIZERS: dict[str, object] = {}


def load_tokenizer(path: str | Path):
    """The ``tokenizers`` Tokenizer of a tokenizer.json (or of the one in a folder), loaded
    once; DataError naming the file when it cannot be read as one."""
    from tokenizers import Tokenizer  # optional: only when the user asks for exact counts

    key = str(path)
    if key not in _TOKENIZERS:
        file = Path(path)
        file = file / "tokenizer.json" if file.is_dir() else file
        try:
            _TOKENIZERS[key] = Tokenizer.from_file(str(file))
        except Exception as error:  # the Rust library raises a bare Exception for every fault
            raise DataError(
                file, None, "--tokenizer", f"cannot read as a tokenizer.json: {error}"
            ) from None
    return _TOKENIZERS[key]
