#!/usr/bin/env python3
"""Sweep of bad inputs, killed writes and concurrent writers against the real `align` CLI
(issue "Trustworthy inputs and outputs").

Every case runs `python -m align.cli ...` as a user would, in its own temporary folder, and
checks the exit status, stderr/stdout and the files left behind. Nothing is written into the
repository: the gold records a case needs are copied into its temporary folder. No case loads
a model; `align dpo`, `align export` and `align publish` are run only where they must refuse
before loading anything (or, for a publish dry run, where a finished demo run exists to copy).

    .venv/bin/python scripts/sweep_io.py               # every case
    .venv/bin/python scripts/sweep_io.py --only gate   # the cases whose name holds "gate"

Prints one line per case (PASS, FAIL with what differed, or SKIP with why) and a summary line
"N cases, P passed, ..."; exits 1 if any case failed. Standard library, and align only for its
list of finding codes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from align.checks.detectors import FINDING_CODES

ROOT = Path(__file__).resolve().parent.parent
GOLD = ROOT / "preference_data" / "gold" / "hand_authored.jsonl"
DEMO = ROOT / "checkpoints" / "demo"
BIG = "1" + "0" * 399  # a 400-digit integer
DEEP = "[" * 100_000 + "]" * 100_000  # nested deeper than any JSON parser goes
RAW = "@@RAW@@"  # a string value replaced by raw JSON text (1e400, NaN, ...) when written
THRESHOLDS = "[max_rate]\nany_finding = 0.5\n\n[min]\nred_recall = 0.95\naccuracy = 0.5\n"


class Skip(Exception):
    """A case that cannot run here (it needs a trained model, the Hub, ...)."""


@dataclass
class Result:
    rc: int
    out: str
    err: str
    seconds: float


def align(*args, cwd: Path, stdin: str | bytes | None = None, timeout: float = 120) -> Result:
    """Run `align ARGS` in ``cwd``."""
    start = time.perf_counter()
    data = stdin.encode() if isinstance(stdin, str) else stdin
    proc = subprocess.run(
        [sys.executable, "-m", "align.cli", *map(str, args)],
        cwd=cwd,
        input=data,
        capture_output=True,
        timeout=timeout,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
    )
    return Result(
        proc.returncode,
        proc.stdout.decode("utf-8", "replace"),
        proc.stderr.decode("utf-8", "replace"),
        time.perf_counter() - start,
    )


def expect(r: Result, rc: int, err: tuple = (), out: tuple = (), no_out: tuple = ()) -> list:
    """What differs from: exit ``rc``, stderr holding each of ``err``, stdout each of ``out``
    and none of ``no_out``, and never a traceback."""
    problems = []
    if r.rc != rc:
        problems.append(f"exit {r.rc}, expected {rc}")
    if "Traceback" in r.err or "Traceback" in r.out:
        problems.append("traceback: " + r.err.strip().splitlines()[-1][:160])
    problems += [f"stderr lacks {s!r}" for s in err if s not in r.err]
    problems += [f"stdout lacks {s!r}" for s in out if s not in r.out]
    problems += [f"stdout holds {s!r}" for s in no_out if s in r.out]
    if problems and r.err.strip() and not any(p.startswith("traceback") for p in problems):
        problems.append("stderr: " + r.err.strip().splitlines()[-1][:200])
    return problems


RAW_TEXTS: list = []  # raw(text) stands for RAW_TEXTS[n] until dump() writes it


def raw(text: str) -> str:
    """A value written into the JSON as ``text`` itself (1e400, NaN, 400 digits, ...)."""
    RAW_TEXTS.append(text)
    return f"{RAW}{len(RAW_TEXTS) - 1}{RAW}"


def dump(value) -> str:
    """``value`` as one JSON line, with each raw() value written as its text."""
    text = json.dumps(value)
    for n, raw_text in enumerate(RAW_TEXTS):
        text = text.replace(f'"{RAW}{n}{RAW}"', raw_text)
    return text


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def folder_consistent(folder: Path) -> list:
    """Problems with a pair folder: its summary.json's data_files must describe its files."""
    try:
        summary = json.loads((folder / "summary.json").read_text())
    except (OSError, ValueError) as error:
        return [f"{folder.name}/summary.json unreadable: {error}"]
    recorded = summary.get("data_files")
    if not isinstance(recorded, dict) or set(recorded) != {"train.jsonl", "eval.jsonl"}:
        return [f"summary.json data_files is {recorded!r}"]
    return [
        f"{name} sha256 differs from summary.json's"
        for name, entry in recorded.items()
        if sha256(folder / name) != entry.get("sha256")
    ]


