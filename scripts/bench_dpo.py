"""DPO speed on one GPU, side by side (issue 7): plain TRL + PEFT, the best Unsloth recipe and
`align dpo` with its CUDA defaults, on the same data, on an LFM2-1.2B-shaped model (random
weights: speed does not depend on weight values).

Workloads: (a) "uniform": every sequence 448 tokens (prompt 128 + completion 320);
(b) "realistic": prompt, chosen and rejected lengths of preference_data/pairs/train.jsonl
(align data check's token estimate), so lengths vary as in real data.

Run on the GPU machine from the project root (scripts/gpu_bench_dpo.sh installs the wheels):
    python3 scripts/bench_dpo.py --out $OUT
Each contender runs in its own process (Unsloth patches TRL on import). Printed and written to
--out/results.json per run: tokens/s (chosen + rejected sequences, prompt included, padding
excluded), pairs/s, peak GPU memory (allocated, training only), MFU, step times.

FLOPs counted per processed (non-padding) token, N = base parameters (1.17 B, the tied
embedding once, as the LM head): "mfu" follows the issue's convention, 6N for the policy
(forward 2N + backward through the activations 2N + the recomputation of gradient
checkpointing 2N, counted whether or not it runs) plus 2N when the reference runs live;
"mfu_model" counts only the model work, 4N (+2N live reference); LoRA's own products (~1 %)
and attention scores (~1 %) are left out. The peak is a bf16 matrix product measured at the
start of the job.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the GPU machine runs this from a checkout, align not installed
from align.train.config import LFM2_1_2B, LORA_TARGETS  # noqa: E402

TARGETS = list(LORA_TARGETS)
# PEFT full-matches a string against module names: every module whose last name is a target
UNSLOTH_TARGET_REGEX = r".*\.(?:" + "|".join(TARGETS) + ")"
SPECIALS = ["<|pad|>", "<|startoftext|>", "<|endoftext|>", "<|im_start|>", "<|im_end|>"]
SPECIALS += ["system", "user", "assistant"]


# --- preparation (once per job) ------------------------------------------------------------------


def build_tokenizer():
    """A word-level tokenizer ("w123" = one token) so that sequence lengths are exact; the chat
    template renders a turn as 3 tokens + its words."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(SPECIALS)}
    for i in range(65536 - len(SPECIALS)):
        vocab[f"w{i}"] = len(vocab)
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<|pad|>"))
    tk.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tk.decoder = decoders.WordPiece(prefix="##")
    tok = PreTrainedTokenizerFast(
        tokenizer_object=tk,
        pad_token="<|pad|>",
        bos_token="<|startoftext|>",
        eos_token="<|im_end|>",
        additional_special_tokens=["<|im_start|>", "<|im_end|>"],
    )
    tok.chat_template = (
        "{% for m in messages %}<|im_start|> {{ m['role'] }} {{ m['content'] }} <|im_end|> "
        "{% endfor %}{% if add_generation_prompt %}<|im_start|> assistant {% endif %}"
    )
    return tok


def build_base(folder: Path) -> None:
    """LFM2-1.2B config, random bf16 weights, the word-level tokenizer."""
    import torch
    from transformers import Lfm2Config, Lfm2ForCausalLM

    tok = build_tokenizer()
    config = Lfm2Config(**LFM2_1_2B, pad_token_id=0, bos_token_id=1, eos_token_id=4)
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = Lfm2ForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)


