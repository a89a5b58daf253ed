"""f16/bf16 GGUF -> Q4_K_M (default), Q5_K_M or Q8_0 with llama.cpp's own quantizer
(``llama_cpp.llama_model_quantize``; the ``gguf`` package has no K-quants).

llama.cpp quietly falls back to another type (Q5_0, Q8_0, F16) for a tensor whose rows do not
fill whole blocks of the requested type (256 values for K-quants, 32 for Q8_0); a "Q4_K_M" file
would then not be what its name says. The rows are checked first (``quant_blockers``) and the
written file's tensor types afterwards (``check_quant_types``).
"""

from __future__ import annotations

from pathlib import Path

from align.export.common import ExportError, atomic_file, require_gguf, require_llama_cpp

# llama_ftype values (llama.h) and the block length each needs along a row.
QUANTS = {
    "Q4_K_M": {"ftype": 15, "block": 256},
    "Q5_K_M": {"ftype": 17, "block": 256},
    "Q8_0": {"ftype": 7, "block": 32},
}
DEFAULT_QUANT = "Q4_K_M"
# Types llama.cpp substitutes when a row cannot take the requested one; never expected in a
# file of these quant types on a model whose rows fit.
FALLBACK_TYPES = {
    "Q4_K_M": ("Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "F16", "BF16"),
    "Q5_K_M": ("Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "F16", "BF16"),
    "Q8_0": ("F16", "BF16"),
}


def quant_file_name(model: str, quant: str) -> str:
    """``<model>-<QUANT>.gguf``."""
    return f"{model}-{quant}.gguf"


def check_quant_name(quant: str) -> str:
    if quant not in QUANTS:
        raise ExportError(f"--quants: unknown quant {quant!r}; choose from {', '.join(QUANTS)}")
    return quant


def quantize_gguf(
    source: str | Path, out_path: str | Path, quant: str = DEFAULT_QUANT, *, threads: int = 0
) -> Path:
    """Quantize the f16/bf16 GGUF ``source`` to ``quant``, written atomically to ``out_path``.

    ``threads``: 0 lets llama.cpp use every core. Raises ExportError for an unknown quant, rows
    that cannot take it, a failed quantization, or a file whose types show a fallback.
    """
    check_quant_name(quant)
    llama_cpp = require_llama_cpp()
    source, out_path = Path(source), Path(out_path)
    blockers = quant_blockers(source, quant)
    if blockers:
        shown = ", ".join(blockers[:5]) + (
            f" and {len(blockers) - 5} more" if len(blockers) > 5 else ""
        )
        raise ExportError(
            f"{source}: {quant} needs rows of a multiple of {QUANTS[quant]['block']} values; "
            f"these tensors have other row lengths: {shown}. llama.cpp would silently store them "
            "in another type; choose Q8_0 (rows of 32) or a model with such dimensions"
        )
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = QUANTS[quant]["ftype"]
    params.nthread = threads
    with atomic_file(out_path) as temp:
        status = llama_cpp.llama_model_quantize(
            str(source).encode("utf-8"), str(temp).encode("utf-8"), params
        )
        if status != 0:
            raise ExportError(
                f"{source}: llama.cpp could not quantize it to {quant} (status {status})"
            )
        check_quant_types(temp, quant)
    return out_path


def quantized_tensor(name: str, n_dims: int) -> bool:
    """Whether llama.cpp's quantizer converts this tensor (llama-quant.cpp: 2-D and larger
    weights, except norms and convolution kernels)."""
    return (
        name.endswith(".weight")
        and n_dims >= 2
        and "_norm.weight" not in name
        and "shortconv.conv.weight" not in name
        and "ssm_conv1d.weight" not in name
    )


def quant_blockers(path: str | Path, quant: str) -> list[str]:
    """``name (row length)`` of each tensor the quantizer would convert whose rows are not a
    whole number of ``quant`` blocks."""
    gguf = require_gguf()
    block = QUANTS[check_quant_name(quant)]["block"]
    reader = read_gguf(path, gguf)
    return [
        f"{tensor.name} ({int(tensor.shape[0])})"
        for tensor in reader.tensors
        if quantized_tensor(tensor.name, len(tensor.shape)) and int(tensor.shape[0]) % block
    ]


def check_quant_types(path: str | Path, quant: str) -> None:
    """Refuse a quantized file where some tensor fell back to another type."""
    gguf = require_gguf()
    reader = read_gguf(path, gguf)
    fallen = [
        f"{tensor.name} ({tensor.tensor_type.name})"
        for tensor in reader.tensors
        if quantized_tensor(tensor.name, len(tensor.shape))
        and tensor.tensor_type.name in FALLBACK_TYPES[quant]
    ]
    if fallen:
        raise ExportError(
            f"{path}: llama.cpp stored {len(fallen)} tensor(s) in a fallback type instead of "
            f"{quant}: {', '.join(fallen[:5])}"
        )


def read_gguf(path: str | Path, gguf=None):
    """A ``gguf.GGUFReader``; ExportError naming the file when it is not a readable GGUF."""
    gguf = gguf or require_gguf()
    try:
        return gguf.GGUFReader(str(path))
    except Exception as error:  # the reader fails in many ways on a damaged file
        raise ExportError(f"{path}: not a readable GGUF file ({error})") from error