def leftovers(tmp: Path, name: str) -> list:
    names = (f".{name}.partial", f".{name}.old", f"{name}.lock")
    return [f"{n} left behind" for n in names if (tmp / n).exists()]


def gold_records(n: int = 3) -> list:
    return [json.loads(line) for line in GOLD.read_text().splitlines()[:n]]


def write_lines(path: Path, lines) -> Path:
    path.write_text(
        "".join((line if isinstance(line, str) else dump(line)) + "\n" for line in lines)
    )
    return path


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# --- the cases ----------------------------------------------------------------------------

CASES: list = []


def case(name: str):
    def register(function):
        CASES.append((name, function))
        return function

    return register


# Malformed gold records: record 2 of 3 is bad; `align pairs` exits 2 naming file:2 and the
# field, writes nothing; `align data check` reports the same (exit 1, a check failed).


def mutate_gold(change):
    def build(tmp: Path) -> Path:
        records = gold_records()
        bad = json.loads(json.dumps(records[1]))
        bad = change(bad)
        return write_lines(tmp / "gold.jsonl", [records[0], bad, records[2]])

    return build


def set_scenario(field, value):
    def change(record):
        record["scenario"][field] = value
        return record

    return change


GOLD_CASES = {
    "bad JSON": (lambda r: '{"id": "x", "messages": [', ("invalid JSON",)),
    "not an object": (lambda r: "[1, 2]", ()),
    "wrong type age_years": (set_scenario("age_years", "five"), ("scenario.age_years",)),
    "unknown hazard": (set_scenario("hazards", ["lava"]), ("scenario.hazards",)),
    "missing messages": (lambda r: {k: v for k, v in r.items() if k != "messages"}, ("messages",)),
    "unknown scenario field (hazard for hazards)": (
        set_scenario("hazard", ["burn"]),
        ("scenario.hazard",),
    ),
    "age 200": (set_scenario("age_years", 200), ("scenario.age_years",)),
    "resp_rate 1e400": (set_scenario("resp_rate", raw("1e400")), ("scenario.resp_rate",)),
    "weight 400 digits": (set_scenario("weight_kg", raw(BIG)), ("scenario.weight_kg",)),
    "resp_rate NaN": (set_scenario("resp_rate", raw("NaN")), ("NaN",)),
    "deep nesting": (lambda r: DEEP, ("nested too deeply",)),
    "lone surrogate id": (lambda r: {**r, "id": raw('"\\ud800x"')}, ("id",)),
}


def gold_case(label, change, fields):
    @case(f"pairs gold: {label}")
    def _pairs(tmp: Path) -> list:
        mutate_gold(change)(tmp)
        r = align("pairs", "--gold", "gold.jsonl", "--out", "out", cwd=tmp)
        problems = expect(r, 2, err=("gold.jsonl:2", *fields), no_out=("Infinity",))
        return problems + (["out/ was written"] if (tmp / "out").exists() else [])

    @case(f"data check: {label}")
    def _check(tmp: Path) -> list:
        mutate_gold(change)(tmp)
        r = align("data", "check", "gold.jsonl", cwd=tmp)
        return expect(r, 1, err=("gold.jsonl:2", *fields), no_out=("Infinity",))


for _label, (_change, _fields) in GOLD_CASES.items():
    gold_case(_label, _change, _fields)


# `align score`: a bad record gets its own {"id", "error"} line naming the line and field,
# the good record is still scored, exit 1; stderr names file:line.

