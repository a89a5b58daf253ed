"""`align eval`: generate on the evaluation set, score, measure preferences, write a report.

The split mirrors TRL: ``EvalConfig`` holds the options, ``run_eval`` does the work.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from align import __version__
from align.evaluation.report import (
    REPORT_KIND,
    SCHEMA_VERSION,
    ReportError,
    check_same_eval_set,
    compare,
    read_report,
)


class EvalError(ValueError):
    """Bad options or input for `align eval`; the message names the option or file."""


# What `align eval` writes into --out, swapped in as one folder (align.data.atomic).
EVAL_FILES = ("report.json", "report.md", "responses.jsonl", "rates.png")


@dataclass
class EvalConfig:
    base_model: str = "toy"
    adapter: str | None = None
    gguf: str | None = None  # judge a GGUF file with llama.cpp instead of transformers
    dtype: str = "auto"
    gold: list[str] = field(default_factory=lambda: ["preference_data/gold"])
    pairs: str = "preference_data/pairs"
    heldout: bool = True
    heldout_draws: int = 1  # draws of the held-out grid (74 cases each)
    limit: int | None = None  # cases per source (gold eval, held-out), for quick checks
    max_new_tokens: int = 512
    batch_size: int = 16  # docs/BENCHMARKS.md "Evaluation": 5.6x the tokens/s of batch 1
    preference: bool = True
    pairs_per_type: int | None = 32
    reference_adapter: str | None = None  # default: the SFT adapter a DPO run started from
    beta: float | None = None  # default: the DPO run's beta, else 0.1
    baseline: str | None = None
    output_dir: str = "eval/latest"


def eval_cases(config: EvalConfig):
    """The gold eval split (as `align pairs` splits it) plus the held-out set."""
    from align.data.gold import load_gold
    from align.data.pairs import PairConfig
    from align.evaluation.scenarios import gold_eval_cases, heldout_cases

    report = load_gold(config.gold)
    if not report.ok:
        raise EvalError(f"gold data: {report.problems[0]} (run `align data check`)")
    gold = gold_eval_cases(report.records, PairConfig())
    heldout = heldout_cases(draws=config.heldout_draws) if config.heldout else []
    if config.limit is not None:
        gold, heldout = gold[: config.limit], heldout[: config.limit]
    if not gold and not heldout:
        raise EvalError("the evaluation set is empty (no gold eval records, no held-out set)")
    return gold, heldout


def read_eval_pairs(pairs_dir: str) -> list[dict]:
    from align.data.io import DataError, iter_jsonl

    path = Path(pairs_dir) / "eval.jsonl"
    try:
        pairs = [pair for _, pair in iter_jsonl(path)]
    except DataError as error:
        raise EvalError(f"--pairs: {error}") from error
    if not pairs:
        raise EvalError(f"--pairs: {path} has no pairs")
    return pairs


def make_generator(config: EvalConfig):
    from align.evaluation.backends import LlamaCppGenerator, TransformersGenerator

    if config.gguf:
        return LlamaCppGenerator(config.gguf, max_new_tokens=config.max_new_tokens)
    return TransformersGenerator(
        config.base_model,
        config.adapter,
        dtype=config.dtype,
        batch_size=config.batch_size,
        max_new_tokens=config.max_new_tokens,
    )


def measure_preference(config: EvalConfig, generator) -> dict:
    """Preference metrics on the eval pairs with the generator's own model as the policy."""
    from align.evaluation.preference import (
        Reference,
        preference_metrics,
        reference_from_run,
        select_pairs,
    )

    if not config.preference:
        return {"skipped": "--no-preference"}
    if config.gguf:
        return {"skipped": "GGUF backend: log-probs are measured on the transformers model"}
    pairs = select_pairs(read_eval_pairs(config.pairs), config.pairs_per_type)
    reference = reference_from_run(config.adapter)
    if config.reference_adapter:
        beta = config.beta or (reference.beta if reference else 0.1)
        reference = Reference(config.base_model, config.reference_adapter, beta)
    reference_model = None
    if reference is not None:
        from align.evaluation.backends import TransformersGenerator

        reference_model = TransformersGenerator(
            reference.base_model, reference.adapter, dtype=config.dtype
        ).model
    beta = config.beta or (reference.beta if reference else 0.1)
    metrics = preference_metrics(
        generator.model, generator.tokenizer, pairs, reference_model, beta, config.batch_size
    )
    metrics["reference"] = reference.adapter if reference else None
    metrics["beta"] = beta if reference else None
    return metrics


