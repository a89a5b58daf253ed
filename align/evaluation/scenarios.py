"""The evaluation set: the eval split of the gold data plus generated held-out patients.

The held-out set crosses every JumpSTART and START path with every age band the protocol
covers, worded like the gold records but drawn with another seed, so a model is judged on
values and phrasings it did not train on. Cases carry the prompt and the truth (scenario,
expected color), never a response: the detectors judge what the model writes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from align.data.generator import JUMPSTART_PATHS, SETTING_NAMES, START_PATHS, patient_case
from align.data.gold import GoldRecord
from align.data.pairs import PairConfig

HELDOUT_SEED = 2718  # not the gold seed (3407): new values and wording
# One representative age per PALS band each protocol covers (JumpSTART below 9, START from 9).
HELDOUT_AGES = {
    "jumpstart": {"infant": 0.5, "toddler": 2, "preschool": 4, "school-age": 7},
    "start": {"school-age": 9, "preadolescent": 11, "adolescent": 15},
}
PROTOCOL_PATHS = {"jumpstart": JUMPSTART_PATHS, "start": START_PATHS}


@dataclass(frozen=True)
class EvalCase:
    id: str
    prompt: list[dict]  # system + user messages
    scenario: dict | None
    expected_triage: str | None
    source: str  # "gold-eval" or "heldout"
    tags: tuple[str, ...] = ()


def heldout_cases(seed: int = HELDOUT_SEED, draws: int = 1) -> list[EvalCase]:
    """Every protocol path at every age band (infants do not walk), settings in rotation.

    ``draws`` > 1 adds more draws of the same grid with seeds ``seed + 1``, ``seed + 2``, ...
    (new values and wording; ids end in ``-d<n>``) for tighter intervals.
    """
    if draws < 1:
        raise ValueError("draws must be >= 1")
    return [case for draw in range(draws) for case in heldout_grid(seed + draw, draw)]


def heldout_grid(seed: int, draw: int = 0) -> list[EvalCase]:
    """One draw of the held-out grid: each (protocol, age band, path) once, with ``seed``."""
    suffix = f"-d{draw}" if draw else ""
    grid = [
        (proto, band, age, path)
        for proto, paths in PROTOCOL_PATHS.items()
        for band, age in HELDOUT_AGES[proto].items()
        for path in paths
        if not (path == "walks" and age < 1)
    ]
    cases = []
    for k, (proto, band, age, path) in enumerate(grid):
        setting = SETTING_NAMES[k % len(SETTING_NAMES)]
        record = patient_case(seed, proto, path, age, setting, k)
        cases.append(
            EvalCase(
                id=record["id"] + suffix,
                prompt=record["messages"],
                scenario=record["scenario"],
                expected_triage=record["expected_triage"],
                source="heldout",
                tags=(proto, path, band),
            )
        )
    return cases


def gold_eval_cases(records: list[GoldRecord], pair_config: PairConfig) -> list[EvalCase]:
    """The gold records on the eval side of the split `align pairs` makes (same hash)."""
    return [
        EvalCase(
            id=record.id,
            prompt=record.prompt,
            scenario=record.scenario,
            expected_triage=record.expected_triage,
            source="gold-eval",
            tags=tuple(record.data.get("topics", ())),
        )
        for record in sorted(records, key=lambda r: r.id)
        if pair_config.split_of(record.group) == "eval"
    ]


def eval_set_digest(cases: list[EvalCase]) -> str:
    """Identifies the prompts and truths, so reports on different sets are not compared."""
    digest = hashlib.sha256()
    for case in cases:
        item = [case.id, case.prompt, case.scenario, case.expected_triage]
        digest.update(json.dumps(item, sort_keys=True).encode())
    return digest.hexdigest()
