"""The embedded default model: a tiny LFM2 built and trained locally on the gold corpus.

No model hub is reachable on the dev/CI machines, so ``align demo`` and the tests run on a model
built here (DESIGN.md "Embedded default (toy model)"): a real ``Lfm2ForCausalLM`` with a tiny
config whose matrix rows are multiples of 256 (llama.cpp K-quants apply), a byte-level BPE
tokenizer trained on the gold conversations with LFM2's special tokens, split regex and ChatML
chat template (plus ``{% generation %}`` markers for TRL's ``assistant_only_loss``), and a short
full-parameter pretraining on the rendered gold conversations so that greedy generation already
has the response structure (``TRIAGE:`` line, ``Do NOT`` list, ``Reassess`` triggers).

The build is one function per step::

    conversations = load_conversations(gold)        # validated gold records -> message lists
    tokenizer = build_tokenizer(conversation_texts(conversations))
    model = build_model()                           # Lfm2ForCausalLM(Lfm2Config(**TOY_CONFIG))
    pretrain(model, tokenizer, conversations, steps)
    save_toy(model, tokenizer, folder, fingerprint)

``ensure_toy_base()`` runs it once into a temporary sibling folder, renames that into place, and
reuses the result while its fingerprint (gold bytes + TOY_VERSION + every setting) is unchanged.

torch, transformers and tokenizers are imported inside the functions that need them, so
importing this module (e.g. for ``TOY_BASE_DIR``) stays cheap.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import math
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from align.data.gold import gold_files, load_gold
from align.train.runs import file_sha256

if TYPE_CHECKING:
    from transformers import Lfm2ForCausalLM, PreTrainedTokenizerFast

# Bump when the build changes in a way the settings below do not capture (code, data handling).
TOY_VERSION = 1
TOY_BASE_DIR = Path("checkpoints/toy-base")
FINGERPRINT_FILE = "toy_fingerprint.json"

# ---------------------------------------------------------------------------------------------
# Tokenizer settings (LFM2 conventions; ids 0-4 are the special tokens, in this order)

PAD, BOS, EOT, IM_START, IM_END = (
    "<|pad|>",
    "<|startoftext|>",
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
)
SPECIAL_TOKENS = (PAD, BOS, EOT, IM_START, IM_END)
VOCAB_SIZE = 4096
# LFM2's (= Llama-3's) pre-tokenizer split; llama.cpp knows it as pre-tokenizer "lfm2".
SPLIT_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
# LFM2's ChatML layout. Each assistant turn's content and its <|im_end|> sit inside
# {% generation %} so that return_assistant_tokens_mask (TRL assistant_only_loss) marks exactly
# the tokens the model must produce, stop token included; the "\n" after it is not marked.
CHAT_TEMPLATE = (
    "{{- bos_token -}}"
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' -}}"
    "{%- if message['role'] == 'assistant' -%}"
    "{%- generation -%}{{- message['content'] + '<|im_end|>' -}}{%- endgeneration -%}"
    "{{- '\\n' -}}"
    "{%- else -%}"
    "{{- message['content'] + '<|im_end|>\\n' -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)

# ---------------------------------------------------------------------------------------------
# Model settings: every matrix row length is a multiple of 256 (hidden 256, MLP 512 after
# LFM2's auto-adjust of 2/3 x 768, vocab 4096), so llama.cpp's K-quants apply to every tensor.

TOY_CONFIG: dict[str, Any] = {
    "vocab_size": VOCAB_SIZE,
    "hidden_size": 256,
    "intermediate_size": 768,  # -> 512 after block_auto_adjust_ff_dim
    "block_auto_adjust_ff_dim": True,
    "block_multiple_of": 256,
    "block_ffn_dim_multiplier": 1.0,
    "num_hidden_layers": 6,
    "full_attn_idxs": [1, 3, 5],  # layers 0, 2, 4 are short-convolution layers
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 2048,
    "conv_L_cache": 3,
    "conv_bias": False,
    "norm_eps": 1e-5,
    "tie_word_embeddings": True,
    "pad_token_id": SPECIAL_TOKENS.index(PAD),
    "bos_token_id": SPECIAL_TOKENS.index(BOS),
    "eos_token_id": SPECIAL_TOKENS.index(IM_END),
}
MLP_WIDTH = 512  # what LFM2 makes of intermediate_size 768; checked in build_model


def lfm2_mlp_width(config: dict[str, Any]) -> int:
    """The MLP width ``Lfm2MLP`` builds from a config (its ``block_auto_adjust_ff_dim`` rule)."""
    width = config["intermediate_size"]
    if config.get("block_auto_adjust_ff_dim", True):
        width = int(2 * width / 3)
        if config.get("block_ffn_dim_multiplier") is not None:
            width = int(config["block_ffn_dim_multiplier"] * width)
        multiple = config.get("block_multiple_of", 256)
        width = multiple * ((width + multiple - 1) // multiple)
    return width


# The modules align's LoRA adapters target (the real LFM2.5-1.2B has the same names).
LORA_TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "out_proj", "in_proj", "w1", "w2", "w3")

# ---------------------------------------------------------------------------------------------
# Training settings (measured on the 2-core CPU dev machine; see pretrain)

TOY_TRAINING: dict[str, Any] = {
    "steps": 120,
    "batch_size": 8,
    "learning_rate": 3e-3,
    "min_lr_ratio": 0.1,
    "warmup_steps": 20,
    "weight_decay": 0.1,
    "betas": (0.9, 0.95),
    "grad_clip": 1.0,
    "block_size": 512,
    "max_length": 2048,
    "seed": 3407,
}


def toy_config_kwargs() -> dict[str, Any]:
    """The ``Lfm2Config`` keyword arguments of the toy model (a fresh copy)."""
    return json.loads(json.dumps(TOY_CONFIG))


# ---------------------------------------------------------------------------------------------
# Step 1: data


def load_conversations(gold: Sequence[Path] | None = None) -> list[list[dict]]:
    """The message lists of every valid gold record; refuse gold with problems."""
    report = load_gold(gold)
    if report.problems:
        shown = "\n  ".join(str(p) for p in report.problems[:5])
        more = len(report.problems) - 5
        raise ValueError(
            f"gold data has {len(report.problems)} problem(s); fix them before building the "
            f"toy model (align data check):\n  {shown}"
            + (f"\n  ... {more} more" if more > 0 else "")
        )
    return [
        [{"role": m["role"], "content": m["content"]} for m in record.messages]
        for record in report.records
    ]


def conversation_texts(conversations: Iterable[list[dict]]) -> list[str]:
    """Tokenizer training text: each message as ``role\\ncontent`` (what sits between specials)."""
    return [f"{m['role']}\n{m['content']}" for messages in conversations for m in messages]


# ---------------------------------------------------------------------------------------------
# Step 2: tokenizer


def build_tokenizer(texts: Iterable[str], vocab_size: int = VOCAB_SIZE) -> PreTrainedTokenizerFast:
    """Byte-level BPE trained on ``texts`` with LFM2's split regex, specials and chat template.

    The vocabulary is exactly ``vocab_size``: when the corpus yields fewer merges, the rest is
    filled with unused ``<|reserved_N|>`` special tokens (so tokenizer and embedding agree).
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(SPLIT_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(list(texts), trainer=trainer)
    missing = vocab_size - tokenizer.get_vocab_size()
    if missing > 0:
        tokenizer.add_special_tokens([f"<|reserved_{i}|>" for i in range(missing)])
    for token_id, token in enumerate(SPECIAL_TOKENS):
        assert tokenizer.token_to_id(token) == token_id, (token, tokenizer.token_to_id(token))
    assert tokenizer.get_vocab_size() == vocab_size, tokenizer.get_vocab_size()

    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=BOS,
        eos_token=IM_END,
        pad_token=PAD,
        extra_special_tokens=[EOT, IM_START, IM_END],
        model_max_length=TOY_CONFIG["max_position_embeddings"],
        clean_up_tokenization_spaces=False,
        padding_side="right",
    )
    wrapped.chat_template = CHAT_TEMPLATE
    return wrapped