GOOD_SCORE = {"id": "good", "scenario": {"age_years": 5}, "response": "TRIAGE: GREEN (Minor)"}


def bad(scenario=None, **record) -> dict:
    return {"id": "b", "scenario": scenario or {}, "response": "x", **record}


SCORE_CASES = {
    "bad JSON": ('{"id": "b", "scenario": ', ("invalid JSON",)),
    "wrong type age_years": (bad({"age_years": "five"}), ("scenario.age_years",)),
    "unknown hazard": (bad({"hazards": ["lava"]}), ("scenario.hazards",)),
    "missing response": ({"id": "b", "scenario": {"age_years": 5}}, ("response",)),
    "resp_rate 1e400": (bad({"resp_rate": raw("1e400")}), ("scenario.resp_rate", "finite")),
    "resp_rate 400 digits": (bad({"resp_rate": raw(BIG)}), ("scenario.resp_rate",)),
    "weight 400 digits": (bad({"weight_kg": raw(BIG)}), ("scenario.weight_kg",)),
    "age 200": (bad({"age_years": 200}), ("scenario.age_years",)),
    "NaN": (bad({"resp_rate": raw("NaN")}), ("NaN",)),
    "deep nesting": (DEEP, ("nested too deeply",)),
    "lone surrogate id": (bad(id=raw('"\\ud800"')), ("id", "surrogate")),
}


def score_case(label, line, fields):
    @case(f"score: {label}")
    def _score(tmp: Path) -> list:
        write_lines(tmp / "in.jsonl", [line, GOOD_SCORE])
        r = align("score", "--input", "in.jsonl", cwd=tmp)
        problems = expect(r, 1, err=("in.jsonl:1", *fields), no_out=("Infinity",))
        lines = [json.loads(x) for x in r.out.splitlines() if x.startswith("{")]
        if len(lines) != 2 or "error" not in lines[0] or "findings" not in lines[1]:
            problems.append(f"stdout is not [error line, findings line]: {r.out[:200]!r}")
        elif "line 1" not in lines[0]["error"]:
            problems.append(f"error line does not name line 1: {lines[0]['error'][:120]}")
        return problems


for _label, (_line, _fields) in SCORE_CASES.items():
    score_case(_label, _line, _fields)


@case("score: not UTF-8 file")
def _(tmp: Path) -> list:
    (tmp / "in.jsonl").write_bytes(b'{"id": "a", "response": "\xff\xfe"}\n')
    return expect(align("score", "--input", "in.jsonl", cwd=tmp), 2, err=("in.jsonl",))


@case("score: missing file")
def _(tmp: Path) -> list:
    return expect(align("score", "--input", "nope.jsonl", cwd=tmp), 2, err=("nope.jsonl",))


@case("score: weight of 10^340 kg in an answer is written as 'inf'")
def _(tmp: Path) -> list:
    response = "TRIAGE: GREEN (Minor)\n1. Fluid bolus 10 mL/kg x 1" + "0" * 340 + " kg = 40 mL"
    write_lines(tmp / "in.jsonl", [{"id": "w", "scenario": {"weight_kg": 4}, "response": response}])
    r = align("score", "--input", "in.jsonl", cwd=tmp)
    return expect(r, 0, out=('"inf"',), no_out=("Infinity",))


# `align triage`: a bad line is answered with {"error": "line N: ..."}, the others triaged,
# exit 1 (DESIGN.md).

GOOD_OBS = {"age_years": 5, "ambulatory": True}


def obs(**fields) -> dict:
    return {"age_years": 5, "ambulatory": False, **fields}


TRIAGE_CASES = {
    "resp_rate 1e400": (obs(resp_rate=raw("1e400")), "resp_rate"),
    "resp_rate 400 digits": (obs(resp_rate=raw(BIG)), "resp_rate"),
    "age 200": (obs(age_years=200), "age_years"),
    "NaN": (obs(age_years=raw("NaN")), "NaN"),
    "wrong type breathing": (obs(breathing="yes"), "breathing"),
    "deep nesting": (DEEP, "nested too deeply"),
}


