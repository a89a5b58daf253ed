"""`align demo`: the whole pipeline offline on the embedded toy default, in minutes on a CPU.

gold -> pairs -> toy base -> SFT adapter -> DPO adapter -> eval of both (the SFT report is the
baseline) -> the CI gate -> export to GGUF (Q4_K_M, Q8_0), verified -> a publish dry run.
Each step is the same code the individual commands run; the training settings are the
committed configs/demo-*.toml and the gate's thresholds configs/gate-toy.toml (the toy
model's own bars, docs/BENCHMARKS.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

CONFIGS = Path("configs")
DEMO_DIR = Path("checkpoints/demo")


@dataclass
class DemoSettings:
    sft_config: Path = CONFIGS / "demo-sft.toml"
    dpo_config: Path = CONFIGS / "demo-dpo.toml"
    overrides: dict = field(default_factory=dict)  # e.g. {"max_steps": 2} for a quick run
    thresholds: Path = CONFIGS / "gate-toy.toml"
    eval_limit: int | None = None  # cases per eval source; None: the whole eval set
    max_new_tokens: int = 512
    export_quants: tuple[str, ...] = ("Q4_K_M", "Q8_0")
    require_stop: bool = True  # export check: the toy's greedy answer must end its turn


class DemoError(RuntimeError):
    pass


def _step(console, number: int, title: str) -> float:
    console.rule(f"[bold]{number}. {title}")
    return time.perf_counter()


def run_demo(settings: DemoSettings, console) -> dict:
    """Run every step, stop at the first failure; return the paths and the DPO summary."""
    from align.data.gold import gold_files, load_gold
    from align.data.pairs import PairConfig, build_pairs, gold_file_entries, write_pairs
    from align.train.config import DPOConfig, SFTConfig, build_config, load_config_file

    timings = {}
    started = _step(console, 1, "gold data")
    report = load_gold()
    if not report.ok:
        raise DemoError(
            f"gold data has problems, first: {report.problems[0]} (run `align data check`)"
        )
    console.print(f"{len(report.records)} gold records valid")
    timings["gold"] = time.perf_counter() - started

    started = _step(console, 2, "preference pairs")
    pair_set = build_pairs(report.records, PairConfig())
    if not pair_set.closed:
        raise DemoError(f"closed loop broken: {pair_set.violations[0]}")
    files = gold_file_entries(report.records, gold_files())
    # The demo regenerates the committed pairs: replacing them is its job.
    paths = write_pairs(pair_set, "preference_data/pairs", files, overwrite=True)
    console.print(f"{sum(len(s) for s in pair_set.splits.values())} pairs, closed loop holds")
    timings["pairs"] = time.perf_counter() - started

    started = _step(console, 3, "toy base model")
    from align.train.toy import ensure_toy_base

    base = ensure_toy_base()
    console.print(f"toy base: {base}")
    timings["toy_base"] = time.perf_counter() - started

    started = _step(console, 4, "SFT adapter")
    from align.train.sft import run_sft

    sft_values = {**load_config_file(settings.sft_config), **_only(SFTConfig, settings.overrides)}
    sft_folder = run_sft(build_config(SFTConfig, sft_values, source=str(settings.sft_config)))
    timings["sft"] = time.perf_counter() - started

    started = _step(console, 5, "DPO adapter")
    from align.train.dpo import run_dpo

    dpo_values = {
        **load_config_file(settings.dpo_config),
        **_only(DPOConfig, settings.overrides),
        "adapter": str(sft_folder),
    }
    dpo_folder = run_dpo(build_config(DPOConfig, dpo_values, source=str(settings.dpo_config)))
    timings["dpo"] = time.perf_counter() - started

    started = _step(console, 6, "evaluation: SFT adapter (the baseline)")
    sft_eval = _evaluate(settings, sft_folder, DEMO_DIR / "eval-sft", None, console)
    timings["eval_sft"] = time.perf_counter() - started

    started = _step(console, 7, "evaluation: DPO adapter against the SFT baseline")
    dpo_eval = _evaluate(settings, dpo_folder, DEMO_DIR / "eval-dpo", sft_eval, console)
    timings["eval_dpo"] = time.perf_counter() - started

    started = _step(console, 8, f"CI gate ({settings.thresholds})")
    gate = _gate(settings, dpo_eval, sft_eval, console)
    timings["gate"] = time.perf_counter() - started

    started = _step(console, 9, "export: merged model and GGUF, verified")
    export = _export(settings, dpo_folder, console)
    timings["export"] = time.perf_counter() - started

    started = _step(console, 10, "publish dry run (nothing is uploaded)")
    publish = _publish_dry_run(settings, dpo_folder, export, dpo_eval, sft_eval, console)
    timings["publish"] = time.perf_counter() - started
    return {
        "pairs": paths,
        "toy_base": base,
        "sft": sft_folder,
        "dpo": dpo_folder,
        "eval_sft": sft_eval,
        "eval_dpo": dpo_eval,
        "gate": gate,
        "export": export,
        "publish_dry_run": publish,
        "timings": timings,
    }


def _evaluate(settings: DemoSettings, adapter, out: Path, baseline: Path | None, console) -> Path:
    """`align eval` of one adapter; returns its report.json."""
    from align.commands import print_report_summary
    from align.evaluation.run import EvalConfig, run_eval

    config = EvalConfig(
        adapter=str(adapter),
        limit=settings.eval_limit,
        max_new_tokens=settings.max_new_tokens,
        baseline=str(baseline) if baseline else None,
        output_dir=str(out),
    )
    report, paths = run_eval(config, progress=console.print)
    print_report_summary(report)
    return paths["json"]


def _gate(settings: DemoSettings, report_path: Path, baseline_path: Path, console) -> dict:
    """`align gate` on the DPO report against the SFT one; the verdict, JUnit written."""
    from align.commands import print_gate_table
    from align.evaluation.gate import gate_report_files, write_outputs

    checks = gate_report_files(report_path, settings.thresholds, baseline_path)
    title = f"align gate {report_path} ({settings.thresholds})"
    print_gate_table(checks, title)
    junit = DEMO_DIR / "gate-junit.xml"
    write_outputs(checks, junit, title)
    failed = [check.name for check in checks if not check.passed]
    return {"passed": not failed, "checks": len(checks), "failed": failed, "junit": junit}


def _export(settings: DemoSettings, adapter: Path, console) -> dict:
    """`align export` of the DPO adapter: merged folder, GGUF files, verification report."""
    from align.export.command import summary_lines
    from align.export.pipeline import ExportConfig, export_model

    config = ExportConfig(
        adapter=str(adapter),
        output_dir=str(DEMO_DIR / "export"),
        quants=list(settings.export_quants),
        name="align-demo",
        overwrite=True,
        require_stop=settings.require_stop,
    )
    report = export_model(config, progress=console.print)
    for line in summary_lines(report):
        console.print(line)
    if not report["passed"]:
        raise DemoError(f"export verification failed: see {report['output_dir']}")
    return report


def _only(config_class, overrides: dict) -> dict:
    from align.train.config import field_names

    names = set(field_names(config_class))
    return {k: v for k, v in overrides.items() if k in names}


def _publish_dry_run(
    settings: DemoSettings, adapter: Path, export: dict, report: Path, baseline: Path, console
) -> int:
    """`align publish --dry-run` on the demo's folders: the plan and the cards, no upload.
    1 means the safety rails would refuse (a failing gate); other failures stop the demo."""
    from align.hub.command import publish_dry_run

    status = publish_dry_run(
        adapter=adapter,
        export=export["output_dir"],
        eval_report=report,
        baseline=baseline,
        thresholds=settings.thresholds,
        say=lambda text: console.print(text, markup=False, highlight=False),
    )
    if status not in (0, 1):
        raise DemoError(f"publish dry run failed (exit {status}); see the message above")
    return status
