"""What the light CLI commands do (triage, score, pairs, data): read input, call the library,
print results. Return an exit status: 0 ok, 1 a check failed or a record erred, 2 bad input.
"""

from __future__ import annotations

import gc
import json
import statistics
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from align.data.atomic import OutputFolderError, check_output_folder
from align.data.io import (
    TOO_DEEP,
    DataError,
    dumps_line,
    json_safe,
    jsonl_records,
    loads_json,
    write_files_atomically,
)


def _err(message: str) -> None:
    print(message, file=sys.stderr)


# --- align triage ---------------------------------------------------------------------------


def triage_line_result(raw: bytes) -> dict:
    """The contract's output for one input line: a triage result or an error."""
    from align.protocol.triage import ObservationError, triage

    try:
        record = loads_json(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return {"error": "not UTF-8"}
    except json.JSONDecodeError as error:
        return {"error": f"invalid JSON: {error.msg} (column {error.colno})"}
    except ValueError as error:  # NaN, Infinity
        return {"error": f"invalid JSON: {error}"}
    except RecursionError:
        return {"error": f"invalid JSON: {TOO_DEEP}"}
    if not isinstance(record, dict):
        return {"error": "each line must be a JSON object"}
    try:
        return triage(record).to_dict()
    except ObservationError as error:
        return {"error": str(error)}


def run_triage(file: Path | None, out: TextIO) -> int:
    try:
        source = file.open("rb") if file else sys.stdin.buffer
    except OSError as error:
        _err(f"error: {file}: cannot read: {error.strerror}")
        return 2
    erred = False
    with source:
        for number, raw in enumerate(source, 1):
            if not raw.strip():
                continue
            result = triage_line_result(raw)
            if "error" in result:
                erred = True
                result = {"error": f"line {number}: {result['error']}"}
            out.write(json.dumps(result, allow_nan=False) + "\n")
    return 1 if erred else 0


# --- align score ----------------------------------------------------------------------------


def _score_input(path: str, line: int, record: dict) -> tuple[str, str, dict | None, str | None]:
    """(id, response, scenario, expected_triage) from a score line or a gold record; the
    scenario checked, with canonical hazard tags. Raise DataError naming the field."""
    from align.protocol.colors import COLORS
    from align.protocol.scenario import ScenarioError, validate_scenario

    if isinstance(record.get("response"), str):
        response = record["response"]
    elif isinstance(record.get("messages"), list) and record["messages"]:
        last = record["messages"][-1]
        if (
            not isinstance(last, dict)
            or last.get("role") != "assistant"
            or not isinstance(last.get("content"), str)
        ):
            raise DataError(path, line, "messages", "the last message must be an assistant turn")
        response = last["content"]
    else:
        raise DataError(
            path,
            line,
            "response",
            "missing: give 'response' (a string) or 'messages' ending with the assistant turn",
        )
    scenario = record.get("scenario")
    if scenario is not None:
        try:
            scenario = validate_scenario(scenario)
        except ScenarioError as error:
            field = f"scenario.{error.field}".rstrip(".")
            raise DataError(path, line, field, error.message) from None
    expected = record.get("expected_triage")
    if expected is not None and expected not in COLORS:
        raise DataError(
            path, line, "expected_triage", f"must be one of {', '.join(COLORS)}, got {expected!r}"
        )
    return _record_id(record, line), response, scenario, expected


def _record_id(record: dict, line: int) -> str:
    return str(record.get("id", f"line-{line}"))


def _score_record(name: str, line: int, record: dict | DataError) -> tuple[dict, DataError | None]:
    """The output line for one input line: {id, findings}, or {id, error} and the error."""
    from align.checks.detectors import score_response

    if isinstance(record, DataError):
        return _error_line(f"line-{line}", record), record
    try:
        record_id, response, scenario, expected = _score_input(name, line, record)
    except DataError as error:
        return _error_line(_record_id(record, line), error), error
    findings = score_response(response, scenario, expected)
    return {"id": record_id, "findings": json_safe([f.to_dict() for f in findings])}, None


def _error_line(record_id: str, error: DataError) -> dict:
    where = f"line {error.line}: " + (f"{error.field}: " if error.field else "")
    return {"id": record_id, "error": where + error.message}


def run_score(input_path: Path | None, summary: bool, out: TextIO) -> int:
    """One line per record, in input order: its findings, or the error that kept it from
    being scored. Exit 1 when any record erred, 2 when the input cannot be read."""
    name = str(input_path) if input_path else "<stdin>"
    try:
        source = input_path.open("rb") if input_path else sys.stdin.buffer
    except OSError as error:
        _err(f"error: {name}: cannot read: {error.strerror or error}")
        return 2
    lines, errors = [], []
    # Printed only once every line is read: an input that is not text prints nothing.
    try:
        for line, record in jsonl_records(source, name):
            result, error = _score_record(name, line, record)
            lines.append(result)
            if error is not None:
                errors.append(error)
    except DataError as error:
        _err(f"error: {error}")
        return 2
    finally:
        if input_path:
            source.close()
    for item in lines:
        out.write(json.dumps(item, ensure_ascii=False, allow_nan=False) + "\n")
    if summary:
        out.write(json.dumps({"summary": _score_summary(lines)}, allow_nan=False) + "\n")
    _print_problems(errors)
    return 1 if errors else 0


def _score_summary(lines: list[dict]) -> dict:
    """Counts and rates over the records scored; the records that erred only counted."""
    from align.checks.detectors import FINDING_CODES

    scored = [item for item in lines if "findings" in item]
    counts = Counter(code for item in scored for code in {f["code"] for f in item["findings"]})
    total = len(scored)
    return {
        "records": total,
        "errors": len(lines) - total,
        "counts": {code: counts[code] for code in FINDING_CODES},
        "rates": {code: round(counts[code] / total, 4) if total else 0.0 for code in FINDING_CODES},
    }


def run_score_benchmark(paths: list[Path], as_json: bool, show_errors: bool, out: TextIO) -> int:
    """Precision and recall per finding code on labelled benchmark files. Exit 0 whatever the
    figures (it measures, the tests judge), 2 when a file cannot be read."""
    from align.checks.benchmark import benchmark_files, load_benchmark, score_benchmark

    try:
        records = load_benchmark(paths)
    except DataError as error:
        _err(f"error: {error}")
        return 2
    if not records:
        _err(f"error: no benchmark records in {', '.join(map(str, paths))}")
        return 2
    result = score_benchmark(records)
    if as_json:
        out.write(json.dumps(result.to_dict(mismatches=show_errors), allow_nan=False) + "\n")
        return 0
    files = benchmark_files(paths)
    title = f"detector benchmark: {result.records} records in {len(files)} file(s)"
    _print_benchmark_table(result, title, out)
    if show_errors:
        _print_mismatches(result.mismatches, out)
    return 0


def _share(proportion: dict) -> str:
    """'97.3% (92.1-99.1)': a rate with its Wilson 95% interval, '-' when nothing counted."""
    if proportion["rate"] is None:
        return "-"
    low, high = proportion["ci95"]
    return f"{100 * proportion['rate']:.1f}% ({100 * low:.1f}-{100 * high:.1f})"


def _print_benchmark_table(result, title: str, out: TextIO) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column("finding code")
    for column in ("TP", "FP", "FN", "precision (95% CI)", "recall (95% CI)"):
        table.add_column(column, justify="right")
    for code, counts in result.codes.items():
        table.add_row(
            code,
            str(counts.true_positives),
            str(counts.false_positives),
            str(counts.false_negatives),
            _share(counts.precision),
            _share(counts.recall),
        )
    # Wide enough for every column when the output is a file or a pipe (rich's default is 80).
    console = Console(file=out, width=None if out.isatty() else 110)
    console.print(table)
    flagged = result.correct_flagged_share
    out.write(
        f"correct responses with any finding: {result.correct_flagged} of {result.correct},"
        f" {_share(flagged)}\n"
    )


def _print_mismatches(mismatches, out: TextIO) -> None:
    out.write(f"records whose findings differ from the expected set: {len(mismatches)}\n")
    for mismatch in mismatches:
        expected = ", ".join(mismatch.expected) or "none"
        got = ", ".join(mismatch.got) or "none"
        out.write(f"  {mismatch.id}: expected {expected}; got {got}\n")


# --- align data -----------------------------------------------------------------------------


def _print_problems(problems: list[DataError], limit: int = 30) -> None:
    for problem in problems[:limit]:
        _err(f"error: {problem}")
    if len(problems) > limit:
        _err(f"... and {len(problems) - limit} more problems")


def run_data_check(files: list[Path] | None, tokenizer: Path | None, max_tokens: int) -> int:
    from rich.console import Console
    from rich.table import Table

    from align.data.gold import count_tokens, estimate_tokens, gold_files, load_gold, load_tokenizer

    if tokenizer:
        try:
            load_tokenizer(tokenizer)  # before any record: a bad file is bad input, exit 2
        except DataError as error:
            _err(f"error: {error}")
            return 2
    report = load_gold(files)
    lengths: dict[str, list[int]] = {}
    too_long = []
    for record in report.records:
        if tokenizer:
            n = count_tokens(record.messages, tokenizer)
        else:
            n = estimate_tokens(record.messages)
        lengths.setdefault(record.path, []).append(n)
        if n > max_tokens:
            too_long.append(
                DataError(
                    record.path,
                    record.line,
                    "messages",
                    f"{n} tokens, over the {max_tokens}-token window",
                )
            )
    problems = report.problems + too_long
    how = "tokenizer" if tokenizer else "estimated"
    table = Table(title=f"gold records and token lengths ({how})")
    for column in ("file", "records", "min", "median", "max", f"> {max_tokens}"):
        table.add_column(column, justify="left" if column == "file" else "right")
    for path in gold_files(files):
        values = lengths.get(str(path), [])
        over = sum(v > max_tokens for v in values)
        if values:
            table.add_row(
                str(path),
                str(len(values)),
                str(min(values)),
                f"{statistics.median(values):.0f}",
                str(max(values)),
                str(over),
            )
        else:
            table.add_row(str(path), "0", "-", "-", "-", "0")
    Console().print(table)
    topics = Counter(t for r in report.records for t in r.data.get("topics", []))
    print("topics: " + ", ".join(f"{t} {n}" for t, n in sorted(topics.items())))
    if problems:
        _print_problems(problems)
        print(
            f"FAILED: {len(problems)} problem(s) in {len(report.records) + len(problems)} checks",
            file=sys.stderr,
        )
        return 1
    print(f"ok: {len(report.records)} gold records valid, zero detector findings")
    return 0


def run_data_generate(out: Path, seed: int, check: bool) -> int:
    from align.data.generator import generate_gold

    text = "".join(dumps_line(record) for record in generate_gold(seed))
    if check:
        if not out.exists() or out.read_text(encoding="utf-8") != text:
            _err(
                f"error: {out} differs from the generator's output for seed {seed}; "
                "run `align data generate`"
            )
            return 1
        print(f"ok: {out} is up to date")
        return 0
    write_files_atomically({out: text})
    print(f"wrote {text.count(chr(10))} records to {out}")
    return 0


# --- align pairs ----------------------------------------------------------------------------


def parse_counts(perturbations: str | None, count: list[str] | None) -> dict[str, int]:
    """Counts per perturbation from --perturbations and --count NAME=N; ValueError names
    the option at fault."""
    from align.data.perturb import PERTURBATIONS

    known = ", ".join(PERTURBATIONS)
    if perturbations:
        names = [n.strip() for n in perturbations.split(",") if n.strip()]
        unknown = [n for n in names if n not in PERTURBATIONS]
        if unknown or not names:
            raise ValueError(
                f"--perturbations: unknown {', '.join(unknown) or '(empty)'}; known: {known}"
            )
    else:
        names = list(PERTURBATIONS)
    counts = {n: PERTURBATIONS[n].default_count for n in names}
    for item in count or []:
        name, _, value = item.partition("=")
        name = name.strip()
        if name not in PERTURBATIONS:
            raise ValueError(f"--count {item}: unknown perturbation {name!r}; known: {known}")
        if name not in counts:
            raise ValueError(f"--count {item}: {name} is not among --perturbations")
        if not (value.strip().isascii() and value.strip().isdigit()):
            raise ValueError(f"--count {item}: expected NAME=N with N a whole number >= 0")
        counts[name] = int(value)
    return counts


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Python's cycle collector paused, then restored. `align pairs` keeps nearly everything it
    allocates to the end and leaves almost no cycles behind (5 objects on the committed gold),
    so the collector's passes over the growing heap free nothing and cost 2-5 % of a cold
    run. The command owns its process; the library functions leave the collector alone."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def run_pairs(
    gold, out, seed, eval_fraction, perturbations, count, under_share, overwrite=False
) -> int:
    with cyclic_gc_paused():
        try:
            return _run_pairs(
                gold, out, seed, eval_fraction, perturbations, count, under_share, overwrite
            )
        except OutputFolderError as error:  # refused folder, another writer's lock
            _err(f"error: {error}")
            return 2


