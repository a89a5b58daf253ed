"""Merge a LoRA adapter into its base: base + adapter -> one 16-bit Hugging Face model folder.

The merge is checked before anything is written (a merge that silently equals the base model
is a known failure of other tools):

1. logits of the merged model equal those of base + adapter (unmerged) within MERGE_ATOL, fp32;
2. the adapter moves the logits away from the bare base by more than MIN_EFFECT, and so does
   the merged model;
3. the folder written (weights cast to bf16 or f16, config, tokenizer, chat template,
   generation config) is reloaded and gives the logits of the cast model in memory.

The folder appears under its final name only when all of it holds (``atomic_folder``: built
beside it, swapped in whole under a lock).
"""

from __future__ import annotations

import gc
from pathlib import Path

from align.data.atomic import atomic_folder
from align.export.common import CHECK_CONVERSATIONS, ExportError, chat_ids, disk_error

MERGE_DTYPES = {"bf16": "bfloat16", "f16": "float16"}
# Max |logit difference| between the merged model and base + adapter, both fp32: merging only
# reorders the sums ((W + s*B*A) x vs W x + s*B*(A x)); the toy model shows ~1e-6.
MERGE_ATOL = 1e-3
# An adapter (and its merge) must move some logit of the check prompts by more than this.
MIN_EFFECT = 1e-3
# The reloaded folder must reproduce the in-memory cast model (same weights, same maths).
SAVED_ATOL = 1e-4


def merge_adapter(
    base_model: str,
    adapter: str,
    out_dir: str | Path,
    *,
    dtype: str = "bf16",
    overwrite: bool = False,
    conversations=CHECK_CONVERSATIONS,
) -> dict:
    """Merge ``adapter`` into ``base_model`` and write the model folder ``out_dir``.

    ``base_model``: Hub id, local folder or "toy"; ``adapter``: a PEFT LoRA folder trained on
    that base (checked with ``check_adapter_fits``). Returns the checks as a dict; raises
    ExportError (or LoadError for an unusable base or adapter) and then writes nothing.
    """
    from align.train.loading import load_adapter, load_base

    torch_dtype = merge_dtype(dtype)
    out_dir = Path(out_dir)
    if out_dir.exists() and not overwrite:
        raise ExportError(f"{out_dir} exists; give --overwrite to replace it")
    model, _ = load_base(base_model, dtype="float32")
    tokenizer = load_export_tokenizer(base_model, adapter)
    batches = [chat_ids(tokenizer, messages) for messages in conversations]
    base_logits = logits_of(model, batches)
    model = load_adapter(model, adapter, trainable=False)  # checks the dimensions first
    adapter_logits = logits_of(model, batches)
    merged = model.merge_and_unload()
    merged_logits = logits_of(merged, batches)
    report = check_merge(base_logits, adapter_logits, merged_logits)

    # Round the weights to the dtype written and keep their logits. Parameters only: a cast of
    # the whole module would also round buffers such as RoPE's inv_freq, which are not saved.
    for parameter in merged.parameters():
        parameter.data = parameter.data.to(torch_dtype).float()
    cast_logits = logits_of(merged, batches)
    report["cast_min_cosine"] = min_cosine(cast_logits, merged_logits)
    merged.to(torch_dtype)
    try:
        with atomic_folder(out_dir, overwrite=overwrite, option="merged folder") as temp:
            save_merged(merged, tokenizer, temp)
            del merged, model
            gc.collect()
            report["saved_error"] = check_saved(temp, batches, cast_logits)
    except OSError as error:
        raise disk_error(out_dir, error) from None
    report.update(
        folder=str(out_dir), dtype=dtype, prompts=len(batches), tokens=sum(map(len, batches))
    )
    return report


def merge_dtype(dtype: str):
    """The torch dtype for ``bf16``/``f16`` (also spelled ``bfloat16``/``float16``)."""
    import torch

    name = MERGE_DTYPES.get(dtype, dtype)
    if name not in MERGE_DTYPES.values():
        raise ExportError(f"--dtype: must be one of {', '.join(MERGE_DTYPES)}, got {dtype!r}")
    return getattr(torch, name)


