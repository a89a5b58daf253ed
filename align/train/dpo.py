"""`align dpo`: refine the SFT adapter with DPO on the perturbation pairs (TRL DPOTrainer, or
Unsloth's patched one on CUDA).

The reference model is the frozen SFT policy, never the bare base: the SFT adapter is loaded as
the *trainable* adapter of a PeftModel and passed with ``ref_model=None``, so TRL adds a frozen
copy named "ref" (checked on these machines, see shared/reference/FEASIBILITY.md). The run
evaluates before the first update to prove it (rewards exactly 0) and reports reward accuracy
and margin per perturbation type, so an engineer sees which rejected pattern DPO learned to
avoid and which not.
"""

from __future__ import annotations

import random
from pathlib import Path

from align.data.io import DataError, iter_jsonl
from align.data.pairs import check_pair_folder
from align.train import distributed
from align.train.common import (
    finish_run,
    log,
    open_run,
    set_cpu_threads,
    start_run,
    train_metrics,
    trainer_kwargs,
)
from align.train.config import ConfigError, DPOConfig

PAIR_FIELDS = ("prompt", "chosen", "rejected", "perturbation")


def _check_messages(value, path, line, name, *, assistant: bool) -> None:
    if not isinstance(value, list) or not value:
        raise DataError(path, line, name, "must be a non-empty list of messages")
    for i, message in enumerate(value):
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            raise DataError(path, line, f"{name}[{i}]", "must be {role, content} with text content")
        if assistant and message.get("role") != "assistant":
            raise DataError(path, line, f"{name}[{i}].role", "must be assistant")


def read_pairs(path: Path) -> list[dict]:
    """Pair records of one file, checked field by field (DataError names file:line:field)."""
    pairs = []
    for line, record in iter_jsonl(path):
        for name in PAIR_FIELDS:
            if name not in record:
                raise DataError(path, line, name, "missing")
        _check_messages(record["prompt"], path, line, "prompt", assistant=False)
        _check_messages(record["chosen"], path, line, "chosen", assistant=True)
        _check_messages(record["rejected"], path, line, "rejected", assistant=True)
        if not isinstance(record["perturbation"], str):
            raise DataError(path, line, "perturbation", "must be a string")
        pairs.append(record)
    if not pairs:
        raise DataError(path, None, None, "no pairs")
    return pairs


def select_pairs(pairs: list[dict], config: DPOConfig, *, split: str) -> list[dict]:
    """Apply the perturbation filter, the mix (train) or the eval cap (eval); deterministic."""
    if config.perturbations:
        pairs = [p for p in pairs if p["perturbation"] in config.perturbations]
    by_type: dict[str, list[dict]] = {}
    for pair in pairs:
        by_type.setdefault(pair["perturbation"], []).append(pair)
    selected = []
    for name, group in sorted(by_type.items()):
        rng = random.Random(f"{config.seed}:{split}:{name}")
        if split == "train" and config.mix and name in config.mix:
            group = rng.sample(group, round(len(group) * config.mix[name]))
        if split == "eval" and config.max_eval_pairs:
            group = rng.sample(group, min(len(group), config.max_eval_pairs))
        selected.extend(group)
    return selected


def pair_datasets(config: DPOConfig):
    """(train Dataset, {perturbation: eval Dataset}, files) in TRL's conversational format."""
    from datasets import Dataset

    folder = Path(config.pairs)
    check_pair_folder(folder)  # being written, or files its summary does not describe
    files = [folder / "train.jsonl", folder / "eval.jsonl"]
    for file in files:
        if not file.is_file():
            raise DataError(file, None, None, "missing (run `align pairs`, or give --pairs)")
    columns = ("prompt", "chosen", "rejected")
    train = select_pairs(read_pairs(files[0]), config, split="train")
    if not train:
        raise DataError(files[0], None, "perturbation", "no train pairs left after the filter/mix")
    evals = select_pairs(read_pairs(files[1]), config, split="eval")
    eval_sets = {}
    for name in sorted({p["perturbation"] for p in evals}):
        rows = [{c: p[c] for c in columns} for p in evals if p["perturbation"] == name]
        eval_sets[name] = Dataset.from_list(rows)
    train_set = Dataset.from_list([{c: p[c] for c in columns} for p in train])
    return train_set, eval_sets, files


