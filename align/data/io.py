"""JSON Lines in and out: errors that name file, line and field; writes that never half-land."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


class DataError(ValueError):
    """Bad input, located: ``path:line: field: message``."""

    def __init__(self, path: str | Path, line: int | None, field: str | None, message: str):
        self.path, self.line, self.field, self.message = str(path), line, field, message
        where = self.path + (f":{line}" if line else "")
        super().__init__(f"{where}: {field}: {message}" if field else f"{where}: {message}")


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict]]:
    """Yield (line number, object) for each non-blank line; raise DataError on the first
    line that is not UTF-8, not JSON, or not a JSON object."""
    path = Path(path)
    try:
        handle = path.open("rb")
    except OSError as error:
        raise DataError(path, None, None, f"cannot read: {error.strerror or error}") from error
    with handle:
        for number, raw in enumerate(handle, 1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise DataError(
                    path, number, None, f"not UTF-8 (byte {error.start + 1} of the line)"
                ) from error
            if not text.strip():
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as error:
                raise DataError(
                    path, number, None, f"invalid JSON: {error.msg} (column {error.colno})"
                ) from error
            if not isinstance(record, dict):
                raise DataError(path, number, None, "each line must be a JSON object")
            yield number, record


def read_jsonl(path: str | Path) -> list[tuple[int, dict]]:
    return list(iter_jsonl(path))


def dumps_line(record: dict) -> str:
    """One canonical JSON line (stable key order as given, UTF-8, no trailing spaces)."""
    return json.dumps(record, ensure_ascii=False, separators=(", ", ": ")) + "\n"


def write_files_atomically(contents: dict[Path, str]) -> None:
    """Write every file to a temporary sibling, then rename them all into place.

    If anything fails before the renames, no target is touched; targets that existed keep
    their old bytes."""
    staged: list[tuple[str, Path]] = []
    try:
        for target, text in contents.items():
            target = Path(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
            staged.append((temp, target))
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
        for temp, target in staged:
            os.replace(temp, target)
    except BaseException:
        for temp, _ in staged:
            if os.path.exists(temp):
                os.unlink(temp)
        raise
