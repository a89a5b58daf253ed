"""`align sft` / `align dpo` output folders and resume that can be trusted (CPU, toy model):
one writer at a time under ``<output>.lock``, a swap killed between its renames repaired on
the next start, resume from the newest complete checkpoint, the interrupted run's settings
checked, and the train loss over the whole run.

Kills are simulated by building what they leave on disk (a half-saved checkpoint, a
``.<name>.old`` folder, a lock file) or by an exception in the Trainer's step."""

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from align.commands import run_training

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def sft_flags(tiny_base, gold: Path, folder: Path, **values) -> dict:
    """Four SFT steps on 8 gold records, a checkpoint every 2 steps, every step logged."""
    flags = {
        "base_model": str(tiny_base),
        "gold": [str(gold)],
        "output_dir": str(folder / "sft"),
        "max_steps": 4,
        "batch_size": 2,
        "grad_accum": 1,
        "report_to": "none",
        "logging_steps": 1,
        "save_steps": 2,
        "max_length": 768,
        "optim": "adamw_torch",
        "learning_rate": 1e-3,
    }
    return {**flags, **values}


def dpo_flags(tiny_base, adapter: Path, tiny_pairs, folder: Path, **values) -> dict:
    """Two DPO steps, a checkpoint every step, evaluation only before and after training."""
    flags = {
        "base_model": str(tiny_base),
        "adapter": str(adapter),
        "pairs": str(tiny_pairs),
        "output_dir": str(folder / "dpo"),
        "ref_cache_dir": str(folder / "ref-cache"),
        "max_steps": 2,
        "batch_size": 2,
        "grad_accum": 1,
        "report_to": "none",
        "logging_steps": 1,
        "save_steps": 1,
        "eval_steps": 100,
        "max_eval_pairs": 1,
        "max_length": 768,
        "optim": "adamw_torch",
    }
    return {**flags, **values}


def killed_at_step(monkeypatch, step: int) -> None:
    """The Trainer dies as training step ``step`` runs (a Ctrl-C, or the machine going)."""
    from transformers import Trainer

    original = Trainer.training_step
    calls = {"n": 0}

    def dies(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == step:
            raise KeyboardInterrupt("killed")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "training_step", dies)


def manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    code = "import os; print(os.getpid())"
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return int(done.stdout)


@pytest.fixture(scope="module")
def gold8(tiny_base, tmp_path_factory) -> Path:
    """Eight gold records of the toy base's corpus: a few SFT steps' worth."""
    gold = tmp_path_factory.mktemp("gold") / "gold.jsonl"
    lines = (tiny_base.parent / "gold.jsonl").read_text().splitlines()
    gold.write_text("\n".join(lines[:8]) + "\n")
    return gold


@pytest.fixture(scope="module")
def sft_runs(tiny_base, gold8, tmp_path_factory):
    """An SFT run killed in step 3 (its work folder sft.partial/ holds checkpoint-2) and the
    same run uninterrupted, each in a folder of its own with its gold file, named by relative
    paths so that a copy of the folder is the same run. Tests resume copies of the killed one."""
    runs = tmp_path_factory.mktemp("sft-runs")
    for name in ("killed", "whole"):
        (runs / name).mkdir()
        shutil.copy(gold8, runs / name / "gold.jsonl")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(runs / "killed")
        killed_at_step(patch, 3)
        with pytest.raises(KeyboardInterrupt):
            run_training("sft", None, sft_flags(tiny_base, Path("gold.jsonl"), Path(".")))
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(runs / "whole")
        assert run_training("sft", None, sft_flags(tiny_base, Path("gold.jsonl"), Path("."))) == 0
    return runs


@pytest.fixture
def interrupted(sft_runs, tiny_base, tmp_path, monkeypatch):
    """flags(**values) resuming a copy of the killed SFT run, in tmp_path/run (the cwd)."""
    shutil.copytree(sft_runs / "killed", tmp_path / "run")
    monkeypatch.chdir(tmp_path / "run")

    def flags(**values):
        return sft_flags(tiny_base, Path("gold.jsonl"), Path("."), resume=True, **values)

    return flags


# --- one writer at a time, and a killed swap repaired -------------------------------------------


