"""The fast path of `align dpo` (default on CUDA): the same DPO loss and metrics as TRL's
DPOTrainer, computed with less work.

What it changes, and why the result does not change:

- **Reference log-probs are computed once** (TRL's ``precompute_ref_log_probs``) and kept in an
  on-disk cache keyed by the tokenized data, the weights of the base and of the reference
  adapter, the maximum length and the software/GPU, so a second run on the same data and
  adapter skips even that pass. The reference is still the frozen SFT adapter ("ref").
- **Length-grouped batches**: pairs of similar length are drawn into the same batch (shuffled
  megabatches sorted by length, batch order shuffled, the largest batch first), so batches
  carry little padding. Each pair's loss is the same; only which pairs share a batch changes
  (as any shuffle does).
- **Padding trimmed per sub-batch**: the 2B sequences of a batch (B chosen, B rejected) are
  padded to the batch's longest sequence rounded up to a multiple (16 on CUDA, so that
  shapes repeat) but never past the data's longest sequence, or split, by length, into at most
  ``sub_batches`` sub-batches (default 1: one call per batch was the fastest measured), each
  cut to its own longest sequence so rounded, and run one after the other before a single loss
  and backward. With right padding and causal layers (attention and LFM2's short convolution
  both look only backwards), the cut positions never influence the kept ones, so per-token
  log-probs are those of the padded batch. Sequences of different pairs never share a row,
  so nothing leaks between them.
- **Gradient accumulation folded into the micro-batch** when every loss term is per pair (the
  mean over one batch of 8 equals the mean of 4 means over batches of 2).
- **Gradient checkpointing only when the activations would not fit** a share of GPU memory.
- **torch.compile of the decoder layers** (optional; see DPOConfig.torch_compile).
- **Flash attention without a padding mask** (optional; see DPOConfig.flash_attention).
- **Attention at coarser widths on CUDA**: queries, keys and values padded at the end to a
  multiple of ATTENTION_WIDTH_MULTIPLE inside each causal attention layer, and cut back after
  it, so that cuDNN's attention sees few shapes; no real position sees a padded one.
- **Each pair's prompt computed once** (LFM2, SDPA): the chosen and rejected rows of a pair start
  with the same prompt, so they run as one row, prompt, chosen completion, the prompt's last
  few tokens again, rejected completion, with an attention mask and position ids that give
  every token exactly what it sees in its own row (the rejected tokens see the prompt, never
  the chosen completion). See ``share_prompts`` for the short convolution.

The pure helpers (sampler, sub-batch planning, cache key) import no torch at module level so
that tests can use them cheaply.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import random
from pathlib import Path
from types import SimpleNamespace

from align.train import distributed

log = logging.getLogger("align.train")

# On CUDA, batches (and sub-batches) are padded to a multiple of this: kernels set up per shape
# (cuDNN attention plans, Unsloth's and torch.compile's compiled layers) are then reused. With
# batches padded only to their longest sequence, nearly every length-grouped batch had a new
# width and paid about 0.15 s of set-up (a 0.55 s step). Over one epoch of workload (b) on the
# H200, multiples of 16 (15 widths, 8 % padding) beat 64 (5 widths, 14 %) by 2 % in tokens/s and
# 5 % in median step, at 0.15 GiB less peak; 32 was level in tokens/s, with a slower median
# step and a higher peak (docs/BENCHMARKS.md, issue 7).
CUDA_LENGTH_MULTIPLE = 16
LENGTH_MULTIPLE = 8  # elsewhere (the CPU): a multiple that keeps rows aligned, little padding
# On CUDA, attention alone runs at widths padded further, to a multiple of this: cuDNN's
# attention builds an execution plan for each new shape, which made the first step at each of
# workload (b)'s 15 batch widths slow (about 0.13 s each; 9 such steps were 1.21 s of the 17.95
# measured in call 22), while attention is under 1 % of the GPU time, so the extra width costs
# little there. 64: (a)'s 448 tokens need no padding, (b)'s widths fall into 6 shapes. Measured
# on (b) (calls 28-30): 7 of the 9 slow steps gone, the others 0.2-2.4 % slower, 2.9-5.4 % more
# tokens/s at the same peak (docs/BENCHMARKS.md, "DPO speed on one GPU").
ATTENTION_WIDTH_MULTIPLE = 64
# Loss terms TRL computes per pair; folding gradient accumulation into the micro-batch leaves
# them unchanged. "sft" averages over the tokens of a batch, "aot*" sort across the batch.
PER_PAIR_LOSSES = {
    "sigmoid", "hinge", "ipo", "exo_pair", "nca_pair", "robust", "bco_pair", "sppo_hard",
    "apo_zero", "apo_down", "discopop", "sigmoid_norm",
}  # fmt: skip
# Whether ``torch_compile = "auto"`` compiles the decoder layers on the CUDA fast path (set from
# the measurement in docs/BENCHMARKS.md, "DPO speed on one GPU").
COMPILE_BY_DEFAULT = False
# Whether ``fast_lora = "auto"`` routes LoRA layers through ``_lora_forward`` on the fast path
# of the transformers backend: on, measured on the H200 (docs/BENCHMARKS.md): +20 % tokens/s on
# workload (a), +30-70 % on (b), 1.1-1.3 GiB less peak memory; equal to PEFT's path in the CPU
# equivalence test. Not by default over Unsloth, whose own LoRA layers were faster there
# (workload (b): median step 43.1k tokens/s against 40.2k with these).
FAST_LORA_BY_DEFAULT = True
# Whether ``flash_attention = "auto"`` turns it on with the fast path on CUDA: no. It spares
# cuDNN's per-width attention plans (the slow first step at each new batch width), but every
# step ran about 2 % slower: one epoch of workload (b) on the H200 took 18.41 s against
# 17.95 s with cuDNN's attention (calls 25 and 22, docs/BENCHMARKS.md).
FLASH_ATTENTION_BY_DEFAULT = False
# Whether ``share_prompts = "auto"`` runs each pair's prompt once on the fast path (where the
# model is one it is exact for, see ``share_prompts``): on, measured on the H200 (calls 31-35,
# docs/BENCHMARKS.md, "DPO speed on one GPU"): workload (b) 1.09-1.13x the tokens/s of the same code
# without it at 0.63 GiB less peak; (a) 1.057x the Unsloth recipe, against 0.995x before.
SHARE_PROMPTS_BY_DEFAULT = True
# The keyword a shared-prompt call passes down to the decoder layers' hooks.
SHARED_PROMPT_KWARG = "align_shared_prompt"
MAX_FOLDED_BATCH = 64
# What one more sub-batch forward costs, in padded tokens (launches, smaller matrix products).
SUB_BATCH_OVERHEAD_TOKENS = 1024  # pairs per micro-batch when folding gradient accumulation
OUTPUT_FIELDS = ("log_probs", "entropy", "mean_logits", "is_top1", "log_sum_sq_probs")
CACHE_FORMAT = 2  # 2: widest batches cut to the data's longest sequence; batch-sized passes


# --- decisions -----------------------------------------------------------------------------------


def fast_path_enabled(config) -> bool:
    """``fast_path`` auto -> on with a CUDA GPU, on either backend (over Unsloth, which
    rewrites TRL's trainer on import, it runs with Unsloth's own LoRA layers: see
    ``fast_lora_enabled``); ``on`` forces it, ``off`` leaves TRL's path."""
    if config.fast_path == "off":
        return False
    if config.fast_path == "on":
        return True
    import torch

    return torch.cuda.is_available()


