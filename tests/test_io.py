"""align.data.io: JSON Lines errors that name file, line and field; all-or-nothing writes."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from align.data import io
from align.data.io import DataError, dumps_line, iter_jsonl, read_jsonl, write_files_atomically

# --- reading --------------------------------------------------------------------------------


def test_loads_json_reads_what_json_loads_reads_and_refuses_nan_infinity_and_a_bom():
    for raw in ['{"a": [1, 2.5, "x"]}', b'{"a": 1}', '"\\u00e9"', "[]"]:
        assert io.loads_json(raw) == json.loads(raw)
    for bad in ['{"a": NaN}', "\ufeff{}", '{"a": Infinity}', "{"]:
        with pytest.raises(ValueError):
            io.loads_json(bad)


def test_iter_jsonl_yields_objects_with_their_file_line_numbers_skipping_blank_lines(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"a": 1}\n\n   \n{"b": 2}\r\n{"c": "\xc3\xa9"}')  # CRLF, no final newline
    assert read_jsonl(path) == [(1, {"a": 1}), (4, {"b": 2}), (5, {"c": "é"})]


def test_malformed_json_error_names_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"a": 1}\n{"a": \n{"a": 3}\n', encoding="utf-8")
    with pytest.raises(DataError) as caught:
        read_jsonl(path)
    assert (caught.value.path, caught.value.line) == (str(path), 2)
    assert str(caught.value).startswith(f"{path}:2: invalid JSON")


def test_non_utf8_bytes_error_names_line_and_byte(tmp_path):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": "caf\xe9"}\n')
    with pytest.raises(DataError) as caught:
        read_jsonl(path)
    assert caught.value.line == 2
    assert "not UTF-8" in str(caught.value) and "byte 11" in str(caught.value)


@pytest.mark.parametrize("line", ["[1, 2]", '"text"', "42", "null"])
def test_a_line_that_is_not_a_json_object_is_an_error(tmp_path, line):
    path = tmp_path / "x.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r":1: each line must be a JSON object"):
        read_jsonl(path)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_rejected_as_invalid_json(tmp_path, constant):
    # Python's json accepts them, but they are not JSON and pass every numeric range check.
    path = tmp_path / "nan.jsonl"
    path.write_text(f'{{"resp_rate": {constant}}}\n', encoding="utf-8")
    with pytest.raises(DataError, match=rf":1: invalid JSON: .*{constant}"):
        read_jsonl(path)


def test_missing_file_is_a_data_error_naming_the_file(tmp_path):
    with pytest.raises(DataError, match=r"nope\.jsonl: cannot read"):
        read_jsonl(tmp_path / "nope.jsonl")


def test_data_error_message_is_path_line_field_message():
    assert str(DataError("g.jsonl", 7, "scenario.resp_rate", "must be a number")) == (
        "g.jsonl:7: scenario.resp_rate: must be a number"
    )
    assert str(DataError("g.jsonl", None, None, "no records")) == "g.jsonl: no records"


def test_dumps_line_is_one_utf8_line_in_the_given_key_order():
    line = dumps_line({"z": "é\nx", "a": [1, {"b": None}]})
    assert line == '{"z": "é\\nx", "a": [1, {"b": null}]}\n'
    assert line.count("\n") == 1 and json.loads(line) == {"z": "é\nx", "a": [1, {"b": None}]}


def test_a_lone_surrogate_escape_is_a_line_error_naming_the_field():
    lines = [
        b'{"id": "\\ud800", "x": 1}\n',
        b'{"a": {"b": ["ok", "\\udfff"]}}\n',
        b'{"emoji": "\\ud83d\\ude00"}\n',  # a surrogate pair is one character: fine
    ]
    records = list(io.jsonl_records(lines, "s.jsonl"))
    first, second = records[0][1], records[1][1]
    assert isinstance(first, DataError) and first.field == "id" and "surrogate" in first.message
    assert isinstance(second, DataError) and second.field == "a.b[1]"
    assert records[2] == (3, {"emoji": "\U0001f600"})
    str(first).encode("utf-8")  # the message itself can be printed


def test_deep_nesting_is_a_line_error_not_a_recursion_error():
    deep = b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n"
    [(number, error)] = list(io.jsonl_records([deep], "d.jsonl"))
    assert number == 1 and isinstance(error, DataError)
    assert "nested too deeply" in error.message


def test_dumps_line_refuses_nan_and_infinity_rather_than_write_what_is_not_json():
    for value in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(ValueError):
            dumps_line({"x": value})


def test_json_safe_writes_non_finite_numbers_as_strings_and_keeps_the_rest():
    value = {"a": [1, 2.5, float("inf")], "b": {"c": -float("inf"), "d": float("nan")}, "e": "x"}
    assert io.json_safe(value) == {"a": [1, 2.5, "inf"], "b": {"c": "-inf", "d": "nan"}, "e": "x"}
    assert io.json_safe([True, None, 10**400]) == [True, None, 10**400]


# --- writing --------------------------------------------------------------------------------


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def out_dir(tmp_path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "train.jsonl").write_bytes(b"old train\n")
    (folder / "eval.jsonl").write_bytes(b"old eval\n")
    return folder


def _contents(folder: Path) -> dict[Path, str]:
    return {
        folder / "train.jsonl": "new train\n",
        folder / "eval.jsonl": "new eval\n",
        folder / "summary.json": "{}\n",
    }


def test_write_files_atomically_writes_every_file_exactly(out_dir):
    write_files_atomically({**_contents(out_dir), out_dir / "sub" / "x.txt": "é\r\nline\n"})
    assert (out_dir / "train.jsonl").read_bytes() == b"new train\n"
    assert (out_dir / "summary.json").read_bytes() == b"{}\n"
    assert (out_dir / "sub" / "x.txt").read_bytes() == "é\r\nline\n".encode()  # no translation
    assert _listing(out_dir) == ["eval.jsonl", "sub", "summary.json", "train.jsonl"]


def test_a_failing_write_leaves_every_target_untouched_and_no_temp_files(out_dir):
    contents = _contents(out_dir)
    contents[out_dir / "eval.jsonl"] = 123  # the writer raises TypeError on the second file
    with pytest.raises(TypeError):
        write_files_atomically(contents)
    assert (out_dir / "train.jsonl").read_bytes() == b"old train\n"
    assert (out_dir / "eval.jsonl").read_bytes() == b"old eval\n"
    assert _listing(out_dir) == ["eval.jsonl", "train.jsonl"]


def test_disk_full_during_a_later_write_leaves_targets_untouched(out_dir, monkeypatch):
    calls = []
    real_fsync = os.fsync

    def fsync(fd):
        calls.append(fd)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(io.os, "fsync", fsync)
    with pytest.raises(OSError, match="No space left"):
        write_files_atomically(_contents(out_dir))
    assert (out_dir / "train.jsonl").read_bytes() == b"old train\n"
    assert _listing(out_dir) == ["eval.jsonl", "train.jsonl"]


@pytest.mark.parametrize("failing_rename", [1, 2, 3])
def test_a_failing_rename_rolls_back_the_renames_already_done(out_dir, monkeypatch, failing_rename):
    calls = []
    real_replace = os.replace

    def replace(src, dst):
        calls.append((src, dst))
        if len(calls) == failing_rename:
            raise OSError(5, "Input/output error")
        real_replace(src, dst)

    monkeypatch.setattr(io.os, "replace", replace)
    with pytest.raises(OSError, match="Input/output error"):
        write_files_atomically(_contents(out_dir))
    # Old bytes back in place, the new summary.json gone, no temp or backup files left.
    assert (out_dir / "train.jsonl").read_bytes() == b"old train\n"
    assert (out_dir / "eval.jsonl").read_bytes() == b"old eval\n"
    assert _listing(out_dir) == ["eval.jsonl", "train.jsonl"]


def test_an_interrupt_during_the_writes_leaves_no_temp_files(out_dir, monkeypatch):
    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(io.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_files_atomically(_contents(out_dir))
    assert _listing(out_dir) == ["eval.jsonl", "train.jsonl"]
    assert (out_dir / "train.jsonl").read_bytes() == b"old train\n"


def test_new_files_get_the_umask_mode_and_existing_files_keep_theirs(tmp_path):
    # mkstemp alone creates 0o600 files: pairs nobody else in the group could read.
    existing = tmp_path / "existing.jsonl"
    existing.write_text("old\n")
    existing.chmod(0o640)
    old_umask = os.umask(0o022)
    try:
        write_files_atomically({tmp_path / "new.jsonl": "x\n", existing: "new\n"})
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE((tmp_path / "new.jsonl").stat().st_mode) == 0o644
    assert stat.S_IMODE(existing.stat().st_mode) == 0o640
    assert existing.read_text() == "new\n"


def test_iter_jsonl_reads_what_write_files_atomically_wrote(tmp_path):
    rows = [{"id": "a", "text": "naïve – ok"}, {"id": "b", "n": 1.5}]
    target = tmp_path / "rows.jsonl"
    write_files_atomically({target: "".join(dumps_line(r) for r in rows)})
    assert [record for _, record in iter_jsonl(target)] == rows
