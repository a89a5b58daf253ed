"""Model loading, in one place: base model + tokenizer by Hub id or local path, an optional
adapter, dtype, optional 4-bit (QLoRA), and the backend (transformers+PEFT everywhere, Unsloth
on CUDA when installed).

Unsloth is imported lazily and only when chosen: it refuses to import without a GPU.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import torch

from align.train.config import TOY_BASE


class LoadError(ValueError):
    """A model, adapter or backend that cannot be used; says what to do instead."""


def resolve_base_model(base_model: str) -> str:
    """The toy default's local folder (built on first use), or the name as given."""
    if base_model == TOY_BASE:
        from align.train.toy import ensure_toy_base

        return str(ensure_toy_base())
    return base_model


def resolve_backend(requested: str) -> str:
    """``auto`` -> Unsloth when a CUDA GPU and the package are present, else transformers.
    Under several processes (accelerate launch) only transformers+PEFT: align does not rely on
    Unsloth's multi-GPU support, so ``unsloth`` is refused and ``auto`` picks transformers."""
    from align.train import distributed

    cuda = torch.cuda.is_available()
    unsloth = importlib.util.find_spec("unsloth") is not None
    if distributed.several():
        if requested == "unsloth":
            raise LoadError(
                f"--backend unsloth: not supported under several processes "
                f"(WORLD_SIZE={distributed.world_size()}); align trains on several GPUs with "
                "--backend transformers (DDP or FSDP through accelerate launch), or use "
                "Unsloth on one GPU without accelerate launch."
            )
        if cuda and unsloth:
            import logging

            logging.getLogger("align.train").warning(
                "backend auto: transformers+PEFT under several processes (not Unsloth)"
            )
        return "transformers"
    if requested == "unsloth":
        if not cuda:
            raise LoadError(
                "--backend unsloth needs a CUDA GPU; none is visible here. Use "
                "--backend transformers (or auto)."
            )
        if not unsloth:
            raise LoadError(
                "--backend unsloth: Unsloth is not installed. Install the GPU extra: "
                "pip install -c constraints.txt 'align[gpu]'"
            )
        return "unsloth"
    if requested == "transformers":
        return "transformers"
    return "unsloth" if cuda and unsloth else "transformers"


def resolve_dtype(dtype: str) -> torch.dtype:
    if dtype == "auto":
        if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]


def _quantization_config(dtype: torch.dtype):
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_compute_dtype=dtype,
        bnb_4bit_use_double_quant=True,
    )


def load_tokenizer(base: str):
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(base)
    except OSError as error:
        raise LoadError(f"--base-model {base}: cannot load its tokenizer ({error})") from error
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_base(
    base_model: str,
    *,
    dtype: str = "auto",
    load_in_4bit: bool = False,
    backend: str = "transformers",
    max_length: int = 1024,
):
    """(model, tokenizer) for a base model by Hub id or local folder."""
    base = resolve_base_model(base_model)
    torch_dtype = resolve_dtype(dtype)
    if backend == "unsloth":
        from unsloth import FastLanguageModel

        model, tokenizer = FastLanguageModel.from_pretrained(
            model_name=base, max_seq_length=max_length, dtype=torch_dtype, load_in_4bit=load_in_4bit
        )
        return model, tokenizer
    from transformers import AutoModelForCausalLM

    kwargs = {"dtype": torch_dtype}
    if load_in_4bit:
        kwargs["quantization_config"] = _quantization_config(torch_dtype)
    if torch.cuda.is_available():
        kwargs["device_map"] = {"": torch.cuda.current_device()}
    try:
        model = AutoModelForCausalLM.from_pretrained(base, **kwargs)
    except OSError as error:
        raise LoadError(
            f"--base-model {base_model}: cannot load ({error}). A Hub id needs "
            "network access; offline, give a local folder."
        ) from error
    return model, load_tokenizer(base)


def adapter_files(adapter: str) -> tuple[dict, Path]:
    """(adapter_config.json contents, weights file) of a local adapter folder, checked."""
    folder = Path(adapter)
    if not folder.is_dir():
        raise LoadError(f"--adapter {adapter}: no such folder")
    config_file = folder / "adapter_config.json"
    if not config_file.is_file():
        raise LoadError(f"--adapter {adapter}: no adapter_config.json (not a PEFT adapter folder)")
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise LoadError(f"--adapter {adapter}: adapter_config.json is corrupt ({error})") from error
    weights = folder / "adapter_model.safetensors"
    if not weights.is_file():
        raise LoadError(f"--adapter {adapter}: no adapter_model.safetensors")
    return config, weights


def check_adapter_fits(model, adapter: str) -> None:
    """Refuse an adapter trained for another base: every LoRA matrix must attach to a module
    of the base with matching dimensions (names alone differ between local paths and Hub ids)."""
    from safetensors import safe_open

    _, weights = adapter_files(adapter)
    modules = dict(model.named_modules())
    try:
        with safe_open(str(weights), framework="pt") as tensors:
            shapes = {key: tensors.get_slice(key).get_shape() for key in tensors.keys()}  # noqa: SIM118
    except Exception as error:  # safetensors raises its own error types for corrupt files
        raise LoadError(
            f"--adapter {adapter}: adapter_model.safetensors is corrupt ({error})"
        ) from error
    for key, shape in shapes.items():
        if ".lora_A." not in key and ".lora_B." not in key:
            continue
        module_name = key.split(".lora_")[0].removeprefix("base_model.model.")
        module = modules.get(module_name)
        if module is None:
            raise LoadError(
                f"--adapter {adapter}: its layer {module_name} does not exist in the "
                "base model; the adapter was trained for another base"
            )
        features = module.in_features if ".lora_A." in key else module.out_features
        found = shape[1] if ".lora_A." in key else shape[0]
        if found != features:
            raise LoadError(
                f"--adapter {adapter}: {module_name} has {features} features in the "
                f"base but {found} in the adapter; it was trained for another base"
            )


def load_adapter(model, adapter: str, *, trainable: bool):
    """Wrap ``model`` with the adapter (checked against the base first)."""
    from peft import PeftModel

    if Path(adapter).exists() or os.sep in adapter or adapter.startswith("."):
        check_adapter_fits(model, adapter)
    try:
        return PeftModel.from_pretrained(model, adapter, is_trainable=trainable)
    # PEFT takes adapter_config.json's values as they are: a wrong type or shape in it
    # surfaces as a TypeError, KeyError or AttributeError from deep inside the library.
    except (OSError, ValueError, RuntimeError, TypeError, KeyError, AttributeError) as error:
        raise LoadError(f"--adapter {adapter}: cannot load ({error})") from error
