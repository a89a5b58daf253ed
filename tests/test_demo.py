"""`align demo` end to end (quick mode: two training steps per stage): every stage runs and the
summary names the runs and the per-perturbation DPO result."""

import json
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_quick_demo_runs_every_stage(in_repo):
    result = subprocess.run(
        [sys.executable, "-m", "align.cli", "demo", "--quick"],
        capture_output=True,
        text=True,
        cwd=in_repo,
        timeout=1800,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for stage in (
        "gold data",
        "preference pairs",
        "toy base model",
        "SFT adapter",
        "DPO adapter",
        "summary",
    ):
        assert stage in result.stdout, stage
    dpo = in_repo / "checkpoints/demo/dpo"
    metrics = json.loads((dpo / "metrics.json").read_text())["final"]
    assert metrics["reference_check"]["reference_is_sft_policy"] is True
    assert len(metrics["per_perturbation"]) == 8
    assert "reward accuracy" in result.stdout
    # The demo rewrites the committed pairs; they must come out byte-identical.
    status = subprocess.run(
        ["git", "status", "--porcelain", "preference_data"],
        capture_output=True,
        text=True,
        cwd=in_repo,
    )
    assert status.stdout == ""
