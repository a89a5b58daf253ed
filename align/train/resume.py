"""Resume that can be trusted: the newest complete checkpoint, the interrupted run's settings
checked, and the train loss over the whole run.

At its start a run records its settings in ``run_settings.json`` in the work folder: the
resolved options that shape the result, the sha256 of its data files and, for DPO, of the SFT
adapter (the reference). ``--resume`` compares them with the new run's and refuses a
difference unless ``--allow-changed-settings`` is given; then the change (setting, old, new,
step) is recorded there and in the manifest. Pure Python: no torch.
"""

from __future__ import annotations

import dataclasses
import json
import struct
import zipfile
from pathlib import Path

from align.data.atomic import warn
from align.data.io import write_files_atomically
from align.train.runs import RunDir, RunError, file_sha256

SETTINGS_FILE = "run_settings.json"
# Options that do not shape the trained weights: where and how the run is invoked, where it
# logs, how often it logs, saves and evaluates, and the DPO speed settings (config.py: "none
# of these changes the loss or the metrics"). Every other option must match on --resume.
NOT_SETTINGS = frozenset(
    {
        "output_dir",
        "overwrite",
        "resume",
        "allow_changed_settings",
        "report_to",
        "logging_steps",
        "save_steps",
        "eval_steps",
        "fast_path",
        "torch_compile",
        "fast_lora",
        "sub_batches",
        "flash_attention",
        "share_prompts",
        "ref_cache_dir",
        "gradient_checkpointing",
    }
)
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", "adapter_model.bin")
WEIGHT_FILES = ("adapter_model.safetensors", "adapter_model.bin", "model.safetensors")


# --- checkpoints ------------------------------------------------------------------------------


def checkpoint_problem(folder: Path) -> str | None:
    """Why the Trainer could not resume from ``folder`` (a file it writes missing or
    unreadable), or None when the checkpoint is complete. The Trainer writes the weights,
    then the optimizer, scheduler and RNG states, and trainer_state.json last."""
    problem = _trainer_state_problem(folder)
    if problem:
        return problem
    if not any((folder / name).is_file() for name in WEIGHT_FILES):
        return "no adapter weights"
    if not any(folder.glob("optimizer*")):
        return "optimizer.pt missing"
    if not (folder / "scheduler.pt").is_file():
        return "scheduler.pt missing"
    if not any(folder.glob("rng_state*.pth")):
        return "rng_state.pth missing"
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        if path.suffix == ".safetensors" and not _safetensors_whole(path):
            return f"{path.name} is cut short or unreadable"
        if path.suffix in (".pt", ".pth", ".bin") and not zipfile.is_zipfile(path):
            # torch.save writes a zip archive; a file cut short lacks its closing directory
            return f"{path.name} is cut short or unreadable"
    return None


