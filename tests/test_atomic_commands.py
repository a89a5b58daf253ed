"""Atomic output folders beyond `align pairs` (issue "Trustworthy inputs and outputs", part 3):
`align export` and `align eval` build their folder beside the target and swap it in under
``<target>.lock`` (align/data/atomic.py), and the readers of a pair folder (training, the
pairs gate) refuse one that is being written or whose files are not those its summary.json
describes. Killed writers are simulated by the on-disk states they leave (a ``.old`` folder,
a lock from a live or a dead process); no model is loaded."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from align.data.atomic import OutputFolderError, check_unlocked, live_lock
from align.data.io import DataError
from align.data.pairs import DATA_FILES_KEY, check_pair_folder

REPO = Path(__file__).resolve().parent.parent
HERE = f"{os.getpid()} {socket.gethostname()}\n"  # a lock held by this live process


def _dead_pid() -> int:
    code = "import os; print(os.getpid())"
    done = subprocess.run([sys.executable, "-c", code], text=True, capture_output=True, check=True)
    return int(done.stdout)


def _files(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(folder.iterdir())} if folder.exists() else {}


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- the helpers readers use ----------------------------------------------------------------


def test_live_lock_names_a_live_writer_and_ignores_a_stale_one(tmp_path):
    target, lock = tmp_path / "out", tmp_path / "out.lock"
    assert live_lock(target) is None
    check_unlocked(target)
    lock.write_text(HERE)
    assert live_lock(target) == (lock, f"process {os.getpid()} on {socket.gethostname()}")
    with pytest.raises(OutputFolderError, match=f"lock file {lock}"):
        check_unlocked(target)
    lock.write_text(f"{_dead_pid()} {socket.gethostname()}\n")
    assert live_lock(target) is None
    check_unlocked(target)


# --- align export ---------------------------------------------------------------------------


@pytest.fixture
def export_run(tmp_path, monkeypatch):
    """export_run(passed=True, **flags) -> (exit status, stderr): `run_export` with the model
    work replaced by a fake that writes two files (the folder mechanics are what is tested)."""
    from align.export import pipeline
    from align.export.command import run_export

    adapter = tmp_path / "adapter"
    adapter.mkdir()
    config = {"peft_type": "LORA", "r": 8, "lora_alpha": 16, "target_modules": ["q_proj"]}
    (adapter / "adapter_config.json").write_text(json.dumps(config))
    monkeypatch.setattr(pipeline, "require_gguf", lambda: None)
    monkeypatch.setattr(pipeline, "require_llama_cpp", lambda: None)
    calls = []

    def run(capsys, passed=True, **flags):
        def fake_files(config, work, say):
            calls.append(work)
            (work / "tiny-Q8_0.gguf").write_text("new gguf\n")
            (work / "export_report.json").write_text(json.dumps({"passed": passed}) + "\n")
            return {"passed": passed, "files": []}

        monkeypatch.setattr(pipeline, "export_files", fake_files)
        values = {"adapter": str(adapter), "output_dir": str(tmp_path / "export"), **flags}
        status = run_export(None, values)
        return status, capsys.readouterr().err

    run.calls = calls
    return run


OLD_EXPORT = {"export_report.json": '{"passed": true, "old": 1}\n', "tiny-Q8_0.gguf": "old\n"}
NEW_EXPORT = {"export_report.json": '{"passed": true}\n', "tiny-Q8_0.gguf": "new gguf\n"}


def _old_export(folder: Path) -> None:
    folder.mkdir()
    for name, text in OLD_EXPORT.items():
        (folder / name).write_text(text)


def test_export_killed_between_the_renames_gets_its_old_folder_back(tmp_path, export_run, capsys):
    # Killed after moving the old export aside, before the new one went in: no export at all.
    _old_export(tmp_path / ".export.old")
    (tmp_path / "export.lock").write_text(f"{_dead_pid()} {socket.gethostname()}\n")
    status, err = export_run(capsys)
    # The repair puts the old export back; without --overwrite it is then kept.
    assert status == 2
    assert f"restored {tmp_path / 'export'} from {tmp_path / '.export.old'}" in err
    assert f"error: --output-dir {tmp_path / 'export'} exists; give --overwrite" in err
    assert _files(tmp_path / "export") == OLD_EXPORT
    assert _names(tmp_path) == ["adapter", "export"]
    assert export_run(capsys, overwrite=True)[0] == 0
    assert _files(tmp_path / "export") == NEW_EXPORT


def test_export_killed_after_the_swap_keeps_the_new_folder(tmp_path, export_run, capsys):
    # Killed after its verified export went in, before the old one was deleted.
    _old_export(tmp_path / ".export.old")
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "export_report.json").write_text('{"passed": true, "killed": 1}\n')
    # Without --overwrite the folder is refused before any repair: nothing moves.
    status, err = export_run(capsys)
    assert status == 2 and "give --overwrite" in err
    assert _names(tmp_path) == [".export.old", "adapter", "export"]
    # The next export that starts repairs first (the new folder stands, the old goes); this
    # one then fails verification, so what the killed export swapped in is what stays.
    status, err = export_run(capsys, passed=False, overwrite=True)
    assert status == 1
    assert f"removed {tmp_path / '.export.old'}" in err
    assert _files(tmp_path / "export") == {"export_report.json": '{"passed": true, "killed": 1}\n'}
    assert _names(tmp_path) == ["adapter", "export", "export.partial"]


def test_export_while_another_export_writes_the_folder_exits_2_naming_the_lock(
    tmp_path, export_run, capsys
):
    _old_export(tmp_path / "export")
    lock = tmp_path / "export.lock"
    lock.write_text(HERE)
    status, err = export_run(capsys, overwrite=True)
    assert status == 2
    assert f"is being written by process {os.getpid()}" in err and f"lock file {lock}" in err
    assert export_run.calls == []  # refused before any model work
    assert _files(tmp_path / "export") == OLD_EXPORT
    assert lock.read_text() == HERE
    assert _names(tmp_path) == ["adapter", "export", "export.lock"]


def test_export_takes_over_a_stale_lock_and_leaves_no_lock_or_work_folder(
    tmp_path, export_run, capsys
):
    _old_export(tmp_path / "export")
    (tmp_path / ".export.partial").mkdir()  # a killed export's unfinished work
    (tmp_path / ".export.partial" / "half.gguf").write_text("half")
    pid = _dead_pid()
    (tmp_path / "export.lock").write_text(f"{pid} {socket.gethostname()}\n")
    status, err = export_run(capsys, overwrite=True)
    assert status == 0, err
    assert f"taking over a stale lock (process {pid} is gone)" in err
    assert f"removed {tmp_path / '.export.partial'}" in err
    assert _files(tmp_path / "export") == NEW_EXPORT
    assert _names(tmp_path) == ["adapter", "export"]


def test_export_that_fails_verification_keeps_the_old_folder_and_its_files_aside(
    tmp_path, export_run, capsys
):
    _old_export(tmp_path / "export")
    status, err = export_run(capsys, passed=False, overwrite=True)
    assert status == 1
    assert f"the files stay in {tmp_path / 'export.partial'}" in err
    assert _files(tmp_path / "export") == OLD_EXPORT
    assert json.loads((tmp_path / "export.partial/export_report.json").read_text()) == {
        "passed": False
    }
    assert _names(tmp_path) == ["adapter", "export", "export.partial"]  # no lock, no work
    # The next verified export replaces the folder and clears the failed files.
    assert export_run(capsys, overwrite=True)[0] == 0
    assert _files(tmp_path / "export") == NEW_EXPORT
    assert _names(tmp_path) == ["adapter", "export"]


def test_export_command_line_refuses_a_locked_folder_with_exit_2(tmp_path, run_align):
    pytest.importorskip("gguf", reason="align[gguf] is not installed")
    pytest.importorskip("llama_cpp", reason="align[gguf] is not installed")
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    config = {"peft_type": "LORA", "r": 8, "lora_alpha": 16, "target_modules": ["q_proj"]}
    (adapter / "adapter_config.json").write_text(json.dumps(config))
    lock = tmp_path / "out.lock"
    lock.write_text(HERE)
    result = run_align("export", "--adapter", adapter, "--output-dir", tmp_path / "out")
    assert result.returncode == 2
    assert f"lock file {lock}" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


# --- align eval -----------------------------------------------------------------------------


class FakeGenerator:
    """What run_eval needs of a backend, without a model."""

    def __init__(self):
        self.settings = {"backend": "fake", "do_sample": False, "max_new_tokens": 8}
        self.stats = SimpleNamespace(responses=1, new_tokens=3, seconds=0.5, tokens_per_second=6)

    def generate(self, prompts):
        return ["TRIAGE: RED (Immediate)\nRationale: not breathing well."] * len(prompts)


EVAL_FILES = ["rates.png", "report.json", "report.md", "responses.jsonl"]


@pytest.fixture
def eval_run(tiny_gold, monkeypatch):
    """eval_run(out) -> (report, paths): `run_eval` on a case per source, a fake generator."""
    from align.evaluation import run as eval_module

    made = []

    def make(config):
        made.append(config)
        return FakeGenerator()

    monkeypatch.setattr(eval_module, "make_generator", make)

    def run(out):
        config = eval_module.EvalConfig(
            gold=[str(tiny_gold)], limit=1, preference=False, output_dir=str(out)
        )
        return eval_module.run_eval(config, progress=lambda message: None)

    run.made = made
    return run


def test_eval_writes_its_four_files_as_one_folder_and_leaves_nothing_beside(tmp_path, eval_run):
    out = tmp_path / "eval"
    report, paths = eval_run(out)
    assert _names(out) == EVAL_FILES
    cases = json.loads((out / "report.json").read_text())["eval_set"]["cases"]
    assert (
        cases
        == report["eval_set"]["cases"]
        == len((out / "responses.jsonl").read_text().split("\n")) - 1
    )
    assert paths["json"] == out / "report.json"
    first = (out / "responses.jsonl").read_text()
    eval_run(out)  # an earlier report is replaced, as before
    assert _names(out) == EVAL_FILES and (out / "responses.jsonl").read_text() == first
    assert _names(tmp_path) == ["eval", "gold"]


def test_eval_into_a_folder_another_eval_writes_is_refused_before_loading(
    tmp_path, eval_run, capsys
):
    from align.commands import run_eval_command
    from align.evaluation.run import EvalConfig

    out, lock = tmp_path / "eval", tmp_path / "eval.lock"
    lock.write_text(HERE)
    with pytest.raises(OutputFolderError, match=f"lock file {lock}"):
        eval_run(out)
    assert eval_run.made == []  # no model loaded
    config = EvalConfig(gold=[str(tmp_path / "gold")], output_dir=str(out), preference=False)
    assert run_eval_command(config) == 2
    assert f"lock file {lock}" in capsys.readouterr().err
    assert not out.exists() and lock.read_text() == HERE


def test_eval_killed_mid_swap_gets_its_old_reports_back_then_replaced(tmp_path, eval_run, capsys):
    old = tmp_path / ".eval.old"
    old.mkdir()
    (old / "report.json").write_text('{"old": true}\n')
    (tmp_path / "eval.lock").write_text(f"{_dead_pid()} {socket.gethostname()}\n")
    eval_run(tmp_path / "eval")
    err = capsys.readouterr().err
    assert f"restored {tmp_path / 'eval'} from {old}" in err
    assert _names(tmp_path / "eval") == EVAL_FILES
    assert _names(tmp_path) == ["eval", "gold"]


def test_eval_refuses_a_folder_holding_files_it_does_not_write(tmp_path, eval_run):
    out = tmp_path / "eval"
    out.mkdir()
    (out / "notes.md").write_text("mine\n")
    with pytest.raises(OutputFolderError, match=r"holds files this command does not write"):
        eval_run(out)
    assert _files(out) == {"notes.md": "mine\n"} and eval_run.made == []


# --- the pair folder's readers --------------------------------------------------------------


@pytest.fixture
def pair_folder(tiny_gold, tmp_path, capsys):
    """pair_folder(name, seed=3407) -> a folder written by `align pairs` on the tiny gold."""
    from align.commands import run_pairs

    def write(name: str, seed: int = 3407) -> Path:
        out = tmp_path / name
        assert run_pairs([tiny_gold], out, seed, 0.34, None, None, 2 / 3) == 0
        capsys.readouterr()
        return out

    return write


def test_pairs_summary_records_the_sha256_of_each_data_file(pair_folder):
    out = pair_folder("pairs")
    recorded = json.loads((out / "summary.json").read_text())[DATA_FILES_KEY]
    assert recorded == {
        name: {"sha256": hashlib.sha256((out / name).read_bytes()).hexdigest()}
        for name in ("train.jsonl", "eval.jsonl")
    }
    check_pair_folder(out)


def test_the_committed_pairs_match_their_summary():
    check_pair_folder(REPO / "preference_data/pairs")
    assert DATA_FILES_KEY in json.loads((REPO / "preference_data/pairs/summary.json").read_text())


def test_a_pair_folder_being_written_is_refused_naming_folder_and_lock(pair_folder, tmp_path):
    out = pair_folder("pairs")
    lock = tmp_path / "pairs.lock"
    lock.write_text(HERE)
    with pytest.raises(DataError) as caught:
        check_pair_folder(out)
    assert str(caught.value).startswith(f"{out}: being written by process {os.getpid()}")
    assert f"lock file {lock}" in str(caught.value)
    # A first write under way, no folder yet: the lock is what is named, not missing files.
    (tmp_path / "first.lock").write_text(HERE)
    with pytest.raises(DataError, match="being written"):
        check_pair_folder(tmp_path / "first")
    lock.write_text(f"{_dead_pid()} {socket.gethostname()}\n")  # its writer is gone
    check_pair_folder(out)


@pytest.mark.parametrize("replaced", ["train.jsonl", "eval.jsonl", "summary.json"])
def test_a_pair_folder_mixing_two_writes_is_refused(pair_folder, replaced):
    out, other = pair_folder("pairs"), pair_folder("other", seed=1)
    assert (out / "train.jsonl").read_bytes() != (other / "train.jsonl").read_bytes()
    shutil.copyfile(other / replaced, out / replaced)
    with pytest.raises(DataError) as caught:
        check_pair_folder(out)
    message = str(caught.value)
    assert message.startswith(f"{out}: ")
    assert "is not the file summary.json describes" in message
    assert "align pairs --overwrite" in message


def test_a_pair_folder_without_recorded_digests_is_read_as_before(pair_folder, tmp_path):
    out = pair_folder("pairs")
    summary = json.loads((out / "summary.json").read_text())
    del summary[DATA_FILES_KEY]  # written by an older align
    (out / "summary.json").write_text(json.dumps(summary))
    (out / "eval.jsonl").write_text("")
    check_pair_folder(out)
    (out / "summary.json").unlink()  # a hand-made folder (tests, experiments)
    check_pair_folder(out)


def test_a_summary_listing_a_missing_or_foreign_file_is_refused(pair_folder):
    out = pair_folder("pairs")
    (out / "eval.jsonl").unlink()
    with pytest.raises(DataError, match=r"eval\.jsonl is missing; summary\.json lists it"):
        check_pair_folder(out)
    summary = json.loads((out / "summary.json").read_text())
    summary[DATA_FILES_KEY] = {"../secret": {"sha256": "0" * 64}}
    (out / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(DataError, match=r"'\.\./secret' is not a pair file"):
        check_pair_folder(out)


def test_gate_pairs_exits_2_on_a_folder_mixing_two_writes(pair_folder, tiny_gold, run_align):
    out, other = pair_folder("pairs"), pair_folder("other", seed=1)
    gate = ("gate", "--pairs", "--pairs-dir", out, "--gold", tiny_gold)
    assert run_align(*gate).returncode == 0
    shutil.copyfile(other / "summary.json", out / "summary.json")
    result = run_align(*gate)
    assert result.returncode == 2
    assert f"error: {out}: train.jsonl is not the file summary.json describes" in result.stderr
