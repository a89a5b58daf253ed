"""Prompt sharing on a CUDA GPU: are the log-probs the same? (issue 7's open check)

`align dpo`'s fast path runs each pair's prompt once (`share_prompts`, on by default). The CPU
tests prove it exact in float32/float64 on the toy LFM2; this checks the real path: the
Unsloth backend (`--backend auto` where Unsloth is installed), bf16, SDPA, the LFM2-1.2B shape
(random weights, scripts/bench_dpo.py's base and SFT adapter) and the bench's realistic
lengths. For each batch it computes the summed completion log-probs of every chosen and
rejected row, and the DPO loss, three ways:

- shared: as training runs them (`share_prompts` resolved on);
- apart: chosen and rejected rows run separately (`--share-prompts off`);
- apart, other sub-batches: the same rows apart, each batch run as up to 4 sub-batches of
  similar lengths (`sub_batches = 4`, split wherever it trims padding) instead of one, so the
  kernels see other shapes. Its difference from "apart" is the bf16 noise floor that any
  change of shapes shows (the same sums, added in another order); shared-vs-apart should sit
  at that floor, not above it.

Run on the GPU machine from the project root, carrying .whl/all (scripts/gpu_pack_wheels.sh):
    GPU_CHECK="trl, unsloth_zoo, bitsandbytes" source scripts/gpu_env.sh
    python3 scripts/gpu_check_prompt_sharing.py --out $OUT [--pairs 256] [--batches 8]
Writes --out/prompt-sharing.json and prints a summary.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
from pathlib import Path

import unsloth  # noqa: F401  (first, so that it patches transformers and TRL)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
from bench_dpo import build_adapter, build_base, realistic_lengths, write_pairs  # noqa: E402


def logps_and_losses(trainer, batches: list[dict]) -> tuple[list[float], list[float]]:
    """Summed completion log-probs (chosen rows, then rejected, per batch) and the DPO loss of
    each batch, without gradients."""
    import torch

    logps, losses = [], []
    with torch.no_grad():
        for batch in batches:
            chosen, rejected = trainer._reference_logps(batch)
            logps += chosen.tolist() + rejected.tolist()
            losses.append(float(trainer.compute_loss(trainer.model, batch)))
    return logps, losses


def move_policy_off_the_reference(model) -> None:
    """A small random step on the trainable adapter: at policy == reference every loss is
    log 2 and would compare nothing."""
    import torch

    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for _, param in sorted(model.named_parameters(), key=lambda item: item[0]):
            if param.requires_grad:
                step = torch.randn(param.shape, generator=generator) * 0.02
                param.add_(step.to(param.device, param.dtype))


def differences(a: list[float], b: list[float]) -> dict:
    absolute = [abs(x - y) for x, y in zip(a, b, strict=True)]
    relative = [d / max(abs(x), 1e-6) for d, x in zip(absolute, a, strict=True)]
    return {
        "max_abs": max(absolute),
        "median_abs": statistics.median(absolute),
        "max_rel": max(relative),
        "median_rel": statistics.median(relative),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--work", default="/tmp/align-sharing-check")
    parser.add_argument("--pairs", type=int, default=256)
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    import torch

    from align.train import fast_dpo
    from align.train.config import DPOConfig, build_config
    from align.train.dpo import build_dpo_trainer

    work = Path(args.work)
    if not (work / "base" / "config.json").exists():
        build_base(work / "base")
    if not (work / "sft" / "adapter_config.json").exists():
        build_adapter(work / "base", work / "sft")
    lengths = random.Random(7).sample(realistic_lengths(), args.pairs)
    write_pairs(work / "realistic", lengths, seed=2)
    values = {
        "base_model": str(work / "base"),
        "adapter": str(work / "sft"),
        "pairs": str(work / "realistic"),
        "output_dir": str(work / "out"),
        "batch_size": args.batch_size,
        "grad_accum": 1,
        "max_steps": 1,
        "report_to": "none",
        "max_length": 1024,
        "dtype": "bfloat16",
        "ref_cache_dir": str(work / "ref-cache"),
    }
    trainer, _, _, _ = build_dpo_trainer(build_config(DPOConfig, values), work / "out", "unsloth")
    move_policy_off_the_reference(trainer.model)
    sharing = trainer.align_prompt_sharing
    attention = trainer.accelerator.unwrap_model(trainer.model).config._attn_implementation
    loader = iter(trainer.get_train_dataloader())
    batches = [trainer._prepare_inputs(next(loader)) for _ in range(args.batches)]

    shared = logps_and_losses(trainer, batches)
    trainer.align_prompt_sharing = None
    apart = logps_and_losses(trainer, batches)
    sub_batches, overhead = trainer.align_sub_batches, fast_dpo.SUB_BATCH_OVERHEAD_TOKENS
    trainer.align_sub_batches, fast_dpo.SUB_BATCH_OVERHEAD_TOKENS = 4, 0  # split whenever it trims
    apart_split = logps_and_losses(trainer, batches)
    trainer.align_sub_batches, fast_dpo.SUB_BATCH_OVERHEAD_TOKENS = sub_batches, overhead
    trainer.align_prompt_sharing = sharing

    result = {
        "gpu": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "share_prompts": trainer.align_speed.get("share_prompts"),
        "sharing_tail": None if sharing is None else sharing.tail,
        "attention": attention,
        "length_multiple": trainer.align_length_multiple,
        "sub_batches": sub_batches,
        "rows": len(shared[0]),
        "batches": len(batches),
        "logp_median": statistics.median(shared[0]),
        "shared_vs_apart": differences(apart[0], shared[0]),
        "floor_apart_vs_4_sub_batches": differences(apart[0], apart_split[0]),
        "shared_vs_4_sub_batches": differences(apart_split[0], shared[0]),
        "loss_shared": shared[1],
        "loss_apart": apart[1],
        "loss_apart_4_sub_batches": apart_split[1],
    }
    (args.out / "prompt-sharing.json").write_text(json.dumps(result, indent=1))
    print("RESULT " + json.dumps(result), flush=True)
    return 0 if sharing is not None else 1  # nothing was compared without sharing on


if __name__ == "__main__":
    sys.exit(main())
