"""`align sft` / `align dpo` refuse bad input with a clear message, exit 2, before any training
starts and without creating a run folder."""

import json

import pytest

from align.commands import run_training

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def dpo_flags(tiny_base, sft_adapter, tiny_pairs, tmp_path, **values):
    flags = {
        "base_model": str(tiny_base),
        "adapter": str(sft_adapter),
        "pairs": str(tiny_pairs),
        "output_dir": str(tmp_path / "run"),
        "max_steps": 1,
        "report_to": "none",
    }
    return {**flags, **values}


def refused(capsys, tmp_path, kind, flags, *fragments, config=None):
    status = run_training(kind, config, flags)
    message = capsys.readouterr().err
    assert status == 2, message
    for fragment in fragments:
        assert fragment in message, message
    assert not (tmp_path / "run").exists() and not (tmp_path / "run.partial").exists()
    return message


def test_missing_adapter_folder(capsys, tiny_base, sft_adapter, tiny_pairs, tmp_path):
    flags = dpo_flags(tiny_base, sft_adapter, tiny_pairs, tmp_path, adapter=str(tmp_path / "no"))
    refused(capsys, tmp_path, "dpo", flags, "--adapter", "no such folder")


def test_corrupt_adapter_config(capsys, tiny_base, sft_adapter, tiny_pairs, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "adapter_config.json").write_text("{not json")
    (broken / "adapter_model.safetensors").write_bytes(b"\0" * 16)
    flags = dpo_flags(tiny_base, sft_adapter, tiny_pairs, tmp_path, adapter=str(broken))
    refused(capsys, tmp_path, "dpo", flags, "--adapter", "corrupt")


def test_adapter_for_another_base(capsys, tiny_base, sft_adapter, tiny_pairs, tmp_path):
    import torch
    from safetensors.torch import save_file

    other = tmp_path / "other"
    other.mkdir()
    (other / "adapter_config.json").write_text((sft_adapter / "adapter_config.json").read_text())
    key = "base_model.model.model.layers.0.conv.in_proj.lora_A.weight"
    save_file({key: torch.zeros(8, 2048)}, str(other / "adapter_model.safetensors"))
    flags = dpo_flags(tiny_base, sft_adapter, tiny_pairs, tmp_path, adapter=str(other))
    refused(capsys, tmp_path, "dpo", flags, "--adapter", "another base")


@pytest.mark.parametrize(
    ("field", "edit"),
    [
        ("rejected", lambda pair: pair.pop("rejected")),
        ("prompt", lambda pair: pair.update(prompt="not a list")),
        ("chosen[0].role", lambda pair: pair["chosen"][0].update(role="user")),
    ],
)
def test_pair_file_with_a_bad_field(
    capsys, tiny_base, sft_adapter, tiny_pairs, tmp_path, field, edit
):
    pairs = tmp_path / "pairs"
    pairs.mkdir()
    lines = (tiny_pairs / "train.jsonl").read_text().splitlines()
    broken = json.loads(lines[1])
    edit(broken)
    (pairs / "train.jsonl").write_text("\n".join([lines[0], json.dumps(broken)]) + "\n")
    (pairs / "eval.jsonl").write_text((tiny_pairs / "eval.jsonl").read_text())
    flags = dpo_flags(tiny_base, sft_adapter, tiny_pairs, tmp_path, pairs=str(pairs))
    refused(capsys, tmp_path, "dpo", flags, "train.jsonl:2", field)


def test_missing_pair_file(capsys, tiny_base, sft_adapter, tiny_pairs, tmp_path):
    flags = dpo_flags(tiny_base, sft_adapter, tiny_pairs, tmp_path, pairs=str(tmp_path))
    refused(capsys, tmp_path, "dpo", flags, "train.jsonl", "align pairs")


def test_loss_type_trl_does_not_know(capsys, tiny_base, sft_adapter, tiny_pairs, tmp_path):
    flags = dpo_flags(tiny_base, sft_adapter, tiny_pairs, tmp_path, loss_type=["sigmoid", "kto"])
    refused(capsys, tmp_path, "dpo", flags, "--loss-type", "kto")


@pytest.mark.parametrize(
    ("flag", "value"),
    [("learning_rate", -1.0), ("beta", 0.0), ("batch_size", 0), ("max_length", 4)],
)
def test_out_of_range_hyperparameters(
    capsys, tiny_base, sft_adapter, tiny_pairs, tmp_path, flag, value
):
    flags = dpo_flags(tiny_base, sft_adapter, tiny_pairs, tmp_path, **{flag: value})
    refused(capsys, tmp_path, "dpo", flags, "--" + flag.replace("_", "-"))