def test_a_second_writer_is_refused_naming_the_lock(capsys, gold8, tiny_base, tmp_path):
    lock = tmp_path / "sft.lock"
    lock.write_text(f"{os.getpid()} {socket.gethostname()}\n")  # a live writer: this process
    status = run_training("sft", None, sft_flags(tiny_base, gold8, tmp_path))
    message = capsys.readouterr().err
    assert status == 2, message
    assert f"lock file {lock}" in message and "is being written by process" in message
    assert lock.read_text() == f"{os.getpid()} {socket.gethostname()}\n"  # not taken over
    assert not (tmp_path / "sft").exists() and not (tmp_path / "sft.partial").exists()


def test_the_lock_is_held_while_training_and_a_stale_one_taken_over(
    capsys, monkeypatch, gold8, tiny_base, tmp_path
):
    from transformers import Trainer

    lock = tmp_path / "sft.lock"
    lock.write_text(f"{dead_pid()} {socket.gethostname()}\n")
    (tmp_path / "sft").mkdir()
    (tmp_path / "sft" / "adapter_model.safetensors").write_text("the old run")
    holders = []
    original = Trainer.training_step

    def records_the_lock(self, *args, **kwargs):
        holders.append(lock.read_text().split()[0])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "training_step", records_the_lock)
    flags = sft_flags(tiny_base, gold8, tmp_path, max_steps=1, overwrite=True)
    assert run_training("sft", None, flags) == 0
    assert "taking over a stale lock" in capsys.readouterr().err
    assert holders == [str(os.getpid())]
    assert (tmp_path / "sft" / "adapter_model.safetensors").read_bytes() != b"the old run"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sft"]


def test_a_swap_killed_between_its_renames_puts_the_old_run_back(
    capsys, gold8, tiny_base, tmp_path
):
    # Killed after the old run was renamed aside and before the new one took its place.
    old = tmp_path / ".sft.old"
    old.mkdir()
    (old / "adapter_model.safetensors").write_text("the old run")
    (tmp_path / "sft.partial").mkdir()
    (tmp_path / "sft.partial" / "manifest.json").write_text("{}")
    status = run_training("sft", None, sft_flags(tiny_base, gold8, tmp_path))
    message = capsys.readouterr().err
    assert "warning: restored" in message and str(old) in message
    assert (tmp_path / "sft" / "adapter_model.safetensors").read_text() == "the old run"
    assert not old.exists() and not (tmp_path / "sft.lock").exists()
    # the old run is back, so a run without --overwrite is refused as for any existing run
    assert status == 2 and "--overwrite" in message


def test_a_swap_killed_after_its_renames_keeps_the_new_run(capsys, gold8, tiny_base, tmp_path):
    (tmp_path / "sft").mkdir()
    (tmp_path / "sft" / "adapter_model.safetensors").write_text("the new run")
    old = tmp_path / ".sft.old"
    old.mkdir()
    (old / "adapter_model.safetensors").write_text("the old run")
    status = run_training("sft", None, sft_flags(tiny_base, gold8, tmp_path))
    message = capsys.readouterr().err
    assert f"warning: removed {old}" in message
    assert (tmp_path / "sft" / "adapter_model.safetensors").read_text() == "the new run"
    assert not old.exists() and not (tmp_path / "sft.lock").exists()
    assert status == 2 and "--overwrite" in message


# --- resume from the newest complete checkpoint -------------------------------------------------
# These run in a copy of the killed run (the cwd): sft.partial/, gold.jsonl, and sft/ once done.


def test_resume_skips_a_half_saved_checkpoint(capsys, interrupted):
    # Killed while saving step 4: weights and optimizer written, trainer_state.json not yet.
    half = Path("sft.partial/checkpoint-4")
    shutil.copytree("sft.partial/checkpoint-2", half)
    (half / "trainer_state.json").unlink()
    assert run_training("sft", None, interrupted()) == 0
    message = capsys.readouterr().err
    assert f"skipping {half}: incomplete (trainer_state.json missing)" in message
    assert "resuming from checkpoint-2" in message
    done = manifest(Path("sft"))
    assert done["global_step"] == 4
    assert done["resumes"] == [{"step": 2, "checkpoint": "checkpoint-2"}]


