"""Issue 8's stand-in base (align/train/small_base.py) and what its results depend on: a
K-quant-ready LFM2 of tens of millions of parameters, a pretraining corpus that holds no
evaluation scenario, more held-out draws for tighter intervals, and SFT on the train split."""

from __future__ import annotations

import pytest

from align.data.generator import generate_gold
from align.data.pairs import PairConfig, split_of
from align.evaluation.scenarios import heldout_cases
from align.train.small_base import (
    SMALL_CONFIG,
    corpus_records,
    evaluation_prompts,
    main,
)
from align.train.toy import TOY_CONFIG, lfm2_mlp_width


def user_prompt(messages) -> str:
    return "\n".join(m["content"] for m in messages if m["role"] == "user")


def test_mlp_width_rule_matches_what_lfm2_builds():
    pytest.importorskip("transformers")
    from transformers import Lfm2Config, Lfm2ForCausalLM

    for config in (TOY_CONFIG, SMALL_CONFIG):
        small = {**config, "num_hidden_layers": 1, "full_attn_idxs": [0]}
        model = Lfm2ForCausalLM(Lfm2Config(**small))
        assert model.model.layers[0].feed_forward.w1.out_features == lfm2_mlp_width(config)
    assert lfm2_mlp_width(SMALL_CONFIG) == 1536


def test_small_base_is_a_k_quant_ready_lfm2_of_tens_of_millions_of_parameters():
    pytest.importorskip("torch")
    from align.train.toy import build_model

    model = build_model(3407, SMALL_CONFIG)  # check_model: rows % 256, MLP width, LoRA targets
    parameters = sum(p.numel() for p in model.parameters())
    assert 10_000_000 <= parameters < 100_000_000, parameters
    assert type(model).__name__ == "Lfm2ForCausalLM"


def test_corpus_holds_no_eval_group_and_no_evaluation_prompt():
    excluded = evaluation_prompts(None, heldout_draws=2)
    assert len(excluded) > 74  # gold eval split + two held-out draws
    records, counts = corpus_records((1, 2), excluded)
    split = PairConfig()
    assert records and counts["kept"] == len(records)
    assert counts["generated"] == counts["kept"] + counts["eval_group"] + counts["eval_prompt"]
    assert all(split_of(r["group"], split.seed, split.eval_fraction) == "train" for r in records)
    assert not {user_prompt(r["messages"]) for r in records} & excluded


def test_a_generated_record_whose_prompt_is_evaluated_is_left_out():
    train_side = [
        r
        for r in generate_gold(1)
        if split_of(r["group"], PairConfig().seed, PairConfig().eval_fraction) == "train"
    ]
    evaluated = user_prompt(train_side[0]["messages"])
    records, counts = corpus_records((1,), {evaluated})
    assert counts["eval_prompt"] >= 1
    assert evaluated not in {user_prompt(r["messages"]) for r in records}


def test_more_heldout_draws_add_new_scenarios_with_unique_ids():
    one, three = heldout_cases(), heldout_cases(draws=3)
    assert len(three) == 3 * len(one) == 222
    assert [c.id for c in three[: len(one)]] == [c.id for c in one]  # draw 0 is the usual set
    assert len({c.id for c in three}) == len(three)
    assert {c.tags for c in three[len(one) : 2 * len(one)]} == {c.tags for c in one}
    first, second = three[0], three[len(one)]
    assert first.tags == second.tags and first.prompt != second.prompt
    with pytest.raises(ValueError):
        heldout_cases(draws=0)


def test_sft_trains_on_the_train_split_unless_asked_for_all_gold():
    pytest.importorskip("datasets")
    from align.data.gold import load_gold
    from align.evaluation.scenarios import gold_eval_cases
    from align.train.sft import gold_dataset

    gold = ["preference_data/gold"]
    eval_prompts = {
        user_prompt(c.prompt) for c in gold_eval_cases(load_gold(gold).records, PairConfig())
    }
    train_only, _ = gold_dataset(gold)
    everything, _ = gold_dataset(gold, train_split_only=False)
    assert len(everything) == len(train_only) + len(eval_prompts)
    assert not {user_prompt(row["messages"]) for row in train_only} & eval_prompts


def test_pretrain_returns_one_loss_per_step():
    pytest.importorskip("torch")
    from align.train.toy import build_model, build_tokenizer, conversation_texts, pretrain

    conversations = [
        [{"role": m["role"], "content": m["content"]} for m in r["messages"]]
        for r in generate_gold(1)[:8]
    ]
    tokenizer = build_tokenizer(conversation_texts(conversations))
    losses = pretrain(
        build_model(),
        tokenizer,
        conversations,
        3,
        {"batch_size": 2, "block_size": 64, "warmup_steps": 1},
        progress=False,
    )
    assert len(losses) == 3 and all(loss > 0 for loss in losses)


def test_small_base_refuses_to_write_into_a_folder_that_has_files(tmp_path):
    (tmp_path / "keep.txt").write_text("a user's file")
    with pytest.raises(SystemExit) as exit_info:
        main(["--out", str(tmp_path), "--steps", "1"])
    assert exit_info.value.code == 2
    assert (tmp_path / "keep.txt").read_text() == "a user's file"


def test_small_base_build_writes_a_loadable_bf16_model_and_its_record(tmp_path):
    pytest.importorskip("torch")
    import json

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from align.train.small_base import BUILD_FILE, LOSS_FILE, build_small_base

    out = tmp_path / "base"
    settings = {"device": "cpu", "steps": 1, "batch_size": 1, "block_size": 64}
    build = build_small_base(out, seeds=(1,), settings=settings)
    assert not (tmp_path / "base.partial").exists()
    assert build["corpus"]["kept"] > 0 and build["saved_dtype"] == "bfloat16"
    assert json.loads((out / BUILD_FILE).read_text())["parameters"] == build["parameters"]
    assert len(json.loads((out / LOSS_FILE).read_text())["loss"]) == 1
    from safetensors import safe_open

    with safe_open(str(out / "model.safetensors"), "pt") as weights:
        names = list(weights.keys())  # safe_open is not iterable
        assert {weights.get_slice(name).get_dtype() for name in names} == {"BF16"}
    model = AutoModelForCausalLM.from_pretrained(out)
    assert model.config.hidden_size == SMALL_CONFIG["hidden_size"]
    assert len(AutoTokenizer.from_pretrained(out)) == SMALL_CONFIG["vocab_size"]


def test_heldout_patients_carry_only_a_weight_their_prompt_states():
    cases = heldout_cases(draws=2)
    stated = [c for c in cases if "weight_kg" in c.scenario]
    assert 0 < len(stated) < len(cases)  # some are told a weight, the rest must estimate one
    for case in stated:
        assert f"{case.scenario['weight_kg']} kg" in case.prompt[-1]["content"], case.id