def build_report(config, cases, gold_count, scored, generator, preference, timings) -> dict:
    from align.evaluation.scenarios import eval_set_digest
    from align.evaluation.scoring import finding_rates, triage_metrics
    from align.train.runs import file_sha256

    return {
        "kind": REPORT_KIND,
        "schema_version": SCHEMA_VERSION,
        "align_version": __version__,
        "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "model": {
            "backend": generator.settings["backend"],
            "base_model": None if config.gguf else config.base_model,
            "adapter": None if config.gguf else config.adapter,
            "gguf": config.gguf,
            "gguf_sha256": file_sha256(Path(config.gguf)) if config.gguf else None,
        },
        "decoding": generator.settings,
        "eval_set": {
            "cases": len(cases),
            "gold_eval": gold_count,
            "heldout": len(cases) - gold_count,
            "limit": config.limit,
            "digest": eval_set_digest(cases),
        },
        "rates": finding_rates(scored),
        "triage": triage_metrics(scored),
        "preference": preference,
        "generation": {
            "responses": generator.stats.responses,
            "new_tokens": generator.stats.new_tokens,
            "seconds": round(generator.stats.seconds, 3),
            "tokens_per_second": round(generator.stats.tokens_per_second, 2),
        },
        "timings": {k: round(v, 3) for k, v in timings.items()},
        "config": asdict(config),
    }


def run_eval(config: EvalConfig, progress=print) -> tuple[dict, dict[str, Path]]:
    """Generate, score, measure, compare and write; returns (report, written paths).

    The files are built in a folder beside ``output_dir`` and swapped in whole under
    ``<output_dir>.lock`` (``align.data.atomic``): a second eval into the same folder is
    refused naming the lock, an interrupted one is repaired on the next start, and a folder
    holding files eval does not write is refused (OutputFolderError) before any model loads."""
    from align.data.atomic import atomic_folder, check_output_folder, write_file
    from align.data.io import dumps_line, json_safe
    from align.evaluation.report import report_markdown, write_rates_chart
    from align.evaluation.scoring import score

    out = Path(config.output_dir)
    # Earlier reports are replaced (eval always did); checked again under the lock.
    check_output_folder(out, overwrite=True, owns=EVAL_FILES)
    baseline = None
    if config.baseline:
        try:
            baseline = read_report(config.baseline)
        except ReportError as error:
            raise EvalError(f"--baseline {error}") from error
    timings = {}
    started = time.perf_counter()
    gold, heldout = eval_cases(config)
    cases = gold + heldout
    if baseline is not None:  # before any model is loaded: a mismatch wastes no generation
        from align.evaluation.scenarios import eval_set_digest

        this_set = {"eval_set": {"cases": len(cases), "digest": eval_set_digest(cases)}}
        try:
            check_same_eval_set(this_set, baseline, config.baseline)
        except ReportError as error:
            raise EvalError(f"--baseline {error}") from error
    progress(f"{len(cases)} cases ({len(gold)} gold eval, {len(heldout)} held-out)")
    generator = make_generator(config)
    timings["load"] = time.perf_counter() - started

    started = time.perf_counter()
    responses = generator.generate([case.prompt for case in cases])
    timings["generate"] = time.perf_counter() - started
    progress(
        f"generated {generator.stats.new_tokens} tokens in {generator.stats.seconds:.1f} s "
        f"({generator.stats.tokens_per_second:.1f} tokens/s)"
    )

    started = time.perf_counter()
    scored = [
        score(case.id, response, case.scenario, case.expected_triage)
        for case, response in zip(cases, responses, strict=True)
    ]
    timings["score"] = time.perf_counter() - started

    started = time.perf_counter()
    preference = measure_preference(config, generator)
    timings["preference"] = time.perf_counter() - started

    report = build_report(config, cases, len(gold), scored, generator, preference, timings)
    if config.gguf:
        generator.close()  # after build_report, which reads its settings from the model
    if baseline is not None:
        report["baseline"] = {"path": config.baseline, "deltas": compare(report, baseline)}

    lines = [
        dumps_line(
            {
                "id": case.id,
                "source": case.source,
                "scenario": case.scenario,
                "expected_triage": case.expected_triage,
                "response": response,
                "findings": json_safe(list(s.findings)),  # numbers read from the answer
            }
        )
        for case, response, s in zip(cases, responses, scored, strict=True)
    ]
    texts = {
        # A NaN margin is written as "nan", which `align gate` refuses by name.
        "report.json": json.dumps(json_safe(report), indent=2, allow_nan=False) + "\n",
        "report.md": report_markdown(report),
        "responses.jsonl": "".join(lines),
    }
    with atomic_folder(out, overwrite=True, owns=EVAL_FILES) as folder:
        write_rates_chart(report, folder / "rates.png")
        for name, text in texts.items():
            write_file(folder / name, text)
    paths = {
        "json": out / "report.json",
        "markdown": out / "report.md",
        "responses": out / "responses.jsonl",
        "chart": out / "rates.png",
    }
    return report, paths
