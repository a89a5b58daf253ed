#!/usr/bin/env python
"""Benchmark the light commands on this machine: `align pairs`, `align triage`, `align score`.

    python scripts/bench_light.py [--repeats 7] [--gold DIR_OR_FILE ...] [--json figures.json]

1. `align pairs` build throughput, pinned to one core: load_gold (read and validate) +
   build_pairs (perturb, closed-loop scoring). Warm: in process, median of N repeats after one
   warm-up, with a breakdown that adds serialization (the bytes write_pairs would write) and
   the atomic write itself. Cold (what a user's `align pairs` runs: every memo empty): the
   median of N fresh interpreters, imports excluded. Uses whatever gold is committed
   (preference_data/gold/*.jsonl).
2. `align triage` end to end as a subprocess (interpreter and CLI start + 1,000 records):
   median wall time of N runs, plus the CLI start alone.
3. `align score` on 10,000 responses end to end (responses/s, start included): the gold
   responses and the benchmark responses (preference_data/benchmarks/, written by others),
   cycled with new ids; and, in process, one pass over the distinct responses with every
   cache empty (the rate on answers never seen before).

Prints a Markdown table and the machine facts, ready for docs/BENCHMARKS.md. No assertion is
made on the figures: targets are printed beside them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECORDS = 1000
SCORE_RECORDS = 10_000
TARGET_PAIRS_PER_S = 5_000
TARGET_RESPONSES_PER_S = 2_000
TARGET_E2E_S = 1.0


def pin_to_one_core(core: int = 0) -> str:
    """Pin this process (and the subprocesses it starts) to one core, where supported."""
    if hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, {core})
            return f"pinned to core {core}"
        except OSError as error:
            return f"not pinned ({error.strerror})"
    return "not pinned (no sched_setaffinity on this platform)"


def machine_facts(pinning: str) -> dict:
    model = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from align import __version__

    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": model or "unknown",
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "align": __version__,
        "pinning": pinning,
    }


def _median_and_first(times: list[float]) -> tuple[float, float]:
    return statistics.median(times[1:] if len(times) > 1 else times), times[0]


# --- 1. align pairs, in process -------------------------------------------------------------


def bench_pairs(gold: list[Path] | None, repeats: int) -> dict:
    from align.data.gold import gold_files, load_gold
    from align.data.io import write_files_atomically
    from align.data.pairs import SPLITS, PairConfig, build_pairs, gold_file_entries, pair_lines

    files = gold_files(gold)
    config = PairConfig()
    load_s, build_s, serialize_s, write_s = [], [], [], []
    pairs = records = problems = 0
    with tempfile.TemporaryDirectory(prefix="bench-pairs-") as scratch:
        out = Path(scratch)
        for _ in range(repeats + 1):  # the first run warms the memos (cold: bench_pairs_cold)
            start = time.perf_counter()
            report = load_gold(gold)
            loaded = time.perf_counter()
            pair_set = build_pairs(report.records, config)
            built = time.perf_counter()
            gold_meta = gold_file_entries(report.records, files)
            contents = {out / f"{s}.jsonl": pair_lines(pair_set.splits[s]) for s in SPLITS}
            contents[out / "summary.json"] = json.dumps(pair_set.summary(gold_meta), indent=2)
            serialized = time.perf_counter()
            write_files_atomically(contents)
            written = time.perf_counter()
            load_s.append(loaded - start)
            build_s.append(built - loaded)
            serialize_s.append(serialized - built)
            write_s.append(written - serialized)
            records, problems = len(report.records), len(report.problems)
            pairs = sum(len(v) for v in pair_set.splits.values())
        out_bytes = sum(len(text.encode()) for text in contents.values())
    step = [a + b for a, b in zip(load_s, build_s, strict=True)]
    step_median = _median_and_first(step)[0]
    return {
        "gold_files": [str(p) for p in files],
        "gold_records": records,
        "gold_problems": problems,
        "pairs": pairs,
        "closed_loop": pair_set.closed,
        "repeats": repeats,
        "build_s": step_median,
        "pairs_per_s": pairs / step_median if step_median else 0.0,
        "breakdown_s": {
            "gold load + validation": _median_and_first(load_s)[0],
            "perturbation + closed-loop scoring": _median_and_first(build_s)[0],
            "serialization": _median_and_first(serialize_s)[0],
            "atomic write (fsync)": _median_and_first(write_s)[0],
        },
        "output_bytes": out_bytes,
    }


# One cold build in a fresh interpreter, as `align pairs` runs it (the cycle collector
# paused): prints the seconds of load_gold + build_pairs.
_COLD_BUILD = """
import sys, time
from align.commands import cyclic_gc_paused
from align.data.gold import load_gold
from align.data.pairs import PairConfig, build_pairs
gold = sys.argv[1:] or None
start = time.perf_counter()
with cyclic_gc_paused():
    build_pairs(load_gold(gold).records, PairConfig())
