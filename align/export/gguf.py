"""Hugging Face folder -> GGUF (f16 or bf16) for the LFM2 architecture, on the PyPI ``gguf``
package (llama.cpp's own gguf-py), offline.

It mirrors ``convert_hf_to_gguf.py``'s ``LFM2Model`` (upstream llama.cpp, conversion/lfm2.py
and the ``TextModel``/``ModelBase`` code it builds on):

- hyper-parameters: ``TextModel.set_gguf_parameters`` plus LFM2's own: head_count_kv per layer
  (0 for short-convolution layers), vocab size, shortconv L_cache, rms eps, and the MLP width
  after LFM2's auto-adjust (``block_ff_dim``, else ``intermediate_size``);
- tensors: names through ``gguf.get_tensor_name_map``; ``conv.conv`` weights squeezed to 2-D;
  1-D tensors, norms and the short-convolution kernel in F32, every other weight in the
  output type (``prepare_tensors``);
- vocabulary: ``_set_vocab_gpt2`` / ``get_vocab_base`` (tokens, types, merges, special ids,
  add_bos/add_eos, chat template through ``gguf.SpecialVocab``).

Two deliberate differences, both about the tokenizer metadata:

- ``tokenizer.ggml.pre``: upstream picks it from a hash of the token ids of a test string and
  refuses unknown hashes. The ids depend on the vocabulary, so a locally trained vocabulary
  (the toy model's) never matches a listed hash even when its pre-tokenizer is LFM2's exactly.
  Here the split itself is read from tokenizer.json: LFM2's regex + byte-level -> "lfm2",
  anything else is refused. The GGUF verification then compares token ids end to end.
- the chat template is written without HF's ``{% generation %}`` markers (TRL's assistant-only
  loss needs them, llama.cpp's Jinja engine does not know them); the conversion checks that the
  template renders exactly the same text without them.

Tensors are streamed: planned from the safetensors headers, then written one at a time, so
memory stays at about one tensor beyond the file cache.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from align.export.common import CHECK_CONVERSATIONS, ExportError, atomic_file, require_gguf

SUPPORTED_ARCHITECTURES = ("Lfm2ForCausalLM", "LFM2ForCausalLM")
OUTTYPES = ("f16", "bf16")
LFM2_PRE_TOKENIZER = "lfm2"
# Tensors upstream never converts.
SKIPPED_SUFFIXES = (".attention.masked_bias", ".attention.bias", ".rotary_emb.inv_freq")
# {% generation %} / {%- endgeneration -%} in any whitespace-control spelling.
GENERATION_TAG = re.compile(r"\{%-?\s*(?:end)?generation\s*-?%\}")


@dataclass(frozen=True)
class TensorPlan:
    source: str  # name in the safetensors file
    file: Path
    name: str  # GGUF name
    shape: tuple[int, ...]  # numpy order (rows last)
    qtype: object  # gguf.GGMLQuantizationType


def convert_to_gguf(
    hf_folder: str | Path, out_path: str | Path, outtype: str = "f16", *, name: str | None = None
) -> Path:
    """Convert a Hugging Face LFM2 folder (merged export or an unmerged base such as
    checkpoints/toy-base) to one GGUF file, written atomically. Returns ``out_path``."""
    gguf = require_gguf()
    import numpy

    folder = Path(hf_folder)
    out_path = Path(out_path)
    hparams = load_hparams(folder)
    check_architecture(hparams, folder)
    ftype, qtype = outtype_types(outtype)

    writer = gguf.GGUFWriter(path=None, arch=gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.LFM2])
    try:
        plans = plan_tensors(folder, hparams, qtype)
        for plan in plans:
            nbytes = plan_nbytes(plan)
            # The element type is given by plan.qtype; the numpy dtype only matters for uint8.
            writer.add_tensor_info(plan.name, plan.shape, numpy.float32, nbytes, plan.qtype)
        add_general_metadata(writer, folder, name or folder.name)
        add_lfm2_parameters(writer, hparams, ftype)
        writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
        add_vocab(writer, folder, hparams)
        with atomic_file(out_path) as temp:
            writer.write_header_to_file(path=temp)
            writer.write_kv_data_to_file()
            writer.write_ti_data_to_file()
            for plan in plans:
                writer.write_tensor_data(tensor_data(plan))
            writer.close()
    finally:
        writer.close()
    return out_path


# ---------------------------------------------------------------------------------------------
# Configuration


def load_hparams(folder: Path) -> dict:
    """``AutoConfig(...).to_dict()`` as upstream reads it, else config.json as written."""
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise ExportError(f"{folder}: no config.json (not a Hugging Face model folder)")
    try:
        from transformers import AutoConfig

        return AutoConfig.from_pretrained(folder, trust_remote_code=False).to_dict()
    except Exception:  # unknown model type or a config transformers cannot read
        try:
            return json.loads(config_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ExportError(f"{config_file}: cannot read ({error})") from error


def check_architecture(hparams: dict, folder: Path) -> str:
    architectures = hparams.get("architectures") or []
    architecture = architectures[0] if architectures else hparams.get("model_type", "unknown")
    if architecture not in SUPPORTED_ARCHITECTURES:
        raise ExportError(
            f"{folder / 'config.json'}: architecture {architecture!r} is not supported by the "
            f"GGUF converter (supported: {', '.join(SUPPORTED_ARCHITECTURES)}); convert it with "
            "llama.cpp's convert_hf_to_gguf.py instead"
        )
    return architecture


def outtype_types(outtype: str):
    """(LlamaFileType, GGMLQuantizationType) of ``f16`` or ``bf16``."""
    gguf = require_gguf()
    types = {
        "f16": (gguf.LlamaFileType.MOSTLY_F16, gguf.GGMLQuantizationType.F16),
        "bf16": (gguf.LlamaFileType.MOSTLY_BF16, gguf.GGMLQuantizationType.BF16),
    }
    if outtype not in types:
        raise ExportError(f"--outtype: must be one of {', '.join(OUTTYPES)}, got {outtype!r}")
    return types[outtype]


def find_hparam(hparams: dict, keys: list[str], default=None):
    return next((hparams[key] for key in keys if hparams.get(key) is not None), default)


def lfm2_feed_forward_length(hparams: dict) -> int:
    """The MLP width LFM2 builds: 2/3 of block_ff_dim, times the multiplier, rounded up to
    block_multiple_of (``block_auto_adjust_ff_dim``), as upstream's _add_feed_forward_length."""
    ff_dim = find_hparam(hparams, ["block_ff_dim", "intermediate_size"])
    if hparams.get("block_auto_adjust_ff_dim"):
        ff_dim = int(2 * ff_dim / 3)
        if (multiplier := hparams.get("block_ffn_dim_multiplier")) is not None:
            ff_dim = int(multiplier * ff_dim)
        multiple_of = hparams["block_multiple_of"]
        ff_dim = multiple_of * ((ff_dim + multiple_of - 1) // multiple_of)
    return ff_dim


def layer_types(hparams: dict) -> list[str]:
    if hparams.get("layer_types"):
        return list(hparams["layer_types"])
    attention = set(hparams.get("full_attn_idxs") or [])
    return [
        "full_attention" if i in attention else "conv" for i in range(hparams["num_hidden_layers"])
    ]


# ---------------------------------------------------------------------------------------------
# Metadata


def add_general_metadata(writer, folder: Path, name: str) -> None:
    """general.type, general.name, size label ... as upstream's prepare_metadata."""
    gguf = require_gguf()
    counts = writer.get_total_parameter_count()
    metadata = gguf.Metadata.load(None, folder, name, counts[0])
    if metadata.name is None:
        metadata.name = folder.name
    if metadata.size_label is None and counts[0] > 0:
        metadata.size_label = gguf.size_label(*counts)
    writer.add_type(gguf.GGUFType.MODEL)
    metadata.set_gguf_meta_model(writer)


def add_lfm2_parameters(writer, hparams: dict, ftype) -> None:
    """TextModel.set_gguf_parameters + LFM2Model.set_gguf_parameters, each key once."""
    writer.add_block_count(hparams["num_hidden_layers"])
    writer.add_context_length(hparams["max_position_embeddings"])
    writer.add_embedding_length(hparams["hidden_size"])
    writer.add_feed_forward_length(lfm2_feed_forward_length(hparams))
    writer.add_head_count(hparams["num_attention_heads"])
    # Short-convolution layers have no attention heads, so no KV cache.
    writer.add_head_count_kv(
        [hparams["num_key_value_heads"] if kind != "conv" else 0 for kind in layer_types(hparams)]
    )
    rope = hparams.get("rope_parameters") or hparams.get("rope_scaling") or {}
    rope_theta = rope.get("rope_theta", hparams.get("rope_theta"))
    if rope.get("rope_type") not in (None, "default"):
        raise ExportError(f"RoPE scaling {rope.get('rope_type')!r} is not supported for LFM2")
    if rope_theta is not None:
        writer.add_rope_freq_base(rope_theta)
    writer.add_layer_norm_rms_eps(find_hparam(hparams, ["rms_norm_eps", "norm_eps"]))
    if (head_dim := hparams.get("head_dim")) is not None:
        writer.add_key_length(head_dim)
        writer.add_value_length(head_dim)
    writer.add_file_type(ftype)
    writer.add_vocab_size(hparams["vocab_size"])
    writer.add_shortconv_l_cache(hparams["conv_L_cache"])


# ---------------------------------------------------------------------------------------------
# Tensors


def safetensors_files(folder: Path) -> list[Path]:
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise ExportError(f"{folder}: no *.safetensors weights (other formats are not supported)")
    return files


def plan_tensors(folder: Path, hparams: dict, qtype) -> list[TensorPlan]:
    """Every tensor to write: GGUF name, shape and type, from the safetensors headers only."""
    gguf = require_gguf()
    from safetensors import safe_open

    name_map = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LFM2, hparams["num_hidden_layers"])
    plans = []
    for file in safetensors_files(folder):
        try:
            with safe_open(str(file), framework="pt") as tensors:
                shapes = {key: tensors.get_slice(key).get_shape() for key in tensors.keys()}  # noqa: SIM118
        except Exception as error:  # safetensors raises its own error types for corrupt files
            raise ExportError(f"{file}: cannot read the weights ({error})") from error
        for source, shape in shapes.items():
            if source.endswith(SKIPPED_SUFFIXES):
                continue
            name = name_map.get_name(source, try_suffixes=(".weight", ".bias"))
            if name is None:
                raise ExportError(f"{file}: cannot map tensor {source!r} to a GGUF name for LFM2")
            if "conv.conv" in source:  # the conv op takes a 2-D kernel
                shape = [n for i, n in enumerate(shape) if i != 1 or n != 1]
            plans.append(
                TensorPlan(source, file, name, tuple(shape), tensor_type(name, len(shape), qtype))
            )
    return plans