# ---------------------------------------------------------------------------------------------
# Step 3: model


def build_model(
    seed: int = TOY_TRAINING["seed"], config: dict[str, Any] | None = None
) -> Lfm2ForCausalLM:
    """A freshly initialised ``Lfm2ForCausalLM`` (fp32) with ``config`` (default: the toy's),
    checked for the shapes K-quants need and for the LoRA target modules."""
    import torch
    from transformers import GenerationConfig, Lfm2Config, Lfm2ForCausalLM

    config = toy_config_kwargs() if config is None else copy.deepcopy(config)
    torch.manual_seed(seed)
    model = Lfm2ForCausalLM(Lfm2Config(**config))
    model.generation_config = GenerationConfig(
        bos_token_id=config["bos_token_id"],
        eos_token_id=config["eos_token_id"],
        pad_token_id=config["pad_token_id"],
    )
    check_model(model, lfm2_mlp_width(config))
    return model


def lora_target_names(model) -> set[str]:
    """The short names of the model's linear modules that are LoRA targets."""
    import torch

    return {
        name.rsplit(".", 1)[-1]
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and name.rsplit(".", 1)[-1] in LORA_TARGET_MODULES
    }


def check_model(model, mlp_width: int = MLP_WIDTH) -> None:
    """Raise AssertionError unless every 2-D weight has rows (input dims) that are multiples
    of 256, the MLP is ``mlp_width`` wide and every LoRA target module name is present."""
    for name, param in model.named_parameters():
        if param.dim() == 2:
            assert param.shape[-1] % 256 == 0, f"{name}: row length {param.shape[-1]} % 256 != 0"
    width = model.model.layers[0].feed_forward.w1.out_features
    assert width == mlp_width, f"MLP width {width}, expected {mlp_width}"
    missing = set(LORA_TARGET_MODULES) - lora_target_names(model)
    assert not missing, f"LoRA target modules missing: {sorted(missing)}"


