"""Run folders: never half-written, never silently overwritten, resumable; and the manifest.

A run trains in ``<output>.partial/`` (Trainer checkpoints land there, so ``--resume`` finds
them) and is swapped in as ``<output>/`` only when everything, adapter and manifest included,
is written. An existing ``<output>/`` is replaced only with ``--overwrite``, and then only at
the very end. The whole run holds ``<output>.lock`` and swaps as ``align pairs`` does
(``align/data/atomic.py``): a second writer is refused naming the lock, and a swap killed
between its renames is repaired on the next start. The work folder is not atomic.py's
``.partial``: a crash leaves it for ``--resume``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import importlib.util
import json
import platform
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from align.data.atomic import OutputFolderError, folder_lock, swap_in

PACKAGES = (
    "align",
    "torch",
    "transformers",
    "trl",
    "peft",
    "datasets",
    "accelerate",
    "bitsandbytes",
    "tokenizers",
    "unsloth",
)


class RunError(ValueError):
    """A run folder that cannot be used as asked (exists, partial, nothing to resume)."""


@dataclass(frozen=True)
class RunDir:
    final: Path
    work: Path

    @classmethod
    def at(cls, output_dir: str | Path) -> RunDir:
        """The run for ``--output-dir``: its work folder is ``<output>.partial`` beside it."""
        final = Path(output_dir)
        return cls(final, final.with_name(final.name + ".partial"))

    def checkpoints(self) -> list[Path]:
        return sorted(self.work.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))


def default_output_dir(command: str) -> Path:
    return Path("checkpoints") / f"{command}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"


def check_run_dir(output_dir: str | Path, *, overwrite: bool, resume: bool) -> RunDir:
    """Check the folders before anything is loaded; raise RunError saying what to do.
    Touches nothing: bad data or a bad model found later leaves no trace."""
    run = RunDir.at(output_dir)
    final = run.final
    if resume:
        if not run.checkpoints():
            raise RunError(
                f"--resume: no checkpoint to resume in {run.work} (the run finished, "
                "or never saved one)"
            )
        return run
    if final.exists() and not overwrite:
        raise RunError(
            f"--output-dir {final} exists; give --overwrite to replace it (it is "
            "replaced only when the new run has finished)"
        )
    if run.work.exists() and not overwrite:
        raise RunError(
            f"{run.work} holds an unfinished run; give --resume to continue it or "
            "--overwrite to start over"
        )
    return run


def open_run_dir(run: RunDir, *, resume: bool) -> None:
    """Create the work folder (a fresh one unless resuming), right before training starts."""
    if resume:
        return
    if run.work.exists():
        shutil.rmtree(run.work)
    run.work.mkdir(parents=True)


@contextmanager
def lock_run_dir(run: RunDir) -> Iterator[None]:
    """Hold ``<output>.lock`` for the whole run; repair an interrupted swap first."""
    stack = ExitStack()
    try:
        stack.enter_context(folder_lock(run.final))
    except OutputFolderError as error:  # only the lock's own refusals, not the run's errors
        raise RunError(f"--output-dir {error}") from None
    with stack:
        yield


def finalize_run(run: RunDir) -> Path:
    """Swap the finished run into place (replacing an old one only now), then drop its
    checkpoints: a swap killed half-way that is rolled back leaves them, so --resume can
    finish the run again."""
    swap_in(run.work, run.final)
    for checkpoint in sorted(run.final.glob("checkpoint-*")):
        shutil.rmtree(checkpoint)
    return run.final


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def package_versions() -> dict[str, str | None]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit() -> dict[str, str | bool | None]:
    def git(*args):
        try:
            return subprocess.run(
                ["git", *args], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def hardware() -> dict:
    import torch

    info = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_threads": torch.get_num_threads(),
        "cuda": torch.cuda.is_available(),
    }
    if torch.cuda.is_available():
        info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return info


def write_manifest(
    folder: Path, *, command: str, config, data_files: list[Path], extra: dict | None = None
) -> Path:
    """manifest.json: effective config, package versions, data hashes, git commit, hardware."""
    manifest = {
        "command": command,
        "config": dataclasses.asdict(config),
        "packages": package_versions(),
        "data": {str(p): file_sha256(p) for p in data_files},
        "git": git_commit(),
        "hardware": hardware(),
        "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **(extra or {}),
    }
    path = folder / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8")
    (folder / "config.json").write_text(
        json.dumps(dataclasses.asdict(config), indent=2) + "\n", encoding="utf-8"
    )
    return path


def report_to(choice: str) -> list[str]:
    """TensorBoard by default; Trackio too when installed (``auto``)."""
    if choice == "none":
        return []
    if choice in ("tensorboard", "trackio"):
        return [choice]
    targets = ["tensorboard"]
    if importlib.util.find_spec("trackio") is not None:
        targets.append("trackio")
    return targets