def test_existing_run_folder_is_kept(capsys, tiny_base, sft_adapter, tiny_pairs, tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "keep.txt").write_text("mine")
    flags = dpo_flags(tiny_base, sft_adapter, tiny_pairs, tmp_path)
    status = run_training("dpo", None, flags)
    assert status == 2 and "--overwrite" in capsys.readouterr().err
    assert (tmp_path / "run" / "keep.txt").read_text() == "mine"


def test_unsloth_backend_without_a_gpu(capsys, tiny_base, sft_adapter, tiny_pairs, tmp_path):
    flags = dpo_flags(tiny_base, sft_adapter, tiny_pairs, tmp_path, backend="unsloth")
    refused(capsys, tmp_path, "dpo", flags, "--backend unsloth", "CUDA")


def test_config_file_with_unknown_option(capsys, tiny_base, tmp_path):
    config = tmp_path / "sft.toml"
    config.write_text('base_model = "toy"\nlearnig_rate = 1e-4\n')
    refused(
        capsys,
        tmp_path,
        "sft",
        {"output_dir": str(tmp_path / "run")},
        "learnig_rate",
        config=config,
    )


def test_bad_gold_for_sft(capsys, tiny_base, tmp_path):
    gold = tmp_path / "gold.jsonl"
    gold.write_text('{"id": "x", "messages": []}\n')
    flags = {"base_model": str(tiny_base), "gold": [str(gold)], "output_dir": str(tmp_path / "run")}
    refused(capsys, tmp_path, "sft", flags, "gold", "messages")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["dpo", "--adapter", "x", "--loss-type", "sigmoid,kto"], "--loss-type"),
        (["dpo", "--adapter", "x", "--loss-weights", "1,a"], "--loss-weights"),
        (["dpo", "--adapter", "x", "--mix", "wrong_dose=2"], "--mix"),
        (["dpo", "--adapter", "x", "--flash-attention", "maybe"], "--flash-attention"),
        (["dpo"], "--adapter"),
        (["sft", "--learning-rate", "0"], "--learning-rate"),
        (["sft", "--target-modules", ""], "--target-modules"),
    ],
)
def test_command_line_options_reach_the_config_checks(run_align, args, fragment):
    result = run_align(*args)
    assert result.returncode == 2, result.stderr
    assert fragment in result.stderr


def test_flags_override_the_config_file_through_the_cli(run_align, tmp_path):
    config = tmp_path / "dpo.toml"
    config.write_text('adapter = "x"\nbeta = 0.5\nloss_type = ["kto"]\n')
    result = run_align("dpo", "--config", str(config), "--loss-type", "sigmoid", "--beta", "-1")
    assert result.returncode == 2
    assert "--beta" in result.stderr  # the file's bad loss type was overridden by the flag


def test_training_help_shows_defaults(run_align):
    result = run_align("sft", "--help")
    assert result.returncode == 0
    assert "0.0002" in result.stdout and "3407" in result.stdout


def test_a_pair_folder_being_written_is_refused(
    capsys, tiny_base, sft_adapter, tiny_pairs, tmp_path
):
    import os
    import shutil
    import socket

    pairs = tmp_path / "pairs"
    shutil.copytree(tiny_pairs, pairs)
    (tmp_path / "pairs.lock").write_text(f"{os.getpid()} {socket.gethostname()}\n")
    flags = dpo_flags(tiny_base, sft_adapter, tiny_pairs, tmp_path, pairs=str(pairs))
    refused(capsys, tmp_path, "dpo", flags, "pairs.lock")


def test_pair_files_their_summary_does_not_describe_are_refused(
    capsys, tiny_base, sft_adapter, tiny_pairs, tmp_path
):
    import shutil

    pairs = tmp_path / "pairs"
    shutil.copytree(tiny_pairs, pairs)
    summary = {"data_files": {"train.jsonl": {"sha256": "0" * 64}}}
    (pairs / "summary.json").write_text(json.dumps(summary))
    flags = dpo_flags(tiny_base, sft_adapter, tiny_pairs, tmp_path, pairs=str(pairs))
    refused(capsys, tmp_path, "dpo", flags, "train.jsonl")
