"""What `align sft` and `align dpo` share: preparing a run (lock, checks, work folder, resume
checks), the Trainer arguments both TRL configs take, and finishing a run (adapter without the
reference copy, tokenizer, metrics, manifest, then the swap into place)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import torch

from align.data.atomic import warn
from align.train import distributed, resume
from align.train.loading import resolve_backend, resolve_dtype
from align.train.runs import (
    RunDir,
    RunError,
    check_run_dir,
    default_output_dir,
    finalize_run,
    lock_run_dir,
    open_run_dir,
    report_to,
    write_manifest,
)

log = logging.getLogger("align.train")


@contextlib.contextmanager
def start_run(config, command: str) -> Iterator[tuple[RunDir, str]]:
    """Resolve the backend, lock the run folder and check it; all fail here, before anything
    is loaded, and nothing is created but the lock (``open_run`` creates the work folder
    before training). Yields (run, backend); the lock is held until the block ends, whatever
    ends it. Under several processes the main one holds the lock and each makes the same
    checks on the same files, so all fail alike."""
    backend = resolve_backend(config.backend)
    distributed.init()
    # Each process would name a default folder after its own clock: take the main one's.
    output_dir = distributed.main_value(config.output_dir or str(default_output_dir(command)))
    config.output_dir = str(output_dir)
    with _main_holds_lock(RunDir.at(output_dir)):
        run = check_run_dir(output_dir, overwrite=config.overwrite, resume=config.resume)
        torch.manual_seed(config.seed)
        yield run, backend


@contextlib.contextmanager
def _main_holds_lock(run: RunDir) -> Iterator[None]:
    """The main process takes the lock (and repairs an interrupted swap); the others wait
    for it, so they check the folders as repaired."""
    stack = contextlib.ExitStack()
    error = None
    if distributed.is_main():
        try:
            stack.enter_context(lock_run_dir(run))
        except (RunError, OSError) as caught:
            error = caught
    distributed.check_all(error, f"locking {run.final}")
    with stack:
        yield


def open_run(run: RunDir, config, command: str, data_files: list[Path]) -> str | None:
    """Right before training: a fresh run gets a new work folder with its settings recorded;
    a resumed one its newest complete checkpoint, its settings checked against the
    interrupted run's. Returns the checkpoint to resume from (None: a fresh run). The main
    process does it; the others wait and resume from the same checkpoint."""
    error = checkpoint = None
    if distributed.is_main():
        try:
            checkpoint = _prepare_work(run, config, command, data_files)
        except Exception as caught:  # reported to the other processes, then re-raised
            error = caught
    distributed.check_all(error, f"preparing {run.work}")
    return distributed.main_value(checkpoint)


def _prepare_work(run: RunDir, config, command: str, data_files: list[Path]) -> str | None:
    settings = resume.run_settings(config, data_files)
    if not config.resume:
        open_run_dir(run, resume=False)
        resume.record_settings(run, command, settings)
        return None
    checkpoint, skipped = resume.newest_complete_checkpoint(run)
    for path, why in skipped:
        warn(f"skipping {path}: incomplete ({why}); resuming from {checkpoint.name}")
    resume.check_settings(
        run, command, settings, allow=config.allow_changed_settings, checkpoint=checkpoint
    )
    return str(checkpoint)


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
        # DDP: every trainable (LoRA) weight takes part in every forward, so skip the search
        # for unused parameters the Trainer turns on for a PEFT model (a graph pass per step).
        "ddp_find_unused_parameters": False,
    }


def set_cpu_threads() -> None:
    """Use every core on CPU (PyTorch's default can be lower in containers), shared between
    the processes of this machine when there are several."""
    if not torch.cuda.is_available():
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // distributed.local_world_size()))


def save_adapter(model, folder: Path, state_dict: dict | None = None) -> None:
    """The trained adapter only: TRL's DPO adds a frozen "ref" copy that must not ship.
    ``state_dict``: the full weights gathered from a sharded (FSDP) model."""
    adapters = list(getattr(model, "peft_config", {}) or {})
    selected = [name for name in adapters if name != "ref"] or None
    extra = {} if state_dict is None else {"state_dict": state_dict}
    model.save_pretrained(str(folder), selected_adapters=selected, **extra)
    ref_folder = folder / "ref"
    if ref_folder.exists():  # older PEFT ignores selected_adapters for subfolders
        import shutil

        shutil.rmtree(ref_folder)


def train_metrics(result, trainer, backend: str) -> dict:
    """The Trainer's figures, with the train loss over the whole run: after --resume the
    Trainer's own divides only the resumed part's losses by every step."""
    loss, steps = resume.whole_run_loss(trainer.state.log_history)
    return {
        **result.metrics,
        "train_loss": result.training_loss if loss is None else loss,
        "train_loss_steps": steps,  # logged steps the mean covers
        "global_step": result.global_step,
        "backend": backend,
    }


def finish_run(
    run: RunDir, *, command: str, config, trainer, tokenizer, data_files: list[Path], metrics: dict
) -> Path:
    """Write adapter, tokenizer, metrics and manifest into the work folder, then move it into
    place. Returns the final folder. Under several processes only the main one writes; the
    others wait for it (and all fail if it fails)."""
    state_dict = None
    if getattr(trainer, "is_fsdp_enabled", False):
        # Gathering a sharded model's weights takes every process; writing them only one.
        state_dict = trainer.accelerator.get_state_dict(trainer.model)
    error = None
    if distributed.is_main():
        try:
            _write_run(run, command, config, trainer, tokenizer, data_files, metrics, state_dict)
        except Exception as caught:  # reported to the other processes, then re-raised
            error = caught
    distributed.check_all(error, f"writing the run folder {run.final}")
    return run.final


def _write_run(run, command, config, trainer, tokenizer, data_files, metrics, state_dict):
    model = trainer.accelerator.unwrap_model(trainer.model)
    save_adapter(model, run.work, state_dict)
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
        extra={
            "metrics": metrics,
            "global_step": trainer.state.global_step,
            **resume.settings_history(run.work),
        },
    )
    finalize_run(run)