def _run_pairs(gold, out, seed, eval_fraction, perturbations, count, under_share, overwrite):
    from align.data.gold import gold_files, load_gold
    from align.data.pairs import (
        PAIR_FILES,
        PairConfig,
        build_pairs,
        gold_file_entries,
        write_pairs,
    )

    try:
        config = PairConfig(
            seed=seed,
            eval_fraction=eval_fraction,
            counts=parse_counts(perturbations, count),
            under_share=under_share,
        )
    except ValueError as error:
        _err(f"error: {error}")
        return 2
    # Refuse the folder before the build, not after; write_pairs checks again under its lock.
    check_output_folder(out, overwrite=overwrite, owns=PAIR_FILES)
    report = load_gold(gold)
    if not report.ok:
        _print_problems(report.problems)
        _err(
            f"error: gold data has {len(report.problems)} problem(s); nothing written "
            "(run `align data check` for the full list)"
        )
        return 2
    if not report.records:
        _err(f"error: no gold records in {', '.join(map(str, gold_files(gold)))}; nothing written")
        return 2
    pair_set = build_pairs(report.records, config)
    print_loop_table(pair_set)
    if not pair_set.closed:
        for v in pair_set.violations[:20]:
            _err(
                f"closed loop broken: {v.gold_id} {v.perturbation} {v.side}: expected "
                f"{v.expected or 'no finding'}, found {v.found or 'no finding'}"
            )
        _err(f"error: {len(pair_set.violations)} closed-loop violation(s); nothing written")
        return 1
    warn_unmet_under_share(pair_set)
    entries = gold_file_entries(report.records, gold_files(gold))
    paths = write_pairs(pair_set, out, entries, overwrite=overwrite)
    print(
        "wrote "
        + ", ".join(
            f"{p} ({len(pair_set.splits[s])} pairs)" if s in pair_set.splits else str(p)
            for s, p in paths.items()
        )
    )
    return 0


