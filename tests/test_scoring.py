"""Eval scoring: Wilson intervals, per-code rates (triage codes over patients only), triage
accuracy / under- and over-triage / RED recall / confusion, and the `evaluate` module giving
the same numbers. No torch.
"""

from __future__ import annotations

import json

import pytest

from align.evaluation.scoring import finding_rates, score, triage_metrics, wilson_interval


def response(record: dict) -> str:
    return record["messages"][-1]["content"]


def recolored(record: dict, line: str) -> str:
    return response(record).replace(response(record).split("\n")[0], line, 1)


@pytest.mark.parametrize(
    ("count", "n", "expected"),
    [
        (0, 10, (0.0, 0.2775)),  # the normal approximation would give (0, 0)
        (5, 10, (0.2366, 0.7634)),
        (10, 10, (0.7225, 1.0)),
        (1, 100, (0.0018, 0.0545)),
    ],
)
def test_wilson_interval_matches_published_values(count, n, expected):
    low, high = wilson_interval(count, n)
    assert low == pytest.approx(expected[0], abs=1e-4)
    assert high == pytest.approx(expected[1], abs=1e-4)


def test_wilson_interval_of_nothing_is_the_whole_range():
    assert wilson_interval(0, 0) == (0.0, 1.0)


@pytest.fixture
def scored(tiny_gold_rows):
    """YELLOW crush called GREEN (under), RED spine called RED, RED spine called YELLOW
    (under), YELLOW crush with no triage line, and a reference answer with no patient."""
    crush, spine, reference = tiny_gold_rows
    return [
        score("a", recolored(crush, "TRIAGE: GREEN (Minor)"), crush["scenario"], "YELLOW"),
        score("b", response(spine), spine["scenario"], "RED"),
        score("c", recolored(spine, "TRIAGE: YELLOW (Delayed)"), spine["scenario"], "RED"),
        score("d", recolored(crush, "Rationale first."), crush["scenario"], "YELLOW"),
        score("e", response(reference), None, None),
    ]


def test_triage_codes_count_patients_only_and_others_count_every_response(scored):
    rates = finding_rates(scored)
    assert rates["wrong_triage_color"]["count"] == 2 and rates["wrong_triage_color"]["n"] == 4
    assert rates["missing_triage"]["count"] == 1 and rates["missing_triage"]["n"] == 4
    assert rates["missing_do_not"]["n"] == 5  # a reference answer can still lack its Do NOT
    assert rates["any_finding"] == {
        "count": 3,
        "n": 5,
        "rate": 0.6,
        "ci95": [round(v, 6) for v in wilson_interval(3, 5)],
    }


def test_triage_metrics_split_errors_into_under_over_and_missing(scored):
    triage = triage_metrics(scored)
    assert triage["n"] == 4
    assert triage["accuracy"]["count"] == 1
    assert triage["under_triage"]["count"] == 2
    assert triage["over_triage"]["count"] == 0
    assert triage["missing_color"]["count"] == 1
    assert (triage["red_recall"]["count"], triage["red_recall"]["n"]) == (1, 2)
    assert triage["confusion"]["YELLOW"]["GREEN"] == 1
    assert triage["confusion"]["YELLOW"]["NONE"] == 1
    assert triage["confusion"]["RED"] == {"RED": 1, "YELLOW": 1, "GREEN": 0, "BLACK": 0, "NONE": 0}


def test_evaluate_module_gives_the_same_rates_as_align_scoring(tiny_gold_rows):
    crush, spine, reference = tiny_gold_rows
    evaluate = pytest.importorskip("evaluate")
    from align.evaluation import REJECTED_PATTERN_METRIC

    metric = evaluate.load(REJECTED_PATTERN_METRIC)
    records = [
        (recolored(crush, "TRIAGE: GREEN (Minor)"), crush["scenario"], "YELLOW"),
        (response(spine), spine["scenario"], "RED"),
        (response(reference), None, None),
    ]
    result = metric.compute(
        predictions=[text for text, _, _ in records],
        references=[json.dumps({"scenario": s, "expected_triage": e}) for _, s, e in records],
    )
    expected = finding_rates([score(str(i), *record) for i, record in enumerate(records)])
    assert result.pop("n") == 3
    assert result == {code: entry["rate"] for code, entry in expected.items()}
    assert result["wrong_triage_color"] == 0.5
