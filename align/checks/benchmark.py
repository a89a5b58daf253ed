"""The detectors measured on a labelled benchmark (preference_data/benchmarks/README.md).

Each record gives a response, its scenario and the complete set of finding codes it deserves.
Per finding code, a record is a true positive (expected and found), a false positive (found,
not expected) or a false negative (expected, not found); precision and recall carry Wilson 95%
intervals. The share of correct responses (nothing expected) that get any finding is the
false-alarm rate a user meets first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from align.checks.detectors import FINDING_CODES, score_response
from align.data.io import DataError, iter_jsonl
from align.evaluation.scoring import proportion
from align.protocol.colors import COLORS
from align.protocol.scenario import ScenarioError, validate_scenario

BENCHMARK_DIR = Path("preference_data/benchmarks")


class BenchmarkError(ValueError):
    """A record that cannot be measured; ``field`` names the culprit."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class Case:
    """One benchmark record, checked: the scenario normalised, the expected codes a set."""

    id: str
    scenario: dict
    response: str
    expected: frozenset[str]
    expected_triage: str | None = None


def read_case(record: dict) -> Case:
    """The record as a Case; raise BenchmarkError naming the field that is wrong."""
    response = record.get("response")
    if not isinstance(response, str):
        raise BenchmarkError("response", "missing: give the answer under test as a string")
    scenario = record.get("scenario")
    try:
        scenario = {} if scenario is None else validate_scenario(scenario)
    except ScenarioError as error:
        raise BenchmarkError(f"scenario.{error.field}".rstrip("."), error.message) from None
    expected = record.get("expected_findings")
    if not isinstance(expected, list):
        raise BenchmarkError(
            "expected_findings", "must be a list of finding codes ([] for a correct answer)"
        )
    unknown = [code for code in expected if code not in FINDING_CODES]
    if unknown:
        raise BenchmarkError(
            "expected_findings",
            f"unknown code {unknown[0]!r}; allowed: {', '.join(FINDING_CODES)}",
        )
    expected_triage = record.get("expected_triage")
    if expected_triage is not None and expected_triage not in COLORS:
        raise BenchmarkError("expected_triage", f"must be one of {', '.join(COLORS)}")
    return Case(
        id=str(record.get("id", "")),
        scenario=scenario,
        response=response,
        expected=frozenset(expected),
        expected_triage=expected_triage,
    )


def benchmark_files(paths: Iterable[str | Path]) -> list[Path]:
    """The files named, a folder standing for its ``*.jsonl`` files (sorted)."""
    found: list[Path] = []
    for path in map(Path, paths):
        found.extend(sorted(path.glob("*.jsonl")) if path.is_dir() else [path])
    return found


def load_benchmark(paths: Iterable[str | Path]) -> list[dict]:
    """Every record of the files (folders expanded), checked; raise DataError naming the
    file, line and field of the first record that cannot be measured."""
    records = []
    for path in benchmark_files(paths):
        for line, record in iter_jsonl(path):
            try:
                read_case(record)
            except BenchmarkError as error:
                raise DataError(path, line, error.field, error.message) from None
            records.append(record)
    return records


@dataclass(frozen=True)
class CodeCounts:
    code: str
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0

    @property
    def precision(self) -> dict:
        """{count, n, rate, ci95}: rate None when the code was never found."""
        return proportion(self.true_positives, self.true_positives + self.false_positives)

    @property
    def recall(self) -> dict:
        """{count, n, rate, ci95}: rate None when the code was never expected."""
        return proportion(self.true_positives, self.true_positives + self.false_negatives)

    def to_dict(self) -> dict:
        return {
            "true_positives": self.true_positives,
            "false_positives": self.false_positives,
            "false_negatives": self.false_negatives,
            "precision": self.precision,
            "recall": self.recall,
        }


@dataclass(frozen=True)
class Mismatch:
    """A record whose findings differ from its expected set (codes in FINDING_CODES order)."""

    id: str
    expected: tuple[str, ...]
    got: tuple[str, ...]

    def to_dict(self) -> dict:
        return {"id": self.id, "expected": list(self.expected), "got": list(self.got)}


@dataclass(frozen=True)
class BenchmarkResult:
    records: int
    codes: dict[str, CodeCounts]  # every finding code, in FINDING_CODES order
    correct: int  # records that expect no finding
    correct_flagged: int  # ... and got at least one
    mismatches: tuple[Mismatch, ...]

    @property
    def correct_flagged_share(self) -> dict:
        """{count, n, rate, ci95} of correct responses that got any finding."""
        return proportion(self.correct_flagged, self.correct)

    def to_dict(self, mismatches: bool = False) -> dict:
        result = {
            "records": self.records,
            "codes": {code: counts.to_dict() for code, counts in self.codes.items()},
            "correct_flagged": self.correct_flagged_share,
        }
        if mismatches:
            result["mismatches"] = [m.to_dict() for m in self.mismatches]
        return result


def score_benchmark(records: Iterable[dict]) -> BenchmarkResult:
    """Score every record with the detectors and count, per code, hits and misses against
    the expected set; raise BenchmarkError (with the record's id) on a record that cannot be
    measured."""
    tallies: Counter[tuple[str, str]] = Counter()
    mismatches = []
    total = correct = correct_flagged = 0
    for record in records:
        case = _case(record)
        got = {f.code for f in score_response(case.response, case.scenario, case.expected_triage)}
        total += 1
        for code in got & case.expected:
            tallies[code, "tp"] += 1
        for code in got - case.expected:
            tallies[code, "fp"] += 1
        for code in case.expected - got:
            tallies[code, "fn"] += 1
        if not case.expected:
            correct += 1
            correct_flagged += bool(got)
        if got != case.expected:
            mismatches.append(Mismatch(case.id, _ordered(case.expected), _ordered(got)))
    codes = {
        code: CodeCounts(code, tallies[code, "tp"], tallies[code, "fp"], tallies[code, "fn"])
        for code in FINDING_CODES
    }
    return BenchmarkResult(total, codes, correct, correct_flagged, tuple(mismatches))


def _case(record: dict) -> Case:
    try:
        return read_case(record)
    except BenchmarkError as error:
        raise BenchmarkError(error.field, f"record {record.get('id')!r}: {error.message}") from None


def _ordered(codes: Iterable[str]) -> tuple[str, ...]:
    return tuple(code for code in FINDING_CODES if code in codes)