def warn_unmet_under_share(pair_set) -> None:
    """Say so when the wrong-colour pairs cannot follow --under-share: with as many variants
    per record as there are other colours, every colour is used whatever the share."""
    directions = pair_set.color_directions()
    total = directions.total()
    if not total:
        return
    actual = directions["under"] / total
    asked = pair_set.config.under_share
    if abs(actual - asked) > 0.1:
        count = pair_set.config.counts.get("wrong_triage_color")
        _err(
            f"warning: --under-share {asked:.2f} asked, but {actual:.2f} of the "
            f"{total} wrong-colour pairs under-triage: a RED record can only be "
            f"under-triaged, and at --count wrong_triage_color={count} a record with no more "
            "wrong colours than that uses them all (the share decides only the rest)"
        )


def print_loop_table(pair_set) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="preference pairs and the closed loop")
    for column in (
        "perturbation",
        "train",
        "eval",
        "rejected shows exactly it",
        "chosen clean",
        "n/a",
    ):
        table.add_column(
            column,
            justify="left" if column == "perturbation" else "right",
            no_wrap=column == "perturbation",
        )
    for name, stats in pair_set.loop.items():
        train = sum(p["perturbation"] == name for p in pair_set.splits["train"])
        evals = sum(p["perturbation"] == name for p in pair_set.splits["eval"])
        table.add_row(
            name,
            str(train),
            str(evals),
            f"{stats['rejected_exact']}/{stats['pairs']}",
            f"{stats['chosen_clean']}/{stats['pairs']}",
            str(pair_set.skipped.get(name, 0)),
        )
    Console().print(table)


