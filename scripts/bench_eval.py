"""Eval benchmark: scoring throughput (responses/s) and transformers generation throughput
(tokens/s) for the toy model, batched against unbatched.

    .venv/bin/python scripts/bench_eval.py [--repeats 5] [--cases 16] [--max-new-tokens 128]

Scoring: every chosen and rejected response of the committed pair files (or, with
``--responses``, the model responses an `align eval` wrote), scored as `align eval` scores
them (detectors + triage fields), in one process; first pass (cold per-line caches) and the
median of the following passes. Generation: the first ``--cases``
held-out prompts on checkpoints/toy-base (built if missing) with the demo's SFT adapter when
it exists, greedy, at batch 1 and at each ``--batch-sizes``. Prints JSON; the figures go to
docs/BENCHMARKS.md "Evaluation". Not a test: never run it beside another heavy job.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def pair_responses() -> list[tuple[str, dict | None, str | None]]:
    """(response, scenario, expected triage) of every chosen and rejected pair response."""
    from align.data.gold import load_gold

    gold = {record.id: record for record in load_gold([REPO / "preference_data/gold"]).records}
    rows = []
    for split in ("train", "eval"):
        for line in (REPO / f"preference_data/pairs/{split}.jsonl").read_text().splitlines():
            pair = json.loads(line)
            record = gold[pair["gold_id"]]
            for key in ("chosen", "rejected"):
                rows.append((pair[key][0]["content"], record.scenario, record.expected_triage))
    return rows


def eval_responses(path: Path) -> list[tuple[str, dict | None, str | None]]:
    """(response, scenario, expected triage) of an `align eval` responses.jsonl: model text."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        rows.append((record["response"], record["scenario"], record["expected_triage"]))
    return rows


def bench_scoring(rows: list, repeats: int) -> dict:
    from align.evaluation.scoring import finding_rates, score

    times = []
    for _ in range(repeats + 1):
        started = time.perf_counter()
        scored = [score(str(i), *row) for i, row in enumerate(rows)]
        finding_rates(scored)
        times.append(time.perf_counter() - started)
    warm = statistics.median(times[1:])
    return {
        "responses": len(rows),
        "cold_responses_per_s": round(len(rows) / times[0]),
        "warm_responses_per_s": round(len(rows) / warm),
        "repeats": repeats,
    }


def bench_generation(cases: int, max_new_tokens: int, batch_sizes: list[int]) -> dict:
    import torch

    from align.evaluation.backends import TransformersGenerator
    from align.evaluation.scenarios import heldout_cases
    from align.train.toy import ensure_toy_base

    base = ensure_toy_base()
    adapter = REPO / "checkpoints/demo/sft"
    prompts = [case.prompt for case in heldout_cases()[:cases]]
    results = {}
    for batch_size in [1, *batch_sizes]:
        generator = TransformersGenerator(
            str(base),
            str(adapter) if adapter.is_dir() else None,
            batch_size=batch_size,
            max_new_tokens=max_new_tokens,
        )
        generator.generate(prompts[:batch_size])  # warm-up: first-call allocations
        generator.stats.__init__()
        generator.generate(prompts)
        results[batch_size] = {
            "new_tokens": generator.stats.new_tokens,
            "seconds": round(generator.stats.seconds, 2),
            "tokens_per_s": round(generator.stats.tokens_per_second, 1),
        }
    return {
        "model": str(base) + (f" + {adapter}" if adapter.is_dir() else ""),
        "cases": len(prompts),
        "max_new_tokens": max_new_tokens,
        "torch_threads": torch.get_num_threads(),
        "by_batch_size": results,
        "speedup_best_vs_batch_1": round(
            max(r["tokens_per_s"] for r in results.values()) / results[1]["tokens_per_s"], 2
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cases", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--batch-sizes", default="4,8,16")
    parser.add_argument("--skip-generation", action="store_true")
    parser.add_argument(
        "--responses",
        type=Path,
        help="score this responses.jsonl (model text from `align eval`) instead of the pairs",
    )
    args = parser.parse_args()
    rows = eval_responses(args.responses) if args.responses else pair_responses()
    out = {
        "python": platform.python_version(),
        "scoring": bench_scoring(rows, args.repeats),
    }
    print(json.dumps(out["scoring"]), flush=True)
    if not args.skip_generation:
        sizes = [int(size) for size in args.batch_sizes.split(",")]
        out["generation"] = bench_generation(args.cases, args.max_new_tokens, sizes)
        print(json.dumps(out["generation"]), flush=True)


if __name__ == "__main__":
    main()