# ---------------------------------------------------------------------------------------------
# Step 4: training


def encode_conversations(
    tokenizer, conversations: Iterable[list[dict]], max_length: int
) -> list[list[int]]:
    """Token ids of each rendered conversation (chat template, bos included), truncated."""
    return [
        list(tokenizer.apply_chat_template(messages, tokenize=True, return_dict=False))[:max_length]
        for messages in conversations
    ]


def learning_rate(step: int, steps: int, settings: dict[str, Any]) -> float:
    """Linear warmup, then cosine decay to ``min_lr_ratio`` of the peak."""
    peak = settings["learning_rate"]
    warmup = min(settings["warmup_steps"], max(steps - 1, 0))
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(steps - warmup, 1)
    floor = peak * settings["min_lr_ratio"]
    return floor + 0.5 * (peak - floor) * (1 + math.cos(math.pi * progress))


def packed_batches(
    sequences: Sequence[list[int]], steps: int, batch_size: int, block_size: int, seed: int
) -> Iterator[list[list[int]]]:
    """nanoGPT-style batches: the conversations, reshuffled each epoch with ``seed``, laid end
    to end in one token stream and cut into ``batch_size`` rows of ``block_size`` tokens.

    Every token is trained on and no compute goes to padding; each conversation starts with
    ``<|startoftext|>``, which marks where a new one begins inside a row.
    """
    rng = random.Random(seed)
    stream: list[int] = []
    start = 0  # an offset, not del stream[:need]: that is O(corpus) per step on a big corpus
    need = batch_size * block_size
    for _ in range(steps):
        if len(stream) - start < need:
            stream = stream[start:]
            start = 0
        while len(stream) < need:
            order = list(range(len(sequences)))
            rng.shuffle(order)
            for index in order:
                stream.extend(sequences[index])
        yield [
            stream[start + row * block_size : start + (row + 1) * block_size]
            for row in range(batch_size)
        ]
        start += need


def tail_mean(losses: Sequence[float], last: int = 10) -> float:
    """The mean of the last ``last`` losses (nan when there are none)."""
    tail = list(losses)[-last:]
    return sum(tail) / len(tail) if tail else float("nan")


