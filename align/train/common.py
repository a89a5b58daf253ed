"""What `align sft` and `align dpo` share: preparing a run, the Trainer arguments both TRL
configs take, and finishing a run (adapter without the reference copy, tokenizer, metrics,
manifest, then the rename into place)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import torch

from align.train.loading import resolve_backend, resolve_dtype
from align.train.runs import (
    RunDir,
    check_run_dir,
    default_output_dir,
    finalize_run,
    report_to,
    write_manifest,
)

log = logging.getLogger("align.train")


def start_run(config, command: str) -> tuple[RunDir, str]:
    """Resolve the backend and check the run folder; both fail here, before anything is
    loaded, and nothing is created yet (``open_run_dir`` does that before training)."""
    backend = resolve_backend(config.backend)
    output_dir = config.output_dir or default_output_dir(command)
    config.output_dir = str(output_dir)
    run = check_run_dir(output_dir, overwrite=config.overwrite, resume=config.resume)
    torch.manual_seed(config.seed)
    return run, backend


def trainer_kwargs(config, output_dir: Path) -> dict:
    """Arguments common to TRL's SFTConfig and DPOConfig, from an align config."""
    dtype = resolve_dtype(config.dtype)
    # TensorBoard's callback reads its folder from the environment when the trainer is built;
    # without it, logs written before training starts (DPO's first evaluation) land in ./runs.
    os.environ["TENSORBOARD_LOGGING_DIR"] = str(Path(output_dir) / "tensorboard")
    return {
        "output_dir": str(output_dir),
        "learning_rate": config.learning_rate,
        "num_train_epochs": config.epochs,
        "max_steps": config.max_steps,
        "per_device_train_batch_size": config.batch_size,
        "per_device_eval_batch_size": config.batch_size,
        "gradient_accumulation_steps": config.grad_accum,
        "lr_scheduler_type": config.lr_scheduler,
        "warmup_steps": config.warmup_ratio,  # transformers 5: a float < 1 is a ratio
        "optim": config.optim,
        "seed": config.seed,
        "data_seed": config.seed,
        "max_length": config.max_length,
        "logging_steps": config.logging_steps,
        "save_strategy": "steps",
        "save_steps": config.save_steps,
        "save_total_limit": 2,
        "report_to": report_to(config.report_to),
        "bf16": dtype == torch.bfloat16,
        "fp16": dtype == torch.float16,
        "gradient_checkpointing": config.gradient_checkpointing,
        "use_cpu": not torch.cuda.is_available(),
        "dataloader_num_workers": 0,
    }


def set_cpu_threads() -> None:
    """Use every core on CPU (PyTorch's default can be lower in containers)."""
    if not torch.cuda.is_available():
        torch.set_num_threads(os.cpu_count() or 1)


def save_adapter(model, folder: Path) -> None:
    """The trained adapter only: TRL's DPO adds a frozen "ref" copy that must not ship."""
    adapters = list(getattr(model, "peft_config", {}) or {})
    selected = [name for name in adapters if name != "ref"] or None
    model.save_pretrained(str(folder), selected_adapters=selected)
    ref_folder = folder / "ref"
    if ref_folder.exists():  # older PEFT ignores selected_adapters for subfolders
        import shutil

        shutil.rmtree(ref_folder)


def finish_run(
    run: RunDir, *, command: str, config, trainer, tokenizer, data_files: list[Path], metrics: dict
) -> Path:
    """Write adapter, tokenizer, metrics and manifest into the work folder, then move it into
    place. Returns the final folder."""
    save_adapter(trainer.model, run.work)
    tokenizer.save_pretrained(str(run.work))
    history = trainer.state.log_history
    (run.work / "metrics.json").write_text(
        json.dumps({"final": metrics, "log_history": history}, indent=2, default=float) + "\n",
        encoding="utf-8",
    )
    write_manifest(
        run.work,
        command=command,
        config=config,
        data_files=data_files,
        extra={"metrics": metrics, "global_step": trainer.state.global_step},
    )
    return finalize_run(run)