def dpo_model(config: DPOConfig, backend: str):
    """Base + the SFT adapter as the trainable "default" adapter (TRL copies it to "ref")."""
    from align.train.loading import load_adapter, load_base

    if backend == "unsloth":
        from unsloth import PatchDPOTrainer

        PatchDPOTrainer()
    model, tokenizer = load_base(
        config.base_model,
        dtype=config.dtype,
        load_in_4bit=config.load_in_4bit,
        backend=backend,
        max_length=config.max_length,
    )
    if config.load_in_4bit:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=config.gradient_checkpointing
        )
    model = load_adapter(model, config.adapter, trainable=True)
    return model, tokenizer


def dpo_trainer_class():
    """TRL's DPOTrainer, logging its reward metrics per eval set.

    TRL adds its DPO metrics (rewards/accuracies, rewards/margins, ...) to the logs as
    ``eval_<metric>`` whatever the eval set, so with one eval set per perturbation type they
    overwrite each other. This subclass names them ``eval_<set>_<metric>``, like the loss. It is
    created on demand so that it inherits Unsloth's patches when that backend patched TRL."""
    from trl import DPOTrainer

    class AlignDPOTrainer(DPOTrainer):
        def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
            if not self.model.training and self._metrics["eval"]:
                prefix = next(
                    (
                        k[: -len("_loss")]
                        for k in logs
                        if k.startswith("eval") and k.endswith("_loss")
                    ),
                    "eval",
                )
                stored = self._metrics["eval"]
                logs.update({f"{prefix}_{key}": sum(v) / len(v) for key, v in stored.items() if v})
                stored.clear()
            super().log(logs, start_time)

        def _precompute_ref_logps(self, dataset, name, batch_size):
            """TRL's precomputation under several processes, kept in memory. TRL's own has
            each process compute its shard, gathers the results, and lets the main process
            write them to a file next to the dataset that the others then read; our datasets
            live in memory, so that file lands in the main process's private temporary folder
            and the other processes cannot find it. Same shards, same gather, no file."""
            several = self.accelerator.num_processes > 1
            if not several or dataset.cache_files or self.is_deepspeed_enabled:
                return super()._precompute_ref_logps(dataset, name, batch_size)
            if "ref_chosen_logps" in dataset.column_names:
                return dataset
            import torch
            from torch.utils.data import DataLoader

            loader = self.accelerator.prepare(
                DataLoader(
                    dataset,
                    batch_size=batch_size,
                    collate_fn=self.data_collator,
                    num_workers=self.args.dataloader_num_workers,
                    shuffle=False,
                )
            )
            model = self.ref_model or self.model
            chosen, rejected = [], []
            for batch in loader:
                ref_chosen, ref_rejected = self.compute_ref_log_probs(model, batch)
                # gather_for_metrics puts the shards back in dataset order and drops the
                # samples repeated to even out the last batch.
                ref_chosen, ref_rejected = self.accelerator.gather_for_metrics(
                    (ref_chosen, ref_rejected)
                )
                chosen.append(ref_chosen.float().cpu())
                rejected.append(ref_rejected.float().cpu())
            dataset = dataset.add_column("ref_chosen_logps", torch.cat(chosen).tolist())
            return dataset.add_column("ref_rejected_logps", torch.cat(rejected).tolist())

    return AlignDPOTrainer


def per_perturbation(metrics: dict, names: list[str]) -> dict[str, dict]:
    """{perturbation: {reward_accuracy, reward_margin, ...}} from TRL's eval metrics."""
    table = {}
    for name in names:
        prefix = f"eval_{name}_"
        table[name] = {
            "reward_accuracy": metrics.get(f"{prefix}rewards/accuracies"),
            "reward_margin": metrics.get(f"{prefix}rewards/margins"),
            "reward_chosen": metrics.get(f"{prefix}rewards/chosen"),
            "reward_rejected": metrics.get(f"{prefix}rewards/rejected"),
            "loss": metrics.get(f"{prefix}loss"),
        }
    return table