def triage_case(label, line, field):
    @case(f"triage: {label}")
    def _triage(tmp: Path) -> list:
        text = "".join((x if isinstance(x, str) else dump(x)) + "\n" for x in (line, GOOD_OBS))
        r = align("triage", cwd=tmp, stdin=text)
        problems = expect(r, 1, out=("line 1", field, '"triage": "GREEN"'), no_out=("Infinity",))
        return problems


for _label, (_line, _field) in TRIAGE_CASES.items():
    triage_case(_label, _line, _field)


# `align gate` on eval reports it cannot trust: exit 2 naming the field.


def good_report(digest: str = "0" * 64) -> dict:
    def prop(count, n):
        return {"count": count, "n": n, "rate": count / n, "ci95": [0.0, 1.0]}

    return {
        "kind": "align-eval-report",
        "schema_version": 1,
        "align_version": "0.1.0",
        "created_utc": "2026-12-07T00:00:00Z",
        "model": {"backend": "transformers", "base_model": "toy", "adapter": "run"},
        "decoding": {"backend": "transformers", "do_sample": False, "max_new_tokens": 64},
        "eval_set": {"cases": 10, "gold_eval": 5, "heldout": 5, "limit": None, "digest": digest},
        "rates": {code: prop(0, 10) for code in (*FINDING_CODES, "any_finding")},
        "triage": {
            "n": 10,
            "accuracy": prop(10, 10),
            "under_triage": prop(0, 10),
            "over_triage": prop(0, 10),
            "missing_color": prop(0, 10),
            "red_recall": prop(4, 4),
            "confusion": {},
        },
        "preference": None,
    }
    # model.gguf / gguf_sha256 are left out: "a string or null" reads absent as null


def gate(tmp: Path, report, *extra) -> Result:
    (tmp / "gate.toml").write_text(THRESHOLDS)
    text = report if isinstance(report, str) else dump(report)
    (tmp / "report.json").write_text(text)
    return align("gate", "report.json", "--thresholds", "gate.toml", *extra, cwd=tmp)


def report_with(path: str, value):
    report = good_report()
    *parents, last = path.split(".")
    node = report
    for key in parents:
        node = node[key]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    return report


GATE_CASES = {
    "negative rate": ("rates.wrong_dose.rate", -0.1, "rates.wrong_dose.rate"),
    "count > n": ("rates.wrong_dose.count", 11, "rates.wrong_dose.count"),
    "rate != count/n": ("rates.wrong_dose.rate", 0.5, "rates.wrong_dose.rate"),
    "schema_version true": ("schema_version", True, "schema_version"),
    "n as a string": ("rates.wrong_dose.n", "10", "rates.wrong_dose.n"),
    "missing triage section": ("triage", KeyError, "triage"),
    "missing rate code": ("rates.wrong_dose", KeyError, "wrong_dose"),
    "unknown rate code": ("rates.made_up", {"count": 0, "n": 10, "rate": 0.0}, "made_up"),
    "rate 1e400": ("rates.wrong_dose.rate", raw("1e400"), "rates.wrong_dose.rate"),
    "rate NaN": ("rates.wrong_dose.rate", raw("NaN"), "NaN"),
    "count 400 digits": ("rates.wrong_dose.count", raw(BIG), "rates.wrong_dose.count"),
    "rate as the string nan": ("triage.accuracy.rate", "nan", "triage.accuracy.rate"),
    "deep nesting": ("model.adapter", raw(DEEP), "nested"),
}


def gate_case(label, path, value, field):
    @case(f"gate: {label}")
    def _gate(tmp: Path) -> list:
        r = gate(tmp, report_with(path, value))
        return expect(r, 2, err=(field,), no_out=("Infinity",))


for _label, (_path, _value, _field) in GATE_CASES.items():
    gate_case(_label, _path, _value, _field)


@case("gate: report not JSON")
def _(tmp: Path) -> list:
    return expect(gate(tmp, "this is not json {"), 2, err=("report.json",))