def tensor_type(name: str, n_dims: int, qtype):
    """F32 for what llama.cpp keeps in F32 (1-D tensors, norms, the short-conv kernel, non-weight
    tensors), else ``qtype`` (upstream's prepare_tensors)."""
    gguf = require_gguf()
    if n_dims <= 1 or name.endswith("_norm.weight") or not name.endswith(".weight"):
        return gguf.GGMLQuantizationType.F32
    if ".shortconv.conv." in name:
        return gguf.GGMLQuantizationType.F32
    return qtype


def plan_nbytes(plan: TensorPlan) -> int:
    count = 1
    for n in plan.shape:
        count *= n
    return count * (4 if plan.qtype.name == "F32" else 2)


def tensor_data(plan: TensorPlan):
    """The tensor as written: read, widened to f32 when not f16/f32 (bf16), reshaped, cast."""
    gguf = require_gguf()
    import torch
    from safetensors import safe_open

    with safe_open(str(plan.file), framework="pt") as tensors:
        data = tensors.get_tensor(plan.source)
    if data.dtype not in (torch.float16, torch.float32):
        data = data.to(torch.float32)
    data = data.reshape(plan.shape).numpy()
    return gguf.quants.quantize(data, plan.qtype)


# ---------------------------------------------------------------------------------------------
# Vocabulary and chat template


