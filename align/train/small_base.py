"""Issue 8's stand-in base model: a small LFM2 pretrained from scratch on a generated corpus.

LFM2.5-1.2B cannot be downloaded here, so the results in docs/RESULTS.md come from a model
trained on the GPU machine in a few minutes: the toy's recipe (align/train/toy.py: byte-level
BPE with LFM2's specials and chat template, a real ``Lfm2ForCausalLM``, nanoGPT-style
full-parameter training) at about 24M parameters, on tens of thousands of conversations from
the gold generator run with many seeds::

    python -m align.train.small_base --out runs/results/base --device cuda

What the model must never see is kept out of the corpus: every record whose group falls on
the eval side of `align pairs`' split (so no gold-eval scenario core), and every record whose
prompt equals an evaluation prompt (gold eval split and the held-out draws of `align eval`).
The model is saved in bfloat16 (46 MiB) so that it fits the GPU machine's return channel; the
SFT and DPO runs and every evaluation use exactly those weights.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from align.data.generator import generate_gold
from align.data.pairs import PairConfig
from align.train.toy import TOY_CONFIG, TOY_TRAINING

# Every matrix row length stays a multiple of 256 (hidden 512, MLP 1536 after LFM2's 2/3
# adjust of 2304, vocab 8192), so llama.cpp's K-quants apply to every tensor: 23.9M parameters.
SMALL_CONFIG: dict[str, Any] = {
    **TOY_CONFIG,
    "vocab_size": 8192,
    "hidden_size": 512,
    "intermediate_size": 2304,  # -> 1536
    "num_hidden_layers": 6,
    "full_attn_idxs": [1, 3, 5],
    "num_attention_heads": 8,
    "num_key_value_heads": 4,
}
SMALL_TRAINING: dict[str, Any] = {
    **TOY_TRAINING,
    "steps": 1500,
    "batch_size": 64,
    "block_size": 1024,
    "learning_rate": 1e-3,
    "warmup_steps": 100,
    "device": "cuda",
}
# Corpus: the gold generator with these seeds (about 450 records each). Neither the gold seed
# (3407) nor a held-out seed (2718 onwards) is among them.
CORPUS_SEEDS = tuple(range(1, 81))
BUILD_FILE = "small_base_build.json"
LOSS_FILE = "pretrain_losses.json"


def evaluation_prompts(gold: Sequence[str] | None, heldout_draws: int) -> set[str]:
    """The user prompts `align eval --heldout-draws N` judges (its own case list: the gold eval
    split and the held-out draws), which the pretraining corpus must not contain."""
    from align.evaluation.run import EvalConfig, eval_cases

    config = EvalConfig(heldout_draws=heldout_draws)
    if gold is not None:
        config.gold = list(gold)
    gold_cases, heldout = eval_cases(config)
    return {_user_prompt(case.prompt) for case in gold_cases + heldout}


def _user_prompt(messages: Iterable[dict]) -> str:
    return "\n".join(m["content"] for m in messages if m["role"] == "user")


def corpus_records(
    seeds: Iterable[int], excluded_prompts: set[str], pair_config: PairConfig | None = None
) -> tuple[list[dict], dict[str, int]]:
    """Generated records for ``seeds`` on the train side of the pair split whose prompt is not
    an evaluation prompt, and counts of what was kept and left out."""
    pair_config = pair_config or PairConfig()
    kept: list[dict] = []
    counts = {"generated": 0, "eval_group": 0, "eval_prompt": 0}
    for seed in seeds:
        for record in generate_gold(seed):
            counts["generated"] += 1
            if pair_config.split_of(record["group"]) != "train":
                counts["eval_group"] += 1
            elif _user_prompt(record["messages"]) in excluded_prompts:
                counts["eval_prompt"] += 1
            else:
                kept.append(record)
    counts["kept"] = len(kept)
    return kept, counts


def build_small_base(
    out_dir: Path,
    *,
    seeds: Sequence[int] = CORPUS_SEEDS,
    heldout_draws: int = 1,
    settings: dict[str, Any] | None = None,
    gold: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Generate the corpus, train tokenizer and model, save both (bf16) into ``out_dir`` with
    the build record and the per-step losses; return the build record."""
    import torch

    from align.train.toy import (
        build_model,
        build_tokenizer,
        conversation_texts,
        pretrain,
        save_toy,
        tail_mean,
    )

    if out_dir.exists() and any(out_dir.iterdir()):
        raise FileExistsError(f"{out_dir} exists and is not empty")
    settings = {**SMALL_TRAINING, **(settings or {})}
    started = time.perf_counter()
    records, counts = corpus_records(seeds, evaluation_prompts(gold, heldout_draws))
    conversations = [
        [{"role": m["role"], "content": m["content"]} for m in record["messages"]]
        for record in records
    ]
    print(f"small-base: corpus {counts}", file=sys.stderr, flush=True)
    tokenizer = build_tokenizer(conversation_texts(conversations), SMALL_CONFIG["vocab_size"])
    corpus_seconds = time.perf_counter() - started
    model = build_model(settings["seed"], SMALL_CONFIG)
    losses = pretrain(
        model, tokenizer, conversations, settings["steps"], settings, label="small-base"
    )
    train_seconds = time.perf_counter() - started - corpus_seconds
    build = {
        "config": SMALL_CONFIG,
        "training": settings,
        "corpus": {"seeds": list(seeds), "heldout_draws": heldout_draws, **counts},
        "parameters": sum(p.numel() for p in model.parameters()),
        "tokens_trained": settings["steps"] * settings["batch_size"] * settings["block_size"],
        "final_loss": tail_mean(losses),
        "seconds": {
            "corpus_and_tokenizer": round(corpus_seconds, 1),
            "train": round(train_seconds, 1),
        },
        "device": torch.cuda.get_device_name() if model.device.type == "cuda" else "cpu",
        "saved_dtype": "bfloat16",
    }
    # Written next to out_dir and renamed at the end: a failed save leaves no half model.
    partial = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    save_toy(model.to(torch.bfloat16).cpu(), tokenizer, partial, build, info_file=BUILD_FILE)
    (partial / LOSS_FILE).write_text(json.dumps({"loss": losses}) + "\n")
    if out_dir.exists():
        out_dir.rmdir()  # empty: checked before training
    partial.rename(out_dir)
    return build


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="model folder to write")
    parser.add_argument("--device", default=SMALL_TRAINING["device"])
    parser.add_argument("--steps", type=int, default=SMALL_TRAINING["steps"])
    parser.add_argument("--batch-size", type=int, default=SMALL_TRAINING["batch_size"])
    parser.add_argument("--block-size", type=int, default=SMALL_TRAINING["block_size"])
    parser.add_argument("--warmup-steps", type=int, default=SMALL_TRAINING["warmup_steps"])
    parser.add_argument("--seeds", type=int, default=len(CORPUS_SEEDS), help="corpus seeds 1..N")
    parser.add_argument("--heldout-draws", type=int, default=1, help="as `align eval`'s")
    args = parser.parse_args(argv)
    settings = {
        "device": args.device,
        "steps": args.steps,
        "batch_size": args.batch_size,
        "block_size": args.block_size,
        "warmup_steps": args.warmup_steps,
    }
    try:
        build = build_small_base(
            args.out,
            seeds=range(1, args.seeds + 1),
            heldout_draws=args.heldout_draws,
            settings=settings,
        )
    except FileExistsError as error:
        parser.error(f"--out {error}")
    print(
        f"small-base: {build['parameters']:,} parameters, {build['tokens_trained']:,} tokens, "
        f"final loss {build['final_loss']:.3f}, {build['seconds']}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