def fast_lora_enabled(config, backend: str, fast: bool, sharded: bool = False) -> bool:
    """``fast_lora`` auto -> on with the fast path on the transformers backend (never over
    Unsloth, see FAST_LORA_BY_DEFAULT); ``on`` forces it wherever the fast path runs. Never
    with the model sharded (FSDP; ``dpo.check_sharding`` refuses ``on`` there):
    ``_lora_forward`` reads the LoRA weights directly, and FSDP gathers them only inside each
    LoRA layer's own forward."""
    if not fast or config.fast_lora == "off" or sharded:
        return False
    return config.fast_lora == "on" or (backend == "transformers" and FAST_LORA_BY_DEFAULT)


def flash_attention_enabled(config, fast: bool, cuda: bool) -> bool:
    """``flash_attention`` auto -> FLASH_ATTENTION_BY_DEFAULT with the fast path on CUDA;
    ``on`` forces it wherever the fast path runs (on the CPU: no padding mask, same kernels)."""
    if not fast or config.flash_attention == "off":
        return False
    return config.flash_attention == "on" or (cuda and FLASH_ATTENTION_BY_DEFAULT)


def prompt_sharing_enabled(config, fast: bool, flash: bool) -> bool:
    """``share_prompts`` auto -> SHARE_PROMPTS_BY_DEFAULT with the fast path; ``on`` forces it
    wherever the fast path runs. Never with flash attention, which takes no mask."""
    if not fast or flash or config.share_prompts == "off":
        return False
    return config.share_prompts == "on" or SHARE_PROMPTS_BY_DEFAULT


def folded_batch(batch_size: int, grad_accum: int, loss_types) -> tuple[int, int]:
    """(micro-batch, accumulation) with accumulation folded in where that changes nothing."""
    per_pair = set(loss_types) <= PER_PAIR_LOSSES
    if grad_accum > 1 and per_pair and batch_size * grad_accum <= MAX_FOLDED_BATCH:
        return batch_size * grad_accum, 1
    return batch_size, grad_accum


def activation_bytes_per_token(model_config) -> int:
    """Activations a decoder layer keeps for backward, per token, without checkpointing (bf16),
    summed over layers. Calibrated on the LFM2-1.2B shape (TRL, no checkpointing: 56.8 GiB for
    28,672 tokens, about 2 MB per token)."""
    cfg = (
        model_config.get_text_config() if hasattr(model_config, "get_text_config") else model_config
    )
    hidden = cfg.hidden_size
    inter = getattr(cfg, "intermediate_size", 4 * hidden)
    if getattr(cfg, "block_auto_adjust_ff_dim", False):
        inter = int(2 * inter / 3)
    return cfg.num_hidden_layers * 2 * (14 * hidden + 4 * inter)


def needs_checkpointing(
    model_config, pairs: int, max_length: int, total_memory: int, share: float
) -> bool:
    """Checkpoint only when the worst-case micro-batch's activations exceed ``share`` of the GPU."""
    tokens = 2 * pairs * max_length
    return tokens * activation_bytes_per_token(model_config) > share * total_memory


# --- batching ------------------------------------------------------------------------------------


def longest_sequence(dataset, max_length: int | None) -> int:
    """The longest prompt + completion of a tokenized pair dataset, as truncated to max_length."""
    longest = max(
        len(p) + max(len(c), len(r))
        for p, c, r in zip(
            dataset["prompt_ids"], dataset["chosen_ids"], dataset["rejected_ids"], strict=True
        )
    )
    return min(longest, max_length or longest)