def build_adapter(base: Path, folder: Path) -> None:
    """A random (non-identity) LoRA SFT adapter, r=16 alpha=16 on the 8 LFM2 modules."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.bfloat16)
    lora = LoraConfig(r=16, lora_alpha=16, lora_dropout=0.0, target_modules=TARGETS,
                      task_type="CAUSAL_LM")  # fmt: skip
    model = get_peft_model(model, lora)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 1e-3)
    model.save_pretrained(folder)


def realistic_lengths() -> list[tuple[int, int, int]]:
    """(prompt, chosen, rejected) token lengths of the committed train pairs, as the chat
    template counts them (align data check's estimator: pieces + 5 per message)."""
    from align.data.gold import estimate_tokens

    out = []
    for line in (ROOT / "preference_data/pairs/train.jsonl").read_text().splitlines():
        pair = json.loads(line)
        prompt = estimate_tokens(pair["prompt"]) + 3  # + "<|im_start|>assistant\n"
        chosen = estimate_tokens(pair["chosen"]) - 3  # its text + "<|im_end|>\n"
        rejected = estimate_tokens(pair["rejected"]) - 3
        out.append((prompt, chosen, rejected))
    return out


def write_pairs(folder: Path, lengths: list[tuple[int, int, int]], seed: int) -> dict:
    """Pairs whose rendered prompt has exactly P tokens and completions C tokens (EOS included)."""
    rng = random.Random(seed)

    def words(n):
        return " ".join(f"w{rng.randrange(60000)}" for _ in range(n))

    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for p, c, r in lengths:
        rows.append(
            {
                "prompt": [{"role": "user", "content": words(p - 5)}],
                "chosen": [{"role": "assistant", "content": words(c - 1)}],
                "rejected": [{"role": "assistant", "content": words(r - 1)}],
                "perturbation": "wrong_triage_color",
            }
        )
    (folder / "train.jsonl").write_text("".join(json.dumps(x) + "\n" for x in rows))
    (folder / "eval.jsonl").write_text("".join(json.dumps(x) + "\n" for x in rows[:8]))
    seqs = [p + c for p, c, _ in lengths] + [p + r for p, _, r in lengths]
    return {
        "pairs": len(rows),
        "tokens_per_pair_mean": sum(seqs) / len(lengths),
        "sequence_min": min(seqs),
        "sequence_max": max(seqs),
    }


def peak_bf16_flops() -> float:
    import torch

    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    for _ in range(5):
        a @ b
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for _ in range(20):
        start.record()
        a @ b
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return 2 * 8192**3 / sorted(times)[len(times) // 2]


# --- one contender (in its own process) ----------------------------------------------------------

KERNEL_KINDS = (  # (category, substrings of CUDA kernel names), first match wins
    ("matmul (cuBLAS/CUTLASS)", ("gemm", "xmma", "cutlass", "nvjet", "sm90")),
    ("attention (SDPA)", ("flash", "fmha", "attention", "efficient")),
    ("depthwise conv", ("conv", "depthwise")),
    ("triton (TRL fused LM head, compiled)", ("triton",)),
    ("reductions/norms", ("reduce", "norm", "softmax")),
    ("elementwise/copies", ("elementwise", "vectorized", "copy", "memcpy", "memset", "fill")),
)


def profile_summary(prof, steps_s: float) -> str:
    """GPU time by kernel kind. Only device-side events (kernels, copies) are summed: operator
    rows carry their kernels' time too, and counting both would count it twice."""
    from torch.autograd import DeviceType

    timed = [e for e in prof.key_averages() if getattr(e, "self_device_time_total", 0) > 0]
    events = [e for e in timed if getattr(e, "device_type", None) == DeviceType.CUDA]
    events = events or timed  # (an older profiler without device rows: counted twice, as before)
    total = sum(e.self_device_time_total for e in events) or 1
    kinds: dict[str, float] = {}
    for e in events:
        name = e.key.lower()
        kind = next((k for k, subs in KERNEL_KINDS if any(s in name for s in subs)), "other")
        kinds[kind] = kinds.get(kind, 0) + e.self_device_time_total
    lines = [
        f"GPU busy over the profiled steps: {total / 1e3:.1f} ms of {steps_s * 1e3:.1f} ms wall"
        f" ({100 * total / 1e3 / (steps_s * 1e3):.0f} %)"
    ]
    for kind, t in sorted(kinds.items(), key=lambda x: -x[1]):
        lines.append(f"  {kind:<40} {t / 1e3:9.1f} ms  {100 * t / total:5.1f} %")
    top = sorted(events, key=lambda e: -e.self_device_time_total)[:40]
    lines.append("top kernels/ops by self GPU time:")
    for e in top:
        share = 100 * e.self_device_time_total / total
        lines.append(
            f"  {e.self_device_time_total / 1e3:9.1f} ms {share:5.1f} % x{e.count:<6} {e.key[:110]}"
        )
    return "\n".join(lines)


def memory_census(model, optimizer) -> str:
    """The CUDA memory live between steps, by owner: the model's parameters (base, trainable
    adapter, frozen adapters), their gradients, the optimizer's state, and other tensors Python
    can reach (largest first); what none of these hold is left "unaccounted" (C++-only)."""
    import gc

    import torch

    seen: set[int] = set()
    totals: dict[str, int] = {}
    others: list[tuple[int, str]] = []

    def count(tensor, owner: str) -> None:
        if not (isinstance(tensor, torch.Tensor) and tensor.is_cuda):
            return
        storage = tensor.untyped_storage()
        if storage.data_ptr() in seen or storage.nbytes() == 0:
            return
        seen.add(storage.data_ptr())
        totals[owner] = totals.get(owner, 0) + storage.nbytes()
        if owner == "other":
            others.append((storage.nbytes(), f"{tensor.dtype} {tuple(tensor.shape)}"))

    for name, param in model.named_parameters():
        owner = "params: base" if "lora_" not in name else "params: frozen adapters"
        if param.requires_grad:
            owner = "params: trainable adapter"
        count(param, owner)
        count(param.grad, "gradients")
    for state in optimizer.state.values() if optimizer is not None else ():
        for value in state.values():
            count(value, "optimizer state")
    for buffer in model.buffers():
        count(buffer, "buffers")
    for obj in gc.get_objects():
        try:
            count(obj, "other")
        except Exception:  # objects that fail isinstance checks or storage access
            continue
    allocated = torch.cuda.memory_allocated()
    totals["unaccounted (C++-only or freed views)"] = allocated - sum(totals.values())
    lines = [f"allocated {allocated / 2**30:.3f} GiB"]
    for owner, size in sorted(totals.items(), key=lambda x: -x[1]):
        lines.append(f"  {owner:<40} {size / 2**20:10.1f} MiB")
    lines.append("largest other tensors:")
    for size, what in sorted(others, reverse=True)[:25]:
        lines.append(f"  {size / 2**20:10.1f} MiB  {what}")
    return "\n".join(lines)


class Profile:
    """Profile two training steps after the warm-up (torch.profiler, CUDA activity)."""

    def __init__(self, start: int, file: Path):
        from transformers import TrainerCallback

        self.start, self.file, self.prof, self.seen = start, file, None, 0
        self.began = 0.0
        self.__class__ = type("ProfileCallback", (Profile, TrainerCallback), {})

    def on_step_begin(self, *a, **k):
        import torch

        if self.seen == self.start:
            self.prof = torch.profiler.profile(
                activities=[
                    torch.profiler.ProfilerActivity.CPU,
                    torch.profiler.ProfilerActivity.CUDA,
                ]
            )
            self.prof.__enter__()
            self.began = time.perf_counter()

    def on_step_end(self, *a, **k):
        self.seen += 1
        if self.prof is not None and self.seen == self.start + 2:
            import torch

            torch.cuda.synchronize()
            wall = time.perf_counter() - self.began
            self.prof.__exit__(None, None, None)
            summary = profile_summary(self.prof, wall)
            self.file.write_text(summary + "\n")
            print(summary, flush=True)
            self.prof = None


def run_one(args) -> dict:
    if args.contender in ("unsloth", "align-unsloth"):
        import unsloth  # noqa: F401  (first, so that it patches transformers and TRL)
    if args.contender == "unsloth":
        from unsloth import FastLanguageModel, PatchDPOTrainer

        PatchDPOTrainer()
    import torch
    from transformers import TrainerCallback

    work = Path(args.work)
    base, pairs = work / "base", work / args.workload
    # a profiled run takes 2 more steps, after the measured ones, so profiling slows none of them
    steps = args.warmup + args.steps + (2 if args.profile else 0)
    extra = json.loads(args.settings or "{}")
    # bench-only: "names" gives Unsloth's get_peft_model the module names (as calls 1-17 did)
    unsloth_targets = extra.pop("_unsloth_targets", "regex")
    # bench-only: batches padded to another multiple than align's CUDA default (16)
    length_multiple = extra.pop("_length_multiple", None)
    # bench-only: attention padded to another multiple than align's CUDA default (64); 0: off
    attention_multiple = extra.pop("_attention_multiple", None)
    # bench-only: "no-cudnn" leaves SDPA to flash/efficient attention (cuDNN's builds a plan for
    # each new shape: the slow first step at each new batch width, call 24)
    if extra.pop("_sdpa", None) == "no-cudnn":
        import torch

        torch.backends.cuda.enable_cudnn_sdp(False)
    started = time.perf_counter()
    precompute_s = None
    if args.contender in ("align", "align-unsloth"):
        sys.path.insert(0, str(ROOT))
        from align.train.config import DPOConfig, build_config
        from align.train.dpo import build_dpo_trainer

        values = {
            "base_model": str(base),
            "adapter": str(work / "sft"),
            "pairs": str(pairs),
            "output_dir": str(work / f"out-{args.name}"),
            "batch_size": args.batch_size,
            "grad_accum": 1,
            "max_steps": steps,
            "learning_rate": 5e-6,
            "report_to": "none",
            "logging_steps": 1,
            "save_steps": 100000,
            "eval_steps": 100000,
            "max_length": 1024,
            "dtype": "bfloat16",
            "ref_cache_dir": str(work / "ref-cache"),
            **extra,
        }
        config = build_config(DPOConfig, values)
        backend = "unsloth" if args.contender == "align-unsloth" else "transformers"
        from align.train import fast_dpo

        if length_multiple:
            fast_dpo.CUDA_LENGTH_MULTIPLE = length_multiple
        if attention_multiple is not None:
            fast_dpo.ATTENTION_WIDTH_MULTIPLE = attention_multiple
        trainer, _, _, _ = build_dpo_trainer(config, work / f"out-{args.name}", backend)
        precompute_s = getattr(trainer, "align_precompute_seconds", None)
        settings = dict(trainer.align_speed)
        settings["cache_hits"] = getattr(trainer, "align_cache_hits", None)
        live_ref = not settings["precompute_ref_log_probs"]
    else:
        from datasets import Dataset
        from trl import DPOConfig, DPOTrainer

        rows = [json.loads(x) for x in (pairs / "train.jsonl").read_text().splitlines()]
        data = Dataset.from_list(
            [{k: r[k] for k in ("prompt", "chosen", "rejected")} for r in rows]
        )
        if args.contender == "unsloth":
            model, tok = FastLanguageModel.from_pretrained(
                str(base), max_seq_length=1024, dtype=torch.bfloat16, load_in_4bit=False
            )
            # Given module names, Unsloth keeps only those under an attention or MLP block
            # (its get_peft_regex), silently leaving LFM2's conv.in_proj and conv.out_proj
            # without LoRA (9.1 M of the 11.1 M LoRA parameters); a regex reaches PEFT as is,
            # so the recipe trains the same 8 modules as the others.
            targets = TARGETS if unsloth_targets == "names" else UNSLOTH_TARGET_REGEX
            model = FastLanguageModel.get_peft_model(
                model, r=16, target_modules=targets, lora_alpha=16, lora_dropout=0, bias="none",
                use_gradient_checkpointing="unsloth", random_state=3407,
            )  # fmt: skip
            precompute = True
        else:
            from peft import LoraConfig, get_peft_model
            from transformers import AutoModelForCausalLM, AutoTokenizer

            tok = AutoTokenizer.from_pretrained(base)
            model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.bfloat16).cuda()
            lora = LoraConfig(r=16, lora_alpha=16, lora_dropout=0.0, target_modules=TARGETS,
                              task_type="CAUSAL_LM")  # fmt: skip
            model = get_peft_model(model, lora)
            precompute = False
        kw = dict(
            output_dir=str(work / f"out-{args.name}"), per_device_train_batch_size=args.batch_size,
            gradient_accumulation_steps=1, max_steps=steps, learning_rate=5e-6, beta=0.1,
            max_length=1024, bf16=True, logging_steps=1, report_to="none", save_strategy="no",
            precompute_ref_log_probs=precompute, optim="adamw_8bit", seed=3407,
            dataloader_num_workers=0,
        )  # fmt: skip
        if args.contender == "unsloth":
            kw["gradient_checkpointing"] = True
        kw.update(extra)
        t0 = time.perf_counter()
        trainer = DPOTrainer(model=model, ref_model=None, args=DPOConfig(**kw),
                             train_dataset=data, processing_class=tok)  # fmt: skip
        if precompute:
            precompute_s = time.perf_counter() - t0  # tokenization included
        settings = {"precompute_ref_log_probs": precompute, **extra,
                    "gradient_checkpointing": trainer.args.gradient_checkpointing}  # fmt: skip
        live_ref = not precompute
    build_s = time.perf_counter() - started

    batches: list[tuple[int, int]] = []
    collate = trainer.data_collator

    def counting(examples):
        out = collate(examples)
        mask = out["attention_mask"]
        batches.append((int(mask.sum()), int(mask.numel())))
        return out

    trainer.data_collator = counting
    times: list[float] = []
    resident: list[float] = []  # GiB allocated as each step begins (weights, optimizer, ...)
    step_peaks: list[float] = []  # GiB allocated at most within each step
    outside_peaks: list[float] = []  # ... and between steps (so the run's peak is the max of all)

    class Timer(TrainerCallback):
        def on_step_begin(self, *a, **k):
            torch.cuda.synchronize()
            resident.append(torch.cuda.memory_allocated() / 2**30)
            outside_peaks.append(torch.cuda.max_memory_allocated() / 2**30)
            torch.cuda.reset_peak_memory_stats()
            self.t = time.perf_counter()

        def on_step_end(self, *a, **k):
            torch.cuda.synchronize()
            times.append(time.perf_counter() - self.t)
            step_peaks.append(torch.cuda.max_memory_allocated() / 2**30)
            torch.cuda.reset_peak_memory_stats()

    trainer.add_callback(Timer())
    if args.census:
        census_file = args.out / f"census-{args.name}.txt"

        class Census(TrainerCallback):
            # before the first step and after the last, so no measured step pays for it
            def write(self, when: str) -> None:
                text = memory_census(trainer.model, trainer.optimizer)
                with open(census_file, "a") as out:
                    out.write(f"{when}: {text}\n")

            def on_step_begin(self, _args, state, control, **k):
                if state.global_step == 0:
                    self.write("before step 0")

            def on_train_end(self, _args, state, control, **k):
                self.write(f"after step {state.global_step}")

        trainer.add_callback(Census())
    if args.profile:
        start = args.warmup + args.steps
        trainer.add_callback(Profile(start, args.out / f"profile-{args.name}.txt"))
    torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    trainer.train()
    train_s = time.perf_counter() - t0
    if args.contender in ("align", "align-unsloth"):
        from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

        # whether align's padded-width attention was still the "sdpa" entry when training ended
        # (a library that replaced the entry afterwards would have bypassed it)
        sdpa = ALL_ATTENTION_FUNCTIONS["sdpa"]
        settings["attention_padded_at_end"] = getattr(sdpa, "align_padded_widths", False)
    measured = slice(args.warmup, args.warmup + args.steps)
    tokens = [b[0] for b in batches[: len(times)]][measured]
    padded = [b[1] for b in batches[: len(times)]][measured]
    seconds = sum(times[measured])
    n_params = sum(p.numel() for n, p in trainer.model.named_parameters() if "lora_" not in n)
    trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    tps = sum(tokens) / seconds
    per_step = sorted(t / s for t, s in zip(tokens, times[measured], strict=True))
    flops_issue = (6 + (2 if live_ref else 0)) * n_params
    flops_model = (4 + (2 if live_ref else 0)) * n_params
    return {
        "name": args.name,
        "contender": args.contender,
        "workload": args.workload,
        "batch_size": args.batch_size,
        "settings": settings,
        "live_reference": live_ref,
        "steps_measured": len(times[measured]),
        "step_s": times,
        "tokens_per_s": tps,
        "tokens_per_s_median_step": per_step[len(per_step) // 2],
        "step_tokens": [b[0] for b in batches[: len(times)]],
        "pairs_per_s": args.batch_size * len(tokens) / seconds,
        "padding_share": 1 - sum(tokens) / sum(padded),
        "peak_gib": max(step_peaks + outside_peaks + [torch.cuda.max_memory_allocated() / 2**30]),
        "step_peak_gib": step_peaks,
        "resident_gib": resident,
        "resident_gib_median": sorted(resident)[len(resident) // 2],
        "peak_reserved_gib": torch.cuda.max_memory_reserved() / 2**30,
        "mfu": tps * flops_issue / args.peak_flops,
        "mfu_model": tps * flops_model / args.peak_flops,
        "n_params": n_params,
        "trainable_params": trainable,
        "precompute_s": precompute_s,
        "build_s": build_s,
        "train_s": train_s,
        "last_loss": next(
            (h["loss"] for h in reversed(trainer.state.log_history) if "loss" in h), None
        ),
    }


# --- the job -------------------------------------------------------------------------------------

# The fast path over Unsloth as `--fast-path on` ran it before 2026-11-29.
OLD_FAST = {"fast_path": "on", "fast_lora": "on", "sub_batches": 4}

RUNS = [
    # (name, contender, workload, settings). Every contender trains LoRA on the same 8 modules
    # (the Unsloth recipe only from call 18 on: see UNSLOTH_TARGET_REGEX and the *-names runs).
    # Settings override align's defaults of the day
    # ({} = the defaults: `sub_batches` 1 and `fast_lora` off over Unsloth since 2026-11-29);
    # the runs that measured an older default spell it out. Each run's resolved settings are in
    # its JSON.
    ("b-trl", "trl", "realistic", {}),
    ("b-unsloth", "unsloth", "realistic", {}),
    ("b-align", "align", "realistic", {}),
    ("b-align-compile", "align", "realistic", {"torch_compile": "on"}),
    ("b-align-fastlora", "align", "realistic", {"fast_lora": "on"}),
    ("a-trl", "trl", "uniform", {}),
    ("a-unsloth", "unsloth", "uniform", {}),
    ("a-align", "align", "uniform", {}),
    ("a-align-compile", "align", "uniform", {"torch_compile": "on"}),
    ("a-align-fastlora", "align", "uniform", {"fast_lora": "on"}),
    # align dpo on the Unsloth backend (what `--backend auto` picks where Unsloth is installed),
    # with its defaults, and with the fast path as it was before 2026-11-29 (OLD_FAST: up to 4
    # sub-batches, align's LoRA layers).
    ("b-align-unsloth", "align-unsloth", "realistic", {}),
    ("a-align-unsloth", "align-unsloth", "uniform", {}),
    ("a-align-unsloth-fast", "align-unsloth", "uniform", OLD_FAST),
    ("b-align-unsloth-fast", "align-unsloth", "realistic", OLD_FAST),
    ("b-align-unsloth-peftlora", "align-unsloth", "realistic", {**OLD_FAST, "fast_lora": "off"}),
    # One forward call per batch. Measured on 2026-11-29 (calls 11-13), when such a batch was
    # padded only to its longest sequence (the multiple of 64 applied to sub-batches alone);
    # since a41b12d the collator pads every batch to a multiple of 64 on CUDA.
    ("b-align-unsloth-fast-sb1", "align-unsloth", "realistic", {**OLD_FAST, "sub_batches": 1}),
    ("b-align-unsloth-fast-sb2", "align-unsloth", "realistic", {**OLD_FAST, "sub_batches": 2}),
    ("a-align-unsloth-fast-sb1", "align-unsloth", "uniform", {**OLD_FAST, "sub_batches": 1}),
    ("b-align-unsloth-fast-sb1-peftlora", "align-unsloth", "realistic", {"fast_path": "on"}),
    ("b-align-sb1", "align", "realistic", {"sub_batches": 1}),
    ("b-align-sb4", "align", "realistic", {"sub_batches": 4}),
    ("b-align-nogc", "align", "realistic", {"gradient_checkpointing": False}),
    ("b-align-cached", "align", "realistic", {}),
    # align's bf16 LoRA path over Unsloth, now that batch widths repeat (multiples of 64)
    ("b-align-unsloth-fastlora", "align-unsloth", "realistic", {"fast_lora": "on"}),
    ("a-align-unsloth-fastlora", "align-unsloth", "uniform", {"fast_lora": "on"}),
    # Unsloth backend with gradient checkpointing off (Unsloth's model patches keep their
    # offloaded checkpointing: measured the same as the default, call 15)
    ("b-align-unsloth-nogc", "align-unsloth", "realistic", {"gradient_checkpointing": False}),
    # Finer buckets (less padding, more widths to set up once each): on the (b) epoch,
    # multiples of 32 pad 9.7 % at 9 widths, 16 pad 7.8 % at 15 (64: 13 % at 5). 16 won
    # (call 21) and is the CUDA default since; the -m64 runs measure the default before it.
    ("b-align-unsloth-m32", "align-unsloth", "realistic", {"_length_multiple": 32}),
    ("b-align-unsloth-m16", "align-unsloth", "realistic", {"_length_multiple": 16}),
    ("b-align-unsloth-m64", "align-unsloth", "realistic", {"_length_multiple": 64}),
    ("b-align-m64", "align", "realistic", {"_length_multiple": 64}),
    # cuDNN's attention off, padding mask kept (the masked efficient kernel runs: call 24) ...
    ("b-align-nocudnn", "align", "realistic", {"_sdpa": "no-cudnn"}),
    ("b-align-unsloth-nocudnn", "align-unsloth", "realistic", {"_sdpa": "no-cudnn"}),
    # ... and `--flash-attention on`: no padding mask either, so flash attention runs
    ("b-align-unsloth-flash", "align-unsloth", "realistic", {"flash_attention": "on"}),
    ("b-align-flash", "align", "realistic", {"flash_attention": "on"}),
    # attention at the batch's own width (multiples of 16), as before attention was padded to
    # multiples of 64 on CUDA
    ("b-align-unsloth-attn16", "align-unsloth", "realistic", {"_attention_multiple": 0}),
    # Each pair's chosen and rejected rows apart, as before 2026-11-29's eighth session
    # (`share_prompts`, on by default since: the prompt runs once per pair).
    ("a-align-unsloth-noshare", "align-unsloth", "uniform", {"share_prompts": "off"}),
    ("b-align-unsloth-noshare", "align-unsloth", "realistic", {"share_prompts": "off"}),
    # The Unsloth recipe as calls 1-17 ran it: module names, so no LoRA on LFM2's conv
    # projections (a lighter workload than the issue's 8 modules; the others train all 8).
    ("a-unsloth-names", "unsloth", "uniform", {"_unsloth_targets": "names"}),
    ("b-unsloth-names", "unsloth", "realistic", {"_unsloth_targets": "names"}),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--work", default="/tmp/align-bench")
    parser.add_argument("--only", help="comma-separated run names (default: all)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--deadline", type=float, default=540, help="seconds for the whole job")
    parser.add_argument("--realistic-pairs", type=int, default=1536)
    # one run, in a child process
    parser.add_argument("--contender")
    parser.add_argument("--workload")
    parser.add_argument("--name")
    parser.add_argument("--settings")
    parser.add_argument("--peak-flops", type=float)
    parser.add_argument(
        "--profile", nargs="?", const="*",
        help="profile 2 more steps after the measured ones, of every run or of the runs named",
    )  # fmt: skip
    parser.add_argument(
        "--census", nargs="?", const="*",
        help="write what holds GPU memory before the first step and after the last",
    )  # fmt: skip
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.contender:
        result = run_one(args)
        print("RESULT " + json.dumps(result), flush=True)
        return 0

    # the runs named by --only, in that order (default: all, in RUNS order)
    known = {run[0]: run for run in RUNS}
    names = args.only.split(",") if args.only else list(known)
    unknown = [n for n in names if n not in known]
    if unknown:
        parser.error(f"--only: unknown run names {unknown}")
    job_start = time.perf_counter()
    work = Path(args.work)
    import torch

    info = {
        "gpu": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
    }
    for name in ("transformers", "trl", "peft", "datasets", "bitsandbytes", "unsloth", "triton"):
        try:
            from importlib.metadata import version

            info[name] = version(name)
        except Exception:  # not installed
            info[name] = None
    info["peak_bf16_flops"] = peak_bf16_flops()
    if not (work / "base" / "config.json").exists():
        build_base(work / "base")
    if not (work / "sft" / "adapter_config.json").exists():
        build_adapter(work / "base", work / "sft")
    real = realistic_lengths()
    rng = random.Random(7)
    sample = rng.sample(real, min(args.realistic_pairs, len(real)))
    info["uniform"] = write_pairs(work / "uniform", [(128, 320, 320)] * 640, seed=1)
    info["realistic"] = write_pairs(work / "realistic", sample, seed=2)
    info["realistic"]["source_pairs"] = len(real)
    print("INFO " + json.dumps(info), flush=True)
    results = {"info": info, "runs": []}
    for name, contender, workload, settings in (known[n] for n in names):
        left = args.deadline - (time.perf_counter() - job_start)
        if left < 45:
            results["runs"].append({"name": name, "skipped": "deadline"})
            continue
        cmd = [
            sys.executable, __file__, "--out", str(args.out), "--work", str(work),
            "--contender", contender, "--workload", workload, "--name", name,
            "--settings", json.dumps(settings), "--peak-flops", str(info["peak_bf16_flops"]),
            "--batch-size", str(args.batch_size), "--warmup", str(args.warmup),
            "--steps", str(args.steps),
        ] + (["--profile"] if profiled(args.profile, name) else [])  # fmt: skip
        cmd += ["--census"] if profiled(args.census, name) else []
        t0 = time.perf_counter()
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=left - 5)
            output = done.stdout + done.stderr
        except subprocess.TimeoutExpired as error:
            output = f"TIMEOUT\n{error.stdout or ''}{error.stderr or ''}"
        with open(args.out / "runs.log", "a") as logfile:
            logfile.write(f"===== {name}\n{output[-6000:]}\n")
        # (Unsloth may print without a newline, so the line need not start with it)
        line = next((x for x in output.splitlines() if "RESULT {" in x), None)
        if line:
            result = json.loads(line[line.index("RESULT {") + 7 :])
        else:
            result = {"name": name, "error": output[-3000:]}
        result["wall_s"] = time.perf_counter() - t0
        results["runs"].append(result)
        (args.out / "results.json").write_text(json.dumps(results, indent=1, default=str))
        keys = ("name", "tokens_per_s", "tokens_per_s_median_step", "pairs_per_s", "peak_gib")
        keys += ("mfu", "padding_share", "trainable_params", "resident_gib_median")
        brief = {k: result.get(k) for k in (*keys, "precompute_s", "wall_s")}
        if "error" in result:
            brief["error"] = result["error"][-800:]
        print("RUN " + json.dumps(brief), flush=True)
    print_table(results)
    return 0


def profiled(profile: str | None, name: str) -> bool:
    return bool(profile) and (profile == "*" or name in profile.split(","))


def print_table(results: dict) -> None:
    print(f"{'run':<18}{'tok/s':>9}{'pairs/s':>9}{'GiB':>7}{'MFU':>6}{'pad':>6}")
    for r in results["runs"]:
        if "tokens_per_s" in r:
            print(
                f"{r['name']:<18}{r['tokens_per_s']:>9.0f}{r['pairs_per_s']:>9.1f}"
                f"{r['peak_gib']:>7.2f}{r['mfu']:>6.2f}{r['padding_share']:>6.2f}"
            )
        else:
            print(f"{r['name']:<18} {r.get('skipped') or 'error'}")


if __name__ == "__main__":
    sys.exit(main())