@pytest.mark.parametrize(
    ("name", "damage", "problem"),
    [
        ("trainer_state.json", "truncate", "trainer_state.json unreadable"),
        ("adapter_model.safetensors", "truncate", "adapter_model.safetensors is cut short"),
        ("optimizer.pt", "truncate", "optimizer.pt is cut short"),
        ("scheduler.pt", "delete", "scheduler.pt missing"),
        ("rng_state.pth", "truncate", "rng_state.pth is cut short"),
    ],
)
def test_a_checkpoint_with_a_file_missing_or_cut_short_is_incomplete(
    sft_runs, tmp_path, name, damage, problem
):
    from align.train.resume import checkpoint_problem

    checkpoint = tmp_path / "checkpoint-2"
    shutil.copytree(sft_runs / "killed" / "sft.partial" / "checkpoint-2", checkpoint)
    assert checkpoint_problem(checkpoint) is None
    path = checkpoint / name
    if damage == "delete":
        path.unlink()
    else:
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    assert problem in checkpoint_problem(checkpoint)


def test_resume_without_a_complete_checkpoint_is_refused(capsys, interrupted):
    Path("sft.partial/checkpoint-2/scheduler.pt").unlink()
    assert run_training("sft", None, interrupted()) == 2
    message = capsys.readouterr().err
    assert "no complete checkpoint" in message and "checkpoint-2: scheduler.pt missing" in message
    assert not Path("sft.lock").exists()


def test_a_run_killed_mid_swap_is_rolled_back_and_finished_by_resume(capsys, interrupted):
    import align.train.runs

    Path("sft").mkdir()  # the run replaces an old one (it was started with --overwrite)
    Path("sft/adapter_model.safetensors").write_text("the old run")

    def killed_between_the_renames(folder, target):
        os.rename(target, Path(target).with_name(".sft.old"))
        raise KeyboardInterrupt("killed")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(align.train.runs, "swap_in", killed_between_the_renames)
        with pytest.raises(KeyboardInterrupt):
            run_training("sft", None, interrupted())
    assert not Path("sft").exists() and Path(".sft.old").is_dir()

    assert run_training("sft", None, interrupted()) == 0
    message = capsys.readouterr().err
    assert "warning: restored" in message and "resuming" not in message
    assert Path("sft/adapter_model.safetensors").read_bytes() != b"the old run"
    done = manifest(Path("sft"))
    assert done["global_step"] == 4 and done["metrics"]["train_loss_steps"] == 4
    assert [r["checkpoint"] for r in done["resumes"]] == ["checkpoint-2", "checkpoint-4"]
    assert sorted(p.name for p in Path(".").iterdir()) == ["gold.jsonl", "sft"]


# --- the interrupted run's settings -------------------------------------------------------------


def test_resume_with_another_learning_rate_is_refused(capsys, interrupted):
    before = sorted(p.name for p in Path("sft.partial").iterdir())
    assert run_training("sft", None, interrupted(learning_rate=2e-3, lora_r=8)) == 2
    message = capsys.readouterr().err
    assert "--learning-rate 0.001 -> 0.002" in message and "--lora-r 16 -> 8" in message
    assert "--allow-changed-settings" in message
    assert sorted(p.name for p in Path("sft.partial").iterdir()) == before
    assert not Path("sft").exists() and not Path("sft.lock").exists()


def test_a_changed_setting_allowed_explicitly_is_recorded(capsys, interrupted):
    flags = interrupted(learning_rate=2e-3, allow_changed_settings=True)
    assert run_training("sft", None, flags) == 0
    assert "resuming with changed settings (--learning-rate" in capsys.readouterr().err
    done = manifest(Path("sft"))
    assert done["settings_changes"] == [
        {"setting": "learning_rate", "old": 1e-3, "new": 2e-3, "step": 2}
    ]
    assert done["config"]["learning_rate"] == 2e-3 and done["global_step"] == 4


