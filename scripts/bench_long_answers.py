#!/usr/bin/env python
"""How the detectors' time grows with the length of one answer (issue 26: linear in the
length, a 1 MB answer scored in under 5 s).

    python scripts/bench_long_answers.py [--sizes 10000 100000 1000000] [--repeats 3]

Each answer is built from the committed gold responses, every line made distinct (a number
appended) so no cache helps, in two shapes: as written (many lines) and as one line (every
line joined with spaces: the worst case for per-line reading). Each size is scored in a fresh
interpreter (caches empty); the median of the repeats is printed with the ratio to the
smallest size. No assertion: the figures go in docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = {
    "age_years": 5,
    "weight_kg": 18,
    "hazards": ["burn", "bleeding"],
    "ambulatory": False,
    "breathing": True,
    "resp_rate": 30,
    "peripheral_pulse": True,
    "avpu": "A",
}

# One timing in a fresh interpreter: build the answer, score it, print the seconds.
_ONE_RUN = """
import json, sys, time
from align.checks.detectors import score_response
from align.data.gold import load_gold
size, shape, scenario = int(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
responses = [record.response for record in load_gold(None).records]
lines, total, i = [], 0, 0
while total < size:
    for line in responses[i % len(responses)].split("\\n"):
        lines.append(f"{line} ({i})")
        total += len(lines[-1]) + 1
    i += 1
text = ("\\n" if shape == "lines" else " ").join(lines)[:size]
start = time.perf_counter()
score_response(text, scenario)
print(time.perf_counter() - start)
"""


def seconds(size: int, shape: str) -> float:
    done = subprocess.run(
        [sys.executable, "-c", _ONE_RUN, str(size), shape, json.dumps(SCENARIO)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print("| answer | size (characters) | median seconds | x the smallest size |")
    print("|---|---|---|---|")
    for shape in ("lines", "one line"):
        smallest = None
        for size in sorted(args.sizes):
            median = statistics.median(seconds(size, shape) for _ in range(args.repeats))
            smallest = smallest or median
            print(f"| {shape} | {size:,} | {median:.2f} | {median / smallest:.1f} |")


if __name__ == "__main__":
    main()