def reference_check(before: dict, names: list[str], tolerance: float = 0.0) -> dict:
    """Rewards measure policy against reference; before any update they must be exactly 0,
    which holds only when the reference is the SFT policy itself. ``tolerance`` allows for
    kernels that round differently between the reference pass and the evaluation (compiled
    layers on the GPU); a bare-base reference is off by orders of magnitude more."""
    rewards = [
        abs(value)
        for name in names
        for key in ("rewards/chosen", "rewards/rejected")
        if (value := before.get(f"eval_{name}_{key}")) is not None
    ]
    largest = max(rewards, default=None)
    return {
        "max_abs_reward_before_training": largest,
        "reference_is_sft_policy": largest is not None and largest <= tolerance,
    }


CHECKPOINT_SHARE = 0.25  # checkpoint when a micro-batch's activations exceed this share of the GPU


def speed_settings(config: DPOConfig, backend: str) -> dict:
    """The resolved speed settings: none of them changes the loss or the metrics. Gradient
    checkpointing left on auto is decided once the data is tokenized (``_auto_checkpointing``)."""
    import torch

    from align.train import fast_dpo

    fast = fast_dpo.fast_path_enabled(config)
    cuda = torch.cuda.is_available()
    batch, accum = config.batch_size, config.grad_accum
    if fast:
        batch, accum = fast_dpo.folded_batch(batch, accum, config.loss_type)
    checkpointing = config.gradient_checkpointing
    if checkpointing is None and not (fast and cuda):
        checkpointing = False
    compile_layers = config.torch_compile == "on" or (
        config.torch_compile == "auto" and fast and cuda and fast_dpo.COMPILE_BY_DEFAULT
    )
    lora_layers = fast_dpo.fast_lora_enabled(config, backend, fast, distributed.sharded())
    multiple = fast_dpo.CUDA_LENGTH_MULTIPLE if cuda or compile_layers else fast_dpo.LENGTH_MULTIPLE
    flash = fast_dpo.flash_attention_enabled(config, fast, cuda)
    # attention widths padded for cuDNN's attention (flash attention builds no plan per width)
    attention_multiple = fast_dpo.ATTENTION_WIDTH_MULTIPLE if fast and cuda and not flash else None
    shared_prompts = fast_dpo.prompt_sharing_enabled(config, fast, flash)
    return {
        "fast_path": fast,
        "fast_lora": lora_layers,
        "batch_size": batch,
        "grad_accum": accum,
        "gradient_checkpointing": checkpointing,
        "precompute_ref_log_probs": fast or config.precompute_ref_log_probs,
        "ref_cache_dir": config.ref_cache_dir if fast else None,
        "torch_compile": compile_layers,
        "sub_batches": config.sub_batches if fast else None,
        "length_multiple": multiple if fast else None,
        "flash_attention": flash,
        "attention_multiple": attention_multiple,
        "share_prompts": shared_prompts,
    }


def _auto_checkpointing(trainer, model, batch_size: int) -> bool:
    """On only when the longest micro-batch's activations would exceed CHECKPOINT_SHARE of the
    GPU's memory (the trainer enables it when training starts). Left on auto only on the CUDA
    fast path, so ``trainer`` is a fast one."""
    import torch

    from align.train import fast_dpo

    longest = trainer.align_longest_sequence()
    total = torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory
    return fast_dpo.needs_checkpointing(model.config, batch_size, longest, total, CHECKPOINT_SHARE)