def pair_lengths(dataset) -> list[int]:
    """Tokens a pair puts through the model: prompt twice, chosen and rejected once each."""
    return [
        2 * len(p) + len(c) + len(r)
        for p, c, r in zip(
            dataset["prompt_ids"], dataset["chosen_ids"], dataset["rejected_ids"], strict=True
        )
    ]


def length_grouped_order(
    lengths: list[int], batch_size: int, seed: int, epoch: int = 0, megabatch: int = 64
) -> list[int]:
    """A permutation of range(len(lengths)): shuffled, cut into megabatches of
    ``batch_size * megabatch`` sorted by length and cut into batches; full batches are shuffled,
    then the largest one (longest pair, then most tokens) is moved to the front, and a short
    last batch (if any) stays last so batch boundaries fall on multiples of batch_size.

    Largest first (as transformers' LengthGroupedSampler does): the caching allocator, Unsloth's
    offloaded-checkpoint buffers and any compiled shapes are sized at the first step, and an
    out-of-memory shows there, instead of a slow step each time a batch is larger than all before
    it (three of 40 measured steps on the H200, about 13 % of the time, before this)."""
    rng = random.Random(f"align-length-groups:{seed}:{epoch}")
    order = list(range(len(lengths)))
    rng.shuffle(order)
    span = batch_size * megabatch
    batches: list[list[int]] = []
    for start in range(0, len(order), span):
        group = sorted(order[start : start + span], key=lambda i: -lengths[i])
        batches.extend(group[i : i + batch_size] for i in range(0, len(group), batch_size))
    full = [b for b in batches if len(b) == batch_size]
    short = [b for b in batches if len(b) != batch_size]
    rng.shuffle(full)
    if full:
        largest = max(full, key=lambda b: (max(lengths[i] for i in b), sum(lengths[i] for i in b)))
        full.remove(largest)
        full.insert(0, largest)
    return [i for batch in full + short for i in batch]


class LengthGroupedSampler:
    """torch Sampler over ``length_grouped_order``; ``set_epoch`` reshuffles (the Trainer calls it,
    which keeps resumed runs on the same order)."""

    def __init__(self, lengths: list[int], batch_size: int, seed: int):
        self.lengths, self.batch_size, self.seed, self.epoch = lengths, batch_size, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        return iter(length_grouped_order(self.lengths, self.batch_size, self.seed, self.epoch))

    def __len__(self) -> int:
        return len(self.lengths)


