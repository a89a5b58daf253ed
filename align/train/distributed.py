"""Several processes (``accelerate launch``, ``torchrun``): who writes, and failing together.

One process, the main one (global rank 0), creates and renames run folders and writes the
manifest, the metrics and the final adapter; the others wait for it at a barrier. Before each
barrier every process says whether its part went well (``check_all``), so a healthy process
never waits for one that has failed: it stops with an error naming the step instead. A process
that dies without reaching ``check_all`` (killed, or failing inside a collective operation of
the Trainer) is handled by the launcher: torchrun, which ``accelerate launch`` uses, stops the
other processes as soon as one exits with an error; the process-group timeout (``TIMEOUT``)
bounds the wait under launchers that do not.

With one process (``WORLD_SIZE`` unset or 1) every function here is a no-op or says "main".
"""

from __future__ import annotations

import datetime
import os

# How long a collective operation (barrier, gather) waits for the other processes. Long enough
# for the main process to write a run folder or a reference cache while the others wait.
TIMEOUT = datetime.timedelta(minutes=30)
# Test hooks (tests/test_multi.py): the process of global rank ALIGN_TEST_FAIL_RANK fails as
# `align dpo` starts, or, with ALIGN_TEST_FAIL_STEP=N, as training step N begins; the tests
# check that the other processes stop too and what is left behind.
FAIL_RANK_ENV = "ALIGN_TEST_FAIL_RANK"
FAIL_STEP_ENV = "ALIGN_TEST_FAIL_STEP"


def world_size() -> int:
    """Processes in the job, from the launcher's environment (known before any set-up)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def local_world_size() -> int:
    """Processes on this machine (they share its CPU cores)."""
    return int(os.environ.get("LOCAL_WORLD_SIZE", str(world_size())))


def is_main() -> bool:
    return rank() == 0


def several() -> bool:
    return world_size() > 1


def sharded() -> bool:
    """Whether ``accelerate launch`` runs the model sharded (FSDP), by its own flag."""
    return os.environ.get("ACCELERATE_USE_FSDP", "false").lower() == "true"


def _group():
    import torch.distributed as dist

    return dist if dist.is_available() and dist.is_initialized() else None


def init() -> None:
    """Join the process group now (with ``TIMEOUT``), so that ``check_all`` and ``barrier``
    work before the Trainer exists. The Trainer later finds the group and reuses it."""
    if not several() or _group() is not None:
        return
    import torch
    from accelerate import PartialState

    cpu = not torch.cuda.is_available()
    if cpu:
        # accelerate names the device "cpu:0" under several CPU processes, and torch.load cannot
        # map a checkpoint's optimizer state to that name, so --resume would fail; plain "cpu".
        os.environ.setdefault("ACCELERATE_TORCH_DEVICE", "cpu")
    PartialState(cpu=cpu, timeout=TIMEOUT)


def barrier() -> None:
    group = _group()
    if group is not None:
        group.barrier()


def check_all(error: BaseException | None, step: str) -> None:
    """Every process reports whether ``step`` went well. A process that failed re-raises its
    own error; the others raise RunError naming the step. Nobody is left waiting at a later
    barrier. Must be called by every process, at the same point."""
    group = _group()
    if group is None:
        if error is not None:
            raise error
        return
    failed = [None] * group.get_world_size()
    group.all_gather_object(failed, None if error is None else f"{type(error).__name__}: {error}")
    if error is not None:
        raise error
    others = [(i, message) for i, message in enumerate(failed) if message is not None]
    if others:
        from align.train.runs import RunError

        rank_, message = others[0]
        raise RunError(f"process {rank_} failed while {step} ({message}); all processes stop")


def _failing_here() -> bool:
    wanted = os.environ.get(FAIL_RANK_ENV)
    return wanted is not None and wanted.strip() == str(rank())


def fail_if_injected(step: str) -> None:
    """The start hook: raise on the rank named by ALIGN_TEST_FAIL_RANK (no step given)."""
    if _failing_here() and not os.environ.get(FAIL_STEP_ENV):
        raise RuntimeError(f"{FAIL_RANK_ENV}: injected failure on rank {rank()} ({step})")


def injected_failure_callback():
    """The training hook: a TrainerCallback raising as step ALIGN_TEST_FAIL_STEP begins on
    the rank named by ALIGN_TEST_FAIL_RANK; None when the hook is not set for this rank."""
    step = os.environ.get(FAIL_STEP_ENV)
    if not (_failing_here() and step):
        return None
    from transformers import TrainerCallback

    class FailAtStep(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            if state.global_step + 1 == int(step):
                raise RuntimeError(
                    f"{FAIL_RANK_ENV}: injected failure on rank {rank()} at step {step}"
                )

    return FailAtStep()


def gather(values: list) -> list:
    """Every process's ``values``, concatenated in rank order, on every process."""
    group = _group()
    if group is None:
        return list(values)
    parts = [None] * group.get_world_size()
    group.all_gather_object(parts, list(values))
    return [value for part in parts for value in part]


def main_value(value):
    """The main process's ``value``, on every process."""
    group = _group()
    if group is None:
        return value
    box = [value]
    group.broadcast_object_list(box, src=0)
    return box[0]