def check_sharding(config: DPOConfig) -> None:
    """What cannot run with the model sharded (FSDP), refused before anything loads."""
    if not distributed.sharded():
        return
    if "8bit" in config.optim:
        raise ConfigError(
            f"--optim {config.optim}: FSDP cannot gather bitsandbytes' 8-bit optimizer state "
            "for a checkpoint (the run would fail at its first save); use --optim adamw_torch"
        )
    if config.fast_lora == "on":
        raise ConfigError(
            "--fast-lora on: it reads the LoRA weights outside their layers' forward, where "
            "FSDP keeps them sharded; use --fast-lora auto (off under FSDP) or off"
        )
    if config.load_in_4bit:
        raise ConfigError(
            "--load-in-4bit: QLoRA is not supported under FSDP here (untested; its 4-bit "
            "weights would need FSDP units of their own); use DDP or one GPU"
        )


def build_dpo_trainer(config: DPOConfig, output_dir: Path, backend: str):
    """(trainer, tokenizer, eval set names, data files): ready, nothing trained yet. The
    resolved speed settings are on ``trainer.align_speed``."""
    check_sharding(config)
    train_set, eval_sets, files = pair_datasets(config)
    model, tokenizer = dpo_model(config, backend)
    from trl import DPOConfig as TRLDPOConfig

    speed = speed_settings(config, backend)
    kwargs = trainer_kwargs(config, output_dir)
    kwargs.update(
        per_device_train_batch_size=speed["batch_size"],
        per_device_eval_batch_size=speed["batch_size"],
        gradient_accumulation_steps=speed["grad_accum"],
        gradient_checkpointing=bool(speed["gradient_checkpointing"]),
    )
    args = TRLDPOConfig(
        **kwargs,
        beta=config.beta,
        loss_type=list(config.loss_type),
        loss_weights=config.loss_weights,
        precompute_ref_log_probs=speed["precompute_ref_log_probs"],
        eval_strategy="steps" if eval_sets else "no",
        eval_steps=config.eval_steps,
    )
    trainer_class = dpo_trainer_class()
    if speed["fast_path"]:
        import torch

        from align.train import fast_dpo

        trainer_class = fast_dpo.fast_trainer_class(
            trainer_class, ref_cache_dir=speed["ref_cache_dir"]
        )
        if speed["fast_lora"]:
            speed["fast_lora"] = fast_dpo.fast_lora_layers(model)
        if speed["torch_compile"]:
            fast_dpo.compile_layers(model)
            trainer_class.align_compiled = True
        trainer_class.align_length_multiple = speed["length_multiple"]
        # TRL's collator pads each batch to that multiple too (else a batch is cut to its own
        # longest sequence, whatever its width)
        args.pad_to_multiple_of = speed["length_multiple"]
        trainer_class.align_sub_batches = speed["sub_batches"]
        trainer_class.align_flash_attention = speed["flash_attention"]
        if speed["flash_attention"] and torch.cuda.is_available():
            # for this process: with no padding mask, SDPA would still prefer cuDNN's kernel
            torch.backends.cuda.enable_cudnn_sdp(False)
        if speed["attention_multiple"]:
            fast_dpo.pad_attention_widths(model, speed["attention_multiple"])
        if speed["share_prompts"]:
            sharing = fast_dpo.share_prompts(model)
            trainer_class.align_prompt_sharing = sharing
            # what runs: the number of the prompt's last tokens repeated, 0 if not this model
            speed["share_prompts"] = sharing.tail if sharing else 0
    log.info("dpo: speed settings %s", speed)
    trainer = trainer_class(
        model=model,
        ref_model=None,
        args=args,
        train_dataset=train_set,
        eval_dataset=eval_sets or None,
        processing_class=tokenizer,
    )
    if speed["gradient_checkpointing"] is None:
        speed["gradient_checkpointing"] = _auto_checkpointing(trainer, model, speed["batch_size"])
        trainer.args.gradient_checkpointing = speed["gradient_checkpointing"]
    trainer.align_speed = speed
    return trainer, tokenizer, sorted(eval_sets), files


