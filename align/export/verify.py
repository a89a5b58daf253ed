"""Verify GGUF files against the Hugging Face model they were made from, with llama.cpp itself.

For each file, in order (a failed header or load stops that file's checks):

- ``header``: the gguf reader parses it (architecture, tensors); sizes, bits per weight, sha256;
- ``load``: llama.cpp (llama-cpp-python) loads it;
- ``chat_template``: the template embedded in the file, rendered the way llama-cpp-python
  renders it (Jinja2, the file's own BOS/EOS texts), gives the same text as the HF tokenizer's
  ``apply_chat_template`` and llama.cpp's tokenizer gives the same ids; no ``{% generation %}``
  markers are left (llama.cpp's own Jinja engine rejects them);
- ``logits``: the cosine similarity between llama.cpp's and HF's (fp32) logits at every
  position of the check conversations: its mean and its lowest value reach the file type's
  bounds (LOGIT_BOUNDS);
- ``generation``: greedy decoding from a triage prompt runs, the end-of-turn token is one
  llama.cpp stops on, and (``require_stop``) the model ends its answer with it within
  ``max_new_tokens``; when it does not, the report says so.

The report is a dict (``verify_exports``), written as JSON by ``write_report``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from align.export.common import (
    CHECK_CONVERSATIONS,
    ExportError,
    atomic_file,
    chat_ids,
    chat_text,
    require_gguf,
    require_llama_cpp,
)

# Lowest accepted cosine similarity of llama.cpp's logits to HF's, per file type: (mean over
# positions, lowest single position). Measured on the toy model (docs/BENCHMARKS.md "Export"),
# mean / lowest position:
#   trained toy + demo SFT adapter: F16 1.000000 / 1.000000, Q8_0 0.99999 / 0.9999,
#     Q5_K_M 0.9998 / 0.994, Q4_K_M 0.9994 / 0.986;
#   near-random test model (2 training steps, random LoRA; flat logits make quantization noise
#     relatively large): F16 1.000000 / 0.999997, Q8_0 0.9996 / 0.997, Q5_K_M 0.992 / 0.880,
#     Q4_K_M 0.976 / 0.801.
# The bounds sit below the worst of these with a margin, so a healthy export passes. 16-bit
# files are exact conversions and must match at every position: there the lowest position
# catches even a small damaged region (64 flipped bytes in one matrix of the toy: lowest 0.946,
# mean 0.9993). For the quantized files the bounds catch a wrong or badly damaged file only;
# their integrity after verification rests on the sha256 in the report.
LOGIT_BOUNDS = {
    "F16": (0.999, 0.999),
    "BF16": (0.999, 0.999),
    "Q8_0": (0.99, 0.98),
    "Q5_K_M": (0.97, 0.80),
    "Q4_K_M": (0.95, 0.70),
}
# general.file_type (llama_ftype) -> the names used here.
FILE_TYPES = {1: "F16", 32: "BF16", 7: "Q8_0", 17: "Q5_K_M", 15: "Q4_K_M"}
MAX_NEW_TOKENS = 512  # as `align eval`: a full structured answer runs 250-400 tokens
TEXT_SHOWN = 400  # characters of the generated text kept in the report


@dataclass
class Reference:
    """What the HF model and tokenizer give for the check conversations."""

    conversations: list[list[dict]]
    texts: list[str]
    ids: list[list[int]]
    logits: list  # numpy arrays, positions x vocab, fp32
    end_of_turn_id: int
    end_of_turn: str
    prompt_index: int  # the conversation generation starts from (ends with a user turn)


def verify_exports(
    hf_folder: str | Path,
    gguf_paths: list[str | Path],
    *,
    threads: int = 2,
    max_new_tokens: int = MAX_NEW_TOKENS,
    require_stop: bool = True,
    conversations=CHECK_CONVERSATIONS,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Check every GGUF in ``gguf_paths`` against the HF model folder ``hf_folder``."""
    require_llama_cpp()
    say = progress or (lambda message: None)
    say(f"verify: HF reference logits from {hf_folder}")
    reference = hf_reference(Path(hf_folder), conversations)
    files = []
    for path in gguf_paths:
        say(f"verify: {Path(path).name}")
        files.append(
            verify_gguf(
                Path(path),
                reference,
                threads=threads,
                max_new_tokens=max_new_tokens,
                require_stop=require_stop,
            )
        )
    return {
        "hf_folder": str(hf_folder),
        "bounds": {
            "logits_cosine": {
                kind: {"mean": mean, "lowest_position": lowest}
                for kind, (mean, lowest) in LOGIT_BOUNDS.items()
            }
        },
        "max_new_tokens": max_new_tokens,
        "require_stop": require_stop,
        "files": files,
        "passed": bool(files) and all(entry["passed"] for entry in files),
    }


def write_report(report: dict, path: str | Path) -> Path:
    with atomic_file(path) as temp:
        temp.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return Path(path)


# ---------------------------------------------------------------------------------------------
# The HF side