@case("gate: report missing")
def _(tmp: Path) -> list:
    r = align("gate", "nope.json", "--thresholds", str(ROOT / "configs" / "gate.toml"), cwd=tmp)
    return expect(r, 2, err=("nope.json",))


@case("gate: baseline from another eval set")
def _(tmp: Path) -> list:
    (tmp / "base.json").write_text(dump(good_report(digest="1" * 64)))
    return expect(gate(tmp, good_report(), "--baseline", "base.json"), 2, err=("base.json",))


@case("gate: trustworthy passing report (control) writes --junit")
def _(tmp: Path) -> list:
    r = gate(tmp, good_report(), "--junit", "gate.xml")
    return expect(r, 0) + ([] if (tmp / "gate.xml").is_file() else ["gate.xml not written"])


@case("gate: breached threshold (control) exits 1")
def _(tmp: Path) -> list:
    breach = {"count": 1, "n": 4, "rate": 0.25, "ci95": [0.0, 1.0]}  # red_recall 25 %
    return expect(gate(tmp, report_with("triage.red_recall", breach)), 1)


@case("gate: passing gate, --junit under /proc cannot be written")
def _(tmp: Path) -> list:
    return expect(gate(tmp, good_report(), "--junit", "/proc/x/gate.xml"), 2, err=("--junit",))


@case("gate: passing gate, --junit is a folder")
def _(tmp: Path) -> list:
    (tmp / "junit").mkdir()
    return expect(gate(tmp, good_report(), "--junit", "junit"), 2, err=("--junit",))


# Unwritable outputs and atomic pair folders.


def pairs(tmp: Path, out: str, *extra, gold: str = "gold.jsonl") -> Result:
    if not (tmp / gold).exists():
        shutil.copy(GOLD, tmp / gold)
    return align("pairs", "--gold", gold, "--out", out, *extra, cwd=tmp)


@case("pairs: --out /proc/x")
def _(tmp: Path) -> list:
    return expect(pairs(tmp, "/proc/x"), 2, err=("/proc/x",))


@case("pairs: --out is a file")
def _(tmp: Path) -> list:
    (tmp / "out").write_text("a file\n")
    return expect(pairs(tmp, "out"), 2, err=("out",))


@case("pairs: --out below a file")
def _(tmp: Path) -> list:
    (tmp / "file").write_text("a file\n")
    return expect(pairs(tmp, "file/out"), 2, err=("file",))


@case("pairs: --out holds other files (never replaced)")
def _(tmp: Path) -> list:
    (tmp / "out").mkdir()
    (tmp / "out" / "notes.txt").write_text("mine\n")
    r = pairs(tmp, "out", "--overwrite")
    kept = (tmp / "out" / "notes.txt").exists() and not (tmp / "out" / "train.jsonl").exists()
    return expect(r, 2, err=("notes.txt",)) + ([] if kept else ["out/ was changed"])


@case("pairs: existing pair folder without --overwrite")
def _(tmp: Path) -> list:
    first = pairs(tmp, "out")
    return expect(first, 0) + expect(pairs(tmp, "out"), 2, err=("--overwrite",))


@case("pairs: live lock (this sweep's pid) -> exit 2 naming the lock")
def _(tmp: Path) -> list:
    (tmp / "out.lock").write_text(f"{os.getpid()} {socket.gethostname()}\n")
    r = pairs(tmp, "out")
    return expect(r, 2, err=("out.lock",)) + (["out/ written"] if (tmp / "out").exists() else [])


@case("pairs: stale lock (dead pid) -> taken over with a warning")
def _(tmp: Path) -> list:
    (tmp / "out.lock").write_text(f"{dead_pid()} {socket.gethostname()}\n")
    r = pairs(tmp, "out")
    problems = expect(r, 0, err=("stale lock",))
    return problems + folder_consistent(tmp / "out") + leftovers(tmp, "out")


