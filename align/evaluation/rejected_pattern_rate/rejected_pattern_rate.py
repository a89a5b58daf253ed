"""Rejected-pattern rates as a Hugging Face `evaluate` module.

    import evaluate
    from align.evaluation import REJECTED_PATTERN_METRIC

    metric = evaluate.load(REJECTED_PATTERN_METRIC)
    metric.compute(
        predictions=["TRIAGE: RED (Immediate)\\n..."],
        references=['{"scenario": {"age_years": 5, ...}, "expected_triage": "RED"}'],
    )

Each reference is a JSON object with the ``scenario`` (DESIGN.md record format, may be null)
and optionally ``expected_triage``. The result has the rate of every finding code (share of
responses showing it; triage codes over responses to a patient), ``any_finding`` and ``n``.
The scoring is align's own (`align.evaluation.scoring`), so these numbers equal `align eval`'s.
"""

import json

import datasets
import evaluate

from align.evaluation.scoring import finding_rates, score

_DESCRIPTION = "Share of responses that show each rejected pattern (align finding codes)."
_KWARGS = """
Args:
    predictions: model responses (strings).
    references: JSON strings {"scenario": {...} | null, "expected_triage": "RED" | ...}.
Returns:
    a rate per finding code, "any_finding", and "n" (responses scored).
"""


class RejectedPatternRate(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS,
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
        )

    def _compute(self, predictions, references):
        scored = []
        for index, (response, reference) in enumerate(zip(predictions, references, strict=True)):
            truth = json.loads(reference)
            scored.append(
                score(str(index), response, truth.get("scenario"), truth.get("expected_triage"))
            )
        rates = finding_rates(scored)
        result = {code: entry["rate"] for code, entry in rates.items()}
        result["n"] = len(scored)
        return result
