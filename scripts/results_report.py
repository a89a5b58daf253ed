"""Issue 8: the tables and training curves of docs/RESULTS.md, from the run folders that
scripts/gpu_results*.sh and scripts/results_local.sh leave under runs/.

    .venv/bin/python scripts/results_report.py            # -> docs/results/issue8/

Writes tables.md (every rate with its Wilson 95% interval, per model and per pretraining
budget), curves.png and sweep_curves.png (pretraining, SFT and DPO losses, DPO reward
accuracy and margins), and a copy of every report.json it read (reports/<run>-<model>.json),
so the numbers in RESULTS.md can be checked without the models.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from align.data.perturb import REQUIRED_PERTURBATIONS as REQUIRED
from align.evaluation.gate import RATE_NAMES

# Every rate of the report, the three codes the issue targets first.
CODES = (*REQUIRED, *(name for name in RATE_NAMES if name not in REQUIRED))
TRIAGE = ("accuracy", "under_triage", "over_triage", "red_recall")
# (run folder, label) of the main results, in table order.
MAIN_MODELS = (
    ("sft", "1. SFT adapter"),
    ("dpo", "2. after DPO (full mix)"),
    ("dpo-required", "ablation: DPO, 3 required perturbations"),
    ("merged-cpu", "merged bf16 (CPU)"),
    ("q4km", "3. GGUF Q4_K_M (llama.cpp, CPU)"),
)
SWEEP_MODELS = (("sft", "SFT"), ("dpo", "DPO full"), ("dpo-required", "DPO 3 required"))


def read_report(run: Path, model: str) -> dict | None:
    path = run / "eval" / model / "report.json"
    return json.loads(path.read_text()) if path.is_file() else None


def cell(metric: dict) -> str:
    low, high = metric["ci95"]
    return f"{100 * metric['rate']:.1f} ({100 * low:.1f}–{100 * high:.1f})"


def rates_table(rows: list[tuple[str, dict]]) -> str:
    """Codes down, models across: rate % (Wilson 95% interval)."""
    lines = ["| metric | " + " | ".join(label for label, _ in rows) + " |"]
    lines.append("|---|" + "---:|" * len(rows))
    for code in CODES:
        lines.append(f"| `{code}` | " + " | ".join(cell(r["rates"][code]) for _, r in rows) + " |")
    for name in TRIAGE:
        lines.append(
            f"| triage {name} | " + " | ".join(cell(r["triage"][name]) for _, r in rows) + " |"
        )
    return "\n".join(lines)


def change_table(baseline: dict, rows: list[tuple[str, dict]]) -> str:
    """Points and relative change of every code against ``baseline`` (the SFT adapter)."""
    lines = ["| code | SFT | " + " | ".join(label for label, _ in rows) + " |"]
    lines.append("|---|---:|" + "---:|" * len(rows))
    for code in CODES[:-1]:
        before = baseline["rates"][code]["rate"]
        cells = []
        for _, report in rows:
            after = report["rates"][code]["rate"]
            points = 100 * (after - before)
            relative = f", {100 * (after - before) / before:+.0f}%" if before > 0 else ""
            cells.append(f"{100 * after:.1f} ({points:+.1f} pt{relative})")
        mark = " (target: halve)" if code in REQUIRED else ""
        lines.append(f"| `{code}`{mark} | {100 * before:.1f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def confusion_table(report: dict) -> str:
    confusion = report["triage"]["confusion"]
    stated = ("RED", "YELLOW", "GREEN", "BLACK", "NONE")
    lines = ["| expected \\ stated | " + " | ".join(stated) + " |", "|---|" + "---:|" * 5]
    for expected, row in confusion.items():
        lines.append(f"| {expected} | " + " | ".join(str(row.get(s, 0)) for s in stated) + " |")
    return "\n".join(lines)


def log_series(run_dir: Path, key: str) -> tuple[list[int], list[float]]:
    history = json.loads((run_dir / "metrics.json").read_text())["log_history"]
    points = [(e["step"], e[key]) for e in history if key in e and "train_runtime" not in e]
    return [s for s, _ in points], [v for _, v in points]


def plot_curves(runs: dict[str, Path], out: Path, title: str) -> None:
    """Pretraining loss, SFT loss, DPO loss and reward accuracy/margin for each run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    for name, run in runs.items():
        losses = json.loads((run / "base/pretrain_losses.json").read_text())["loss"]
        axes[0][0].plot(range(1, len(losses) + 1), losses, label=name, linewidth=0.8)
        axes[0][1].plot(*log_series(run / "sft", "loss"), label=name, linewidth=0.8)
        for variant, style in (("dpo", "-"), ("dpo-required", "--")):
            if (run / variant / "metrics.json").is_file():
                label = f"{name} {variant}"
                axes[1][0].plot(*log_series(run / variant, "loss"), style, label=label)
                axes[1][1].plot(*log_series(run / variant, "rewards/margins"), style, label=label)
    axes[0][0].set(title="pretraining loss (from scratch)", xlabel="step", yscale="log")
    axes[0][1].set(title="align sft: train loss", xlabel="step")
    axes[1][0].set(title="align dpo: train loss (sigmoid + SFT term)", xlabel="step")
    axes[1][1].set(title="align dpo: reward margin (chosen - rejected)", xlabel="step")
    for ax in axes.flat:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, default=Path("runs"))
    parser.add_argument("--out", type=Path, default=Path("docs/results/issue8"))
    args = parser.parse_args()
    main_run = args.runs / "results"
    sweep = {f"{steps} steps": args.runs / "sweep" / f"steps-{steps}" for steps in (60, 150, 400)}
    sweep["1500 steps"] = main_run
    replicate = args.runs / "mix/steps-150"
    (args.out / "reports").mkdir(parents=True, exist_ok=True)

    sections = []
    rows = [(label, read_report(main_run, m)) for m, label in MAIN_MODELS]
    rows = [(label, r) for label, r in rows if r is not None]
    sft = rows[0][1]
    sections += ["## Main results (base pretrained 1,500 steps)", rates_table(rows)]
    sections += ["### Against the SFT adapter", change_table(sft, rows[1:])]
    sections += ["### Triage confusion", *(f"{label}\n\n{confusion_table(r)}" for label, r in rows)]
    for budget, run in [*sweep.items(), ("150 steps, replicate", replicate)]:
        reports = [(label, read_report(run, m)) for m, label in SWEEP_MODELS]
        reports = [(label, r) for label, r in reports if r is not None]
        if not reports:
            continue
        sections += [f"## Base pretrained {budget}", change_table(reports[0][1], reports[1:])]
        sections += [
            "Triage accuracy / under / over / RED recall: "
            + "; ".join(
                f"{label} " + " / ".join(f"{100 * r['triage'][n]['rate']:.1f}" for n in TRIAGE)
                for label, r in reports
            ),
            *(f"{label}\n\n{confusion_table(r)}" for label, r in reports),
        ]
    for tag, run in [*sweep.items(), ("150 steps replicate", replicate)]:
        for model in sorted(p.name for p in (run / "eval").glob("*")):
            name = f"{tag.replace(' ', '-')}-{model}.json"
            shutil.copy(run / "eval" / model / "report.json", args.out / "reports" / name)
    (args.out / "tables.md").write_text("\n\n".join(sections) + "\n")
    plot_curves({"1500 steps": main_run}, args.out / "curves.png", "Base pretrained 1,500 steps")
    plot_curves(
        {k: v for k, v in sweep.items() if (v / "base/pretrain_losses.json").is_file()},
        args.out / "sweep_curves.png",
        "Pretraining budget sweep (same corpus, SFT and DPO settings)",
    )
    print(f"wrote {args.out}/tables.md, curves.png, sweep_curves.png, reports/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
