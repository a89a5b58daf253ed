"""The embedded toy base model (align/train/toy.py): shape, tokenizer, chat template, reuse and
atomic rebuild. One tiny toy (2 training steps on a few committed gold records) is built per
module and shared; tests that rebuild work on a copy."""

from __future__ import annotations

import itertools
import json
import shutil
import threading
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

from align.train import toy

REPO_ROOT = Path(__file__).resolve().parent.parent
COMMITTED_GOLD = sorted((REPO_ROOT / "preference_data" / "gold").glob("*.jsonl"))

SYSTEM = "You are a triage assistant."
USER = "5-year-old, not walking, breathing 36/min."
ANSWER = "TRIAGE: YELLOW (Delayed)\nDo NOT:\n- walk him\nReassess if:\n- breathing changes"
CONVERSATION = [
    {"role": "system", "content": SYSTEM},
    {"role": "user", "content": USER},
    {"role": "assistant", "content": ANSWER},
]


def gold_subset(folder: Path, per_file: int = 4) -> Path:
    """A small valid gold file: the first records of each committed gold file."""
    lines = []
    for path in COMMITTED_GOLD:
        lines += [line for line in path.read_text(encoding="utf-8").splitlines() if line][:per_file]
    folder.mkdir(parents=True, exist_ok=True)
    subset = folder / "subset.jsonl"
    subset.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return subset


def build(out_dir: Path, gold: Path, **kwargs) -> Path:
    return toy.ensure_toy_base(out_dir, [gold], train_steps=2, progress=False, **kwargs)


def leftovers(out_dir: Path) -> list[str]:
    """Temporary build or swap folders next to out_dir (the lock file is meant to stay)."""
    return sorted(p.name for p in out_dir.parent.glob(f".{out_dir.name}.*") if p.suffix != ".lock")


@pytest.fixture(scope="module")
def gold_file(tmp_path_factory) -> Path:
    return gold_subset(tmp_path_factory.mktemp("gold"))


@pytest.fixture(scope="module")
def toy_dir(tmp_path_factory, gold_file) -> Path:
    return build(tmp_path_factory.mktemp("toy") / "toy-base", gold_file)


@pytest.fixture(scope="module")
def tokenizer(toy_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(toy_dir)


@pytest.fixture
def toy_copy(toy_dir, tmp_path) -> Path:
    """A private copy of the built toy, for tests that rebuild or break it."""
    copy = tmp_path / "models" / "toy-base"
    shutil.copytree(toy_dir, copy)
    return copy


def test_folder_holds_a_complete_hugging_face_model(toy_dir):
    for name in toy.REQUIRED_FILES:
        assert (toy_dir / name).is_file(), name
    assert leftovers(toy_dir) == []
    generation = json.loads((toy_dir / "generation_config.json").read_text())
    assert (generation["bos_token_id"], generation["eos_token_id"], generation["pad_token_id"]) == (
        1,
        4,
        0,
    )
    config = json.loads((toy_dir / "config.json").read_text())
    # llama.cpp's LFM2 converter reads block_ff_dim, as the real LFM2 config.json carries it.
    assert config["block_ff_dim"] == config["intermediate_size"] == 768


def test_model_is_lfm2_with_rows_of_256_and_every_lora_target(toy_dir):
    from transformers import AutoModelForCausalLM, Lfm2ForCausalLM

    model = AutoModelForCausalLM.from_pretrained(toy_dir)
    assert type(model) is Lfm2ForCausalLM
    config = model.config
    assert (config.hidden_size, config.vocab_size, config.num_hidden_layers) == (256, 4096, 6)
    assert (config.num_attention_heads, config.num_key_value_heads) == (4, 2)
    assert config.layer_types == ["conv", "full_attention"] * 3
    assert config.tie_word_embeddings
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight
    assert model.model.layers[0].feed_forward.w1.out_features == 512  # 2/3 x 768 -> 512
    for name, param in model.named_parameters():
        if param.dim() == 2:
            assert param.shape[-1] % 256 == 0, (name, tuple(param.shape))
    assert toy.lora_target_names(model) == set(toy.LORA_TARGET_MODULES)
    names = {name for name, _ in model.named_modules()}
    for module in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"):
        assert f"model.layers.1.{module}" in names
    assert "model.layers.1.self_attn.out_proj" in names
    assert {"model.layers.0.conv.in_proj", "model.layers.0.conv.out_proj"} <= names
    for w in ("w1", "w2", "w3"):
        assert f"model.layers.0.feed_forward.{w}" in names


def test_tokenizer_special_ids_and_exact_round_trip(tokenizer):
    assert len(tokenizer) == 4096
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in toy.SPECIAL_TOKENS}
    assert ids == {
        "<|pad|>": 0,
        "<|startoftext|>": 1,
        "<|endoftext|>": 2,
        "<|im_start|>": 3,
        "<|im_end|>": 4,
    }
    assert (tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id) == (0, 1, 4)
    text = "TRIAGE: RED (Immediate)\n  20 mL/kg × 18 kg = 360 mL — café, naïve 🚑\r\n\tend "
    encoded = tokenizer(text, add_special_tokens=False).input_ids
    assert tokenizer.decode(encoded) == text
    with_specials = "<|im_start|>user\nhi<|im_end|>\n"
    encoded = tokenizer(with_specials, add_special_tokens=False).input_ids
    assert encoded[0] == 3 and 4 in encoded
    assert tokenizer.decode(encoded) == with_specials


