"""JSON Lines in and out: errors that name file, line and field; writes that never half-land."""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import secrets
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


class DataError(ValueError):
    """Bad input, located: ``path:line: field: message``."""

    def __init__(self, path: str | Path, line: int | None, field: str | None, message: str):
        self.path, self.line, self.field, self.message = str(path), line, field, message
        where = self.path + (f":{line}" if line else "")
        super().__init__(f"{where}: {field}: {message}" if field else f"{where}: {message}")


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


# Made once: json.loads with an option makes a decoder (and its scanner) on every call.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def loads_json(text: str | bytes):
    """``json.loads`` that refuses ``NaN`` and ``Infinity``: they are not JSON, and they slip
    through every numeric check downstream (``nan < 15`` and ``nan > 45`` are both false)."""
    if isinstance(text, str) and not text.startswith("\ufeff"):
        return _DECODER.decode(text)  # what json.loads does with such a text
    return json.loads(text, parse_constant=_reject_constant)  # bytes; the BOM error


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict]]:
    """Yield (line number, object) for each non-blank line; raise DataError on the first
    line that is not UTF-8, not JSON, or not a JSON object."""
    path = Path(path)
    try:
        handle = path.open("rb")
    except OSError as error:
        raise DataError(path, None, None, f"cannot read: {error.strerror or error}") from error
    with handle:
        for number, record in jsonl_records(handle, path):
            if isinstance(record, DataError):
                raise record
            yield number, record


def jsonl_records(source: BinaryIO, name: str | Path) -> Iterator[tuple[int, dict | DataError]]:
    """(line number, object or the DataError saying why the line is not one) for each
    non-blank line, so a reader may go on past a bad line (``align score``); raise DataError
    on a line that is not UTF-8: then the input is not a text file at all."""
    for number, raw in enumerate(source, 1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise DataError(
                name, number, None, f"not UTF-8 (byte {error.start + 1} of the line)"
            ) from error
        if text.strip():
            yield number, _json_object(name, number, text)


def _json_object(name: str | Path, number: int, text: str) -> dict | DataError:
    try:
        record = loads_json(text)
    except json.JSONDecodeError as error:
        return DataError(name, number, None, f"invalid JSON: {error.msg} (column {error.colno})")
    except ValueError as error:  # NaN, Infinity
        return DataError(name, number, None, f"invalid JSON: {error}")
    except RecursionError:
        return DataError(name, number, None, f"invalid JSON: {TOO_DEEP}")
    if not isinstance(record, dict):
        return DataError(name, number, None, "each line must be a JSON object")
    field = lone_surrogate_field(text, record)
    if field is not None:
        return DataError(name, number, field or None, LONE_SURROGATE)
    return record


TOO_DEEP = "nested too deeply"
LONE_SURROGATE = "a lone surrogate escape (\\ud800-\\udfff) is not Unicode text"
# Only an escape can put a surrogate in a decoded string: UTF-8 input never decodes to one.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def lone_surrogate_field(text: str, record: object) -> str | None:
    """The path of the first key or string of ``record`` (decoded from ``text``) holding a
    lone surrogate, such as ``id`` or ``a.b[1]``; None when there is none. Such a string
    cannot be written as UTF-8, so it would fail only when the output is printed."""
    if not _SURROGATE_ESCAPE.search(text):
        return None
    stack = [("", record)]  # a loop, not recursion: the record may be nested ~1000 deep
    while stack:
        path, value = stack.pop()
        if isinstance(value, str) and not _is_unicode(value):
            return path
        if isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{key}" if path else key
                if not _is_unicode(key):
                    return child.encode("utf-8", "backslashreplace").decode("utf-8")
                stack.append((child, item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{index}]", item) for index, item in enumerate(value))
    return None


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def read_jsonl(path: str | Path) -> list[tuple[int, dict]]:
    return list(iter_jsonl(path))


# One encoder for every line: json.dumps builds a new JSONEncoder per call when options are
# given, which costs more than encoding a short record.
# allow_nan=False: NaN and Infinity are not JSON; a writer that meets one raises ValueError
# rather than write a file no strict reader accepts.
_LINE_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": "), allow_nan=False)


def dumps_line(record: dict) -> str:
    """One canonical JSON line (key order as given, UTF-8, no trailing spaces)."""
    return _LINE_ENCODER.encode(record) + "\n"


def json_safe(value):
    """``value`` with every non-finite float written as a string ("inf", "-inf", "nan"), for
    output built from free text: the detectors read "10^400 kg" in an answer as an infinite
    weight, and that weight is still a finding to report."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    return value


def _new_file_mode(target: Path) -> int:
    """The mode a plain ``open(target, "w")`` would give: the old file's, else 0o666 less the
    umask (``mkstemp`` alone would leave 0o600)."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_files_atomically(contents: dict[Path, str]) -> None:
    """Write every file to a temporary sibling, then rename them all into place.

    If anything fails before the renames, no target is touched; if a rename fails, the ones
    already done are rolled back (old bytes restored from a hard-link backup, new files
    removed). Either way targets that existed keep their old bytes and no temporary file is
    left behind."""
    staged: list[tuple[str, Path]] = []
    renamed: list[tuple[Path, str | None]] = []  # (target, backup of its old bytes or None)
    try:
        for target, text in contents.items():
            target = Path(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
            staged.append((temp, target))
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                if hasattr(os, "fchmod"):
                    os.fchmod(handle.fileno(), _new_file_mode(target))
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
        for temp, target in staged:
            backup = None
            if target.exists():
                backup = str(target.parent / f".{target.name}.{secrets.token_hex(6)}.bak")
                try:
                    os.link(target, backup)
                except OSError:  # no hard links on this file system
                    shutil.copy2(target, backup)
            renamed.append((target, backup))
            os.replace(temp, target)
    except BaseException:
        for target, backup in reversed(renamed):
            # Best effort: the original error, raised below, is what the user needs to see.
            with contextlib.suppress(OSError):
                if backup is not None:
                    os.replace(backup, target)
                elif target.exists():
                    os.unlink(target)
        for temp, _ in staged:
            if os.path.exists(temp):
                os.unlink(temp)
        raise
    finally:
        for _, backup in renamed:
            if backup is not None and os.path.exists(backup):
                os.unlink(backup)
