"""``export_model``: merge -> GGUF (f16/bf16) -> quantize -> verify, with progress callbacks.

Everything is written into a work folder beside ``<output_dir>`` (``align.data.atomic``:
``.<name>.partial/``, under ``<output_dir>.lock``): the merged model folder ``merged/``,
``<name>-F16.gguf``, ``<name>-<QUANT>.gguf`` for each quant, the optional Ollama ``Modelfile``
and ``export_report.json``. Only when every file passed verification is the folder swapped in
as ``<output_dir>`` (an existing one is replaced, with ``overwrite``, only then), so a finished
export folder always holds verified files. A second export to the same folder while one runs
is refused naming the lock; an export killed mid-swap is repaired on the next start. When
verification fails, the work folder is moved to ``<output_dir>.partial/`` with its report for
inspection (the next export to that folder replaces it); an error or an interruption removes
it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.metadata
import json
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from align.data.atomic import atomic_folder, check_output_folder
from align.export.common import (
    ExportError,
    atomic_file,
    require_gguf,
    require_llama_cpp,
)
from align.export.gguf import OUTTYPES
from align.export.merge import MERGE_DTYPES
from align.export.quantize import DEFAULT_QUANT, QUANTS, quant_file_name
from align.export.verify import MAX_NEW_TOKENS

REPORT_FILE = "export_report.json"
MODELFILE = "Modelfile"
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass
class ExportConfig:
    """`align export`: base + adapter -> merged 16-bit folder -> GGUF -> quants, verified."""

    base_model: str = "toy"  # Hub id, local folder, or "toy" (the embedded default)
    adapter: str | None = None  # the LoRA adapter to merge (required): folder
    output_dir: str | None = None  # default checkpoints/export-<UTC time>
    dtype: str = "bf16"  # merged safetensors: bf16 or f16
    outtype: str = "f16"  # the full-precision GGUF: f16 or bf16
    quants: list[str] = field(default_factory=lambda: [DEFAULT_QUANT])  # any of QUANTS, or none
    name: str | None = None  # file name stem; default: the adapter folder's name
    modelfile: bool = False  # also write an Ollama Modelfile for the first quant
    overwrite: bool = False
    threads: int = 2  # llama.cpp threads for quantization and verification
    max_new_tokens: int = MAX_NEW_TOKENS  # verification's greedy generation limit
    require_stop: bool = True  # verification fails when generation does not end its turn


def export_config(file_values: dict | None = None, flags: dict | None = None) -> ExportConfig:
    """defaults < config file < flags (flags not given are None); validated."""
    known = {f.name for f in dataclasses.fields(ExportConfig)}
    values = dict(file_values or {})
    unknown = sorted(set(values) - known)
    if unknown:
        raise ExportError(
            f"unknown option(s) {', '.join(unknown)} in the config file; "
            f"known: {', '.join(sorted(known))}"
        )
    values.update({k: v for k, v in (flags or {}).items() if v is not None})
    config = ExportConfig(**values)
    validate_export_config(config)
    return config


def _check(condition: bool, option: str, message: str) -> None:
    if not condition:
        raise ExportError(f"--{option.replace('_', '-')}: {message}")


def validate_export_config(config: ExportConfig) -> None:
    """Every option checked before anything is loaded; ExportError names the option."""
    _check(bool(config.adapter) and isinstance(config.adapter, str), "adapter", "required")
    _check(Path(config.adapter).is_dir(), "adapter", f"{config.adapter}: no such folder")
    _check(bool(str(config.base_model).strip()), "base_model", "must name a model")
    _check(config.dtype in MERGE_DTYPES, "dtype", f"must be one of {', '.join(MERGE_DTYPES)}")
    _check(config.outtype in OUTTYPES, "outtype", f"must be one of {', '.join(OUTTYPES)}")
    _check(isinstance(config.quants, list), "quants", "must be a list")
    for quant in config.quants:
        _check(
            quant in QUANTS, "quants", f"unknown quant {quant!r}; choose from {', '.join(QUANTS)}"
        )
    _check(len(set(config.quants)) == len(config.quants), "quants", "lists a quant twice")
    _check(
        config.name is None or bool(NAME_PATTERN.fullmatch(config.name)),
        "name",
        "letters, digits, '.', '_' and '-' only",
    )
    # The default name is the adapter folder's: it reaches file names and the Modelfile's
    # FROM line, where a newline would start a line of its own.
    _check(
        bool(NAME_PATTERN.fullmatch(model_name(config))),
        "name",
        f"the adapter folder's name {model_name(config)!r} is not a model name (letters, "
        "digits, '.', '_' and '-' only); give --name",
    )
    check_adapter_config(Path(config.adapter))
    for option in ("threads", "max_new_tokens"):
        value = getattr(config, option)
        _check(
            isinstance(value, int) and not isinstance(value, bool) and value >= 1,
            option,
            "must be >= 1",
        )
    for option in ("modelfile", "overwrite", "require_stop"):
        _check(isinstance(getattr(config, option), bool), option, "must be true or false")


def check_adapter_config(adapter: Path) -> None:
    """The LoRA fields of adapter_config.json that PEFT reads first, checked before any model
    is loaded: PEFT answers an odd value with a KeyError or a TypeError."""
    file = adapter / "adapter_config.json"
    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ExportError(
            f"--adapter {adapter}: cannot read adapter_config.json ({error})"
        ) from None
    problem = lora_config_problem(config)
    if problem:
        raise ExportError(f"--adapter {adapter}: adapter_config.json: {problem}")


def lora_config_problem(config: object) -> str | None:
    """What is wrong with a LoRA adapter config, or None."""
    if not isinstance(config, dict):
        return "must be a JSON object"
    if config.get("peft_type") != "LORA":
        return f'peft_type must be "LORA", got {config.get("peft_type")!r}'
    rank = config.get("r")
    if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
        return f"r must be a whole number >= 1, got {rank!r}"
    alpha = config.get("lora_alpha")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not alpha > 0:
        return f"lora_alpha must be a positive number, got {alpha!r}"
    modules = config.get("target_modules")
    names = [modules] if isinstance(modules, str) else modules
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        return f"target_modules must be a module name or a list of them, got {modules!r}"
    return None


def model_name(config: ExportConfig) -> str:
    return config.name or Path(config.adapter).resolve().name


def output_folder(config: ExportConfig) -> Path:
    from align.train.runs import default_output_dir

    return Path(config.output_dir) if config.output_dir else default_output_dir("export")


def export_model(config: ExportConfig, progress: Callable[[str], None] | None = None) -> dict:
    """Run the export; return the report (``report["passed"]``: every GGUF verified).

    Raises ExportError (or LoadError) for bad input, OutputFolderError for an output folder
    it may not replace or one another export is writing (its lock); then nothing is left
    behind.
    """
    say = progress or (lambda message: None)
    validate_export_config(config)
    require_gguf()
    require_llama_cpp()
    final = output_folder(config)
    folder_options = {"overwrite": config.overwrite, "option": "--output-dir"}
    # Refused before the long work (an existing folder without --overwrite, another export's
    # lock); checked again under the lock, after repairing what a killed export left.
    check_output_folder(final, **folder_options)
    failed = failed_folder(final)
    try:
        with atomic_folder(final, **folder_options) as work:
            report = export_files(config, work, say)
            shutil.rmtree(failed, ignore_errors=True)  # an earlier failed export's: superseded
            if not report["passed"]:
                # Kept for inspection; the exception makes atomic_folder swap nothing in.
                os.rename(work, failed)
                raise _Unverified
    except _Unverified:
        report["output_dir"] = str(failed)
        say(f"verification failed: the files stay in {failed}; see {REPORT_FILE}")
        return report
    report["output_dir"] = str(final)
    say(f"done: {final} (verified)")
    return report


class _Unverified(Exception):
    """Verification failed: the work folder was moved aside, nothing is swapped in."""


def failed_folder(final: Path) -> Path:
    """Where the files of an export that failed verification wait: ``<output_dir>.partial``."""
    return final.with_name(final.name + ".partial")


@contextlib.contextmanager
def stopwatch(timings: dict, key: str):
    started = time.perf_counter()
    yield
    timings[key] = round(time.perf_counter() - started, 2)


def export_files(config: ExportConfig, work: Path, say: Callable[[str], None]) -> dict:
    """Merge, convert, quantize and verify into ``work``; write the report there; return it."""
    from align.export.gguf import convert_to_gguf
    from align.export.merge import merge_adapter
    from align.export.quantize import quantize_gguf
    from align.export.verify import verify_exports, write_report

    name = model_name(config)
    timings: dict = {}
    merged = work / "merged"
    say(f"merge: {config.adapter} into {config.base_model} ({config.dtype})")
    with stopwatch(timings, "merge_s"):
        merge = merge_adapter(config.base_model, config.adapter, merged, dtype=config.dtype)
    merge["folder"] = merged.name

    files = [work / quant_file_name(name, config.outtype.upper())]
    say(f"gguf: {files[0].name}")
    with stopwatch(timings, "convert_s"):
        convert_to_gguf(merged, files[0], config.outtype, name=name)
    for quant in config.quants:
        files.append(work / quant_file_name(name, quant))
        say(f"quantize: {files[-1].name}")
        with stopwatch(timings, f"quantize_{quant}_s"):
            quantize_gguf(files[0], files[-1], quant, threads=config.threads)

    with stopwatch(timings, "verify_s"):
        verification = verify_exports(
            merged,
            files,
            threads=config.threads,
            max_new_tokens=config.max_new_tokens,
            require_stop=config.require_stop,
            progress=say,
        )
    verification["hf_folder"] = merged.name
    report = {
        "name": name,
        "config": dataclasses.asdict(config),
        "merge": merge,
        "files": verification.pop("files"),
        "verification": verification,
        "timings": timings,
        "packages": package_versions(),
        "passed": verification["passed"],
    }
    if config.modelfile:
        # The first quant (Q4_K_M by default), else the full-precision file.
        write_modelfile(work, files[min(1, len(files) - 1)].name, merged)
        report["modelfile"] = MODELFILE
    write_report(report, work / REPORT_FILE)
    return report


def package_versions() -> dict:
    versions = {}
    for package in ("align", "torch", "transformers", "peft", "gguf", "llama_cpp_python"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return versions


# ---------------------------------------------------------------------------------------------
# Ollama Modelfile


def modelfile_text(gguf_name: str, hf_folder: Path) -> str:
    """An Ollama Modelfile: FROM the GGUF, the ChatML template as the HF template renders it,
    and the stop tokens. Refused when the HF template is not plain ChatML (checked by
    rendering a conversation both ways)."""
    from transformers import AutoTokenizer

    from align.export.common import CHECK_CONVERSATIONS, chat_text

    # The name is written into the FROM line: nothing but a plain file name may reach it.
    if not NAME_PATTERN.fullmatch(gguf_name):
        raise ExportError(f"Modelfile: {gguf_name!r} is not a plain GGUF file name")
    tokenizer = AutoTokenizer.from_pretrained(hf_folder)
    # BOS in the template text only where llama.cpp does not add it itself (add_bos false).
    ids = tokenizer("a")["input_ids"]
    adds_bos = bool(ids) and ids[0] == tokenizer.bos_token_id
    bos = "" if adds_bos or tokenizer.bos_token is None else tokenizer.bos_token
    for messages in CHECK_CONVERSATIONS:
        chatml = bos + "".join(
            f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages
        )
        if messages[-1]["role"] != "assistant":
            chatml += "<|im_start|>assistant\n"
        if chatml != chat_text(tokenizer, messages):
            raise ExportError(
                f"{hf_folder}: the chat template is not plain ChatML; write the Modelfile's "
                "TEMPLATE by hand (--no-modelfile)"
            )
    vocab = tokenizer.get_vocab()
    stops = [
        t for t in dict.fromkeys([tokenizer.eos_token, "<|im_end|>", "<|endoftext|>"]) if t in vocab
    ]
    lines = [
        f"# Ollama Modelfile for {gguf_name}, written by `align export`.",
        "# Research tooling: neither this model nor align is a medical device.",
        f"FROM ./{gguf_name}",
        'TEMPLATE """' + bos + "{{- range .Messages }}<|im_start|>{{ .Role }}",
        "{{ .Content }}<|im_end|>",
        "{{ end }}<|im_start|>assistant",
        '"""',
        *(f'PARAMETER stop "{stop}"' for stop in stops),
    ]
    return "\n".join(lines) + "\n"


def write_modelfile(folder: Path, gguf_name: str, hf_folder: Path) -> Path:
    path = folder / MODELFILE
    text = modelfile_text(gguf_name, hf_folder)
    with atomic_file(path) as temp:
        temp.write_text(text, encoding="utf-8")
    return path
