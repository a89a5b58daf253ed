"""SFT and DPO on a tiny toy LFM2 (CPU): assistant-only loss, the reference is the SFT policy,
resume after interruption, the saved run, and bad input refused before any training."""

import json

import pytest
import torch

from align.train.config import SFTConfig, build_config

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def sft_config(tiny_base, tmp_path, **values):
    gold = tmp_path / "gold.jsonl"
    if not gold.exists():
        lines = (tiny_base.parent / "gold.jsonl").read_text().splitlines()
        gold.write_text("\n".join(lines[:8]) + "\n")
    base = {
        "base_model": str(tiny_base),
        "gold": [str(gold)],
        "output_dir": str(tmp_path / "sft"),
        "max_steps": 2,
        "batch_size": 2,
        "grad_accum": 1,
        "report_to": "none",
        "logging_steps": 1,
        "save_steps": 1,
        "max_length": 768,
        "optim": "adamw_torch",
    }
    return build_config(SFTConfig, {**base, **values})


# --- SFT ----------------------------------------------------------------------------------------


def test_sft_loss_is_on_assistant_tokens_only(tiny_base, tmp_path):
    from align.train.sft import build_sft_trainer

    config = sft_config(tiny_base, tmp_path)
    trainer, tokenizer, _ = build_sft_trainer(config, tmp_path / "work", "transformers")
    example = trainer.train_dataset[0]
    batch = trainer.data_collator([example])
    labels = batch["labels"][0]
    trained = batch["input_ids"][0][labels != -100]
    messages = json.loads((tmp_path / "gold.jsonl").read_text().splitlines()[0])["messages"]
    assert tokenizer.decode(trained) == messages[-1]["content"] + "<|im_end|>"
    system_and_user = tokenizer.decode(batch["input_ids"][0][labels == -100])
    assert messages[1]["content"] in system_and_user


@pytest.mark.slow
def test_sft_run_writes_adapter_manifest_and_effective_config(tiny_base, tmp_path):
    from align.train.sft import run_sft

    config = sft_config(tiny_base, tmp_path, learning_rate=1e-3)
    folder = run_sft(config)
    assert (folder / "adapter_model.safetensors").is_file()
    assert (folder / "tokenizer.json").is_file()
    assert not list(folder.glob("checkpoint-*"))
    assert not (tmp_path / "sft.partial").exists()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["config"]["learning_rate"] == 1e-3
    assert manifest["packages"]["trl"] and manifest["git"]["commit"]
    assert all(len(digest) == 64 for digest in manifest["data"].values())
    assert json.loads((folder / "config.json").read_text())["max_steps"] == 2
    assert manifest["global_step"] == 2


@pytest.mark.slow
def test_killed_run_resumes_and_ends_with_the_same_number_of_steps(
    tiny_base, tmp_path, monkeypatch
):
    from transformers import Trainer

    from align.train.sft import run_sft

    original = Trainer.training_step
    calls = {"n": 0}

    def dies_on_third_step(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("killed")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "training_step", dies_on_third_step)
    with pytest.raises(KeyboardInterrupt):
        run_sft(sft_config(tiny_base, tmp_path, max_steps=4, save_steps=2))
    partial = tmp_path / "sft.partial"
    assert (partial / "checkpoint-2").is_dir()
    assert not (tmp_path / "sft").exists()  # nothing half-written at the final path

    monkeypatch.setattr(Trainer, "training_step", original)
    folder = run_sft(sft_config(tiny_base, tmp_path, max_steps=4, save_steps=2, resume=True))
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["global_step"] == 4
    history = json.loads((folder / "metrics.json").read_text())["log_history"]
    assert max(entry.get("step", 0) for entry in history) == 4
    assert not partial.exists()


# --- DPO: the reference is the SFT policy -----------------------------------------------------


def _completion_logps(model, prompt_ids, completion_ids):
    """Sum of log-probabilities of the completion tokens given the prompt."""
    ids = torch.tensor([prompt_ids + completion_ids])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0, :-1].float()
    logps = torch.log_softmax(logits, dim=-1).gather(1, ids[0, 1:, None])[:, 0]
    return logps[len(prompt_ids) - 1 :].sum().item()


def test_reference_log_probs_equal_base_plus_sft_not_the_bare_base(
    tiny_base, sft_adapter, tiny_dpo_config, tmp_path
):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from align.train.dpo import build_dpo_trainer

    config = tiny_dpo_config(tmp_path, precompute_ref_log_probs=True)
    trainer, _, _, _ = build_dpo_trainer(config, tmp_path / "work", "transformers")
    data = trainer.train_dataset
    reference = data["ref_chosen_logps"]

    base = AutoModelForCausalLM.from_pretrained(tiny_base, dtype=torch.float32).eval()
    pairs = list(zip(data["prompt_ids"], data["chosen_ids"], strict=True))
    bare = [_completion_logps(base, p, c) for p, c in pairs]
    sft = PeftModel.from_pretrained(base, str(sft_adapter)).eval()
    with_sft = [_completion_logps(sft, p, c) for p, c in pairs]

    assert reference == pytest.approx(with_sft, abs=1e-3)
    assert not any(abs(r - b) < 1e-2 for r, b in zip(reference, bare, strict=True))


def test_rewards_are_exactly_zero_before_the_first_update(tiny_dpo_config, tmp_path):
    from align.train.dpo import build_dpo_trainer, reference_check

    config = tiny_dpo_config(tmp_path)
    trainer, _, names, _ = build_dpo_trainer(config, tmp_path / "work", "transformers")
    assert "ref" in trainer.model.peft_config  # TRL's frozen copy of the SFT adapter
    check = reference_check(trainer.evaluate(), names)
    assert check == {"max_abs_reward_before_training": 0.0, "reference_is_sft_policy": True}


@pytest.mark.slow
def test_dpo_run_saves_the_adapter_without_the_reference_copy(tiny_dpo_config, tmp_path):
    from align.train.dpo import run_dpo

    config = tiny_dpo_config(
        tmp_path,
        learning_rate=1e-3,
        loss_type=["sigmoid", "sft"],
        loss_weights=[1.0, 0.1],
    )
    folder = run_dpo(config)
    assert (folder / "adapter_model.safetensors").is_file()
    assert not (folder / "ref").exists()
    metrics = json.loads((folder / "metrics.json").read_text())["final"]
    assert metrics["reference_check"]["reference_is_sft_policy"] is True
    assert set(metrics["per_perturbation"]) == {"missing_do_not", "wrong_triage_color"}
    for row in metrics["per_perturbation"].values():
        assert row["reward_accuracy"] is not None and row["reward_margin"] is not None
    history = json.loads((folder / "metrics.json").read_text())["log_history"]
    assert any("eval_missing_do_not_rewards/margins" in entry for entry in history)
