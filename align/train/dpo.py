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
from align.train.common import finish_run, log, set_cpu_threads, start_run, trainer_kwargs
from align.train.config import DPOConfig
from align.train.runs import open_run_dir

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


def reference_check(before: dict, names: list[str]) -> dict:
    """Rewards measure policy against reference; before any update they must be exactly 0,
    which holds only when the reference is the SFT policy itself."""
    rewards = [
        abs(value)
        for name in names
        for key in ("rewards/chosen", "rewards/rejected")
        if (value := before.get(f"eval_{name}_{key}")) is not None
    ]
    largest = max(rewards, default=None)
    return {
        "max_abs_reward_before_training": largest,
        "reference_is_sft_policy": largest is not None and largest == 0.0,
    }


def build_dpo_trainer(config: DPOConfig, output_dir: Path, backend: str):
    """(trainer, tokenizer, eval set names, data files): ready, nothing trained yet."""
    train_set, eval_sets, files = pair_datasets(config)
    model, tokenizer = dpo_model(config, backend)
    from trl import DPOConfig as TRLDPOConfig

    args = TRLDPOConfig(
        **trainer_kwargs(config, output_dir),
        beta=config.beta,
        loss_type=list(config.loss_type),
        loss_weights=config.loss_weights,
        precompute_ref_log_probs=config.precompute_ref_log_probs,
        eval_strategy="steps" if eval_sets else "no",
        eval_steps=config.eval_steps,
    )
    trainer = dpo_trainer_class()(
        model=model,
        ref_model=None,
        args=args,
        train_dataset=train_set,
        eval_dataset=eval_sets or None,
        processing_class=tokenizer,
    )
    return trainer, tokenizer, sorted(eval_sets), files


def run_dpo(config: DPOConfig) -> Path:
    """Train, save and return the run folder (adapter without the frozen reference copy,
    tokenizer, metrics.json with per-perturbation eval, manifest.json)."""
    run, backend = start_run(config, "dpo")
    set_cpu_threads()
    trainer, tokenizer, names, files = build_dpo_trainer(config, run.work, backend)
    open_run_dir(run, resume=config.resume)
    check = {}
    if names and not config.resume:
        check = reference_check(trainer.evaluate(), names)
        log.info("dpo: reference check %s", check)
    log.info(
        "dpo: %d train pairs, eval types %s, backend %s", len(trainer.train_dataset), names, backend
    )
    result = trainer.train(resume_from_checkpoint=True if config.resume else None)
    final_eval = trainer.evaluate() if names else {}
    metrics = {
        "train_loss": result.training_loss,
        "global_step": result.global_step,
        "backend": backend,
        "reference_check": check,
        "per_perturbation": per_perturbation(final_eval, names),
        **result.metrics,
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