print(time.perf_counter() - start)
"""


def fresh_process_seconds(program: str, args: list[str], runs: int) -> list[float]:
    """The seconds ``program`` prints as its last line, in each of ``runs`` fresh
    interpreters (pinned like this one): caches and memos start empty."""
    times = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", program, *args],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        times.append(float(done.stdout.strip().splitlines()[-1]))
    return times


def bench_pairs_cold(gold: list[Path] | None, runs: int) -> list[float]:
    """Seconds of a cold build in each of ``runs`` fresh interpreters."""
    return fresh_process_seconds(_COLD_BUILD, [str(path) for path in gold or ()], runs)


# --- 2. align triage / align score, end to end ----------------------------------------------


def triage_input(n: int, seed: int = 3407) -> str:
    """n complete observations, ages 0.3-17 (about half JumpSTART, half START), every one
    decidable; some give the protocol explicitly."""
    rng = random.Random(seed)
    lines = []
    for _ in range(n):
        age = round(rng.uniform(0.3, 17.0), 1)
        breathing = rng.random() > 0.1
        avpu = rng.choice("AAAAVVPU")
        obs = {
            "age_years": age,
            "ambulatory": rng.random() < 0.25,
            "breathing": breathing,
            "breathing_after_airway": rng.random() < 0.5,
            "peripheral_pulse": rng.random() > 0.15,
            "breathing_after_rescue_breaths": rng.random() < 0.5,
            "resp_rate": rng.randint(6, 60) if breathing else 0,
            "avpu": avpu,
            "radial_pulse": rng.random() > 0.2,
            "cap_refill_s": round(rng.uniform(0.5, 4.0), 1),
            "follows_commands": rng.random() > 0.2,
        }
        if avpu == "P":
            obs["pain_response"] = rng.choice(("appropriate", "inappropriate"))
        if rng.random() < 0.1:
            obs["protocol"] = rng.choice(("jumpstart", "start"))
        lines.append(json.dumps(obs))
    return "\n".join(lines) + "\n"


def distinct_score_rows(gold: list[Path] | None) -> list[dict]:
    """One {id, response, scenario, expected_triage?} row per distinct response: the gold
    records' and the detector benchmark's (answers written outside the project)."""
    from align.checks.benchmark import load_benchmark
    from align.data.gold import load_gold

    rows = []
    for record in load_gold(gold).records:
        row = {"id": record.id, "response": record.response}
        if record.scenario is not None:
            row["scenario"] = record.scenario
        if record.expected_triage is not None:
            row["expected_triage"] = record.expected_triage
        rows.append(row)
    for record in load_benchmark([ROOT / "preference_data" / "benchmarks"]):
        rows.append({key: record[key] for key in ("id", "response", "scenario") if key in record})
    return rows


def score_input(rows: list[dict], n: int) -> str:
    """n lines cycled from ``rows``, each with an id of its own."""
    lines = [
        json.dumps(dict(rows[i % len(rows)], id=f"{rows[i % len(rows)]['id']}#{i}"))
        for i in range(n)
    ]
    return "\n".join(lines) + "\n"


# Scores each distinct response once in a fresh interpreter: seconds for all of them.
_COLD_SCORE = """
import json, sys, time
from align.checks.detectors import score_response
rows = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")]
start = time.perf_counter()
for row in rows:
    score_response(row["response"], row.get("scenario"), row.get("expected_triage"))