def wrap_for_training(trainer) -> None:
    """Under several processes, wrap the model for training (DDP, or FSDP) now, before the
    Trainer's first evaluation. That evaluation (the reference check) has accelerate prepare
    the bare model in evaluation mode, which marks it prepared without a DDP wrapper; the
    training that follows finds it prepared and never wraps it, so each process would step
    on its own gradients, never averaged (found on 2026-11-29: a two-process run's gradient
    norm was one process's own). The Trainer keeps a model it finds wrapped."""
    if not distributed.several():
        return
    accelerator = trainer.accelerator
    if not getattr(trainer, "is_fsdp_enabled", False):
        trainer.model_wrapped = accelerator.prepare(trainer.model)
        return
    plugin = accelerator.state.fsdp_plugin
    if getattr(plugin, "fsdp_version", 1) == 2:
        return  # FSDP 2 prepares the model with its optimizer as training starts (untested)
    add_fsdp_units_per_dtype(plugin, trainer.model)
    # the Trainer's convention under FSDP: the wrapped model is the model
    trainer.model = trainer.model_wrapped = accelerator.prepare(trainer.model)


def add_fsdp_units_per_dtype(plugin, model) -> None:
    """FSDP 1 wraps each leaf module whose weights have another dtype than the model's as a
    unit of its own, besides the units of the accelerate config's policy (the decoder
    layers). A unit flattens its weights into one tensor of one dtype, and PEFT keeps LoRA
    matrices in float32 over a bfloat16 base: the trainable adapter and TRL's frozen "ref"
    copy alike (PEFT's own FSDP policy, which the Trainer sets when training starts,
    separates only trainable layers)."""
    import functools

    from torch.distributed.fsdp.wrap import _or_policy, lambda_auto_wrap_policy

    dtype = model.get_input_embeddings().weight.dtype

    def other_dtype(module) -> bool:
        own = list(module.parameters(recurse=False))
        return not list(module.children()) and any(p.dtype != dtype for p in own)

    plugin.set_auto_wrap_policy(model)  # the config's policy, made for this model
    policies = [functools.partial(lambda_auto_wrap_policy, lambda_fn=other_dtype)]
    if plugin.auto_wrap_policy is not None:
        policies.append(plugin.auto_wrap_policy)
    plugin.auto_wrap_policy = functools.partial(_or_policy, policies=policies)


def run_dpo(config: DPOConfig) -> Path:
    """Train, save and return the run folder (adapter without the frozen reference copy,
    tokenizer, metrics.json with per-perturbation eval, manifest.json)."""
    with start_run(config, "dpo") as (run, backend):
        return _train_dpo(config, run, backend)


def _train_dpo(config: DPOConfig, run, backend: str) -> Path:
    set_cpu_threads()
    # Under several processes all check in before loading: if one has failed so far, all stop
    # here with an error instead of waiting for it at the Trainer's first collective call.
    error = None
    try:
        distributed.fail_if_injected("loading")
    except Exception as caught:
        error = caught
    distributed.check_all(error, "starting")
    trainer, tokenizer, names, files = build_dpo_trainer(config, run.work, backend)
    if (hook := distributed.injected_failure_callback()) is not None:
        trainer.add_callback(hook)
    checkpoint = open_run(run, config, "dpo", files)
    wrap_for_training(trainer)
    check = {}
    if names and not config.resume:
        tolerance = 1e-3 if trainer.align_speed["fast_path"] else 0.0
        check = reference_check(trainer.evaluate(), names, tolerance)
        log.info("dpo: reference check %s", check)
    log.info(
        "dpo: %d train pairs, eval types %s, backend %s", len(trainer.train_dataset), names, backend
    )
    result = trainer.train(resume_from_checkpoint=checkpoint)
    final_eval = trainer.evaluate() if names else {}
    metrics = {
        **train_metrics(result, trainer, backend),
        "speed": trainer.align_speed,
        "reference_check": check,
        "per_perturbation": per_perturbation(final_eval, names),
    }
    return finish_run(
        run,
        command="dpo",
        config=config,
        trainer=trainer,
        tokenizer=tokenizer,
        data_files=files,
        metrics=metrics,
    )
