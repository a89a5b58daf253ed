"""Atomic output folders (issue 26, part 3): `align pairs` replaces its folder whole, under a
lock a second writer respects, and a write killed at any step is repaired on the next start."""

import os
import signal
import socket
import subprocess
import sys
import textwrap

import pytest

from align.commands import run_pairs
from align.data import atomic
from align.data.atomic import OutputFolderError, atomic_folder

OLD = {"a.txt": "old a\n", "b.txt": "old b\n"}
NEW = {"a.txt": "new a\n", "b.txt": "new b\n"}


def _files(folder):
    return {p.name: p.read_text() for p in sorted(folder.iterdir())} if folder.exists() else {}


def _write(target, files, **options):
    with atomic_folder(target, **options) as folder:
        for name, text in files.items():
            (folder / name).write_text(text)


def _pairs(gold, out, capsys, overwrite=False):
    code = run_pairs([gold], out, 3407, 0.34, None, None, 2 / 3, overwrite)
    return code, capsys.readouterr().err


def _dead_pid():
    code = "import os; print(os.getpid())"
    done = subprocess.run([sys.executable, "-c", code], text=True, capture_output=True, check=True)
    return int(done.stdout)


# --- the helper -----------------------------------------------------------------------------


def test_a_folder_is_replaced_whole_leaving_no_temporary_names_or_lock(tmp_path):
    target = tmp_path / "out"
    _write(target, {**OLD, "gone.txt": "only in the old set\n"})
    _write(target, NEW, overwrite=True)
    assert _files(target) == NEW
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_an_error_while_building_leaves_the_old_folder_and_no_partial(tmp_path):
    target = tmp_path / "out"
    _write(target, OLD)
    with pytest.raises(RuntimeError), atomic_folder(target, overwrite=True) as folder:
        (folder / "a.txt").write_text("half")
        raise RuntimeError
    assert _files(target) == OLD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_failed_swap_rename_rolls_back_to_the_old_complete_set(tmp_path, monkeypatch):
    target = tmp_path / "out"
    _write(target, OLD)
    real_rename = os.rename

    def rename(source, destination):
        if str(source).endswith(".partial"):  # the new folder into place
            raise OSError(28, "No space left on device", str(destination))
        real_rename(source, destination)

    monkeypatch.setattr(atomic.os, "rename", rename)
    with pytest.raises(OSError, match="No space left"):
        _write(target, NEW, overwrite=True)
    assert _files(target) == OLD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


# A writer killed (SIGKILL: no handler runs) just before each step of the swap.
KILL_AT = """
    import os, shutil, signal, sys
    from pathlib import Path
    from align.data import atomic
    step, target = sys.argv[1], Path(sys.argv[2])
    calls = []
    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)
    real_rename = os.rename
    def rename(source, destination):
        calls.append(source)
        if step == f"rename{len(calls)}":
            die()
        real_rename(source, destination)
    os.rename = rename
    if step == "remove_old":
        shutil.rmtree = die
    with atomic.atomic_folder(target, overwrite=True) as folder:
        (folder / "a.txt").write_text("new a\\n")
        if step == "building":
            die()
        (folder / "b.txt").write_text("new b\\n")
"""


@pytest.mark.parametrize(
    ("step", "left", "repair"),
    [
        ("building", OLD, "removed"),  # half a new folder
        ("rename1", OLD, "removed"),  # new folder complete, old still in place
        ("rename2", OLD, "restored"),  # old moved aside, new not yet in: no target at all
        ("remove_old", NEW, "removed"),  # new in place, old not yet deleted
    ],
)
def test_a_writer_killed_at_any_step_leaves_a_complete_set_after_the_next_start(
    tmp_path, capsys, step, left, repair
):
    target = tmp_path / "out"
    _write(target, OLD)
    code = textwrap.dedent(KILL_AT)
    done = subprocess.run([sys.executable, "-c", code, step, str(target)], check=False)
    assert done.returncode == -signal.SIGKILL
    assert (tmp_path / "out.lock").exists()  # the killed writer's, now stale
    # The next start repairs, then refuses to replace without --overwrite: the set it left.
    with pytest.raises(OutputFolderError, match="give --overwrite"):
        _write(target, {"c.txt": "never\n"})
    assert _files(target) == left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert f"warning: {repair} " in capsys.readouterr().err