# --- align sft / align dpo ------------------------------------------------------------------


def parse_weights(text: str | None) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"--loss-weights {text}: expected comma-separated numbers") from None


def parse_mix(text: str | None) -> dict[str, float] | None:
    if text is None:
        return None
    mix = {}
    for item in text.split(","):
        name, _, share = item.partition("=")
        try:
            mix[name.strip()] = float(share)
        except ValueError:
            raise ValueError(f"--mix {item}: expected NAME=share with share from 0 to 1") from None
    return mix


def training_config(kind: str, config_file: Path | None, flags: dict):
    """The effective config: defaults < config file < flags given on the command line."""
    from align.train.config import DPOConfig, SFTConfig, build_config, load_config_file

    config_class = SFTConfig if kind == "sft" else DPOConfig
    file_values = load_config_file(config_file) if config_file else {}
    return build_config(config_class, file_values, flags, source=str(config_file or "flags"))


def run_training(kind: str, config_file: Path | None, flags: dict) -> int:
    """Check everything that can be checked, train, and print where the run went."""
    from align.data.io import DataError
    from align.train.config import ConfigError

    try:
        config = training_config(kind, config_file, flags)
    except ConfigError as error:
        _err(f"error: {error}")
        return 2
    from align.train.loading import LoadError
    from align.train.runs import RunError

    try:
        if kind == "sft":
            from align.train.sft import run_sft

            folder = run_sft(config)
        else:
            from align.train.dpo import run_dpo

            folder = run_dpo(config)
    except (ConfigError, LoadError, RunError, DataError) as error:
        _err(f"error: {error}")
        return 2
    print_run_summary(kind, folder)
    return 0


