"""`align sft`: train the LoRA SFT adapter on the gold conversations (TRL SFTTrainer), loss on
assistant tokens only (the chat template's ``{% generation %}`` markers)."""

from __future__ import annotations

from pathlib import Path

from align.data.io import DataError
from align.train.common import (
    finish_run,
    log,
    open_run,
    set_cpu_threads,
    start_run,
    train_metrics,
    trainer_kwargs,
)
from align.train.config import SFTConfig


def gold_dataset(paths: list[str], train_split_only: bool = True):
    """The validated gold conversations as a datasets.Dataset of ``messages``; with
    ``train_split_only``, only those on the train side of `align pairs`' split."""
    from datasets import Dataset

    from align.data.gold import gold_files, load_gold
    from align.data.pairs import PairConfig

    report = load_gold(paths)
    if not report.ok:
        first = report.problems[0]
        raise DataError(
            first.path,
            first.line,
            first.field,
            f"{first.message} ({len(report.problems)} problem(s) in the gold data; "
            "run `align data check`)",
        )
    split = PairConfig()
    rows = [
        {"messages": record.messages}
        for record in report.records
        if not train_split_only or split.split_of(record.group) == "train"
    ]
    return Dataset.from_list(rows), gold_files(paths)


def lora_config(config: SFTConfig):
    from peft import LoraConfig

    return LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=list(config.target_modules),
        bias="none",
        task_type="CAUSAL_LM",
    )


def sft_model(config: SFTConfig, backend: str):
    """Base model wrapped with a fresh LoRA adapter, for either backend."""
    from align.train.loading import load_base

    model, tokenizer = load_base(
        config.base_model,
        dtype=config.dtype,
        load_in_4bit=config.load_in_4bit,
        backend=backend,
        max_length=config.max_length,
    )
    if backend == "unsloth":
        from unsloth import FastLanguageModel

        model = FastLanguageModel.get_peft_model(
            model,
            r=config.lora_r,
            lora_alpha=config.lora_alpha,
            lora_dropout=config.lora_dropout,
            target_modules=list(config.target_modules),
            bias="none",
            use_gradient_checkpointing="unsloth" if config.gradient_checkpointing else False,
            random_state=config.seed,
        )
        return model, tokenizer, None
    return model, tokenizer, lora_config(config)


def build_sft_trainer(config: SFTConfig, output_dir: Path, backend: str):
    """(trainer, tokenizer, data files): everything ready, nothing trained yet."""
    dataset, files = gold_dataset(config.gold, config.train_split_only)
    model, tokenizer, peft_config = sft_model(config, backend)
    from trl import SFTConfig as TRLSFTConfig
    from trl import SFTTrainer

    args = TRLSFTConfig(
        **trainer_kwargs(config, output_dir),
        assistant_only_loss=True,
        packing=False,
        dataset_num_proc=None,
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
    )
    return trainer, tokenizer, files


def run_sft(config: SFTConfig) -> Path:
    """Train, save and return the run folder (adapter, tokenizer, metrics.json, manifest.json)."""
    with start_run(config, "sft") as (run, backend):
        set_cpu_threads()
        trainer, tokenizer, files = build_sft_trainer(config, run.work, backend)
        checkpoint = open_run(run, config, "sft", files)
        log.info(
            "sft: %d conversations, backend %s, output %s",
            len(trainer.train_dataset),
            backend,
            run.final,
        )
        result = trainer.train(resume_from_checkpoint=checkpoint)
        return finish_run(
            run,
            command="sft",
            config=config,
            trainer=trainer,
            tokenizer=tokenizer,
            data_files=files,
            metrics=train_metrics(result, trainer, backend),
        )