def hf_reference(folder: Path, conversations) -> Reference:
    """Texts, ids and fp32 logits of the check conversations from the HF folder."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    conversations = [list(messages) for messages in conversations]
    ids = [chat_ids(tokenizer, messages) for messages in conversations]
    with torch.inference_mode():
        logits = [model(input_ids=torch.tensor([x])).logits[0].float().numpy() for x in ids]
    prompts = [i for i, m in enumerate(conversations) if m[-1]["role"] == "user"]
    if not prompts:
        raise ExportError("verification needs a check conversation that ends with a user turn")
    return Reference(
        conversations=conversations,
        texts=[chat_text(tokenizer, messages) for messages in conversations],
        ids=ids,
        logits=logits,
        end_of_turn_id=tokenizer.eos_token_id,
        end_of_turn=tokenizer.eos_token,
        prompt_index=prompts[0],
    )


# ---------------------------------------------------------------------------------------------
# One GGUF file


def verify_gguf(
    path: Path,
    reference: Reference,
    *,
    threads: int = 2,
    max_new_tokens: int = MAX_NEW_TOKENS,
    require_stop: bool = True,
) -> dict:
    from align.train.runs import file_sha256

    entry: dict = {"file": path.name}
    checks: dict = {}
    entry["checks"] = checks
    if not path.is_file():
        checks["header"] = failed(f"{path}: no such file")
        entry["passed"] = False
        return entry
    entry["size_bytes"] = path.stat().st_size
    entry["sha256"] = file_sha256(path)
    checks["header"] = check_header(path)
    for key in ("type", "parameters", "bits_per_weight"):
        if key in checks["header"]:
            entry[key] = checks["header"].pop(key)
    if checks["header"]["passed"]:
        n_ctx = max(map(len, reference.ids)) + max_new_tokens + 8
        llm, checks["load"] = load_llama(path, threads=threads, n_ctx=n_ctx)
        if llm is not None:
            try:
                checks["chat_template"] = check_chat_template(llm, reference)
                # A type without its own bounds gets the loosest ones.
                bounds = LOGIT_BOUNDS.get(entry.get("type"), LOGIT_BOUNDS["Q4_K_M"])
                checks["logits"] = check_logits(llm, reference, bounds)
                checks["generation"] = check_generation(
                    llm, reference, max_new_tokens, require_stop
                )
            finally:
                llm.close()
    entry["passed"] = all(check["passed"] for check in checks.values())
    return entry


def failed(error: str) -> dict:
    return {"passed": False, "error": error}


def check_header(path: Path) -> dict:
    """Parse the file with the gguf reader: architecture, type, parameters, bits per weight."""
    gguf = require_gguf()
    try:
        reader = gguf.GGUFReader(str(path))
        architecture = reader.fields["general.architecture"].contents()
        file_type = reader.fields["general.file_type"].contents()
        parameters = sum(int(t.n_elements) for t in reader.tensors)
        data_bytes = sum(int(t.n_bytes) for t in reader.tensors)
    except Exception as error:  # the reader fails in many ways on a damaged file
        return failed(f"{path}: not a readable GGUF file ({type(error).__name__}: {error})")
    if not reader.tensors or parameters == 0:
        return failed(f"{path}: no tensors")
    return {
        "passed": True,
        "architecture": architecture,
        "tensors": len(reader.tensors),
        "type": FILE_TYPES.get(file_type, f"ftype {file_type}"),
        "parameters": parameters,
        "bits_per_weight": round(8 * data_bytes / parameters, 3),
    }


def load_llama(path: Path, *, threads: int, n_ctx: int):
    """(Llama, check): the model loaded by llama.cpp with logits for every position."""
    require_llama_cpp()  # also quiets llama.cpp's logging
    from llama_cpp import Llama

    started = time.perf_counter()
    try:
        llm = Llama(
            model_path=str(path),
            n_ctx=n_ctx,
            n_batch=min(n_ctx, 512),
            n_threads=threads,
            logits_all=True,
            verbose=False,
        )
    except (ValueError, RuntimeError, OSError) as error:
        return None, failed(f"llama.cpp cannot load {path}: {error}")
    return llm, {"passed": True, "seconds": round(time.perf_counter() - started, 3)}


def check_chat_template(llm, reference: Reference) -> dict:
    """The file's template, rendered as llama-cpp-python renders it, against HF's text and ids."""
    from align.export.gguf import GENERATION_TAG

    template = llm.metadata.get("tokenizer.chat_template")
    if not template:
        return failed("the GGUF has no tokenizer.chat_template")
    if GENERATION_TAG.search(template):
        return failed("the embedded template still has {% generation %} markers")
    for index, messages in enumerate(reference.conversations):
        text, ids = gguf_chat_prompt(llm, messages)
        if text != reference.texts[index]:
            at = first_difference(text, reference.texts[index])
            return failed(
                f"conversation {index}: the rendered text differs from HF's at character {at}: "
                f"{text[at : at + 40]!r} vs {reference.texts[index][at : at + 40]!r}"
            )
        if list(ids) != reference.ids[index]:
            at = first_difference(list(ids), reference.ids[index])
            return failed(
                f"conversation {index}: llama.cpp's token ids differ from HF's at position {at}"
            )
    return {
        "passed": True,
        "conversations": len(reference.conversations),
        "tokens": sum(map(len, reference.ids)),
    }


def gguf_chat_prompt(llm, messages: list[dict]) -> tuple[str, list[int]]:
    """The prompt text and token ids llama-cpp-python builds from the chat template stored in
    the GGUF (what a field device running llama.cpp is given), with the generation prompt
    when the last turn is not the assistant's."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    formatter = Jinja2ChatFormatter(
        template=llm.metadata["tokenizer.chat_template"],
        bos_token=token_text(llm, llm.token_bos()),
        eos_token=token_text(llm, llm.token_eos()),
        add_generation_prompt=messages[-1]["role"] != "assistant",
    )
    text = formatter(messages=list(messages)).prompt
    # The template writes BOS itself: llama-cpp-python tokenizes such prompts without adding
    # one (ChatFormatterResponse.added_special).
    return text, list(llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))


