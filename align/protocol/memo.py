"""Bounded memo dicts for per-line results (parsing, detectors).

The same lines recur across many responses (a rejected response repeats all but a line or
two of its chosen one), so per-line results are memoized. The hot loops look a plain dict
up inline: that costs a fraction of a ``functools.lru_cache`` call, which matters at one
lookup per line. The bound is kept by clearing a full dict, which only costs recomputing.
"""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")

MEMO_SIZE = 65536


def is_full(entries: int) -> bool:
    """Whether a memo (or memos sharing one bound) holding ``entries`` must be emptied."""
    return entries >= MEMO_SIZE


def remember(memo: dict[K, V], key: K, value: V) -> V:
    """Store ``value`` under ``key`` (emptying ``memo`` first when it is full); return it."""
    if is_full(len(memo)):
        memo.clear()
    memo[key] = value
    return value