@case("pairs: killed swap, .out.old/ with no target -> old folder restored")
def _(tmp: Path) -> list:
    problems = expect(pairs(tmp, "out"), 0)
    before = sha256(tmp / "out" / "train.jsonl")
    os.rename(tmp / "out", tmp / ".out.old")
    r = pairs(tmp, "out", "--seed", "7")  # no --overwrite: repaired, then refused
    problems += expect(r, 2, err=("restored", "--overwrite"))
    if not (tmp / "out" / "train.jsonl").exists() or sha256(tmp / "out" / "train.jsonl") != before:
        problems.append("out/ is not the old folder")
    return problems + leftovers(tmp, "out")


@case("pairs: killed swap, .out.old/ beside the target -> old removed")
def _(tmp: Path) -> list:
    problems = expect(pairs(tmp, "out"), 0)
    shutil.copytree(tmp / "out", tmp / ".out.old")
    r = pairs(tmp, "out", "--overwrite", "--seed", "7")
    problems += expect(r, 0, err=("removed",))
    return problems + folder_consistent(tmp / "out") + leftovers(tmp, "out")


@case("pairs: killed build, .out.partial/ left -> removed")
def _(tmp: Path) -> list:
    (tmp / ".out.partial").mkdir()
    (tmp / ".out.partial" / "train.jsonl").write_text("half\n")
    r = pairs(tmp, "out")
    return expect(r, 0, err=("removed",)) + folder_consistent(tmp / "out") + leftovers(tmp, "out")


def concurrent(tmp: Path, *extra) -> list:
    shutil.copy(GOLD, tmp / "gold.jsonl")
    command = [sys.executable, "-m", "align.cli", "pairs", "--gold", "gold.jsonl", "--out", "out"]
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    procs = [
        subprocess.Popen([*command, "--seed", str(seed), *extra], cwd=tmp, **pipes)
        for seed in (1, 2)  # started together: both run before either writes
    ]
    errors = [p.communicate(timeout=120)[1].decode("utf-8", "replace") for p in procs]
    return [(p.returncode, err) for p, err in zip(procs, errors, strict=True)]


@case("pairs: two concurrent writers to a new folder -> one 0, one 2")
def _(tmp: Path) -> list:
    results = concurrent(tmp)
    codes = sorted(rc for rc, _ in results)
    problems = [] if codes == [0, 2] else [f"exit codes {codes}, expected [0, 2]"]
    problems += ["traceback" for _, err in results if "Traceback" in err]
    return problems + folder_consistent(tmp / "out") + leftovers(tmp, "out")


@case("pairs: two concurrent --overwrite writers -> no mixed folder")
def _(tmp: Path) -> list:
    problems = expect(pairs(tmp, "out"), 0)
    results = concurrent(tmp, "--overwrite")
    codes = sorted(rc for rc, _ in results)
    if 0 not in codes or not set(codes) <= {0, 2}:
        problems.append(f"exit codes {codes}, expected 0s and 2s with at least one 0")
    problems += ["traceback" for _, err in results if "Traceback" in err]
    return problems + folder_consistent(tmp / "out") + leftovers(tmp, "out")


@case("gate --pairs: summary does not match files (train.jsonl of another seed)")
def _(tmp: Path) -> list:
    problems = expect(pairs(tmp, "a", "--seed", "1"), 0) + expect(pairs(tmp, "b", "--seed", "2"), 0)
    shutil.copy(tmp / "b" / "train.jsonl", tmp / "a" / "train.jsonl")
    r = align("gate", "--pairs", "--pairs-dir", "a", "--gold", "gold.jsonl", cwd=tmp)
    return problems + expect(r, 2, err=("train.jsonl",))


@case("gate --pairs: consistent folder (control) passes")
def _(tmp: Path) -> list:
    problems = expect(pairs(tmp, "a"), 0)
    r = align("gate", "--pairs", "--pairs-dir", "a", "--gold", "gold.jsonl", cwd=tmp)
    return problems + expect(r, 0)


@case("gate --pairs: folder under a live lock")
def _(tmp: Path) -> list:
    problems = expect(pairs(tmp, "a"), 0)
    (tmp / "a.lock").write_text(f"{os.getpid()} {socket.gethostname()}\n")
    r = align("gate", "--pairs", "--pairs-dir", "a", "--gold", "gold.jsonl", cwd=tmp)
    return problems + expect(r, 2, err=("a.lock",))