def load_export_tokenizer(base_model: str, adapter: str):
    """The adapter's own tokenizer when it saved one (training may have changed it), else the
    base's; loaded as saved (no pad-token fix-ups, which would change the files written)."""
    from transformers import AutoConfig, AutoTokenizer

    from align.train.loading import LoadError, resolve_base_model

    base = resolve_base_model(base_model)
    folder = Path(adapter)
    source = folder if (folder / "tokenizer_config.json").is_file() else base
    try:
        # The base's model config: a run folder's config.json holds the run's options instead.
        return AutoTokenizer.from_pretrained(source, config=AutoConfig.from_pretrained(base))
    except (OSError, ValueError) as error:
        raise LoadError(f"{source}: cannot load its tokenizer ({error})") from error


def logits_of(model, batches: list[list[int]]) -> list:
    """fp32 logits (positions x vocab) of each token sequence, one forward pass each."""
    import torch

    device = next(model.parameters()).device
    with torch.inference_mode():
        return [
            model(input_ids=torch.tensor([ids], device=device)).logits[0].float().cpu()
            for ids in batches
        ]


def max_abs_diff(first: list, second: list) -> float:
    return max(float((a - b).abs().max()) for a, b in zip(first, second, strict=True))


def min_cosine(first: list, second: list) -> float:
    """The lowest cosine similarity between the logit vectors of the same position."""
    import torch

    return min(
        float(torch.nn.functional.cosine_similarity(a, b, dim=-1).min())
        for a, b in zip(first, second, strict=True)
    )


def check_merge(base_logits: list, adapter_logits: list, merged_logits: list) -> dict:
    """Raise ExportError unless merged == base + adapter and both differ from the bare base."""
    import torch

    logits = [*base_logits, *adapter_logits, *merged_logits]
    if not all(bool(torch.isfinite(x).all()) for x in logits):
        raise ExportError("merge check: non-finite logits (NaN or inf) from the base or adapter")
    report = {
        "merge_error": max_abs_diff(merged_logits, adapter_logits),
        "adapter_effect": max_abs_diff(adapter_logits, base_logits),
        "merged_vs_base": max_abs_diff(merged_logits, base_logits),
        "tolerance": MERGE_ATOL,
    }
    if report["adapter_effect"] <= MIN_EFFECT:
        raise ExportError(
            f"the adapter does not change the base model's logits (max |difference| "
            f"{report['adapter_effect']:.2e} <= {MIN_EFFECT:g}); nothing to merge: an untrained "
            "LoRA (B = 0) or the wrong adapter?"
        )
    if report["merged_vs_base"] <= MIN_EFFECT:
        raise ExportError(
            "the merged model equals the bare base model (max |difference| "
            f"{report['merged_vs_base']:.2e}): the adapter was not merged"
        )
    if report["merge_error"] > MERGE_ATOL:
        raise ExportError(
            f"the merged model differs from base + adapter: max |logit difference| "
            f"{report['merge_error']:.2e} > {MERGE_ATOL:g}"
        )
    return report


def save_merged(model, tokenizer, folder: Path) -> None:
    """The Hugging Face folder: config, weights (safetensors), generation config, tokenizer
    files and chat template."""
    if model.generation_config.eos_token_id is None:
        model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(folder)  # config.json, generation_config.json, model.safetensors
    tokenizer.save_pretrained(folder)  # tokenizer.json, tokenizer_config.json, chat_template.jinja
    if not (folder / "chat_template.jinja").is_file() and tokenizer.chat_template:
        (folder / "chat_template.jinja").write_text(tokenizer.chat_template, encoding="utf-8")
    for file in folder.iterdir():
        file.chmod(0o644)  # safetensors writes its file private; the folder is for publishing


def check_saved(folder: Path, batches: list[list[int]], expected: list) -> float:
    """Reload the written folder (fp32) and compare its logits with ``expected``."""
    import torch
    from transformers import AutoModelForCausalLM

    reloaded = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    error = max_abs_diff(logits_of(reloaded, batches), expected)
    if error > SAVED_ATOL:
        raise ExportError(
            f"{folder}: the written model does not reproduce the merged weights (max |logit "
            f"difference| {error:.2e} > {SAVED_ATOL:g})"
        )
    return error