def _trainer_state_problem(folder: Path) -> str | None:
    try:
        state = json.loads((folder / "trainer_state.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "trainer_state.json missing"
    except (OSError, ValueError):
        return "trainer_state.json unreadable"
    step = state.get("global_step") if isinstance(state, dict) else None
    if not isinstance(step, int) or f"checkpoint-{step}" != folder.name:
        return f"trainer_state.json does not give step {folder.name.split('-')[-1]}"
    return None


def _safetensors_whole(path: Path) -> bool:
    """The header parses and the file is as long as the header says (8-byte length, JSON
    header, then the tensors' bytes)."""
    try:
        with path.open("rb") as handle:
            (length,) = struct.unpack("<Q", handle.read(8))
            header = json.loads(handle.read(length))
        ends = [
            entry["data_offsets"][1] for name, entry in header.items() if name != "__metadata__"
        ]
        return path.stat().st_size == 8 + length + max(ends, default=0)
    except (OSError, ValueError, KeyError, TypeError, IndexError, struct.error):
        return False


def newest_complete_checkpoint(run: RunDir) -> tuple[Path, list[tuple[Path, str]]]:
    """(the newest checkpoint the Trainer can resume from, [(newer incomplete one, why)]).
    RunError when none is complete."""
    skipped = []
    for checkpoint in reversed(run.checkpoints()):
        problem = checkpoint_problem(checkpoint)
        if problem is None:
            return checkpoint, skipped
        skipped.append((checkpoint, problem))
    found = "; ".join(f"{path.name}: {why}" for path, why in skipped) or "none"
    raise RunError(f"--resume: no complete checkpoint in {run.work} ({found})")


# --- settings ---------------------------------------------------------------------------------


def run_settings(config, data_files: list[Path]) -> dict:
    """The settings that shape the run's result, as JSON values keyed by name."""
    values = dataclasses.asdict(config)
    settings = {name: value for name, value in values.items() if name not in NOT_SETTINGS}
    for path in data_files:
        settings[f"data {path}"] = file_sha256(Path(path))
    adapter = values.get("adapter")
    if adapter and Path(adapter).is_dir():
        # The same folder rewritten is another reference: compare its content too.
        for name in ADAPTER_FILES:
            if (Path(adapter) / name).is_file():
                settings[f"adapter file {name}"] = file_sha256(Path(adapter) / name)
    return json.loads(json.dumps(settings, default=str))


def record_settings(run: RunDir, command: str, settings: dict) -> None:
    """Written when a fresh run starts, before its first step."""
    _write(run, {"command": command, "settings": settings, "changes": [], "resumes": []})


def check_settings(
    run: RunDir, command: str, settings: dict, *, allow: bool, checkpoint: Path
) -> list[dict]:
    """Compare a resumed run's settings with the interrupted run's; refuse a difference
    (RunError naming each, old and new) unless ``allow``, then record it at the checkpoint's
    step. Returns the changes made now."""
    step = int(checkpoint.name.split("-")[-1])
    record = _read(run, allow)
    if record is None:  # unreadable and allowed: start the record from here
        record = {"command": command, "settings": settings, "changes": [], "resumes": []}
    if record.get("command") != command:
        raise RunError(
            f"--resume: {run.work} holds an `align {record.get('command')}` run, not `align "
            f"{command}`"
        )
    old = record["settings"]
    changes = [
        {"setting": name, "old": old.get(name), "new": settings.get(name), "step": step}
        for name in sorted(set(old) | set(settings))
        if old.get(name) != settings.get(name)
    ]
    if changes:
        listed = "; ".join(_describe(change) for change in changes)
        if not allow:
            raise RunError(
                f"--resume: settings differ from the interrupted run's ({listed}); give the "
                "same values, or --allow-changed-settings to continue with the new ones (the "
                "change is recorded in the manifest)"
            )
        warn(f"resuming with changed settings ({listed}); recorded in the manifest")
    record["settings"] = settings
    record["changes"].extend(changes)
    record["resumes"].append({"step": step, "checkpoint": checkpoint.name})
    _write(run, record)
    return changes


def _describe(change: dict) -> str:
    name = change["setting"]
    label = name if " " in name else "--" + name.replace("_", "-")
    return f"{label} {_show(change['old'])} -> {_show(change['new'])}"


def _show(value) -> str:
    return "(not set)" if value is None else json.dumps(value)


def _read(run: RunDir, allow: bool) -> dict | None:
    path = run.work / SETTINGS_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(record, dict) or not isinstance(record.get("settings"), dict):
            raise ValueError("not a settings record")
        return record
    except (OSError, ValueError) as error:
        why = "missing" if isinstance(error, FileNotFoundError) else f"unreadable ({error})"
        if not allow:
            raise RunError(
                f"--resume: cannot check the interrupted run's settings: {path} {why}; give "
                "--allow-changed-settings to resume without that check"
            ) from None
        warn(f"{path} {why}: the interrupted run's settings are unknown")
        return None


def _write(run: RunDir, record: dict) -> None:
    # a kill mid-write leaves the old record whole
    write_files_atomically({run.work / SETTINGS_FILE: json.dumps(record, indent=2) + "\n"})


def settings_history(folder: Path) -> dict:
    """{"settings_changes", "resumes"} for the manifest (empty lists for a run without)."""
    try:
        record = json.loads((folder / SETTINGS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record = {}
    return {
        "settings_changes": record.get("changes", []),
        "resumes": record.get("resumes", []),
    }


# --- the loss over the whole run ----------------------------------------------------------------


def whole_run_loss(log_history: list[dict]) -> tuple[float | None, int]:
    """(mean train loss per step over every logged step, steps it covers). Each logged
    ``loss`` is the mean since the previous log, so it is weighted by that span; the history
    is restored from the checkpoint on --resume, so it covers the steps before it too (the
    Trainer's own figure divides only the resumed part's sum by every step)."""
    total, steps, previous = 0.0, 0, 0
    for entry in log_history:
        if "loss" not in entry or "step" not in entry:
            continue
        span = entry["step"] - previous
        if span > 0:
            total += entry["loss"] * span
            steps += span
            previous = entry["step"]
    return (total / steps if steps else None), steps