def test_the_next_start_says_what_it_repaired_and_that_it_took_over_the_lock(tmp_path, capsys):
    target = tmp_path / "out"
    _write(target, OLD)
    subprocess.run(
        [sys.executable, "-c", textwrap.dedent(KILL_AT), "rename2", str(target)], check=False
    )
    _write(target, NEW, overwrite=True)
    err = capsys.readouterr().err
    assert f"{tmp_path / 'out.lock'}: taking over a stale lock" in err
    assert f"restored {target} from {tmp_path / '.out.old'}" in err
    assert f"removed {tmp_path / '.out.partial'}" in err
    assert _files(target) == NEW


# --- align pairs ----------------------------------------------------------------------------


def test_pairs_while_another_writer_holds_the_lock_exits_2_naming_the_lock(
    tiny_gold, tmp_path, run_align
):
    out, lock = tmp_path / "pairs", tmp_path / "pairs.lock"
    lock.write_text(f"{os.getpid()} {socket.gethostname()}\n")  # this live process
    result = run_align("pairs", "--gold", tiny_gold, "--out", out)
    assert result.returncode == 2
    assert f"is being written by process {os.getpid()}" in result.stderr
    assert f"lock file {lock}" in result.stderr
    assert not out.exists()
    assert lock.read_text() == f"{os.getpid()} {socket.gethostname()}\n"


def test_a_second_writer_inside_the_first_ones_lock_is_refused(tiny_gold, tmp_path, capsys):
    out = tmp_path / "pairs"
    with atomic_folder(out):
        code, err = _pairs(tiny_gold, out, capsys)
    assert code == 2
    assert f"lock file {tmp_path / 'pairs.lock'}" in err


def test_pairs_takes_over_a_stale_lock_with_a_warning(tiny_gold, tmp_path, capsys):
    out, lock = tmp_path / "pairs", tmp_path / "pairs.lock"
    pid = _dead_pid()
    lock.write_text(f"{pid} {socket.gethostname()}\n")
    code, err = _pairs(tiny_gold, out, capsys)
    assert code == 0, err
    assert f"{lock}: taking over a stale lock (process {pid} is gone)" in err
    assert sorted(p.name for p in out.iterdir()) == ["eval.jsonl", "summary.json", "train.jsonl"]
    assert not lock.exists()


def test_pairs_into_a_folder_of_pair_files_without_overwrite_exits_2_naming_the_flag(
    tiny_gold, tmp_path, capsys
):
    out = tmp_path / "pairs"
    out.mkdir()
    (out / "summary.json").write_text("{}\n")
    code, err = _pairs(tiny_gold, out, capsys)
    assert code == 2
    assert f"error: --out {out} exists; give --overwrite to replace it" in err
    assert _files(out) == {"summary.json": "{}\n"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gold", "pairs"]


def test_pairs_with_overwrite_replaces_the_folder_completely(tiny_gold, tmp_path, capsys):
    fresh, out = tmp_path / "fresh", tmp_path / "pairs"
    assert _pairs(tiny_gold, fresh, capsys)[0] == 0
    out.mkdir()
    (out / "train.jsonl").write_text("stale\n")  # a half set from an older version
    code, err = _pairs(tiny_gold, out, capsys, overwrite=True)
    assert code == 0, err
    assert _files(out) == _files(fresh)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh", "gold", "pairs"]


def test_pairs_refuses_a_folder_holding_other_files_even_with_overwrite(
    tiny_gold, tmp_path, capsys
):
    out = tmp_path / "pairs"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    code, err = _pairs(tiny_gold, out, capsys, overwrite=True)
    assert code == 2
    assert "holds files this command does not write (notes.txt)" in err
    assert _files(out) == {"notes.txt": "mine\n"}


def test_pairs_with_overwrite_via_the_command_line(tiny_gold, tmp_path, run_align):
    out = tmp_path / "pairs"
    first = run_align("pairs", "--gold", tiny_gold, "--out", out, "--eval-fraction", "0.34")
    assert first.returncode == 0, first.stderr
    again = run_align("pairs", "--gold", tiny_gold, "--out", out, "--eval-fraction", "0.34")
    assert again.returncode == 2
    assert f"--out {out} exists; give --overwrite to replace it" in again.stderr
    args = ("pairs", "--gold", tiny_gold, "--out", out, "--overwrite", "--seed", "1")
    assert run_align(*args).returncode == 0
    assert '"seed": 1' in (out / "summary.json").read_text()
