"""The detectors' vocabularies: one TOML file per concern, beside this module.

Words and phrasings live in data so that a reviewer can read and extend them without reading
the matching code; the code turns them into the few rules each detector applies
(docs/DESIGN.md, "Detectors", says which file serves which finding).
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

FOLDER = Path(__file__).parent


@cache
def load(name: str) -> dict:
    """The vocabulary file ``<name>.toml`` as a dict (read once per process)."""
    with (FOLDER / f"{name}.toml").open("rb") as file:
        return tomllib.load(file)
