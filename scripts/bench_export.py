"""Export benchmark on the LFM2-1.2B shape: merge + f16 GGUF + Q4_K_M, wall time and peak memory
per step, and Q4_K_M generation tokens/s with 2 threads.

The Hub is unreachable here, so the model is built locally: LiquidAI/LFM2.5-1.2B-Instruct's
architecture (the LFM2-1.2B config: hidden 2048, 16 layers of which 6 attention, MLP 8192 after
auto-adjust, 32 heads / 8 KV heads, vocabulary 65,536, tied embeddings) with random bf16 weights,
the toy BPE tokenizer in the 65,536-row embedding, and a random LoRA adapter (r=16, the 8 target
modules) standing in for a trained one.

    .venv/bin/python scripts/bench_export.py [--work /tmp/align-bench-export] [--verify]

Each step runs in a fresh Python process so that its peak RSS is its own. Prints one JSON line
per step and a summary line. Not a test: the figures go to docs/BENCHMARKS.md "Export".
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

THREADS = 2
GENERATED_TOKENS = 64


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def build(work: Path) -> dict:
    """The base folder (random bf16 weights) and a random LoRA adapter, once."""
    import torch
    from peft import LoraConfig, get_peft_model

    from align.train.config import LFM2_1_2B, LORA_TARGETS
    from align.train.toy import (
        build_model,
        build_tokenizer,
        conversation_texts,
        load_conversations,
        save_toy,
    )

    base, adapter = work / "base", work / "adapter"
    if (adapter / "adapter_model.safetensors").is_file():
        return {"step": "build", "skipped": "already built"}
    tokenizer = build_tokenizer(conversation_texts(load_conversations()))
    ids = dict(
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    model = build_model(0, {**LFM2_1_2B, **ids}).to(torch.bfloat16)
    parameters = sum(p.numel() for p in model.parameters())
    # save_toy also writes block_ff_dim into config.json, as the real LFM2 config.json has it.
    save_toy(model, tokenizer, base, {"parameters": parameters}, info_file="bench_build.json")
    lora = LoraConfig(
        r=16, lora_alpha=16, target_modules=list(LORA_TARGETS), init_lora_weights=False
    )
    peft_model = get_peft_model(model, lora)
    with torch.no_grad():  # a trained adapter's scale, not init_lora_weights=False's
        for name, parameter in peft_model.named_parameters():
            if "lora_B" in name:
                parameter.mul_(0.01)
    peft_model.save_pretrained(adapter)
    return {"step": "build", "parameters": parameters}


def step_merge(work: Path) -> dict:
    from align.export.merge import merge_adapter

    report = merge_adapter(
        str(work / "base"), str(work / "adapter"), work / "merged", dtype="bf16", overwrite=True
    )
    return {"merge_error": report["merge_error"], "adapter_effect": report["adapter_effect"]}


def step_convert(work: Path) -> dict:
    from align.export.gguf import convert_to_gguf

    path = convert_to_gguf(work / "merged", work / "lfm2-1.2b-F16.gguf", "f16")
    return {"size_mib": round(path.stat().st_size / 2**20, 1)}


def step_quantize(work: Path) -> dict:
    from align.export.quantize import quantize_gguf

    path = quantize_gguf(
        work / "lfm2-1.2b-F16.gguf", work / "lfm2-1.2b-Q4_K_M.gguf", "Q4_K_M", threads=THREADS
    )
    return {"size_mib": round(path.stat().st_size / 2**20, 1)}


def step_generate(work: Path) -> dict:
    """Greedy generation with llama.cpp, 2 threads: prompt time and decode tokens/s."""
    from llama_cpp import Llama
    from transformers import AutoTokenizer

    from align.export.common import CHECK_CONVERSATIONS, chat_ids, require_llama_cpp

    require_llama_cpp()
    prompt = chat_ids(AutoTokenizer.from_pretrained(work / "merged"), CHECK_CONVERSATIONS[1])
    llm = Llama(
        model_path=str(work / "lfm2-1.2b-Q4_K_M.gguf"),
        n_ctx=512,
        n_threads=THREADS,
        n_threads_batch=THREADS,
        verbose=False,
    )
    started = time.perf_counter()
    first = None
    count = 0
    for _ in llm.generate(prompt, top_k=1, temp=0.0):
        count += 1
        if first is None:
            first = time.perf_counter()
        if count == GENERATED_TOKENS:
            break
    ended = time.perf_counter()
    llm.close()
    return {
        "prompt_tokens": len(prompt),
        "prompt_s": round(first - started, 2),
        "decode_tokens_per_s": round((count - 1) / (ended - first), 1),
    }


def step_verify(work: Path) -> dict:
    from align.export.verify import verify_exports

    report = verify_exports(
        work / "merged",
        [work / "lfm2-1.2b-F16.gguf", work / "lfm2-1.2b-Q4_K_M.gguf"],
        threads=THREADS,
        max_new_tokens=16,
        require_stop=False,  # random weights never end a turn
    )
    return {
        entry["file"]: {
            "bits_per_weight": entry["bits_per_weight"],
            "mean_cosine": entry["checks"]["logits"].get("mean_cosine"),
            "min_cosine": entry["checks"]["logits"].get("min_cosine"),
            "checks_passed": entry["passed"],
        }
        for entry in report["files"]
    }


STEPS = {
    "build": build,
    "merge": step_merge,
    "convert": step_convert,
    "quantize": step_quantize,
    "generate": step_generate,
    "verify": step_verify,
}


def run_step(name: str, work: Path) -> dict:
    """One step in this process: its result, wall time and peak RSS."""
    started = time.perf_counter()
    result = STEPS[name](work)
    result = {"step": name, **result} if "step" not in result else result
    result["wall_s"] = round(time.perf_counter() - started, 1)
    result["peak_rss_mib"] = round(peak_rss_mib())
    return result


def run_in_child(name: str, work: Path) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--work", str(work), "--step", name],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"step {name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/align-bench-export"))
    parser.add_argument("--step", choices=sorted(STEPS), help="run one step in this process")
    parser.add_argument("--verify", action="store_true", help="also run the GGUF checks")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.step:
        print(json.dumps(run_step(args.step, args.work)), flush=True)
        return 0
    steps = ["build", "merge", "convert", "quantize", "generate"]
    steps += ["verify"] if args.verify else []
    results = {}
    for name in steps:
        results[name] = run_in_child(name, args.work)
        print(json.dumps(results[name]), flush=True)
    export = ("merge", "convert", "quantize")
    print(
        json.dumps(
            {
                "summary": "merge + f16 GGUF + Q4_K_M",
                "wall_s": round(sum(results[s]["wall_s"] for s in export), 1),
                "peak_rss_mib": max(results[s]["peak_rss_mib"] for s in export),
                "q4_k_m_decode_tokens_per_s": results["generate"]["decode_tokens_per_s"],
                "threads": THREADS,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