print(time.perf_counter() - start)
"""


def bench_score_cold(rows_path: Path, runs: int) -> list[float]:
    """Seconds to score each distinct response once, in each of ``runs`` fresh interpreters."""
    return fresh_process_seconds(_COLD_SCORE, [str(rows_path)], runs)


def time_cli(args: list[str], stdin_path: Path | None, repeats: int, expect_lines: int) -> dict:
    command = [sys.executable, "-m", "align.cli", *args]
    times, code = [], None
    for _ in range(repeats + 1):  # the first run warms the file cache; it is reported apart
        with open(stdin_path or os.devnull, "rb") as stdin:
            start = time.perf_counter()
            done = subprocess.run(command, stdin=stdin, capture_output=True, cwd=ROOT, check=False)
            times.append(time.perf_counter() - start)
        code = done.returncode
        got = done.stdout.count(b"\n")
        if got != expect_lines:
            raise SystemExit(
                f"{' '.join(args)}: expected {expect_lines} output lines, got "
                f"{got} (exit {code}): {done.stderr.decode()[-500:]}"
            )
    median, first = _median_and_first(times)
    return {
        "median_s": median,
        "first_s": first,
        "min_s": min(times[1:] or times),
        "exit": code,
        "repeats": repeats,
    }


def bench_cli(gold: list[Path] | None, repeats: int, records: int, score_records: int) -> dict:
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as scratch:
        triage_file = Path(scratch) / "observations.jsonl"
        triage_file.write_text(triage_input(records), encoding="utf-8")
        results["startup"] = time_cli(["triage"], None, repeats, 0)
        results["triage"] = time_cli(["triage", str(triage_file)], None, repeats, records)
        rows = distinct_score_rows(gold)
        if rows:
            score_file = Path(scratch) / "responses.jsonl"
            score_file.write_text(score_input(rows, score_records), encoding="utf-8")
            results["score"] = time_cli(
                ["score", "--input", str(score_file), "--summary"],
                None,
                repeats,
                score_records + 1,
            )
            results["score"]["records"] = score_records
            results["score"]["distinct"] = len(rows)
            distinct_file = Path(scratch) / "distinct.jsonl"
            distinct_file.write_text(score_input(rows, len(rows)), encoding="utf-8")
            cold = bench_score_cold(distinct_file, repeats)
            results["score_cold"] = {
                "median_s": statistics.median(cold),
                "min_s": min(cold),
                "max_s": max(cold),
                "records": len(rows),
            }
    return results


# --- report ---------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"


def markdown(facts: dict, pairs: dict | None, cli: dict, records: int) -> str:
    rows = []
    if pairs and pairs["pairs"]:
        # cold is what a user's `align pairs` is (one build per process); warm alone is not met
        warm_ok = pairs["pairs_per_s"] >= TARGET_PAIRS_PER_S
        cold_ok = pairs["pairs_per_s_cold"] >= TARGET_PAIRS_PER_S
        rows.append(
            (
                f"`align pairs` build (load_gold + build_pairs), {pairs['gold_records']} "
                f"gold -> {pairs['pairs']} pairs, one core",
                f"{pairs['pairs_per_s']:,.0f} pairs/s warm ({_ms(pairs['build_s'])}); "
                f"{pairs['pairs_per_s_cold']:,.0f} pairs/s cold "
                f"({_ms(pairs['build_cold_s'])}, fresh processes: "
                f"{_ms(pairs['build_cold_range_s'][0])}-{_ms(pairs['build_cold_range_s'][1])})",
                f">= {TARGET_PAIRS_PER_S:,} pairs/s",
                "yes" if cold_ok and warm_ok else "**no** (warm only)" if warm_ok else "**no**",
            )
        )
        for name, seconds in pairs["breakdown_s"].items():
            rows.append((f"&nbsp;&nbsp;{name}", _ms(seconds), "", ""))
    labels = {
        "startup": "CLI start alone (`align triage`, empty input)",
        "triage": f"`align triage`, {records:,} observations (JumpSTART/START mix)",
    }
    for key, label in labels.items():
        if key not in cli:
            continue
        result = cli[key]
        target = "" if key == "startup" else f"< {TARGET_E2E_S:g} s"
        ok = "" if key == "startup" else ("yes" if result["median_s"] < TARGET_E2E_S else "**no**")
        rows.append(
            (
                label,
                f"{_ms(result['median_s'])} (min {_ms(result['min_s'])}, "
                f"first {_ms(result['first_s'])})",
                target,
                ok,
            )
        )
    if "score" in cli:
        score, cold = cli["score"], cli["score_cold"]
        rate = score["records"] / score["median_s"]
        cold_rate = cold["records"] / cold["median_s"]
        rows.append(
            (
                f"`align score --summary`, {score['records']:,} responses cycled from "
                f"{score['distinct']:,} distinct (gold + benchmark), start included",
                f"{rate:,.0f} responses/s ({_ms(score['median_s'])}, min {_ms(score['min_s'])})",
                f">= {TARGET_RESPONSES_PER_S:,}/s",
                "yes" if rate >= TARGET_RESPONSES_PER_S else "**no**",
            )
        )
        rows.append(
            (
                f"&nbsp;&nbsp;each of the {cold['records']:,} distinct responses once, every "
                "cache empty (in process)",
                f"{cold_rate:,.0f} responses/s ({_ms(cold['median_s'])}; "
                f"{_ms(cold['min_s'])}-{_ms(cold['max_s'])})",
                "",
                "",
            )
        )
    lines = ["| measure | median | target | met |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    repeats = (pairs or {}).get("repeats") or next(iter(cli.values()))["repeats"]
    lines += [
        "",
        f"Median of {repeats} runs after one warm-up run; subprocess times are wall clock for "
        "interpreter start + CLI + all records, output captured through a pipe.",
        "",
        f"Machine: {facts['cpu']}, nproc {facts['nproc']} ({facts['pinning']}); "
        f"{facts['implementation']} {facts['python']} on {facts['platform']}; "
        f"align {facts['align']}; {facts['date']}.",
    ]
    if pairs:
        lines.append(
            f"Gold: {', '.join(pairs['gold_files']) or '(none)'} "
            f"({pairs['gold_records']} valid records, {pairs['gold_problems']} "
            f"problems; closed loop {'closed' if pairs['closed_loop'] else 'BROKEN'})."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per figure")
    parser.add_argument("--records", type=int, default=RECORDS, help="records per triage run")
    parser.add_argument(
        "--score-records", type=int, default=SCORE_RECORDS, help="responses per score run"
    )
    parser.add_argument(
        "--gold",
        type=Path,
        nargs="*",
        default=None,
        help="gold files or folders (default: preference_data/gold/)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--skip-cli", action="store_true", help="only the in-process figures")
    parser.add_argument("--core", type=int, default=0, help="the core to pin to (default 0)")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")

    os.chdir(ROOT)  # gold defaults are relative to the repository root
    pinning = pin_to_one_core(args.core)
    facts = machine_facts(pinning)
    pairs = bench_pairs(args.gold, args.repeats)
    cold = bench_pairs_cold(args.gold, args.repeats)
    pairs["build_cold_s"] = statistics.median(cold)
    pairs["build_cold_range_s"] = [min(cold), max(cold)]
    pairs["pairs_per_s_cold"] = pairs["pairs"] / pairs["build_cold_s"]
    if not pairs["pairs"]:
        print(
            f"note: no pairs built from {pairs['gold_files'] or 'preference_data/gold'} "
            f"({pairs['gold_records']} valid records)",
            file=sys.stderr,
        )
    cli = (
        {}
        if args.skip_cli
        else bench_cli(args.gold, args.repeats, args.records, args.score_records)
    )
    print(markdown(facts, pairs, cli, args.records))
    if args.json:
        figures = {
            "machine": facts,
            "pairs": pairs,
            "cli": cli,
            "records": args.records,
            "targets": {
                "pairs_per_s": TARGET_PAIRS_PER_S,
                "responses_per_s": TARGET_RESPONSES_PER_S,
                "cli_s": TARGET_E2E_S,
            },
        }
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
