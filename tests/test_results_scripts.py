"""The issue-8 result scripts (docs/RESULTS.md) stay runnable: their run configs are valid
`align sft` / `align dpo` configs with the settings RESULTS.md reports, and every GPU/CPU
driver script parses. (The scripts themselves run on the GPU machine; a CPU rehearsal
command is in RESULTS.md.)"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from align.train.config import DPOConfig, SFTConfig, build_config, load_config_file

REPO_ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted((REPO_ROOT / "scripts").glob("*.sh"))


def test_results_sft_config_is_the_seed_recipe_on_the_train_split():
    path = REPO_ROOT / "configs/results-sft.toml"
    config = build_config(SFTConfig, load_config_file(path), source=str(path))
    assert config.train_split_only and config.backend == "transformers"
    assert (config.lora_r, config.lora_alpha, config.learning_rate) == (16, 16, 2e-4)
    assert config.batch_size * config.grad_accum == 8 and config.epochs == 3.0


def test_results_dpo_config_refines_the_results_sft_adapter():
    path = REPO_ROOT / "configs/results-dpo.toml"
    config = build_config(DPOConfig, load_config_file(path), source=str(path))
    assert config.adapter == "runs/results/sft" and config.beta == 0.1
    assert config.loss_type == ["sigmoid", "sft"] and config.loss_weights == [1.0, 1.0]


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_shell_script_parses(script):
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