def test_pre_tokenizer_is_lfm2_split_then_byte_level(toy_dir):
    pre = json.loads((toy_dir / "tokenizer.json").read_text())["pre_tokenizer"]
    split, byte_level = pre["pretokenizers"]
    assert split["type"] == "Split" and split["behavior"] == "Isolated"
    assert split["pattern"]["Regex"] == toy.SPLIT_REGEX
    assert byte_level["type"] == "ByteLevel"
    assert byte_level["add_prefix_space"] is False and byte_level["use_regex"] is False


def test_chat_template_renders_exactly_lfm2_text(tokenizer):
    rendered = tokenizer.apply_chat_template(CONVERSATION, tokenize=False)
    assert rendered == (
        f"<|startoftext|><|im_start|>system\n{SYSTEM}<|im_end|>\n"
        f"<|im_start|>user\n{USER}<|im_end|>\n"
        f"<|im_start|>assistant\n{ANSWER}<|im_end|>\n"
    )
    prompt = tokenizer.apply_chat_template(
        CONVERSATION[:2], tokenize=False, add_generation_prompt=True
    )
    assert prompt == rendered[: rendered.index(ANSWER)]
    assert prompt.endswith("<|im_start|>assistant\n")
    ids = tokenizer.apply_chat_template(CONVERSATION, tokenize=True, return_dict=False)
    assert list(ids[:2]) == [1, 3] and ids.count(1) == 1  # bos once, from the template


