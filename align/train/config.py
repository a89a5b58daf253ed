"""Run configuration for `align sft` and `align dpo`: dataclasses with the defaults, loading from
TOML or YAML, and the precedence defaults < config file < command-line flags.

Pure Python (no torch): the CLI builds its help text from these defaults.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "out_proj", "in_proj", "w1", "w2", "w3")
# The reference base's architecture (LiquidAI/LFM2-1.2B's published config, which
# LFM2.5-1.2B-Instruct shares): what the benchmarks build with random weights, since no
# checkpoint can be downloaded here. transformers.Lfm2Config(**LFM2_1_2B, <token ids>).
LFM2_1_2B = dict(
    vocab_size=65536,
    hidden_size=2048,
    intermediate_size=12288,
    num_hidden_layers=16,
    num_attention_heads=32,
    num_key_value_heads=8,
    max_position_embeddings=128000,
    norm_eps=1e-5,
    conv_bias=False,
    conv_L_cache=3,
    block_multiple_of=256,
    block_ffn_dim_multiplier=1.0,
    block_auto_adjust_ff_dim=True,
    rope_theta=1e6,
    full_attn_idxs=[2, 5, 8, 10, 12, 14],
    tie_word_embeddings=True,
)
BACKENDS = ("auto", "transformers", "unsloth")
DTYPES = ("auto", "float32", "bfloat16", "float16")
SCHEDULERS = ("linear", "cosine", "constant", "constant_with_warmup", "cosine_with_restarts")
OPTIMIZERS = ("adamw_8bit", "adamw_torch", "paged_adamw_8bit", "sgd")
REPORTERS = ("auto", "tensorboard", "trackio", "none")
SWITCHES = ("auto", "on", "off")
# TRL 1.15 DPOConfig.loss_type values (its docstring); a test checks this list against TRL so an
# upgrade that adds or drops one is noticed. TRL itself only rejects an unknown name inside the
# loss computation, i.e. after training has started, hence the early check here.
TRL_LOSS_TYPES = (
    "sigmoid", "hinge", "ipo", "exo_pair", "nca_pair", "robust", "bco_pair", "sppo_hard", "aot",
    "aot_unpaired", "apo_zero", "apo_down", "discopop", "sft", "sigmoid_norm",
)  # fmt: skip
TOY_BASE = "toy"  # the embedded default: built locally into checkpoints/toy-base


class ConfigError(ValueError):
    """A bad option, named as the user wrote it (``--learning-rate``, ``lora_r in run.toml``)."""


@dataclass
class ModelArguments:
    base_model: str = TOY_BASE  # Hub id, local folder, or "toy" (the embedded default)
    backend: str = "auto"  # auto: Unsloth on CUDA when installed, else transformers+PEFT
    dtype: str = "auto"  # auto: bfloat16 on CUDA with bf16 support, else float32
    load_in_4bit: bool = False  # QLoRA through bitsandbytes
    seed: int = 3407


@dataclass
class TrainingArguments:
    output_dir: str | None = None  # default checkpoints/<command>-<UTC time>
    overwrite: bool = False
    resume: bool = False
    # --resume with a setting that differs from the interrupted run's: refused unless this is
    # on; then the change is recorded in the manifest (align/train/resume.py)
    allow_changed_settings: bool = False
    learning_rate: float = 2e-4
    epochs: float = 3.0
    max_steps: int = -1  # > 0 overrides epochs
    batch_size: int = 2
    grad_accum: int = 4
    max_length: int = 1024
    lr_scheduler: str = "linear"
    warmup_ratio: float = 0.0
    optim: str = "adamw_8bit"
    logging_steps: int = 5
    save_steps: int = 50
    report_to: str = "auto"  # auto: TensorBoard, plus Trackio when installed
    gradient_checkpointing: bool = False  # on CPU and small models it costs time for nothing


@dataclass
class SFTConfig(ModelArguments, TrainingArguments):
    """`align sft`: train a LoRA SFT adapter on gold conversations (seed 000's recipe)."""

    gold: list[str] = field(default_factory=lambda: ["preference_data/gold"])
    # Train only on the gold records `align pairs` puts on the train side of its split, so the
    # gold cases `align eval` judges stay unseen; off: every gold record.
    train_split_only: bool = True
    lora_r: int = 16
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    target_modules: list[str] = field(default_factory=lambda: list(LORA_TARGETS))


@dataclass
class DPOConfig(ModelArguments, TrainingArguments):
    """`align dpo`: refine the SFT adapter with DPO; the reference is the frozen SFT policy."""

    adapter: str | None = None  # the SFT adapter (required): folder or Hub id
    pairs: str = "preference_data/pairs"  # folder with train.jsonl and eval.jsonl
    beta: float = 0.1
    loss_type: list[str] = field(default_factory=lambda: ["sigmoid"])
    loss_weights: list[float] | None = None
    precompute_ref_log_probs: bool = False
    perturbations: list[str] | None = None  # keep only these perturbation types
    mix: dict[str, float] | None = None  # share of each type's train pairs to keep, 0..1
    max_eval_pairs: int | None = None  # per perturbation type; None: all eval pairs
    eval_steps: int = 50
    learning_rate: float = 5e-6
    epochs: float = 1.0
    # GPU speed (align/train/fast_dpo.py); none of these changes the loss or the metrics.
    # fast_path auto: on with a CUDA GPU (either backend): cached precomputed reference
    # log-probs, length-grouped batches (the largest first) padded to their longest sequence
    # rounded up to a multiple of 16 on CUDA (at most the data's longest sequence), gradient
    # accumulation folded into the micro-batch where the loss is per pair (BENCHMARKS.md).
    fast_path: str = "auto"
    torch_compile: str = "auto"  # compile the decoder layers; auto: off (see BENCHMARKS.md)
    # LoRA in the activations' dtype, fused add; auto: on the transformers backend's fast path
    fast_lora: str = "auto"
    # Most forward calls a batch is split into on the fast path (by length, each cut to its
    # longest sequence so rounded). 1: splitting a length-grouped batch further saves padding
    # but cost more than it saved on the H200 (workload (b): 31.1k tokens/s at 1, 21.9k at 4).
    sub_batches: int = 1
    # Fast path: attention by torch's flash kernel. Batches are right-padded and every layer
    # is causal, so no padding mask is passed (the kept positions' values are the same) and
    # cuDNN's attention, which builds a plan for each new batch width, is switched off.
    # auto: off (measured slower than cuDNN's attention on the H200; BENCHMARKS.md, issue 7).
    flash_attention: str = "auto"
    # Fast path: each pair's chosen and rejected sequences run as one row that holds their
    # common prompt once (LFM2 with SDPA attention; exact: masks, position ids and the short
    # convolution's inputs as in separate rows; with LoRA dropout the two share the prompt's
    # dropout draw). auto: on with the fast path (not with flash attention).
    share_prompts: str = "auto"
    ref_cache_dir: str | None = "checkpoints/ref-logps"  # reference log-prob cache; None: off
    # None (auto): on when the micro-batch's activations would not fit a quarter of the GPU
    # (CUDA fast path), else off; true/false force it.
    gradient_checkpointing: bool | None = None


def field_names(config_class) -> list[str]:
    return [f.name for f in dataclasses.fields(config_class)]


def defaults(config_class) -> dict[str, Any]:
    return dataclasses.asdict(config_class())


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a flat TOML or YAML mapping of option names to values."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"--config {path}: cannot read ({error.strerror})") from error
    except UnicodeDecodeError as error:
        raise ConfigError(f"--config {path}: not UTF-8") from error
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            try:
                import tomllib
            except ModuleNotFoundError:  # Python 3.10
                import tomli as tomllib
            values = tomllib.loads(text)
        elif suffix in (".yaml", ".yml"):
            import yaml

            values = yaml.safe_load(text) or {}
        else:
            raise ConfigError(f"--config {path}: use a .toml, .yaml or .yml file")
    except ConfigError:
        raise
    except Exception as error:  # the parsers' own errors name line and column
        raise ConfigError(f"--config {path}: cannot parse: {error}") from error
    if not isinstance(values, dict):
        raise ConfigError(f"--config {path}: expected a mapping of option names to values")
    return {key.replace("-", "_"): value for key, value in values.items()}


def build_config(
    config_class,
    file_values: dict | None = None,
    flags: dict | None = None,
    source: str = "config file",
):
    """defaults < config file < flags (flags that were not given are None and do not count)."""
    known = set(field_names(config_class))
    values: dict[str, Any] = {}
    for key, value in (file_values or {}).items():
        if key not in known:
            raise ConfigError(
                f"unknown option {key!r} in {source}; known: {', '.join(sorted(known))}"
            )
        values[key] = value
    values.update({k: v for k, v in (flags or {}).items() if v is not None})
    try:
        config = config_class(**values)
    except TypeError as error:
        raise ConfigError(str(error)) from error
    validate(config)
    return config


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _check(condition: bool, name: str, message: str) -> None:
    if not condition:
        raise ConfigError(f"{_flag(name)}: {message}")


def _number(
    config,
    name: str,
    *,
    low: float,
    high: float = math.inf,
    integer: bool = False,
    low_inclusive: bool = True,
) -> None:
    value = getattr(config, name)
    kind = int if integer else (int, float)
    _check(
        isinstance(value, kind) and not isinstance(value, bool),
        name,
        f"must be {'a whole number' if integer else 'a number'}, got {value!r}",
    )
    ok_low = value >= low if low_inclusive else value > low
    _check(
        ok_low and value <= high and math.isfinite(value),
        name,
        f"must be {'>=' if low_inclusive else '>'} {low:g}"
        + (f" and <= {high:g}" if high != math.inf else "")
        + f", got {value!r}",
    )


def _choice(config, name: str, choices) -> None:
    value = getattr(config, name)
    _check(value in choices, name, f"must be one of {', '.join(choices)}, got {value!r}")


def _bool(config, name: str) -> None:
    _check(isinstance(getattr(config, name), bool), name, "must be true or false")


def validate(config) -> None:
    """Check every option before anything heavy is loaded; ConfigError names the option."""
    _check(
        isinstance(config.base_model, str) and config.base_model.strip(),
        "base_model",
        "must name a model",
    )
    _choice(config, "backend", BACKENDS)
    _choice(config, "dtype", DTYPES)
    _choice(config, "lr_scheduler", SCHEDULERS)
    _choice(config, "optim", OPTIMIZERS)
    _choice(config, "report_to", REPORTERS)
    for name in ("load_in_4bit", "overwrite", "resume", "allow_changed_settings"):
        _bool(config, name)
    if not (isinstance(config, DPOConfig) and config.gradient_checkpointing is None):
        _bool(config, "gradient_checkpointing")
    _check(
        not (config.overwrite and config.resume), "resume", "cannot be combined with --overwrite"
    )
    _check(
        config.resume or not config.allow_changed_settings,
        "allow_changed_settings",
        "only with --resume (it lets a resumed run change a setting of the interrupted one)",
    )
    _number(config, "seed", low=0, integer=True)
    _number(config, "learning_rate", low=0, high=1.0, low_inclusive=False)
    _number(config, "epochs", low=0, high=1000, low_inclusive=False)
    _number(config, "max_steps", low=-1, integer=True)
    _check(config.max_steps != 0, "max_steps", "must be -1 (use epochs) or > 0")
    _number(config, "batch_size", low=1, high=4096, integer=True)
    _number(config, "grad_accum", low=1, high=4096, integer=True)
    _number(config, "max_length", low=32, high=1_000_000, integer=True)
    _number(config, "warmup_ratio", low=0, high=1)
    _check(config.warmup_ratio < 1, "warmup_ratio", "must be < 1 (a share of the steps)")
    _number(config, "logging_steps", low=1, integer=True)
    _number(config, "save_steps", low=1, integer=True)
    if isinstance(config, SFTConfig):
        _validate_sft(config)
    if isinstance(config, DPOConfig):
        _validate_dpo(config)


def _validate_sft(config: SFTConfig) -> None:
    _number(config, "lora_r", low=1, high=4096, integer=True)
    _number(config, "lora_alpha", low=1, high=65536, integer=True)
    _number(config, "lora_dropout", low=0, high=1, low_inclusive=True)
    _check(config.lora_dropout < 1, "lora_dropout", "must be < 1")
    _check(
        isinstance(config.target_modules, list) and config.target_modules,
        "target_modules",
        "must list at least one module name",
    )
    _check(isinstance(config.gold, list) and config.gold, "gold", "must list gold files or folders")


def _validate_dpo(config: DPOConfig) -> None:
    from align.data.perturb import PERTURBATIONS  # pure Python

    _check(
        config.adapter is not None and str(config.adapter).strip(),
        "adapter",
        "the SFT adapter to refine is required (run `align sft` first, or give a folder or "
        "Hub id); the reference model is that adapter, frozen",
    )
    _number(config, "beta", low=0, high=100, low_inclusive=False)
    _check(
        isinstance(config.loss_type, list) and config.loss_type,
        "loss_type",
        "must name at least one loss type",
    )
    unknown = [t for t in config.loss_type if t not in TRL_LOSS_TYPES]
    _check(
        not unknown,
        "loss_type",
        f"unknown {', '.join(map(str, unknown))}; TRL knows: {', '.join(TRL_LOSS_TYPES)}",
    )
    if config.loss_weights is not None:
        _check(
            len(config.loss_weights) == len(config.loss_type),
            "loss_weights",
            f"give one weight per loss type ({len(config.loss_type)}), got "
            f"{len(config.loss_weights)}",
        )
        _check(
            all(
                isinstance(w, (int, float)) and w >= 0 and math.isfinite(w)
                for w in config.loss_weights
            ),
            "loss_weights",
            "weights must be numbers >= 0",
        )
    _bool(config, "precompute_ref_log_probs")
    for name in ("perturbations",):
        names = getattr(config, name)
        if names is not None:
            bad = [n for n in names if n not in PERTURBATIONS]
            _check(
                names and not bad,
                name,
                f"unknown {', '.join(bad) or '(empty)'}; known: {', '.join(PERTURBATIONS)}",
            )
    if config.mix is not None:
        _check(isinstance(config.mix, dict), "mix", "must map perturbation names to shares")
        bad = [n for n in config.mix if n not in PERTURBATIONS]
        _check(not bad, "mix", f"unknown {', '.join(bad)}; known: {', '.join(PERTURBATIONS)}")
        _check(
            all(isinstance(v, (int, float)) and 0 <= v <= 1 for v in config.mix.values()),
            "mix",
            "each share must be a number from 0 to 1",
        )
    if config.max_eval_pairs is not None:
        _number(config, "max_eval_pairs", low=1, integer=True)
    _number(config, "eval_steps", low=1, integer=True)
    _choice(config, "fast_path", SWITCHES)
    _choice(config, "torch_compile", SWITCHES)
    _choice(config, "fast_lora", SWITCHES)
    _number(config, "sub_batches", low=1, integer=True)
    _choice(config, "flash_attention", SWITCHES)
    _choice(config, "share_prompts", SWITCHES)
    _check(
        config.ref_cache_dir is None or isinstance(config.ref_cache_dir, str),
        "ref_cache_dir",
        "must be a folder or null",
    )
