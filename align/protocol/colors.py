"""Triage colors, their labels, and the direction of a triage error.

Facts file section 0: START and JumpSTART use four colors; BLACK covers both dead and
non-salvageable. SALT's GRAY (expectant) is not a JumpSTART/START color.
"""

from __future__ import annotations

COLORS = ("RED", "YELLOW", "GREEN", "BLACK")

LABELS = {
    "RED": "Immediate",
    "YELLOW": "Delayed",
    "GREEN": "Minor",
    "BLACK": "Deceased/Expectant",
}

# Accepted label words per color (lower case), from the facts file's synonym list, and the
# priority numbers of the UK triage sieve (P1 immediate, P2 urgent, P3 delayed/walking) and
# the military's T1-T4 (T4 expectant).
LABEL_SYNONYMS = {
    "RED": ("immediate", "p1", "t1", "priority 1"),
    "YELLOW": ("delayed", "p2", "t2", "priority 2"),
    "GREEN": ("minor", "minimal", "walking wounded", "p3", "t3", "priority 3"),
    "BLACK": ("deceased", "expectant", "dead", "deceased/expectant", "t4"),
}

# Priority of care: a stated color of lower priority than the truth is under-triage, the
# dangerous error (the child waits, or is left, when they should be treated now).
PRIORITY = {"RED": 3, "YELLOW": 2, "GREEN": 1, "BLACK": 0}


def triage_line(color: str) -> str:
    """The canonical first line of a response, e.g. ``TRIAGE: RED (Immediate)``."""
    return f"TRIAGE: {color} ({LABELS[color]})"


def error_direction(stated: str, expected: str) -> str:
    """``under`` when ``stated`` gives less priority than ``expected``, else ``over``."""
    if stated == expected:
        raise ValueError("no triage error: stated and expected colors are equal")
    return "under" if PRIORITY[stated] < PRIORITY[expected] else "over"