def add_vocab(writer, folder: Path, hparams: dict) -> None:
    """tokenizer.ggml.*: gpt2 model, pre-tokenizer, tokens, types, merges, special ids,
    add_bos/add_eos as the HF tokenizer does, and the chat template without generation tags."""
    gguf = require_gguf()
    tokenizer = load_tokenizer(folder)
    tokens, types = vocab_tokens(tokenizer, hparams["vocab_size"])
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre_tokenizer_name(folder))
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    special = gguf.SpecialVocab(folder, load_merges=True, n_vocab=len(tokens))
    if not special.merges:
        raise ExportError(f"{folder / 'tokenizer.json'}: no BPE merges found")
    special.add_special_token["bos"] = adds_token(tokenizer, tokenizer.bos_token_id, first=True)
    special.add_special_token["eos"] = adds_token(tokenizer, tokenizer.eos_token_id, first=False)
    if tokenizer.chat_template:
        special.chat_template = llama_cpp_template(tokenizer)
    special.add_to_gguf(writer, quiet=True)


def load_tokenizer(folder: Path):
    from transformers import AutoTokenizer

    if not (folder / "tokenizer.json").is_file():
        raise ExportError(f"{folder}: no tokenizer.json (only byte-level BPE tokenizers convert)")
    try:
        return AutoTokenizer.from_pretrained(folder)
    except (OSError, ValueError) as error:
        raise ExportError(f"{folder}: cannot load the tokenizer ({error})") from error