def fake_run(tmp: Path) -> Path:
    """A folder that looks like an adapter run to the checks made before any model loads."""
    run = tmp / "run"
    run.mkdir()
    (run / "adapter_config.json").write_text('{"peft_type": "LORA", "r": 8, "lora_alpha": 8}\n')
    (run / "adapter_model.safetensors").write_bytes(b"not weights")
    (run / "manifest.json").write_text("{}\n")
    return run


@case("dpo: --pairs folder under a live lock, refused before loading a model")
def _(tmp: Path) -> list:
    problems = expect(pairs(tmp, "a"), 0)
    fake_run(tmp)
    (tmp / "a.lock").write_text(f"{os.getpid()} {socket.gethostname()}\n")
    r = align("dpo", "--adapter", "run", "--pairs", "a", "--output-dir", "dpo-out", cwd=tmp)
    return problems + expect(r, 2, err=("a.lock",))


@case("dpo: --pairs summary does not match files, refused before loading a model")
def _(tmp: Path) -> list:
    problems = expect(pairs(tmp, "a", "--seed", "1"), 0) + expect(pairs(tmp, "b", "--seed", "2"), 0)
    shutil.copy(tmp / "b" / "eval.jsonl", tmp / "a" / "eval.jsonl")
    fake_run(tmp)
    r = align("dpo", "--adapter", "run", "--pairs", "a", "--output-dir", "dpo-out", cwd=tmp)
    return problems + expect(r, 2, err=("eval.jsonl",))


# Long answers.


def long_answer_case(label: str, build):
    @case(f"score: 1 MB answer, {label}")
    def _long(tmp: Path) -> list:
        record = gold_records(1)[0]
        response = build(record["messages"][-1]["content"])[:1_000_000]
        write_lines(
            tmp / "in.jsonl", [{"id": "long", "scenario": record["scenario"], "response": response}]
        )
        r = align("score", "--input", "in.jsonl", cwd=tmp)
        problems = expect(r, 0, out=('"findings"',))
        print(f"      1 MB answer ({label}) scored in {r.seconds:.1f} s")
        return problems + ([f"took {r.seconds:.0f} s (> 30 s)"] if r.seconds > 30 else [])


long_answer_case("a gold answer repeated", lambda gold: (gold + "\n") * 1000)
long_answer_case(
    "one paragraph",
    lambda gold: "TRIAGE: RED (Immediate)\n" + "Keep her warm and recheck. " * 40_000,
)
long_answer_case("one line, no spaces", lambda gold: "TRIAGE: RED (Immediate)\n" + "x" * 1_000_000)


# Publish and export: paths confined to the export folder; run without a model or network.


def fake_export(tmp: Path, entry: str, merged: str, link: bool) -> None:
    """An export folder whose export_report.json lists ``entry`` and ``merged``."""
    run = fake_run(tmp)
    (tmp / "SECRET.txt").write_text("secret\n")
    for folder in (tmp / "export" / "merged", tmp / "elsewhere"):
        folder.mkdir(parents=True)
        (folder / "config.json").write_text("{}\n")
        (folder / "model.safetensors").write_bytes(b"x")
    if link:
        (tmp / "export" / entry).symlink_to(tmp / "SECRET.txt")
    report = {
        "config": {"adapter": str(run)},
        "merge": {"folder": merged},
        "files": [{"file": entry, "size_bytes": 7, "sha256": "0" * 64}],
    }
    (tmp / "export" / "export_report.json").write_text(json.dumps(report))


GGUF = "run-Q4_K_M.gguf"
PUBLISH_CASES = {  # (GGUF entry, merged folder, the entry a link to SECRET.txt, stderr holds)
    "export_report.json entry ../SECRET.txt": ("../SECRET.txt", "merged", False, "../SECRET"),
    "export_report.json entry an absolute path": ("/etc/hostname", "merged", False, "/etc/"),
    "merged folder ../elsewhere": (GGUF, "../elsewhere", False, "../elsewhere"),
    "GGUF entry a link out of the export folder": (GGUF, "merged", True, GGUF),
}