def print_run_summary(kind: str, folder: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))["final"]
    console = Console()
    console.print(
        f"[bold]{kind}[/bold] run written to {folder} "
        f"({metrics.get('global_step')} steps, train loss {metrics.get('train_loss'):.4f})"
    )
    table_rows = metrics.get("per_perturbation") or {}
    if table_rows:
        table = Table(title="DPO on the eval pairs, per perturbation type")
        for column in ("perturbation", "reward accuracy", "reward margin"):
            table.add_column(
                column,
                justify="left" if column == "perturbation" else "right",
                no_wrap=column == "perturbation",
            )
        for name, row in table_rows.items():
            accuracy, margin = row.get("reward_accuracy"), row.get("reward_margin")
            table.add_row(
                name,
                "-" if accuracy is None else f"{accuracy:.2f}",
                "-" if margin is None else f"{margin:.3f}",
            )
        console.print(table)
        check = metrics.get("reference_check") or {}
        if check:
            console.print(
                f"reference = SFT policy: {check.get('reference_is_sft_policy')} "
                f"(largest |reward| before training: "
                f"{check.get('max_abs_reward_before_training')})"
            )


# --- align demo -----------------------------------------------------------------------------


def run_demo_command(quick: bool) -> int:
    """0: every step ran and the gate passed; 1: a step failed or the gate failed."""
    import time

    from rich.console import Console

    from align.data.io import DataError
    from align.demo import DemoError, DemoSettings, run_demo
    from align.evaluation.backends import BackendError
    from align.evaluation.gate import GateInputError
    from align.evaluation.report import ReportError
    from align.evaluation.run import EvalError
    from align.export.common import ExportError
    from align.train.config import ConfigError
    from align.train.loading import LoadError
    from align.train.runs import RunError

    console = Console()
    settings = DemoSettings()
    if quick:  # every step, at the smallest size that still runs it
        settings = DemoSettings(
            overrides={"max_steps": 2, "save_steps": 1, "eval_steps": 1, "max_eval_pairs": 2},
            eval_limit=2,
            max_new_tokens=48,
            require_stop=False,  # two training steps do not teach the model to stop
        )
    started = time.perf_counter()
    try:
        result = run_demo(settings, console)
    except (
        DemoError,
        ConfigError,
        LoadError,
        RunError,
        DataError,
        EvalError,
        BackendError,
        ReportError,
        GateInputError,
        ExportError,
    ) as error:
        _err(f"error: {error}")
        return 1
    console.rule("[bold]summary")
    for name in ("toy_base", "sft", "dpo", "eval_sft", "eval_dpo"):
        console.print(f"{name:9s} {result[name]}")
    console.print(f"{'export':9s} {result['export']['output_dir']}")
    timings = ", ".join(f"{k} {v:.0f}s" for k, v in result["timings"].items())
    console.print(f"time: {time.perf_counter() - started:.0f}s ({timings})")
    print_run_summary("dpo", result["dpo"])
    gate = result["gate"]
    if not gate["passed"]:
        _err(f"gate FAILED: {', '.join(gate['failed'])} (JUnit: {gate['junit']})")
        return 1
    console.print(f"gate passed: {gate['checks']} checks (JUnit: {gate['junit']})")
    return 0


