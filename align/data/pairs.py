"""Build (chosen, rejected) preference pairs from gold, split them by gold group, and check the
closed loop: every rejected response shows exactly the finding its perturbation intends, every
chosen response shows none.

Deterministic: the same gold files, seed and options give the same bytes out. Each record's
random choices come from ``Draws(f"{seed}:{gold_id}:{perturbation}")`` (BLAKE2 digests,
independent of PYTHONHASHSEED and of the other perturbations in the mix), and records are
written in gold-id order.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from json.encoder import encode_basestring as encode_string
from pathlib import Path

from align import __version__
from align.checks.detectors import finding_codes, score_parsed, score_response
from align.data.atomic import atomic_folder, live_lock, write_file
from align.data.gold import GoldRecord
from align.data.io import DataError, dumps_line, loads_json
from align.data.perturb import PERTURBATIONS, Draws, perturb

PAIRS_DIR = Path("preference_data/pairs")
SPLITS = ("train", "eval")
# Every file `align pairs` writes: the folder may hold only these (it is replaced whole).
PAIR_FILES = ("train.jsonl", "eval.jsonl", "summary.json")
# summary.json's record of the data files it describes: {name: {"sha256": hex digest}}.
DATA_FILES_KEY = "data_files"


@dataclass
class PairConfig:
    """What ``align pairs`` builds: which perturbations, how many of each, and the split."""

    seed: int = 3407
    eval_fraction: float = 0.15
    counts: dict[str, int] = field(
        default_factory=lambda: {n: p.default_count for n, p in PERTURBATIONS.items()}
    )
    under_share: float = 2 / 3  # share of wrong-color variants that under-triage

    def __post_init__(self):
        unknown = sorted(set(self.counts) - set(PERTURBATIONS))
        if unknown:
            raise ValueError(
                f"unknown perturbation(s): {', '.join(unknown)}; known: {', '.join(PERTURBATIONS)}"
            )
        if any(not isinstance(n, int) or n < 0 for n in self.counts.values()):
            raise ValueError("perturbation counts must be whole numbers >= 0")
        if not 0 <= self.eval_fraction < 1:
            raise ValueError("eval fraction must be in [0, 1)")
        if not 0 <= self.under_share <= 1:
            raise ValueError("under-triage share must be in [0, 1]")

    def split_of(self, group: str) -> str:
        """Train or eval for a gold group under this config's seed and eval fraction."""
        return split_of(group, self.seed, self.eval_fraction)


@dataclass
class LoopViolation:
    gold_id: str
    perturbation: str
    side: str  # "chosen" or "rejected"
    expected: list[str]
    found: list[str]


@dataclass
class PairSet:
    config: PairConfig
    splits: dict[str, list[dict]]
    loop: dict[str, Counter]  # perturbation -> Counter(pairs, rejected_exact, chosen_clean)
    violations: list[LoopViolation]
    skipped: Counter  # perturbation -> gold records it did not apply to

    @property
    def closed(self) -> bool:
        return not self.violations

    def color_directions(self) -> Counter:
        """How many wrong-colour pairs under-triage and how many over-triage (both splits)."""
        return Counter(
            p["detail"]["direction"]
            for pairs in self.splits.values()
            for p in pairs
            if p["perturbation"] == "wrong_triage_color"
        )

    def summary(self, gold_files: list[dict]) -> dict:
        per_split = {
            split: dict(sorted(Counter(p["perturbation"] for p in pairs).items()))
            for split, pairs in self.splits.items()
        }
        directions = self.color_directions()
        return {
            "generator": f"align {__version__}",
            "seed": self.config.seed,
            "eval_fraction": self.config.eval_fraction,
            "counts": self.config.counts,
            "under_share": round(self.config.under_share, 4),
            "gold_files": gold_files,
            "pairs": {split: len(pairs) for split, pairs in self.splits.items()},
            "pairs_per_perturbation": per_split,
            "wrong_triage_color_directions": dict(sorted(directions.items())),
            "closed_loop": {name: dict(c) for name, c in self.loop.items()},
            "not_applicable": dict(sorted(self.skipped.items())),
        }