def publish_case(label, entry, merged, link, named):
    @case(f"publish --dry-run: {label}")
    def _publish(tmp: Path) -> list:
        fake_export(tmp, entry, merged, link)
        args = ("--repo-id", "you/x", "--adapter", "run", "--export", "export", "--dry-run")
        r = align("publish", *args, "--no-dataset", "--force", cwd=tmp)
        return expect(r, 2, err=(named, "outside"), no_out=("secret",))


for _label, _args in PUBLISH_CASES.items():
    publish_case(_label, *_args)


@case("publish --dry-run: untrustworthy --eval-report")
def _(tmp: Path) -> list:
    fake_run(tmp)
    (tmp / "report.json").write_text(dump(report_with("rates.wrong_dose.count", 11)))
    args = ("--repo-id", "you/x", "--adapter", "run", "--dry-run", "--no-dataset")
    r = align("publish", *args, "--eval-report", "report.json", cwd=tmp)
    return expect(r, 2, err=("--eval-report", "rates.wrong_dose.count"))


@case("publish --dry-run: the demo's real run (copied)")
def _(tmp: Path) -> list:
    needed = [DEMO / "dpo", DEMO / "export", DEMO / "eval-dpo" / "report.json"]
    if not all(path.exists() for path in needed):
        raise Skip("needs a trained demo run in checkpoints/demo (run `make demo` first)")
    for name in ("dpo", "export", "eval-dpo", "eval-sft"):
        shutil.copytree(DEMO / name, tmp / name, symlinks=True)
    shutil.copytree(ROOT / "preference_data" / "pairs", tmp / "pairs")
    r = align(
        "publish", "--repo-id", "you/x", "--adapter", "dpo", "--export", "export",
        "--eval-report", "eval-dpo/report.json", "--baseline", "eval-sft/report.json",
        "--thresholds", ROOT / "configs" / "gate-toy.toml", "--pairs", "pairs", "--dry-run",
        cwd=tmp, timeout=120,
    )  # fmt: skip
    return expect(r, 0)


@case("export: --name ../evil, refused before loading a model")
def _(tmp: Path) -> list:
    fake_run(tmp)
    r = align("export", "--adapter", "run", "--name", "../evil", "--output-dir", "exp", cwd=tmp)
    problems = expect(r, 2, err=("--name",))
    return problems + (["../evil written"] if any(tmp.parent.glob("evil*")) else [])


@case("export: full export (merge, GGUF, llama.cpp)")
def _(tmp: Path) -> list:
    raise Skip("needs a trained adapter and the GGUF extra; not a bad-input case")


# --- the runner ---------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="run only the cases whose name holds this")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders")
    args = parser.parse_args()
    cases = [(name, fn) for name, fn in CASES if args.only.lower() in name.lower()]
    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    failed = []
    start = time.perf_counter()
    for name, function in cases:
        tmp = Path(tempfile.mkdtemp(prefix="sweep-io-"))
        began = time.perf_counter()
        try:
            problems = function(tmp)
            status, detail = ("FAIL", "; ".join(problems)) if problems else ("PASS", "")
        except Skip as why:
            status, detail = "SKIP", str(why)
        except Exception as error:  # a broken case is a failed case, not a crashed sweep
            status, detail = "FAIL", f"the case itself raised {type(error).__name__}: {error}"
        finally:
            if not args.keep:
                shutil.rmtree(tmp, ignore_errors=True)
        counts[status] += 1
        seconds = time.perf_counter() - began
        print(
            f"{status}  {name}  ({seconds:.1f} s)" + (f": {detail}" if detail else ""), flush=True
        )
        if status == "FAIL":
            failed.append(name)
    total = time.perf_counter() - start
    print(
        f"{len(cases)} cases, {counts['PASS']} passed, {counts['FAIL']} failed, "
        f"{counts['SKIP']} skipped ({total:.0f} s)"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