def test_resume_with_the_data_changed_is_refused(capsys, interrupted):
    gold = Path("gold.jsonl")
    gold.write_text("\n".join(gold.read_text().splitlines()[:-1]) + "\n")  # a record fewer
    assert run_training("sft", None, interrupted()) == 2
    assert "data gold.jsonl " in capsys.readouterr().err


def test_resume_without_the_settings_record_is_refused(capsys, interrupted):
    Path("sft.partial/run_settings.json").unlink()
    assert run_training("sft", None, interrupted()) == 2
    assert "cannot check the interrupted run's settings" in capsys.readouterr().err


def test_allow_changed_settings_needs_resume(run_align):
    result = run_align("sft", "--allow-changed-settings")
    assert result.returncode == 2
    assert "--allow-changed-settings: only with --resume" in result.stderr


# --- the loss over the whole run ----------------------------------------------------------------


def test_a_resumed_run_reports_the_loss_of_the_whole_run(interrupted, sft_runs):
    assert run_training("sft", None, interrupted()) == 0
    resumed = json.loads(Path("sft/metrics.json").read_text())["final"]
    whole = json.loads((sft_runs / "whole" / "sft" / "metrics.json").read_text())["final"]
    assert resumed["train_loss_steps"] == whole["train_loss_steps"] == 4
    assert resumed["train_loss"] == pytest.approx(whole["train_loss"], rel=1e-4)
    assert manifest(Path("sft"))["metrics"]["train_loss"] == resumed["train_loss"]


# --- DPO: the reference adapter -----------------------------------------------------------------


@pytest.fixture(scope="module")
def killed_dpo(tiny_base, sft_adapter, tiny_pairs, tmp_path_factory) -> Path:
    """A DPO run on its own copy of the SFT adapter (adapter/), killed in step 2 (its work
    folder dpo.partial/ holds checkpoint-1); relative paths, as for SFT."""
    folder = tmp_path_factory.mktemp("dpo-killed")
    shutil.copytree(sft_adapter, folder / "adapter")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        killed_at_step(patch, 2)
        with pytest.raises(KeyboardInterrupt):
            run_training("dpo", None, dpo_flags(tiny_base, "adapter", tiny_pairs, Path(".")))
    return folder


@pytest.fixture
def interrupted_dpo(killed_dpo, tiny_base, tiny_pairs, tmp_path, monkeypatch):
    """flags(adapter, **values) resuming a copy of the killed DPO run, in tmp_path/run."""
    shutil.copytree(killed_dpo, tmp_path / "run")
    monkeypatch.chdir(tmp_path / "run")

    def flags(adapter="adapter", **values):
        return dpo_flags(tiny_base, adapter, tiny_pairs, Path("."), resume=True, **values)

    return flags


def test_dpo_resume_with_another_reference_adapter_is_refused(capsys, interrupted_dpo):
    shutil.copytree("adapter", "other-adapter")
    assert run_training("dpo", None, interrupted_dpo("other-adapter", beta=0.2)) == 2
    message = capsys.readouterr().err
    assert '--adapter "adapter" -> "other-adapter"' in message
    assert "--beta 0.1 -> 0.2" in message
    assert not Path("dpo").exists()


def test_dpo_resume_with_the_adapter_rewritten_in_place_is_refused(capsys, interrupted_dpo):
    from safetensors.torch import load_file, save_file

    weights = "adapter/adapter_model.safetensors"  # the same folder, another reference model
    save_file({name: tensor * 2 for name, tensor in load_file(weights).items()}, weights)
    assert run_training("dpo", None, interrupted_dpo()) == 2
    assert "adapter file adapter_model.safetensors " in capsys.readouterr().err


def test_dpo_resume_with_another_adapter_allowed_records_it(capsys, interrupted_dpo):
    shutil.copytree("adapter", "other-adapter")
    flags = interrupted_dpo("other-adapter", allow_changed_settings=True)
    assert run_training("dpo", None, flags) == 0
    assert "resuming with changed settings (--adapter" in capsys.readouterr().err
    done = manifest(Path("dpo"))
    change = {"setting": "adapter", "old": "adapter", "new": "other-adapter", "step": 1}
    assert done["settings_changes"] == [change]
    assert done["config"]["adapter"] == "other-adapter" and done["global_step"] == 2