# --- align eval and align gate --------------------------------------------------------------


def check_eval_options(config) -> None:
    """Option errors found before any model is loaded."""
    from align.evaluation.run import EvalError

    if config.gguf and config.adapter:
        raise EvalError("--gguf and --adapter: a GGUF file is already merged; give one of them")
    for name in ("limit", "heldout_draws", "max_new_tokens", "batch_size", "pairs_per_type"):
        value = getattr(config, name)
        if value is not None and value < 1:
            raise EvalError(f"--{name.replace('_', '-')} {value}: must be at least 1")
    if config.beta is not None and config.beta <= 0:
        raise EvalError(f"--beta {config.beta}: must be positive")


def run_eval_command(config) -> int:
    from rich.console import Console

    from align.data.io import DataError
    from align.evaluation.backends import BackendError
    from align.evaluation.run import EvalError, run_eval

    console = Console(stderr=True)
    try:
        check_eval_options(config)
        report, paths = run_eval(config, progress=console.print)
    except (EvalError, BackendError, DataError, OutputFolderError) as error:  # + another's lock
        _err(f"error: {error}")
        return 2
    print_report_summary(report)
    print("wrote " + ", ".join(str(p) for p in paths.values()))
    return 0


def print_report_summary(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Rejected-pattern rates ({report['eval_set']['cases']} cases)")
    for column in ("code", "count", "n", "rate", "95% CI"):
        table.add_column(column, justify="left" if column == "code" else "right")
    for code, entry in report["rates"].items():
        low, high = entry["ci95"]
        table.add_row(
            code,
            str(entry["count"]),
            str(entry["n"]),
            f"{100 * (entry['rate'] or 0):.1f}%",
            f"{100 * low:.1f}–{100 * high:.1f}%",
        )
    console = Console()
    console.print(table)
    triage = report["triage"]
    console.print(
        "triage accuracy {:.1%}, RED recall {:.1%}, under-triage {:.1%}, over-triage {:.1%}".format(
            *(
                triage[k]["rate"] or 0
                for k in ("accuracy", "red_recall", "under_triage", "over_triage")
            )
        )
    )


def print_gate_table(checks, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in ("check", "value", "limit", "detail", "result"):
        table.add_column(column, justify="right" if column == "value" else "left")
    for check in checks:
        value = "n/a" if check.value is None else f"{100 * check.value:.1f}%"
        result = "[green]pass[/green]" if check.passed else "[bold red]FAIL[/bold red]"
        table.add_row(check.name, value, check.limit, check.detail, result)
    Console().print(table)


def run_gate(
    report_path: Path | None,
    thresholds_path: Path,
    baseline_path: Path | None,
    junit: Path | None,
    pairs: bool,
    pairs_dir: Path,
    gold: list[Path] | None,
) -> int:
    from align.evaluation.gate import (
        GateInputError,
        check_pairs,
        gate_report_files,
        write_outputs,
    )
    from align.evaluation.report import ReportError

    try:
        if pairs:
            if report_path is not None:
                raise GateInputError("--pairs checks the pair files; give no REPORT with it")
            from align.data.gold import load_gold

            gold_report = load_gold(gold)
            if not gold_report.ok:
                raise GateInputError(f"gold data: {gold_report.problems[0]}")
            checks = check_pairs(pairs_dir, gold_report.records)
            title = f"align gate --pairs ({pairs_dir})"
        else:
            if report_path is None:
                raise GateInputError("give a REPORT (report.json from `align eval`) or --pairs")
            checks = gate_report_files(report_path, thresholds_path, baseline_path)
            title = f"align gate {report_path} ({thresholds_path})"
    except (GateInputError, ReportError) as error:
        _err(f"error: {error}")
        return 2
    print_gate_table(checks, title)
    try:
        write_outputs(checks, junit, title)
    except GateInputError as error:
        _err(f"error: {error}")
        return 2
    failed = [c.name for c in checks if not c.passed]
    if failed:
        _err(f"gate FAILED: {len(failed)} of {len(checks)} checks ({', '.join(failed[:5])})")
        return 1
    print(f"gate passed: {len(checks)} checks")
    return 0
