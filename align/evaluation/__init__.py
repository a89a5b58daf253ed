"""Evaluation: generate on held-out scenarios, score with the detectors, report, gate.

``scenarios``, ``scoring``, ``report`` and ``gate`` never import torch (``align gate`` is a
light path); ``backends`` and ``preference`` load models and do.
"""

from pathlib import Path

# `evaluate.load(REJECTED_PATTERN_METRIC)` gives the rejected-pattern rates as a Hugging Face
# `evaluate` module.
REJECTED_PATTERN_METRIC = str(Path(__file__).parent / "rejected_pattern_rate")
