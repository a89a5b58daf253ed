"""Training configuration and run folders: precedence, validation, resume and overwrite rules."""

import dataclasses
import re

import pytest

from align.train.config import (
    TRL_LOSS_TYPES,
    ConfigError,
    DPOConfig,
    SFTConfig,
    build_config,
    load_config_file,
)
from align.train.runs import RunError, check_run_dir, finalize_run, open_run_dir


def test_sft_defaults_are_the_seed_recipe():
    config = SFTConfig()
    assert (config.lora_r, config.lora_alpha, config.lora_dropout) == (16, 16, 0.0)
    assert config.target_modules == [
        "q_proj",
        "k_proj",
        "v_proj",
        "out_proj",
        "in_proj",
        "w1",
        "w2",
        "w3",
    ]
    assert (config.learning_rate, config.epochs, config.max_length, config.seed) == (
        2e-4,
        3.0,
        1024,
        3407,
    )
    assert config.batch_size * config.grad_accum == 8
    assert (config.optim, config.lr_scheduler) == ("adamw_8bit", "linear")


def test_flags_override_the_file_which_overrides_defaults(tmp_path):
    file = tmp_path / "run.toml"
    file.write_text("learning_rate = 1e-4\nepochs = 2.0\nlora_r = 8\n")
    config = build_config(
        SFTConfig, load_config_file(file), {"learning_rate": 3e-4, "epochs": None}
    )
    assert config.learning_rate == 3e-4  # flag wins
    assert config.epochs == 2.0  # file wins over default; a flag not given (None) does not count
    assert config.lora_r == 8
    assert config.batch_size == SFTConfig().batch_size  # default


def test_yaml_config_and_dashed_keys(tmp_path):
    file = tmp_path / "run.yaml"
    file.write_text("adapter: out/sft\nloss-type: [sigmoid, sft]\nloss-weights: [1.0, 0.5]\n")
    config = build_config(DPOConfig, load_config_file(file))
    assert config.loss_type == ["sigmoid", "sft"]
    assert config.loss_weights == [1.0, 0.5]


def test_unknown_key_in_config_file_is_named(tmp_path):
    file = tmp_path / "run.toml"
    file.write_text("learning_rat = 1e-4\n")
    with pytest.raises(ConfigError, match="learning_rat"):
        build_config(SFTConfig, load_config_file(file), source=str(file))


@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [
        ("learning_rate = = 1", ".toml", "cannot parse"),
        ("- a\n- b\n", ".yaml", "mapping"),
        ("x", ".json", "toml"),
    ],
)
def test_unreadable_config_files_are_refused(tmp_path, content, suffix, message):
    file = tmp_path / f"run{suffix}"
    file.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_config_file(file)


@pytest.mark.parametrize(
    ("cls", "values", "flag"),
    [
        (SFTConfig, {"learning_rate": 0}, "--learning-rate"),
        (SFTConfig, {"learning_rate": -1e-4}, "--learning-rate"),
        (SFTConfig, {"learning_rate": float("nan")}, "--learning-rate"),
        (SFTConfig, {"batch_size": 0}, "--batch-size"),
        (SFTConfig, {"batch_size": 2.5}, "--batch-size"),
        (SFTConfig, {"lora_r": 0}, "--lora-r"),
        (SFTConfig, {"lora_dropout": 1.0}, "--lora-dropout"),
        (SFTConfig, {"max_steps": 0}, "--max-steps"),
        (SFTConfig, {"epochs": 0}, "--epochs"),
        (SFTConfig, {"backend": "jax"}, "--backend"),
        (SFTConfig, {"dtype": "int8"}, "--dtype"),
        (SFTConfig, {"overwrite": True, "resume": True}, "--resume"),
        (DPOConfig, {"adapter": None}, "--adapter"),
        (DPOConfig, {"adapter": "a", "loss_type": ["sigmoid", "dpo_magic"]}, "--loss-type"),
        (
            DPOConfig,
            {"adapter": "a", "loss_type": ["sigmoid", "sft"], "loss_weights": [1.0]},
            "--loss-weights",
        ),
        (DPOConfig, {"adapter": "a", "beta": 0}, "--beta"),
        (DPOConfig, {"adapter": "a", "perturbations": ["bogus"]}, "--perturbations"),
        (DPOConfig, {"adapter": "a", "mix": {"wrong_dose": 1.5}}, "--mix"),
        (DPOConfig, {"adapter": "a", "mix": {"bogus": 0.5}}, "--mix"),
        (DPOConfig, {"adapter": "a", "sub_batches": 0}, "--sub-batches"),
    ],
)
def test_out_of_range_options_are_refused_by_name(cls, values, flag):
    with pytest.raises(ConfigError, match=re.escape(flag)):
        build_config(cls, {}, values)


def test_loss_type_list_matches_trl():
    from trl import DPOConfig as TRLDPOConfig

    field = next(f for f in dataclasses.fields(TRLDPOConfig) if f.name == "loss_type")
    documented = set(
        re.findall(
            r"`'([a-z_]+)'`", TRLDPOConfig.__doc__.split("loss_type")[1].split("loss_weights")[0]
        )
    )
    assert documented == set(TRL_LOSS_TYPES), field.metadata


def test_loss_types_combine_with_weights():
    config = build_config(
        DPOConfig, {}, {"adapter": "a", "loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, 0.2]}
    )
    assert config.loss_type == ["sigmoid", "sft"]


# --- run folders ------------------------------------------------------------------------------


def test_existing_run_is_not_overwritten_without_permission(tmp_path):
    (tmp_path / "run").mkdir()
    with pytest.raises(RunError, match="--overwrite"):
        check_run_dir(tmp_path / "run", overwrite=False, resume=False)


def test_unfinished_run_asks_for_resume_or_overwrite(tmp_path):
    (tmp_path / "run.partial").mkdir()
    with pytest.raises(RunError, match="--resume"):
        check_run_dir(tmp_path / "run", overwrite=False, resume=False)


def test_resume_needs_a_checkpoint(tmp_path):
    (tmp_path / "run.partial").mkdir()
    with pytest.raises(RunError, match="no checkpoint"):
        check_run_dir(tmp_path / "run", overwrite=False, resume=True)
    (tmp_path / "run.partial" / "checkpoint-4").mkdir()
    assert check_run_dir(tmp_path / "run", overwrite=False, resume=True).checkpoints()


def test_checking_a_run_creates_nothing(tmp_path):
    check_run_dir(tmp_path / "run", overwrite=False, resume=False)
    assert list(tmp_path.iterdir()) == []


def test_overwrite_replaces_the_old_run_only_at_the_end(tmp_path):
    old = tmp_path / "run"
    old.mkdir()
    (old / "adapter_model.safetensors").write_text("old")
    run = check_run_dir(old, overwrite=True, resume=False)
    open_run_dir(run, resume=False)
    assert (old / "adapter_model.safetensors").read_text() == "old"  # still there mid-run
    (run.work / "adapter_model.safetensors").write_text("new")
    (run.work / "checkpoint-2").mkdir()
    finalize_run(run)
    assert (old / "adapter_model.safetensors").read_text() == "new"
    assert not (old / "checkpoint-2").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