def split_of(group: str, seed: int, eval_fraction: float) -> str:
    """Train or eval for a gold group, from a hash so the split is stable and independent of
    the order or number of other records."""
    digest = hashlib.sha256(f"{seed}:{group}".encode()).digest()
    return "eval" if int.from_bytes(digest[:8], "big") / 2**64 < eval_fraction else "train"


def build_pairs(records: list[GoldRecord], config: PairConfig) -> PairSet:
    """Perturb every gold record, check the closed loop, and split by gold group."""
    splits: dict[str, list[dict]] = {s: [] for s in SPLITS}
    loop: dict[str, Counter] = {n: Counter() for n, c in config.counts.items() if c > 0}
    violations: list[LoopViolation] = []
    skipped: Counter = Counter()
    generator = f"align {__version__}"
    # The intended finding of each perturbation, as the set finding_codes gives (never changed).
    intended_codes = {n: {PERTURBATIONS[n].intended_code} for n, c in config.counts.items() if c}
    for record in sorted(records, key=lambda r: r.id):
        record_id = record.id
        parsed = record.parsed_response
        scenario, expected = record.scenario, record.expected_triage
        # A validated record was scored clean by load_gold; anything else is scored here.
        chosen_codes = (
            []
            if record.validated
            else sorted(finding_codes(score_parsed(parsed, scenario, expected)))
        )
        split = config.split_of(record.group)
        pairs = splits[split]
        prompt = record.prompt
        chosen = [{"role": "assistant", "content": record.response}]
        for name, count in config.counts.items():
            if count == 0:
                continue
            draws = Draws(f"{config.seed}:{record_id}:{name}")  # hashed only if drawn from
            variants = perturb(record, name, draws, count, config.under_share, parsed)
            if not variants:
                skipped[name] += 1
            intended = intended_codes[name]
            exact = 0
            for rejected, detail in variants:
                codes = finding_codes(score_response(rejected, scenario, expected))
                if codes == intended:
                    exact += 1
                else:
                    violations.append(
                        LoopViolation(record_id, name, "rejected", sorted(intended), sorted(codes))
                    )
                if chosen_codes:
                    violations.append(LoopViolation(record_id, name, "chosen", [], chosen_codes))
                pairs.append(
                    {
                        "prompt": prompt,
                        "chosen": chosen,
                        "rejected": [{"role": "assistant", "content": rejected}],
                        "gold_id": record_id,
                        "perturbation": name,
                        "detail": detail,
                        "split": split,
                        "seed": config.seed,
                        "generator": generator,
                    }
                )
            if variants:  # counted once per record (the keys in this order, as before)
                stats = loop[name]
                stats["pairs"] += len(variants)
                stats["rejected_exact"] += exact
                stats["chosen_clean"] += 0 if chosen_codes else len(variants)
    return PairSet(config, splits, loop, violations, skipped)


