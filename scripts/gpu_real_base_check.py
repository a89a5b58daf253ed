"""The real-base path on a CUDA GPU, without the Hub: `align sft` and `align dpo` (transformers+PEFT
and Unsloth backends) on a locally built model with the LFM2-1.2B config (random weights).

Run on the GPU machine (see shared/gpu/README.md for the wheels) from the project root:
    python3 scripts/gpu_real_base_check.py --out $OUT
Prints one JSON summary line per run and writes the runs' metrics and manifests under --out.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path


def build_base(folder: Path) -> None:
    """LFM2-1.2B shape, random bf16 weights, the toy BPE tokenizer (65,536-row embedding)."""
    import torch
    from transformers import Lfm2Config, Lfm2ForCausalLM

    from align.train.config import LFM2_1_2B
    from align.train.toy import build_tokenizer, conversation_texts, load_conversations

    tokenizer = build_tokenizer(conversation_texts(load_conversations()))
    config = Lfm2Config(
        **LFM2_1_2B,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = Lfm2ForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    print(f"built {sum(p.numel() for p in model.parameters()) / 1e9:.2f} B parameters", flush=True)


def align_run(kind: str, flags: dict) -> tuple[int, float, str]:
    """`align sft`/`align dpo` with these options, in a fresh process (as the CLI does, minus
    Typer's argument parsing: typer needs pydantic, which the GPU image lacks)."""
    code = (
        "import json, sys; from align.commands import run_training; "
        "sys.exit(run_training(sys.argv[1], None, json.loads(sys.argv[2])))"
    )
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", code, kind, json.dumps(flags)],
        capture_output=True,
        text=True,
        env={**os.environ, "TQDM_DISABLE": "1"},
    )
    return result.returncode, time.perf_counter() - started, result.stdout + result.stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=Path("/tmp/align-gpu"))
    parser.add_argument("--dpo-steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    base = args.work / "lfm2-1.2b"
    if not (base / "config.json").exists():
        build_base(base)
    common = {
        "base_model": str(base),
        "dtype": "bfloat16",
        "report_to": "none",
        "overwrite": True,
        "batch_size": args.batch_size,
        "grad_accum": 1,
        "max_length": 1024,
        "logging_steps": 5,
        "save_steps": 1000,
    }
    runs = [
        (
            "sft",
            "sft",
            {
                **common,
                "backend": "transformers",
                "max_steps": 20,
                "output_dir": str(args.work / "sft"),
            },
        )
    ]
    for backend in ("transformers", "unsloth"):
        runs.append(
            (
                f"dpo-{backend}",
                "dpo",
                {
                    **common,
                    "backend": backend,
                    "adapter": str(args.work / "sft"),
                    "max_steps": args.dpo_steps,
                    "learning_rate": 5e-5,
                    "max_eval_pairs": 16,
                    "eval_steps": 1000,
                    "gradient_checkpointing": True,
                    "output_dir": str(args.work / f"dpo-{backend}"),
                },
            )
        )
    status = 0
    for name, kind, flags in runs:
        code, seconds, output = align_run(kind, flags)
        (args.out / f"{name}.log").write_text(output)
        summary = {"run": name, "exit": code, "seconds": round(seconds, 1)}
        folder = args.work / name
        if code == 0:
            metrics = json.loads((folder / "metrics.json").read_text())["final"]
            manifest = json.loads((folder / "manifest.json").read_text())
            shutil.copy(folder / "metrics.json", args.out / f"{name}-metrics.json")
            shutil.copy(folder / "manifest.json", args.out / f"{name}-manifest.json")
            summary.update(
                steps=metrics["global_step"],
                train_loss=round(metrics["train_loss"], 4),
                samples_per_second=metrics.get("train_samples_per_second"),
                backend=metrics.get("backend"),
                reference_check=metrics.get("reference_check"),
                per_perturbation={
                    k: v.get("reward_accuracy")
                    for k, v in (metrics.get("per_perturbation") or {}).items()
                },
                packages={k: v for k, v in manifest["packages"].items() if v},
                gpus=manifest["hardware"].get("gpus"),
            )
        else:
            status = 1
            summary["tail"] = output[-1500:]
        print("RESULT " + json.dumps(summary), flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