def pretrain(
    model,
    tokenizer,
    conversations: Sequence[list[dict]],
    steps: int,
    settings: dict[str, Any] | None = None,
    *,
    progress: bool = True,
    label: str = "toy-base",
) -> list[float]:
    """Full-parameter causal-LM training on the rendered conversations (loss on every token),
    nanoGPT style: AdamW, warmup + cosine decay, grad clip. ``settings["device"]`` (default
    cpu): fp32 on CPU; on CUDA, fp32 weights with bf16 autocast and fused AdamW. Returns the
    loss of every step; the model is left on ``device`` in eval mode."""
    import torch

    settings = {**TOY_TRAINING, **(settings or {})}
    device = torch.device(settings.get("device", "cpu"))
    on_cuda = device.type == "cuda"
    sequences = encode_conversations(tokenizer, conversations, settings["max_length"])
    if not sequences:
        raise ValueError("no conversations to train on")
    model.to(device)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": settings["weight_decay"]},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=settings["learning_rate"],
        betas=tuple(settings["betas"]),
        fused=on_cuda,
    )
    batches = packed_batches(
        sequences, steps, settings["batch_size"], settings["block_size"], settings["seed"]
    )
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=on_cuda)
    threads = torch.get_num_threads()
    if not on_cuda:
        torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(settings["seed"])
    model.train()
    losses: list[float] = []
    start = time.perf_counter()
    every = max(1, steps // 20)
    tokens_per_step = settings["batch_size"] * settings["block_size"]
    try:
        for step, rows in enumerate(batches):
            input_ids = torch.tensor(rows, device=device)
            lr = learning_rate(step, steps, settings)
            for group in optimizer.param_groups:
                group["lr"] = lr
            with autocast:
                loss = model(input_ids=input_ids, labels=input_ids).loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), settings["grad_clip"])
            optimizer.step()
            losses.append(loss.item())
            if progress and (step % every == 0 or step == steps - 1):
                elapsed = time.perf_counter() - start
                print(
                    f"{label}: step {step + 1}/{steps}  loss {losses[-1]:.3f}  lr {lr:.2e}  "
                    f"{elapsed:.0f}s  {tokens_per_step * (step + 1) / elapsed:,.0f} tok/s",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        torch.set_num_threads(threads)
        model.eval()
    return losses


# ---------------------------------------------------------------------------------------------
# Step 5: fingerprint, save, and the atomic build


def toy_fingerprint(gold: Sequence[Path], steps: int) -> dict[str, Any]:
    """What the build depends on: gold bytes, TOY_VERSION, model/tokenizer/training settings.
    ``fingerprint`` is the sha256 over all of it."""
    files = [{"name": Path(p).name, "sha256": file_sha256(Path(p))} for p in gold]
    settings = {
        "toy_version": TOY_VERSION,
        "gold_sha256": [f["sha256"] for f in files],
        "config": TOY_CONFIG,
        "tokenizer": {
            "vocab_size": VOCAB_SIZE,
            "special_tokens": SPECIAL_TOKENS,
            "split_regex": SPLIT_REGEX,
            "chat_template": CHAT_TEMPLATE,
        },
        "training": {**TOY_TRAINING, "steps": steps},
    }
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()
    return {"fingerprint": digest, "gold_files": files, **settings}


REQUIRED_FILES = (
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
    FINGERPRINT_FILE,
)


def read_fingerprint(out_dir: Path) -> str | None:
    """The fingerprint of a complete toy model in ``out_dir``, else None."""
    if not all((out_dir / name).is_file() for name in REQUIRED_FILES):
        return None
    try:
        return json.loads((out_dir / FINGERPRINT_FILE).read_text())["fingerprint"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_toy(
    model, tokenizer, folder: Path, fingerprint: dict[str, Any], info_file: str = FINGERPRINT_FILE
) -> None:
    """Write the Hugging Face model folder, the build record (``info_file``) last."""
    model.save_pretrained(folder)  # config.json, generation_config.json, model.safetensors
    # The real LFM2 config.json also names the MLP width block_ff_dim, which llama.cpp's LFM2
    # converter reads; transformers loads it back as intermediate_size (the same value).
    config_file = folder / "config.json"
    config = json.loads(config_file.read_text())
    config["block_ff_dim"] = config["intermediate_size"]
    config_file.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    tokenizer.save_pretrained(folder)  # tokenizer.json, tokenizer_config.json, chat_template.jinja
    (folder / info_file).write_text(json.dumps(fingerprint, indent=2) + "\n")


def ensure_toy_base(
    out_dir: Path = TOY_BASE_DIR,
    gold: list[Path] | None = None,
    *,
    rebuild: bool = False,
    train_steps: int | None = None,
    progress: bool = True,
) -> Path:
    """The folder of the toy base model, built when missing or out of date.

    ``gold``: gold files or folders (default: preference_data/gold/*.jsonl). The model is
    rebuilt when the fingerprint (gold bytes, TOY_VERSION, settings, ``train_steps``) differs
    from the one saved with it, or when ``rebuild`` is set. The build happens in a temporary
    sibling folder renamed into place at the end: an interrupted build leaves any previous
    model untouched and no temporary folder behind. Concurrent callers build once: the others
    wait for that build and reuse it.
    """
    out_dir = Path(out_dir)
    files = gold_files(gold)
    if not files:
        raise FileNotFoundError(f"no gold .jsonl files found ({gold or 'preference_data/gold'})")
    steps = TOY_TRAINING["steps"] if train_steps is None else int(train_steps)
    fingerprint = toy_fingerprint(files, steps)
    if not rebuild and read_fingerprint(out_dir) == fingerprint["fingerprint"]:
        return out_dir
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with build_lock(out_dir, progress=progress):
        # Another process may have built the same model while this one waited for the lock.
        if not rebuild and read_fingerprint(out_dir) == fingerprint["fingerprint"]:
            return out_dir
        remove_stale_builds(out_dir)
        build_toy_base(out_dir, files, steps, fingerprint, progress=progress)
    return out_dir


def build_toy_base(
    out_dir: Path, gold: Sequence[Path], steps: int, fingerprint: dict, *, progress: bool = True
) -> None:
    """Build the toy model into a temporary sibling of ``out_dir``, then swap it into place
    (the temporary folder is removed on any failure, Ctrl-C included)."""
    temp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.building-", dir=out_dir.parent))
    try:
        started = time.perf_counter()
        if progress:
            print(f"toy-base: building {out_dir} ({steps} training steps)", file=sys.stderr)
        conversations = load_conversations(gold)
        tokenizer = build_tokenizer(conversation_texts(conversations))
        model = build_model(TOY_TRAINING["seed"])
        final_loss = tail_mean(pretrain(model, tokenizer, conversations, steps, progress=progress))
        fingerprint = {
            **fingerprint,
            "build": {
                "records": len(conversations),
                "parameters": sum(p.numel() for p in model.parameters()),
                "final_loss": final_loss,
                "seconds": round(time.perf_counter() - started, 1),
            },
        }
        save_toy(model, tokenizer, temp, fingerprint)
        temp.chmod(0o755)  # mkdtemp made it private
        _replace_dir(temp, out_dir)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    if progress:
        build = fingerprint["build"]
        print(
            f"toy-base: ready in {out_dir} ({build['parameters']:,} parameters, "
            f"final loss {final_loss:.3f}, {build['seconds']:.0f}s)",
            file=sys.stderr,
        )


@contextlib.contextmanager
def build_lock(out_dir: Path, *, progress: bool = True) -> Iterator[None]:
    """Hold an exclusive lock on ``.<name>.lock`` next to ``out_dir`` (POSIX ``flock``; the
    lock file stays, the lock goes with the process). No-op where ``fcntl`` is missing."""
    try:
        import fcntl
    except ImportError:  # Windows: no cross-process lock
        yield
        return
    with open(out_dir.parent / f".{out_dir.name}.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if progress:
                print(f"toy-base: waiting for another build of {out_dir}", file=sys.stderr)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def remove_stale_builds(out_dir: Path) -> None:
    """Remove temporary folders left by builds that were killed outright (SIGKILL, power
    loss). Call only under ``build_lock``: then no live build owns them."""
    for pattern in (f".{out_dir.name}.building-*", f".{out_dir.name}.old-*"):
        for stale in out_dir.parent.glob(pattern):
            shutil.rmtree(stale, ignore_errors=True)


def _replace_dir(new: Path, target: Path) -> None:
    """Move ``new`` to ``target``, replacing a previous ``target`` (moved aside, then removed)."""
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        old.rmdir()
        target.rename(old)
    try:
        new.rename(target)
    except BaseException:
        if old is not None:
            with contextlib.suppress(OSError):
                old.rename(target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