def file_digest(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def pair_lines(pairs: list[dict]) -> str:
    """The JSON lines of ``pairs``, byte-identical to ``dumps_line`` on each pair.

    json.dumps of a dict is the concatenation of its items, so a line is spliced from parts:
    prompt and chosen (shared by every pair of a gold record) are encoded once per record,
    the rejected text with the C string encoder, the small provenance fields as a dict.
    Writing is then a small share of ``align pairs`` instead of a third of it."""
    out, shared_for, shared = [], None, ""
    for pair in pairs:
        if pair["prompt"] is not shared_for:
            shared_for = pair["prompt"]
            shared = (
                f'{{"prompt": {dumps_line(pair["prompt"])[:-1]}, '
                f'"chosen": {dumps_line(pair["chosen"])[:-1]}, '
                '"rejected": [{"role": "assistant", "content": '
            )
        (rejected,) = pair["rejected"]
        provenance = {k: v for k, v in pair.items() if k not in _SPLICED}
        out.append(f"{shared}{encode_string(rejected['content'])}}}], {dumps_line(provenance)[1:]}")
    return "".join(out)


_SPLICED = ("prompt", "chosen", "rejected")


def gold_file_entries(records: list[GoldRecord], paths: list[Path]) -> list[dict]:
    """Provenance of the gold files in a pair set: path, sha256 and how many records each gave."""
    return [
        {
            "path": str(p),
            "sha256": file_digest(p),
            "records": sum(r.path == str(p) for r in records),
        }
        for p in paths
    ]


def write_pairs(
    pair_set: PairSet, out_dir: str | Path, gold_files: list[dict], *, overwrite: bool = False
) -> dict[str, Path]:
    """Write train.jsonl, eval.jsonl and summary.json together: built in a folder beside
    ``out_dir`` and swapped in whole, under a lock (``align.data.atomic``). An ``out_dir``
    that already holds pair files is replaced only with ``overwrite``."""
    out_dir = Path(out_dir)
    texts = {f"{split}.jsonl": pair_lines(pair_set.splits[split]) for split in SPLITS}
    summary = pair_set.summary(gold_files)
    # What the readers check (``check_pair_folder``): the summary and the data are one write.
    summary[DATA_FILES_KEY] = {
        name: {"sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}
        for name, text in texts.items()
    }
    texts["summary.json"] = json.dumps(summary, indent=2) + "\n"
    with atomic_folder(out_dir, overwrite=overwrite, owns=PAIR_FILES) as folder:
        for name, text in texts.items():
            write_file(folder / name, text)
    paths = {split: out_dir / f"{split}.jsonl" for split in SPLITS}
    paths["summary"] = out_dir / "summary.json"
    return paths


def check_pair_folder(folder: str | Path) -> None:
    """Refuse a pair folder that a reader (training, the pairs gate) cannot trust, with a
    DataError naming the folder: one that `align pairs` is writing now (a live
    ``<folder>.lock`` beside it: the files may be about to change under the reader), or one
    whose data files are not those its summary.json describes (two writes mixed, or a file
    edited or replaced since). A folder without summary.json, or a summary without
    ``data_files`` (written before they were recorded), is checked for the lock only."""
    folder = Path(folder)
    held = live_lock(folder)
    if held is not None:
        lock, holder = held
        raise DataError(
            folder,
            None,
            None,
            f"being written by {holder} (lock file {lock}); read it once that write has "
            f"finished, or delete {lock} if that process is gone",
        )
    summary_path = folder / "summary.json"
    try:
        summary = loads_json(summary_path.read_bytes())
    except (FileNotFoundError, NotADirectoryError):
        return
    except (OSError, ValueError) as error:
        raise DataError(summary_path, None, None, f"cannot be read ({error})") from None
    recorded = summary.get(DATA_FILES_KEY) if isinstance(summary, dict) else None
    if recorded is None:
        return
    if not isinstance(recorded, dict) or not all(
        isinstance(entry, dict) and isinstance(entry.get("sha256"), str)
        for entry in recorded.values()
    ):
        raise DataError(summary_path, None, DATA_FILES_KEY, 'must map file names to {"sha256"}')
    for name, entry in recorded.items():
        path = folder / name
        if Path(name).name != name or name not in PAIR_FILES:
            raise DataError(summary_path, None, DATA_FILES_KEY, f"{name!r} is not a pair file")
        try:
            digest = file_digest(path)
        except FileNotFoundError:
            message = f"{name} is missing; summary.json lists it"
            raise DataError(folder, None, None, message) from None
        except OSError as error:
            raise DataError(path, None, None, f"cannot be read ({error.strerror})") from None
        if digest != entry["sha256"]:
            raise DataError(
                folder,
                None,
                None,
                f"{name} is not the file summary.json describes (sha256 {digest[:12]}..., "
                f"recorded {entry['sha256'][:12]}...): the folder mixes two writes or was "
                "edited; regenerate it with `align pairs --overwrite`",
            )