def plan_sub_batches(
    lengths: list[int], max_groups: int = 4, overhead_tokens: int = 2048, multiple: int = 8
) -> list[list[int]]:
    """Split row indices into at most ``max_groups`` groups of similar length, minimising padded
    tokens plus ``overhead_tokens`` per extra forward call (sorted rows, contiguous groups;
    a small dynamic programme). Each group is padded to a multiple of ``multiple``."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    n = len(order)
    if n == 0:
        return []
    padded = [-(-lengths[i] // multiple) * multiple for i in order]
    inf = math.inf
    # best[k][j]: least cost of the first j rows in k groups (a group's cost is rows x its max)
    best = [[inf] * (n + 1) for _ in range(max_groups + 1)]
    cut = [[0] * (n + 1) for _ in range(max_groups + 1)]
    best[0][0] = 0
    for k in range(1, max_groups + 1):
        for j in range(1, n + 1):
            for i in range(k - 1, j):
                if best[k - 1][i] == inf:
                    continue
                cost = best[k - 1][i] + (j - i) * padded[i] + overhead_tokens
                if cost < best[k][j]:
                    best[k][j], cut[k][j] = cost, i
    k = min(range(1, max_groups + 1), key=lambda g: best[g][n])
    groups, j = [], n
    while k > 0:
        i = cut[k][j]
        groups.append(order[i:j])
        j, k = i, k - 1
    return [sorted(g) for g in reversed(groups)]


# --- the forward on sub-batches ------------------------------------------------------------------


class SubBatchForward:
    """Stands in for the model in TRL's ``_compute_loss``: a fused-head call on a right-padded
    batch runs as a few trimmed sub-batches and the per-token outputs are put back in place
    (zeros, like TRL's fused head gives masked positions). Other calls go to the model.

    With ``prompt_sharing`` (from ``share_prompts``), each pair's chosen and rejected rows run
    as one row that holds their common prompt once (``shared_prompt_batch``); batches whose
    rows are not such pairs run as before."""

    def __init__(
        self,
        model,
        max_groups: int = 4,
        overhead_tokens: int | None = None,
        multiple: int = 8,
        max_width: int | None = None,
        padding_mask: bool = True,
        prompt_sharing: PromptSharing | None = None,
    ):
        self.model, self.max_groups, self.overhead_tokens = model, max_groups, overhead_tokens
        # widths are rounded up to ``multiple`` but never past ``max_width`` (the longest
        # sequence of the data): the widest batches then keep one shape at no extra padding
        self.multiple, self.max_width = multiple, max_width
        # False: the model gets no attention mask (rows are right-padded and every layer is
        # causal, so the kept positions never see the padding), which lets SDPA take its flash
        # kernel; the padded positions' outputs are dropped as before
        self.padding_mask = padding_mask
        self.prompt_sharing = prompt_sharing if padding_mask else None  # it needs its mask

    def __getattr__(self, name):
        return getattr(self.model, name)

    def __call__(self, *args, **kwargs):
        if args or not kwargs.get("fused_lm_head") or kwargs.get("attention_mask") is None:
            return self.model(*args, **kwargs)
        import torch

        input_ids = kwargs.pop("input_ids")
        mask = kwargs.pop("attention_mask")
        labels = kwargs.pop("labels")
        rows = input_ids.shape[0]
        overhead = self.overhead_tokens
        if overhead is None:
            overhead = SUB_BATCH_OVERHEAD_TOKENS
        pieces: dict[str, list] = {}
        order: list[int] = []
        pairs, sharing = None, self.prompt_sharing
        if sharing is not None:
            pairs = shared_prompt_lengths(input_ids, mask, labels, sharing.tail)
        if pairs is not None:
            packed = [p + c + sharing.tail + r for p, c, r in zip(*pairs, strict=True)]
            for group in plan_sub_batches(packed, self.max_groups, overhead, self.multiple):
                lengths = tuple([values[i] for i in group] for values in pairs)
                outputs = self._shared_prompt_call(input_ids, labels, group, lengths, kwargs)
                for name, value in outputs.items():
                    pieces.setdefault(name, []).append(value)
                order.extend(group + [rows // 2 + i for i in group])
        else:
            lengths = mask.sum(dim=1).tolist()
            for group in plan_sub_batches(lengths, self.max_groups, overhead, self.multiple):
                outputs = self._row_call(input_ids, mask, labels, group, lengths, kwargs)
                for name, value in outputs.items():
                    pieces.setdefault(name, []).append(value)
                order.extend(group)
        where = torch.tensor(order, device=input_ids.device)
        inverse = torch.empty_like(where)
        inverse[where] = torch.arange(rows, device=where.device)
        merged = {name: torch.cat(parts)[inverse] for name, parts in pieces.items()}
        return SimpleNamespace(
            loss=None, aux_loss=None, **{n: merged.get(n) for n in OUTPUT_FIELDS}
        )

    def _row_call(self, input_ids, mask, labels, group, lengths, kwargs):
        """{field: per-token values} of the rows ``group``, cut to their longest sequence and
        padded back to the batch's width."""
        import torch
        import torch.nn.functional as F

        width = input_ids.shape[1]
        index = torch.tensor(group, device=input_ids.device)
        longest = max(lengths[i] for i in group)
        cut = min(width, -(-longest // self.multiple) * self.multiple)
        if self.max_width is not None and longest <= self.max_width:
            cut = min(cut, self.max_width)
        sub_mask = mask[index, :cut]
        out = self.model(
            input_ids=input_ids[index, :cut],
            attention_mask=sub_mask if self.padding_mask else None,
            labels=labels[index, :cut],
            **kwargs,
        )
        fields = _per_token_fields(out)
        for name, value in fields.items():
            if value.shape[1] < width - 1:  # (no copy where nothing was cut)
                fields[name] = F.pad(value, (0, width - 1 - value.shape[1]))
        return fields

    def _shared_prompt_call(self, input_ids, labels, group, lengths, kwargs):
        """{field: per-token values} of the pairs ``group`` (their chosen rows, then their
        rejected rows, in the batch's layout), each pair run as one row. Stops the run if the
        decoder layers' hooks did not all run (a backend that drops the keyword): the values
        would be wrong, and redoing the call unshared on one process would desynchronise the
        others' collective calls under DDP."""
        sharing = self.prompt_sharing
        batch = shared_prompt_batch(input_ids, labels, group, *lengths, sharing.tail, self.multiple)
        call = SharedPromptCall(batch["copies"], batch["sources"])
        out = self.model(
            input_ids=batch["input_ids"],
            attention_mask={"full_attention": batch["attention_mask"], "conv": None},
            position_ids=batch["position_ids"],
            labels=batch["labels"],
            **{SHARED_PROMPT_KWARG: call},
            **kwargs,
        )
        if call.hooks_run != sharing.layers:
            raise RuntimeError(
                f"prompt sharing: {call.hooks_run} of {sharing.layers} decoder layers received "
                "the shared prompt's hidden-state copy, so this backend's forward does not pass "
                "keywords down to its layers; run `align dpo` with --share-prompts off"
            )
        return {
            name: unshare_outputs(value, batch, input_ids.shape[1])
            for name, value in _per_token_fields(out).items()
        }


def _per_token_fields(out) -> dict:
    """The per-token fields TRL's fused head computed (the others are None)."""
    return {
        name: value for name in OUTPUT_FIELDS if (value := getattr(out, name, None)) is not None
    }


# --- each pair's prompt computed once ------------------------------------------------------------


class SharedPromptCall:
    """What the decoder layers' hooks do in one shared-prompt call: copy the hidden states at
    ``sources`` (a prompt's last tokens) to ``copies`` (their repeats before the rejected
    completion), counting the hooks that ran."""

    def __init__(self, copies, sources):
        self.copies, self.sources, self.hooks_run = copies, sources, 0


class PromptSharing:
    """Prompt sharing as ``share_prompts`` prepared it for a model: how many of the prompt's
    last tokens are repeated (``tail``) and how many decoder layers carry the hook."""

    def __init__(self, tail: int, layers: int):
        self.tail, self.layers = tail, layers


def share_prompts(model) -> PromptSharing | None:
    """Prepare ``model`` for shared-prompt calls (None: not for this model, calls stay as
    they are). For LFM2 with SDPA attention only, where it was worked out to be exact: the
    boolean mask means "may see" to SDPA, while eager attention would add it to the scores
    and flash attention would ignore it. LFM2's short convolution reads each
    token's ``conv_L_cache - 1`` predecessors, so the rejected completion is preceded by that
    many repeats of the prompt's last tokens, plus one so that the last repeat's own output
    (which predicts the first rejected token) is exact too. A repeat sees the prompt up to its
    own position through attention, but its convolution would read the chosen completion;
    so before every decoder layer a hook copies the prompt tokens' hidden states into their
    repeats (gradients flow back through the copy), and the repeats are hidden from every
    other token's attention. The hooks run inside gradient checkpointing's recomputation too,
    which calls the layer with the same keywords."""
    config = getattr(model, "config", None)
    if getattr(config, "model_type", None) != "lfm2":
        return None
    if getattr(config, "_attn_implementation", None) != "sdpa":
        return None
    layers = model.get_decoder().layers
    for layer in layers:
        if not getattr(layer, "align_shared_prompt_hook", False):
            layer.register_forward_pre_hook(_copy_prompt_tail, with_kwargs=True)
            layer.align_shared_prompt_hook = True
    return PromptSharing(tail=int(config.conv_L_cache), layers=len(layers))


def _copy_prompt_tail(module, args, kwargs):
    call = kwargs.pop(SHARED_PROMPT_KWARG, None)
    if call is None:
        return None
    hidden = args[0] if args else kwargs["hidden_states"]
    flat = hidden.reshape(-1, hidden.shape[-1])
    flat = flat.index_copy(0, call.copies, flat.index_select(0, call.sources))
    call.hooks_run += 1
    if args:
        return (flat.view_as(hidden), *args[1:]), kwargs
    kwargs["hidden_states"] = flat.view_as(hidden)
    return args, kwargs


def shared_prompt_lengths(input_ids, mask, labels, tail: int):
    """(prompt, chosen, rejected) token counts of each pair, as lists, when the batch's rows
    are B chosen then B rejected ones, right-padded, each its pair's prompt (at least ``tail``
    tokens, the same in both rows) followed by its completion (the labels that are not -100);
    else None. One transfer to the host, as the unshared path makes."""
    import torch

    rows, width = input_ids.shape
    if rows % 2:
        return None
    pairs = rows // 2
    lengths = mask.sum(dim=1)
    completion = labels != -100
    prompt = lengths - completion.sum(dim=1)
    position = torch.arange(width, device=input_ids.device)
    in_prompt = position < prompt[:, None]
    real = position < lengths[:, None]
    same_prompt = (input_ids[:pairs] == input_ids[pairs:]) | ~in_prompt[:pairs]
    well_formed = (
        (mask.bool() == real).all()
        & (completion == (real & ~in_prompt)).all()
        & (prompt[:pairs] == prompt[pairs:]).all()
        & same_prompt.all()
        & (prompt >= tail).all()
    )
    summary = torch.cat([prompt[:pairs], lengths - prompt, well_formed.long()[None]])
    values = summary.tolist()
    if not values[-1]:
        return None
    return values[:pairs], values[pairs : 2 * pairs], values[2 * pairs : 3 * pairs]


def shared_prompt_batch(input_ids, labels, group, prompts, chosen, rejected, tail, multiple):
    """The pairs ``group`` of a TRL batch (rows: B chosen, then B rejected) as one row each:
    prompt, chosen completion, the prompt's last ``tail`` tokens again, rejected completion,
    right-padded to a multiple of ``multiple``. Position ids are those of the own row; the
    (n, 1, W, W) boolean attention mask lets every token see what it sees there: the prompt
    (up to its own position) and, in a completion, that completion's earlier tokens; no token
    sees the repeats, and a padding position sees itself alone. Labels: the completions'.
    ``copies``/``sources``: flat positions of the repeats and of the prompt tokens they repeat
    (for the layers' hooks). Built on the device from the lengths (host lists)."""
    import torch

    device = input_ids.device
    pairs, width = input_ids.shape[0] // 2, input_ids.shape[1]
    n = len(group)

    # one transfer to the device for the four columns
    columns = torch.tensor([group, prompts, chosen, rejected], device=device)[:, :, None]
    pair, p, c, r = columns.unbind(0)
    longest = max(a + b + tail + d for a, b, d in zip(prompts, chosen, rejected, strict=True))
    packed = -(-longest // multiple) * multiple
    j = torch.arange(packed, device=device)[None, :]
    chosen_end, tail_end = p + c, p + c + tail
    rejected_end = tail_end + r
    # 0 prompt, 1 chosen, 2 the prompt's tail again, 3 rejected, 4 padding
    segment = (j >= p).long() + (j >= chosen_end) + (j >= tail_end) + (j >= rejected_end)
    # the position of each token in its own row
    position = torch.where(segment == 2, j - chosen_end + p - tail, j)
    position = torch.where(segment == 3, j - tail_end + p, position)
    position = torch.where(segment == 4, 0, position)
    source = torch.where(segment == 3, pair + pairs, pair) * width + position
    ids = input_ids.reshape(-1)[source]
    completion = (segment == 1) | (segment == 3)
    packed_labels = torch.where(completion, labels.reshape(-1)[source], -100)

    q_segment, k_segment = segment[:, :, None], segment[:, None, :]
    q_position, k_position = position[:, :, None], position[:, None, :]
    q_index, k_index = j[0][:, None], j[0][None, :]
    sees_prompt = (k_segment == 0) & (k_position <= q_position) & (q_segment != 4)
    own_completion = (k_segment == q_segment) & completion[:, :, None] & (k_index <= q_index)
    padding_self = (q_segment == 4) & (k_index == q_index)
    visible = sees_prompt | own_completion | padding_self

    start = torch.arange(n, device=device)[:, None] * packed
    step = torch.arange(tail, device=device)[None, :]
    return {
        "input_ids": ids,
        "labels": packed_labels,
        "position_ids": position,
        "attention_mask": visible[:, None],
        "copies": (start + chosen_end + step).reshape(-1),
        "sources": (start + p - tail + step).reshape(-1),
        "prompts": p,
        "chosen": c,
        "rejected": r,
        "tail": tail,
    }


def unshare_outputs(value, batch, width: int):
    """Per-token outputs of a shared-prompt call, (n, packed width - 1), put back in the
    batch's layout: (2n, width - 1), the n chosen rows then the n rejected ones, zeros where
    no completion token is predicted (as TRL's fused head gives)."""
    import torch

    p, c, r = batch["prompts"], batch["chosen"], batch["rejected"]
    s = torch.arange(width - 1, device=value.device)[None, :]
    chosen_kept = (s >= p - 1) & (s < p + c - 1)
    rejected_kept = (s >= p - 1) & (s < p + r - 1)
    # the token after position s of a rejected row is predicted at s + c + tail of the pair's row
    chosen_at = torch.where(chosen_kept, s, 0)
    rejected_at = torch.where(rejected_kept, s + c + batch["tail"], 0)
    zero = torch.zeros((), dtype=value.dtype, device=value.device)
    chosen_values = torch.where(chosen_kept, value.gather(1, chosen_at), zero)
    rejected_values = torch.where(rejected_kept, value.gather(1, rejected_at), zero)
    return torch.cat([chosen_values, rejected_values])


# --- attention at padded widths ------------------------------------------------------------------


def pad_attention_widths(model, multiple: int | None) -> int:
    """Run the causal attention layers of ``model`` at widths padded to ``multiple`` (None or 0:
    at their own widths again); returns how many layers were marked. The layers are marked and
    transformers' "sdpa" attention entry is wrapped once per process (as Unsloth wraps it for
    its own routes): layers without the mark, any model's, go through unchanged."""
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    current = ALL_ATTENTION_FUNCTIONS["sdpa"]
    if not getattr(current, "align_padded_widths", False):
        ALL_ATTENTION_FUNCTIONS["sdpa"] = padded_width_attention(current)
    marked = 0
    for module in model.modules():
        if getattr(module, "is_causal", None) is True:  # transformers' decoder attention layers
            module.align_attention_multiple = multiple
            marked += 1
    return marked


def padded_width_attention(attention):
    """transformers' SDPA attention function ``attention``, that for a marked causal layer pads
    queries, keys and values at the end to a multiple of the layer's mark and returns the
    output of the real positions. Exact for every real row: SDPA's causal kernel (no mask)
    lets no position see a later one, and a 4-D mask (boolean or additive) is grown so that it
    hides the padded keys from every real row. (A row an additive mask hides entirely, as left
    padding gives, averages over the padded keys too; its output is meaningless either way.)
    Calls it cannot pad exactly go through unchanged: dropout, a position bias, other mask
    shapes, decoding (fewer queries than keys), positional options, a bidirectional layer
    without a mask."""
    import torch.nn.functional as F

    def padded(module, query, key, value, attention_mask, *args, **kwargs):
        multiple = getattr(module, "align_attention_multiple", None)
        width = query.shape[2]
        pad = -width % multiple if multiple else 0
        if attention_mask is None:  # SDPA's causal kernel runs where the layer is causal
            causal = kwargs.get("is_causal")
            can_pad = getattr(module, "is_causal", True) if causal is None else causal
        else:  # the padded keys can be hidden in a (batch, 1 or heads, width, width) mask
            can_pad = attention_mask.dim() == 4 and attention_mask.shape[-2:] == (width, width)
        can_pad = (
            can_pad
            and pad > 0
            and key.shape[2] == width
            and not args
            and not kwargs.get("dropout")
            and kwargs.get("position_bias") is None
        )
        if not can_pad:
            return attention(module, query, key, value, attention_mask, *args, **kwargs)
        query, key, value = (F.pad(t, (0, 0, 0, pad)) for t in (query, key, value))
        if attention_mask is not None:
            attention_mask = _padded_mask(attention_mask, pad)
        output, weights = attention(module, query, key, value, attention_mask, **kwargs)
        return output[:, :width], weights  # (batch, width, heads, dim); SDPA gives no weights

    padded.align_padded_widths = True
    return padded


def _padded_mask(mask, pad: int):
    """A 4-D attention mask (boolean, or additive) grown by ``pad`` query rows and key columns:
    the padded keys are hidden from every real row, and each padded row sees itself alone (a
    row that saw nothing would give NaNs, which the backward would spread)."""
    import torch
    import torch.nn.functional as F

    boolean = mask.dtype == torch.bool
    hidden = False if boolean else torch.finfo(mask.dtype).min
    grown = F.pad(mask, (0, pad, 0, pad), value=hidden)
    grown[..., -pad:, -pad:].diagonal(dim1=-2, dim2=-1).fill_(True if boolean else 0)
    return grown


# --- reference log-prob cache --------------------------------------------------------------------


def data_digest(dataset) -> str:
    """Hash of the tokenized pairs, in order (prompt, chosen and rejected token ids)."""
    import numpy as np

    h = hashlib.sha256()
    for column in ("prompt_ids", "chosen_ids", "rejected_ids"):
        values = dataset[column]
        h.update(np.asarray([len(v) for v in values], dtype=np.int64).tobytes())
        flat = [t for v in values for t in v]
        h.update(np.asarray(flat, dtype=np.int64).tobytes())
    return h.hexdigest()


def weights_digest(model) -> str:
    """Hash of the base weights and of the reference adapter ("ref", else "default"), bytes as
    stored. The trainable adapter's other copies are left out: they change while training."""
    import torch

    names = dict(model.named_parameters())
    adapters = set(getattr(model, "peft_config", {}) or {})
    reference = "ref" if "ref" in adapters else "default"
    skip = {a for a in adapters if a != reference}
    h = hashlib.blake2b(digest_size=32)
    for name in sorted(names):
        if any(f".{a}." in name for a in skip):
            continue
        tensor = names[name].detach()
        h.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        raw = tensor.contiguous().view(-1)
        if raw.dtype.itemsize == 2:
            raw = raw.view(torch.int16)
        elif raw.dtype.itemsize == 4:
            raw = raw.view(torch.int32)
        h.update(raw.cpu().numpy().tobytes())
    return h.hexdigest()


def cache_key(data: str, weights: str, settings: dict) -> str:
    text = json.dumps({"format": CACHE_FORMAT, "data": data, "weights": weights, **settings})
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def load_cached(folder: Path, key: str):
    file = Path(folder) / f"{key}.json"
    if not file.is_file():
        return None
    try:
        stored = json.loads(file.read_text(encoding="utf-8"))
        return stored["chosen"], stored["rejected"]
    except (OSError, ValueError, KeyError):
        return None


def store_cached(folder: Path, key: str, chosen: list, rejected: list, meta: dict) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{key}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps({"chosen": chosen, "rejected": rejected, "meta": meta}))
    os.replace(tmp, folder / f"{key}.json")


# --- the trainer ---------------------------------------------------------------------------------


def fast_trainer_class(base_class, *, ref_cache_dir: str | None):
    """``base_class`` (align's DPOTrainer subclass) with the fast path's overrides."""
    import torch
    import trl.trainer.dpo_trainer as trl_dpo

    class FastDPOTrainer(base_class):
        align_ref_cache_dir = ref_cache_dir
        align_compiled = False
        align_length_multiple = LENGTH_MULTIPLE
        align_sub_batches = 1
        align_flash_attention = False
        align_prompt_sharing: PromptSharing | None = None

        def __init__(self, *args, **kwargs):
            # TRL hashes every weight in fp32 on the CPU for its own (in-memory) cache; the
            # cache here is keyed by ``weights_digest`` instead, so skip that pass.
            original = trl_dpo.hash_module
            trl_dpo.hash_module = lambda module: ""
            self._align_weights = None
            self._align_max_width: int | None = None
            self.align_precompute_seconds = 0.0
            self.align_cache_hits: list[tuple[str, bool]] = []
            try:
                super().__init__(*args, **kwargs)
            finally:
                trl_dpo.hash_module = original

        # -- batching
        def _get_train_sampler(self, train_dataset=None):
            dataset = train_dataset if train_dataset is not None else self.train_dataset
            return LengthGroupedSampler(
                pair_lengths(dataset), self.args.per_device_train_batch_size, self.args.seed
            )

        def _compute_loss(self, model, inputs, return_outputs):
            forward = self._sub_batch_forward(model)
            return super()._compute_loss(forward, inputs, return_outputs)

        def align_longest_sequence(self) -> int:
            """The train data's longest sequence, computed once (the width cap and the
            checkpointing rule both ask for it)."""
            if self._align_max_width is None:
                self._align_max_width = longest_sequence(self.train_dataset, self.args.max_length)
            return self._align_max_width

        def _sub_batch_forward(self, model) -> SubBatchForward:
            return SubBatchForward(
                model,
                max_groups=self.align_sub_batches,
                multiple=self.align_length_multiple,
                max_width=self.align_longest_sequence(),
                padding_mask=not self.align_flash_attention,
                prompt_sharing=self.align_prompt_sharing,
            )

        # -- reference log-probs
        def _reference_logps(self, batch):
            """Summed completion log-probs of the reference adapter, as ``_compute_loss``
            computes the policy's (same sub-batches, same kernels)."""
            unwrapped = self.accelerator.unwrap_model(self.model)
            adapters = getattr(unwrapped, "peft_config", {}) or {}
            adapter = trl_dpo.use_adapter(unwrapped, "ref" if "ref" in adapters else None)
            labels = batch["input_ids"].masked_fill(batch["completion_mask"] == 0, -100)
            with (
                torch.no_grad(),
                trl_dpo.disable_gradient_checkpointing(
                    self.model, self.args.gradient_checkpointing_kwargs
                ),
                adapter,
                self.compute_loss_context_manager(),
            ):
                out = self._sub_batch_forward(self.model)(
                    input_ids=batch["input_ids"],
                    attention_mask=batch["attention_mask"],
                    labels=labels,
                    use_cache=False,
                    fused_lm_head=True,
                )
            return out.log_probs.sum(dim=1).float().chunk(2)

        def _precompute_ref_logps(self, dataset, name, batch_size):
            if "ref_chosen_logps" in dataset.column_names:
                return dataset
            if self.ld_alpha is not None or (self.ref_model is not None):
                return super()._precompute_ref_logps(dataset, name, batch_size)
            import time

            started = time.perf_counter()
            if self._align_weights is None:
                self._align_weights = weights_digest(self.accelerator.unwrap_model(self.model))
            train = name == "train"
            settings = {
                "max_length": self.args.max_length,
                "truncation": self.args.truncation_mode,
                # eval sets run in the eval batches (so rewards before training are exactly 0)
                "batches": "sorted" if train else self.args.per_device_eval_batch_size,
                "torch": torch.__version__,
                "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
                "compiled": self.align_compiled,
                "length_multiple": self.align_length_multiple,
                "sub_batches": self.align_sub_batches,
                "flash_attention": self.align_flash_attention,
                "shared_prompts": self.align_prompt_sharing is not None,
            }
            # Under several processes: the main process's key, used only when every process
            # finds the entry; else all compute their share together and only the main
            # process writes the entry.
            key = distributed.main_value(
                cache_key(data_digest(dataset), self._align_weights, settings)
            )
            cached = (
                load_cached(self.align_ref_cache_dir, key) if self.align_ref_cache_dir else None
            )
            if not all(distributed.gather([cached is not None])):
                cached = None
            self.align_cache_hits.append((name, cached is not None))
            if cached is None:
                chosen, rejected = self._compute_reference(dataset, train)
                if self.align_ref_cache_dir and self.accelerator.is_main_process:
                    store_cached(
                        self.align_ref_cache_dir, key, chosen, rejected, {"set": name, **settings}
                    )
            else:
                chosen, rejected = cached
            dataset = dataset.add_column("ref_chosen_logps", chosen)
            dataset = dataset.add_column("ref_rejected_logps", rejected)
            self.align_precompute_seconds += time.perf_counter() - started
            log.info(
                "dpo: reference log-probs for %s (%d pairs) %s", name, len(chosen),
                "from cache" if cached is not None else "computed",
            )  # fmt: skip
            return dataset

        def _compute_reference(self, dataset, train: bool):
            n = len(dataset)
            if train:
                # Longest first, in batches of the training batch size: never larger than a
                # training batch, because Unsloth keeps a scratch buffer the size of the largest
                # batch it has seen (0.25 GiB held through training after a reference pass in
                # batches of 65k tokens, against 0.11 GiB for the training batches; H200).
                lengths = pair_lengths(dataset)
                order = sorted(range(n), key=lambda i: -lengths[i])
                size = self.args.per_device_train_batch_size
            else:  # exactly the eval dataloader's batches
                order = list(range(n))
                size = self.args.per_device_eval_batch_size
            batches = [order[s : s + size] for s in range(0, n, size)]
            chosen, rejected = [0.0] * n, [0.0] * n
            columns = {c: dataset[c] for c in ("prompt_ids", "chosen_ids", "rejected_ids")}
            # Under several processes each takes every world_size-th batch (as the eval
            # dataloader deals them out) and all exchange their results.
            mine = []
            share = slice(self.accelerator.process_index, None, self.accelerator.num_processes)
            for rows in batches[share]:
                examples = [{c: values[i] for c, values in columns.items()} for i in rows]
                batch = self._prepare_inputs(self.data_collator(examples))
                c, r = self._reference_logps(batch)
                mine.extend(zip(rows, c.tolist(), r.tolist(), strict=True))
            for i, vc, vr in distributed.gather(mine):
                chosen[i], rejected[i] = vc, vr
            return chosen, rejected

    return FastDPOTrainer


def _lora_forward(self, x, *args, **kwargs):
    """PEFT's LoRA Linear forward for plain LoRA (no dropout, bias or variant): the adapter
    matrices are cast to the activations' dtype (they are tiny) instead of the activations to the
    adapter's float32, and the scaled update is added by the matrix product itself (addmm). Same
    sum as PEFT's ``result + B(A(x)) * scaling``; on the GPU it saves the float32 copies of every
    LoRA input and the separate multiply and add over each output."""
    import torch

    if args or kwargs or self.disable_adapters or self.merged:
        return type(self).forward(self, x, *args, **kwargs)
    result = self.base_layer(x)
    for name in self.active_adapters:
        if name not in self.lora_A:
            continue
        a, b = self.lora_A[name], self.lora_B[name]
        if (
            name in self.lora_variant
            or b.bias is not None
            or not isinstance(self.lora_dropout[name], torch.nn.Identity)
        ):
            return type(self).forward(self, x, *args, **kwargs)
        dtype = result.dtype
        down = x.reshape(-1, x.shape[-1]).to(dtype) @ a.weight.to(dtype).t()
        up = (b.weight * self.scaling[name]).to(dtype).t()
        result = torch.addmm(result.reshape(-1, result.shape[-1]), down, up).view(result.shape)
    return result


def fast_lora_layers(model) -> int:
    """Route PEFT's LoRA Linear layers through ``_lora_forward``; returns how many."""
    import types

    import torch
    from peft.tuners.lora.layer import Linear

    count = 0
    for module in model.modules():
        if isinstance(module, Linear) and type(module.base_layer) is torch.nn.Linear:
            module.forward = types.MethodType(_lora_forward, module)
            count += 1
    return count


def compile_layers(model) -> int:
    """torch.compile each decoder layer (dynamic shapes); returns how many were compiled."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    layers = getattr(getattr(base, "model", None), "layers", None)
    if layers is None:
        return 0
    for layer in layers:
        layer.compile(dynamic=True)
    return len(layers)
