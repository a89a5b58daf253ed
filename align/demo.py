"""`align demo`: the whole pipeline offline on the embedded toy default, in minutes on a CPU.

gold -> pairs -> toy base -> SFT adapter -> DPO adapter (later issues append eval, the CI gate,
export and a publish dry run). Each step is the same code the individual commands run; the
training settings are the committed configs/demo-*.toml.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

CONFIGS = Path("configs")


@dataclass
class DemoSettings:
    sft_config: Path = CONFIGS / "demo-sft.toml"
    dpo_config: Path = CONFIGS / "demo-dpo.toml"
    overrides: dict = field(default_factory=dict)  # e.g. {"max_steps": 2} for a quick run


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
    paths = write_pairs(pair_set, "preference_data/pairs", files)
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
    return {
        "pairs": paths,
        "toy_base": base,
        "sft": sft_folder,
        "dpo": dpo_folder,
        "timings": timings,
    }


def _only(config_class, overrides: dict) -> dict:
    from align.train.config import field_names

    names = set(field_names(config_class))
    return {k: v for k, v in overrides.items() if k in names}
