"""Output folders replaced whole: built beside the target, swapped in by rename, one writer
at a time, and an interrupted swap repaired on the next start.

Beside ``<target>`` a write uses three names: ``.<name>.partial/`` (the new folder being
built), ``.<name>.old/`` (the old folder during the swap) and ``<name>.lock`` (the writer's pid
and host, created with O_EXCL). Only the lock holder uses the first two, so they are fixed
names that the next writer can find and repair:

- ``.old/`` with no target: killed between the two renames; the old folder is put back.
- ``.old/`` beside a target: killed after the swap; the new folder stands, the old is removed.
- ``.partial/``: killed while building; it is removed.

So after any crash the target holds the complete old set or the complete new set.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import sys
from collections.abc import Collection, Iterator
from pathlib import Path


class OutputFolderError(ValueError):
    """An output folder that cannot be written as asked; the message says why and what to do."""


def _names(target: Path) -> tuple[Path, Path, Path]:
    """(partial, old, lock) beside ``target``, an absolute path."""
    return (
        target.with_name(f".{target.name}.partial"),
        target.with_name(f".{target.name}.old"),
        target.with_name(f"{target.name}.lock"),
    )


def warn(message: str) -> None:
    """A warning for the user on standard error (what was repaired or taken over)."""
    print(f"warning: {message}", file=sys.stderr)


def check_output_folder(
    target: str | Path,
    *,
    overwrite: bool,
    owns: Collection[str] | None = None,
    option: str = "--out",
) -> None:
    """Raise OutputFolderError if ``atomic_folder`` would refuse ``target``: a file or a link
    there, files in it that the command does not write (``owns``; None: the whole folder is
    the command's), files in it without ``overwrite``, or a live writer's lock. Touches
    nothing, so a command can call it before its long work."""
    target = Path(target)
    _check_target(target, overwrite, owns, option)
    check_unlocked(target)


def lock_file(target: str | Path) -> Path:
    """The lock file a writer of ``target`` holds: ``<target>.lock`` beside it."""
    return _names(Path(os.path.abspath(target)))[2]


def live_lock(target: str | Path) -> tuple[Path, str] | None:
    """(lock file, "process <pid> on <host>") while a live writer holds ``target``'s lock, else
    None. A stale lock (its process gone) is no writer: what ``target`` holds is then a
    complete set (or nothing), as the module docstring says."""
    lock = lock_file(target)
    owner = _owner(lock)
    if owner is None or _is_stale(owner):
        return None
    return lock, _holder(owner)


def check_unlocked(target: str | Path) -> None:
    """Raise OutputFolderError naming the lock file while a live writer holds ``target``'s
    lock (see ``live_lock``)."""
    held = live_lock(target)
    if held is not None:
        raise OutputFolderError(_locked(Path(target), *held))


def _check_kind(target: Path) -> None:
    if target.is_symlink():
        # Renaming would move the link, not the folder it points to.
        raise OutputFolderError(f"{target}: a symbolic link; give the folder it points to")
    if target.exists() and not target.is_dir():
        raise OutputFolderError(f"{target}: a file where a folder is needed")


def _check_target(target: Path, overwrite: bool, owns, option: str) -> None:
    _check_kind(target)
    if not target.exists():
        return
    names = sorted(entry.name for entry in target.iterdir())
    foreign = [name for name in names if owns is not None and name not in owns]
    if foreign:
        # The swap replaces the whole folder: these would be lost.
        raise OutputFolderError(
            f"{option} {target} holds files this command does not write "
            f"({', '.join(foreign[:5])}); give a new or empty folder"
        )
    if names and not overwrite:
        raise OutputFolderError(f"{option} {target} exists; give --overwrite to replace it")


def _owner(lock: Path) -> str | None:
    """The lock's ``pid host`` text; None when there is no lock file."""
    try:
        return lock.read_text(encoding="utf-8", errors="replace").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None


def _is_stale(owner: str) -> bool:
    """Whether the lock's writer is gone: its pid no longer runs on this host. A lock from
    another host, or one not yet filled in (its writer between create and write), is held."""
    pid, _, host = owner.partition(" ")
    if host != socket.gethostname() or not (pid.isascii() and pid.isdigit()):
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (OSError, OverflowError):  # PermissionError: alive, another user's
        return False
    return False


def _holder(owner: str) -> str:
    pid, _, host = owner.partition(" ")
    return f"process {pid} on {host}" if host else "another process"


def _locked(target: Path, lock: Path, holder: str) -> str:
    return (
        f"{target} is being written by {holder} (lock file {lock}); wait for it to "
        f"finish, or delete {lock} if that process is gone"
    )


def _acquire(lock: Path, target: Path) -> None:
    for _ in range(3):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            owner = _owner(lock)
            if owner is None:
                continue  # released meanwhile
            if not _is_stale(owner):
                raise OutputFolderError(_locked(target, lock, _holder(owner))) from None
            # Two writers taking over one stale lock at the same instant could both win;
            # the window is a few system calls, and a stale lock needs a killed writer first.
            warn(f"{lock}: taking over a stale lock (process {owner.split()[0]} is gone)")
            lock.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(f"{os.getpid()} {socket.gethostname()}\n")
        return
    raise OutputFolderError(_locked(target, lock, _holder(_owner(lock) or "")))


def _recover(where: Path, target: Path) -> None:
    """Repair what an interrupted write left (see the module docstring)."""
    partial, old, _ = _names(where)
    if old.exists():
        if where.exists():
            shutil.rmtree(old)
            warn(f"removed {old}, left by an interrupted write ({target} was already new)")
        else:
            os.rename(old, where)
            warn(f"restored {target} from {old}, left by an interrupted write")
    if partial.exists():
        shutil.rmtree(partial)
        warn(f"removed {partial}, an interrupted write's unfinished folder")


def _fsync_dir(path: Path) -> None:
    """Make renames in ``path`` durable; best effort (not every system opens folders)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _swap(partial: Path, where: Path, old: Path) -> None:
    """Put ``partial`` in place of ``where``; the old folder goes only once the new one stands."""
    if where.exists():
        os.rename(where, old)
        try:
            os.rename(partial, where)
        except BaseException:
            os.rename(old, where)  # roll back at once; a kill here is repaired next start
            raise
        _fsync_dir(where.parent)
        # The new folder stands: a failure here must not fail the write. What is left is
        # removed by the next start.
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(partial, where)
    _fsync_dir(where.parent)


@contextlib.contextmanager
def atomic_folder(
    target: str | Path,
    *,
    overwrite: bool = False,
    owns: Collection[str] | None = None,
    option: str = "--out",
) -> Iterator[Path]:
    """Yield an empty folder beside ``target`` to write into; on a normal exit it replaces
    ``target`` whole, on an exception it is removed and ``target`` is untouched.

    Held under ``<target>.lock`` from the start: a second writer gets OutputFolderError naming
    the lock file; a stale lock (its process gone) is taken over with a warning. A write that
    was interrupted is repaired first. ``target`` is refused as ``check_output_folder``
    says."""
    with folder_lock(target) as where:
        _check_target(Path(target), overwrite, owns, option)  # after the repair: what is there
        partial = _names(where)[0]
        partial.mkdir()
        try:
            yield partial
            swap_in(partial, where)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise


def write_file(path: Path, text: str) -> None:
    """Write ``text`` as UTF-8 with ``\\n`` line ends and flush it to disk (before the swap)."""
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


@contextlib.contextmanager
def folder_lock(target: str | Path) -> Iterator[Path]:
    """Hold ``<target>.lock`` for a writer that builds its folder its own way and swaps it in
    with ``swap_in`` (a training run, whose work folder must outlive a crash to be resumed).
    Same rules as ``atomic_folder``: a second writer gets OutputFolderError naming the lock
    file, a stale lock is taken over with a warning, and a swap that was interrupted is
    repaired first. Yields ``target`` as an absolute path."""
    target = Path(target)
    where = Path(os.path.abspath(target))
    lock = _names(where)[2]
    _check_kind(target)  # before the lock is created beside it
    try:
        where.parent.mkdir(parents=True, exist_ok=True)
        _acquire(lock, target)
    except OSError as error:
        raise OutputFolderError(
            f"{target}: cannot write here: {error.filename or target}: {error.strerror or error}"
        ) from None
    try:
        _recover(where, target)
        yield where
    finally:
        lock.unlink(missing_ok=True)


def swap_in(folder: str | Path, target: str | Path) -> None:
    """Put the finished ``folder`` in place of ``target`` with the same renames as
    ``atomic_folder`` (the old folder kept as ``.<name>.old`` until the new one stands), so
    ``folder_lock``'s repair applies. Call it while holding ``folder_lock(target)``."""
    folder = Path(folder)
    where = Path(os.path.abspath(target))
    _fsync_dir(folder)
    _swap(folder, where, _names(where)[1])
