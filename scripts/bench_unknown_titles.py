#!/usr/bin/env python
"""How much the Do NOT and reassessment sections depend on the vocabulary of their titles.

    python scripts/bench_unknown_titles.py [--benchmark preference_data/benchmarks]

For every correct benchmark answer whose section has a title line of its own, the title is
replaced by a word no vocabulary knows ("Qwerty:") and the answer scored again: the share
then flagged `missing_do_not` / `missing_reassessment` is how often a writer's unknown
heading word ("Re-tri", "C/I") would cost the section. Reading a section by its content
(a closing list of triggers, a list of prohibitions) is what brings the share down.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from align.checks.benchmark import load_benchmark
from align.checks.detectors import finding_codes, score_response
from align.protocol.schema import parse_response

ROOT = Path(__file__).resolve().parents[1]
UNKNOWN_TITLE = "Qwerty:"
SECTIONS = {"do_not": "missing_do_not", "reassess": "missing_reassessment"}


def title_line(response: str, section: str) -> int | None:
    """The index of the line that is only the section's title, or None."""
    row = parse_response(response).section_rows.get(section)
    if not row or not row[0]:
        return None
    title, index = row[0], row[1]
    line = response.split("\n")[index]
    return index if len(line.strip()) <= len(title) + 12 else None  # not a title in a sentence


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--benchmark", type=Path, default=ROOT / "preference_data" / "benchmarks")
    args = parser.parse_args(argv)
    correct = [r for r in load_benchmark([args.benchmark]) if not r["expected_findings"]]
    for section, code in SECTIONS.items():
        replaced = lost = 0
        for record in correct:
            index = title_line(record["response"], section)
            if index is None:
                continue
            lines = record["response"].split("\n")
            lines[index] = UNKNOWN_TITLE
            replaced += 1
            findings = score_response("\n".join(lines), record.get("scenario"))
            lost += code in finding_codes(findings)
        share = lost / replaced if replaced else 0.0
        print(f"{section}: {replaced} titles replaced, {lost} answers then {code} ({share:.1%})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