def test_assistant_mask_covers_exactly_content_and_im_end(tokenizer):
    messages = [
        *CONVERSATION,
        {"role": "user", "content": "And if he stops breathing?"},
        {"role": "assistant", "content": "TRIAGE: RED (Immediate)\nOpen the airway."},
    ]
    out = tokenizer.apply_chat_template(
        messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    ids, mask = out["input_ids"], out["assistant_masks"]
    spans, current = [], []
    for token, marked in zip(ids, mask, strict=True):
        if marked:
            current.append(token)
        elif current:
            spans.append(current)
            current = []
    if current:
        spans.append(current)
    assert [tokenizer.decode(span) for span in spans] == [
        ANSWER + "<|im_end|>",
        "TRIAGE: RED (Immediate)\nOpen the airway.<|im_end|>",
    ]


def test_trl_sees_a_training_compatible_template(tokenizer):
    utils = pytest.importorskip("trl.chat_template_utils")
    assert utils.has_generation_markers(tokenizer.chat_template)
    assert utils.is_chat_template_stop_token_trained(tokenizer)


def test_second_call_reuses_the_model_without_rebuilding(toy_dir, gold_file):
    weights = toy_dir / "model.safetensors"
    before = weights.stat().st_mtime_ns
    assert build(toy_dir, gold_file) == toy_dir
    assert weights.stat().st_mtime_ns == before
    assert leftovers(toy_dir) == []


def test_changed_gold_file_triggers_a_rebuild(toy_copy, gold_file, tmp_path):
    old_fingerprint = toy.read_fingerprint(toy_copy)
    gold = tmp_path / "gold.jsonl"
    shutil.copyfile(gold_file, gold)
    weights = toy_copy / "model.safetensors"
    before = weights.stat().st_mtime_ns
    build(toy_copy, gold)  # same bytes under another name: reused
    assert weights.stat().st_mtime_ns == before
    lines = gold.read_text(encoding="utf-8").splitlines()
    gold.write_text("\n".join(lines[1:]) + "\n", encoding="utf-8")  # drop one record
    stale = toy_copy.parent / ".toy-base.building-killed"  # left by a SIGKILLed build
    stale.mkdir()
    (stale / "config.json").write_text("{}")
    build(toy_copy, gold)
    assert toy.read_fingerprint(toy_copy) not in (None, old_fingerprint)
    assert weights.stat().st_mtime_ns != before
    built = json.loads((toy_copy / toy.FINGERPRINT_FILE).read_text())["build"]
    assert built["records"] == len(lines) - 1
    assert leftovers(toy_copy) == []


def test_fingerprint_covers_gold_bytes_steps_and_version(gold_file, tmp_path, monkeypatch):
    base = toy.toy_fingerprint([gold_file], 2)["fingerprint"]
    renamed = tmp_path / "other-name.jsonl"
    shutil.copyfile(gold_file, renamed)
    assert toy.toy_fingerprint([renamed], 2)["fingerprint"] == base
    assert toy.toy_fingerprint([gold_file], 3)["fingerprint"] != base
    renamed.write_bytes(renamed.read_bytes() + b"\n")
    assert toy.toy_fingerprint([renamed], 2)["fingerprint"] != base
    monkeypatch.setattr(toy, "TOY_VERSION", toy.TOY_VERSION + 1)
    assert toy.toy_fingerprint([gold_file], 2)["fingerprint"] != base


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_interrupted_rebuild_keeps_the_previous_model(toy_copy, gold_file, monkeypatch, error):
    def interrupted(*args, **kwargs):
        raise error("interrupted during training")

    monkeypatch.setattr(toy, "pretrain", interrupted)
    before = {p.name: p.read_bytes() for p in toy_copy.iterdir()}
    with pytest.raises(error):
        build(toy_copy, gold_file, rebuild=True)
    assert {p.name: p.read_bytes() for p in toy_copy.iterdir()} == before
    assert leftovers(toy_copy) == []


def test_interrupted_first_build_leaves_nothing(gold_file, tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise RuntimeError("interrupted during training")

    monkeypatch.setattr(toy, "pretrain", interrupted)
    out_dir = tmp_path / "checkpoints" / "toy-base"
    with pytest.raises(RuntimeError):
        build(out_dir, gold_file)
    assert not out_dir.exists()
    assert [p.name for p in out_dir.parent.iterdir()] == [".toy-base.lock"]


def test_concurrent_caller_waits_for_the_build_and_reuses_it(
    toy_copy, gold_file, tmp_path, monkeypatch
):
    gold = tmp_path / "changed.jsonl"
    lines = gold_file.read_text(encoding="utf-8").splitlines()
    gold.write_text("\n".join(lines[1:]) + "\n", encoding="utf-8")
    trainings, errors = [], []
    pretrain = toy.pretrain

    def counted(*args, **kwargs):
        trainings.append(1)
        return pretrain(*args, **kwargs)

    def second_caller():
        try:
            build(toy_copy, gold)
        except BaseException as error:  # surfaced by the assertion below
            errors.append(error)

    monkeypatch.setattr(toy, "pretrain", counted)
    waiter = threading.Thread(target=second_caller)
    fingerprint = toy.toy_fingerprint([gold], 2)
    with toy.build_lock(toy_copy, progress=False):  # a first caller, mid-build
        waiter.start()
        waiter.join(timeout=1.0)
        assert waiter.is_alive()
        toy.build_toy_base(toy_copy, [gold], 2, fingerprint, progress=False)
    waiter.join(timeout=120)
    assert not waiter.is_alive() and errors == []
    assert len(trainings) == 1  # the waiter reused the first caller's model
    assert toy.read_fingerprint(toy_copy) == fingerprint["fingerprint"]


def test_invalid_gold_is_refused_before_building(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "Bad Id", "messages": []}\n', encoding="utf-8")
    out_dir = tmp_path / "toy-base"
    with pytest.raises(ValueError, match="problem"):
        build(out_dir, bad)
    assert not out_dir.exists() and leftovers(out_dir) == []


def test_packed_batches_are_deterministic_and_cover_every_token():
    sequences = [[1, 10 + i, 20 + i, 4] for i in range(5)]  # 20 tokens, one epoch
    first = list(toy.packed_batches(sequences, steps=5, batch_size=2, block_size=2, seed=7))
    again = list(toy.packed_batches(sequences, steps=5, batch_size=2, block_size=2, seed=7))
    assert first == again
    assert all(len(rows) == 2 and all(len(row) == 2 for row in rows) for rows in first)
    tokens = [token for rows in first for row in rows for token in row]
    assert sorted(tokens) == sorted(token for seq in sequences for token in seq)
    other = list(toy.packed_batches(sequences, steps=5, batch_size=2, block_size=2, seed=8))
    assert other != first


def test_learning_rate_warms_up_then_decays_to_the_floor():
    settings = {**toy.TOY_TRAINING, "learning_rate": 1.0, "warmup_steps": 4, "min_lr_ratio": 0.1}
    rates = [toy.learning_rate(step, 20, settings) for step in range(20)]
    assert rates[:4] == [0.25, 0.5, 0.75, 1.0]
    assert all(a >= b for a, b in itertools.pairwise(rates[3:]))
    assert rates[-1] == pytest.approx(0.1, abs=0.01)