def vocab_tokens(tokenizer, vocab_size: int) -> tuple[list[str], list[int]]:
    """Token strings and types by id, as upstream's get_vocab_base: added special (or
    special-looking) tokens CONTROL, other added tokens USER_DEFINED, the rest NORMAL, and
    ``[PAD<i>]`` UNUSED where the embedding is larger than the vocabulary."""
    gguf = require_gguf()
    vocab = tokenizer.get_vocab()
    if max(vocab.values()) >= vocab_size:
        raise ExportError(
            f"the tokenizer has ids up to {max(vocab.values())} but the model's vocab_size is "
            f"{vocab_size}"
        )
    by_id = {token_id: token for token, token_id in vocab.items()}
    added = tokenizer.get_added_vocab()
    decoder = tokenizer.added_tokens_decoder
    tokens, types = [], []
    for i in range(vocab_size):
        if i not in by_id:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
            continue
        token = by_id[i]
        if token in added:
            # llama.cpp assumes CONTROL and USER_DEFINED tokens are pre-normalized.
            if not decoder[i].normalized:
                token = tokenizer.decode(tokenizer.encode(token, add_special_tokens=False))
            if decoder[i].special or looks_special(token):
                types.append(gguf.TokenType.CONTROL)
            else:
                token = token.replace("\u2581", " ")  # pre-normalize user-defined spaces
                types.append(gguf.TokenType.USER_DEFINED)
        else:
            types.append(gguf.TokenType.NORMAL)
        tokens.append(token)
    return tokens, types


def looks_special(token: str) -> bool:
    """Upstream's does_token_look_special, for the token forms this project meets."""
    return (token.startswith("<|") and token.endswith("|>")) or token in ("<pad>", "<mask>")


def pre_tokenizer_name(folder: Path) -> str:
    """``lfm2`` when tokenizer.json splits with LFM2's regex before byte-level encoding.

    Upstream identifies the pre-tokenizer by hashing the token ids of a fixed test string; the
    ids depend on the vocabulary, so a locally trained tokenizer with LFM2's split gets an
    unknown hash and upstream stops ("BPE pre-tokenizer was not recognized"). The split regex
    is what llama.cpp's "lfm2" pre-tokenizer implements, so it is compared directly.
    """
    from align.train.toy import SPLIT_REGEX  # LFM2's split (= Llama 3's)

    data = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    pre = data.get("pre_tokenizer") or {}
    steps = pre.get("pretokenizers", [pre])
    regexes = [
        (step.get("pattern") or {}).get("Regex") for step in steps if step.get("type") == "Split"
    ]
    byte_level = any(step.get("type") == "ByteLevel" for step in steps)
    if regexes == [SPLIT_REGEX] and byte_level:
        return LFM2_PRE_TOKENIZER
    raise ExportError(
        f"{folder / 'tokenizer.json'}: the pre-tokenizer is not LFM2's (split regex + byte "
        "level); llama.cpp would tokenize differently, so it is not converted"
    )


def adds_token(tokenizer, token_id: int | None, *, first: bool) -> bool:
    """Whether the HF tokenizer puts ``token_id`` first (or last) when encoding plain text."""
    if token_id is None:
        return False
    ids = tokenizer("a")["input_ids"]
    return bool(ids) and ids[0 if first else -1] == token_id


def strip_generation_tags(template: str) -> str:
    return GENERATION_TAG.sub("", template)


def llama_cpp_template(tokenizer) -> str:
    """The chat template without ``{% generation %}`` markers, checked to render the same text
    as the original on the check conversations (with and without a generation prompt)."""
    original = tokenizer.chat_template
    stripped = strip_generation_tags(original)
    if stripped == original:
        return original
    for messages in CHECK_CONVERSATIONS:
        for prompt in (False, True):
            a = tokenizer.apply_chat_template(
                list(messages), tokenize=False, add_generation_prompt=prompt
            )
            b = tokenizer.apply_chat_template(
                list(messages),
                tokenize=False,
                add_generation_prompt=prompt,
                chat_template=stripped,
            )
            if a != b:
                raise ExportError(
                    "the chat template renders differently once its {% generation %} markers "
                    "are removed; rewrite it so that the markers carry no whitespace control"
                )
    return stripped