def token_text(llm, token: int) -> str:
    import llama_cpp

    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    return llama_cpp.llama_vocab_get_text(vocab, token).decode("utf-8")


def first_difference(a, b) -> int:
    return next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )


def llama_logits(llm, ids: list[int]):
    """llama.cpp's logits (positions x vocab) for one sequence, from a fresh state."""
    llm.reset()
    llm.eval(ids)
    return llm.scores[: len(ids)].copy()


def check_logits(llm, reference: Reference, bounds: tuple[float, float]) -> dict:
    """Mean and lowest per-position cosine similarity against ``bounds``; top-1 agreement."""
    import numpy as np

    cosines, agree = [], []
    for ids, expected in zip(reference.ids, reference.logits, strict=True):
        got = llama_logits(llm, ids)
        if got.shape != expected.shape:
            return failed(f"logits of shape {got.shape}, HF gives {expected.shape}")
        if not np.isfinite(got).all():
            return failed("llama.cpp gives non-finite logits (NaN or inf)")
        norms = np.linalg.norm(got, axis=-1) * np.linalg.norm(expected, axis=-1)
        cosines.extend(((got * expected).sum(-1) / np.maximum(norms, 1e-30)).tolist())
        agree.extend((got.argmax(-1) == expected.argmax(-1)).tolist())
    mean, lowest = float(np.mean(cosines)), float(np.min(cosines))
    result = {
        "passed": mean >= bounds[0] and lowest >= bounds[1],
        "mean_cosine": round(mean, 6),
        "min_cosine": round(lowest, 6),
        "top1_agreement": round(float(np.mean(agree)), 4),
        "bounds": {"mean": bounds[0], "lowest_position": bounds[1]},
        "positions": len(cosines),
    }
    if not result["passed"]:
        result["error"] = (
            f"logits cosine mean {mean:.6f} / lowest position {lowest:.6f}, below the "
            f"bounds {bounds[0]} / {bounds[1]}"
        )
    return result


def greedy_generate(llm, prompt: list[int], max_new_tokens: int, is_end) -> list[int]:
    """Greedy tokens after ``prompt`` until ``is_end(token)`` (included) or the limit."""
    import numpy as np

    llm.reset()
    llm.eval(prompt)
    tokens: list[int] = []
    while len(tokens) < max_new_tokens:
        token = int(np.argmax(llm.scores[llm.n_tokens - 1]))
        tokens.append(token)
        if is_end(token):
            break
        llm.eval([token])
    return tokens


def check_generation(llm, reference: Reference, max_new_tokens: int, require_stop: bool) -> dict:
    """Greedy decoding from the triage prompt; does it end on the end-of-turn token?"""
    import llama_cpp

    vocab = llama_cpp.llama_model_get_vocab(llm.model)

    def is_end(token: int) -> bool:
        return bool(llama_cpp.llama_vocab_is_eog(vocab, token))

    recognized = is_end(reference.end_of_turn_id)
    started = time.perf_counter()
    tokens = greedy_generate(llm, reference.ids[reference.prompt_index], max_new_tokens, is_end)
    seconds = time.perf_counter() - started
    stopped = bool(tokens) and tokens[-1] == reference.end_of_turn_id
    text = llm.detokenize(tokens).decode("utf-8", errors="replace")
    result = {
        "passed": recognized and (stopped or not require_stop),
        "tokens": len(tokens),
        "stopped_on_end_of_turn": stopped,
        "end_of_turn": reference.end_of_turn,
        "end_of_turn_is_eog": recognized,
        "tokens_per_second": round(len(tokens) / seconds, 1) if seconds > 0 else None,
        "text": text[:TEXT_SHOWN],
    }
    if not recognized:
        result["error"] = f"llama.cpp does not stop on {reference.end_of_turn!r}"
    elif not stopped:
        last = tokens[-1] if tokens else None
        result["error"] = (
            f"no {reference.end_of_turn} within {max_new_tokens} new tokens"
            if len(tokens) >= max_new_tokens
            else f"stopped on token {last}, not {reference.end_of_turn}"
        )
        if not require_stop:
            result["note"] = result.pop("error") + " (not required)"
    return result
