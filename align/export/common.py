"""What the export steps share: the error type, the optional-extra check, atomic file writes
(folders: ``align.data.atomic``).

Pure Python (no torch, gguf or llama_cpp at import time).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

GGUF_INSTALL_HINT = (
    "install align[gguf] (compiles llama.cpp, ~6 min): "
    "CMAKE_ARGS=-DGGML_NATIVE=OFF pip install -c constraints.txt -e '.[gguf]'"
)


class ExportError(ValueError):
    """Bad input to an export step (a file, folder or option), named in the message."""


def require_gguf():
    """The ``gguf`` package, or an ExportError saying how to install it."""
    try:
        import gguf
    except ImportError as error:
        raise ExportError(f"the gguf package is missing; {GGUF_INSTALL_HINT}") from error
    return gguf


def require_llama_cpp():
    """The ``llama_cpp`` package (llama-cpp-python), or an ExportError saying how to install it."""
    try:
        import llama_cpp
    except (ImportError, OSError) as error:  # also a missing or broken libllama
        raise ExportError(
            f"llama-cpp-python is missing or broken ({error}); {GGUF_INSTALL_HINT}"
        ) from error
    # llama.cpp logs through this logger (quantizer: a line per tensor); errors only.
    logging.getLogger("llama-cpp-python").setLevel(logging.ERROR)
    return llama_cpp


def disk_error(target: Path, error: OSError) -> OSError | ExportError:
    """A full disk as an ExportError naming the file; any other OSError unchanged."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return ExportError(f"{target}: disk full while writing it; nothing was left under its name")
    return error


@contextlib.contextmanager
def atomic_file(target: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling path to write; rename it to ``target`` when the block ends
    without error, delete it otherwise. A crash or a full disk never leaves a half-written
    file under the final name."""
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".partial", dir=target.parent
        )
        os.close(fd)
    except OSError as error:
        raise disk_error(target, error) from None
    temp = Path(temp_name)
    try:
        yield temp
        os.chmod(temp, 0o644)  # mkstemp made it private
        os.replace(temp, target)
    except OSError as error:
        temp.unlink(missing_ok=True)
        raise disk_error(target, error) from None
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


# Conversations the merge and GGUF checks run on: the project's system prompt, two triage
# questions and one gold-style answer (teacher-forced for the logits checks). Short, so the
# checks stay fast; the chat template renders system, user and assistant turns from them.
SYSTEM_PROMPT = (
    "You are a pediatric disaster-triage assistant for first responders working offline. Use "
    "JumpSTART for children under 9 and START from 9 years up, PALS age-specific vital signs, "
    "and weight-based dosing. Answer in this order: the TRIAGE line, Rationale, numbered "
    "Immediate Actions, a Do NOT list, and Reassess triggers."
)
CHECK_CONVERSATIONS: tuple[tuple[dict, ...], ...] = (
    (
        {"role": "system", "content": SYSTEM_PROMPT},
        {
            "role": "user",
            "content": "5-year-old, 18 kg, leg pinned under a slab for two hours. Not walking, "
            "breathing 36/min, pedal pulse present, alert.",
        },
        {
            "role": "assistant",
            "content": "TRIAGE: YELLOW (Delayed)\nRationale: JumpSTART: not walking, breathing "
            "36/min within 15-45/min, palpable pulse, alert.\nImmediate Actions:\n1. Start IV "
            "or IO access before the slab is moved.\nDo NOT:\n- release the compression before "
            "fluids are running\nReassess if:\n- the pulse is lost",
        },
    ),
    (
        {"role": "system", "content": SYSTEM_PROMPT},
        {
            "role": "user",
            "content": "12-year-old after a fall from a wall, not walking, breathing 34/min, "
            "radial pulse present, follows commands, neck pain.",
        },
    ),
)


def chat_text(tokenizer, messages) -> str:
    """The HF chat template's text for ``messages``, with the generation prompt when the last
    turn is not the assistant's (what a deployed model is given)."""
    prompt = messages[-1]["role"] != "assistant"
    return tokenizer.apply_chat_template(
        list(messages), tokenize=False, add_generation_prompt=prompt
    )


def chat_ids(tokenizer, messages) -> list[int]:
    """The HF token ids of ``chat_text`` (the template writes BOS itself, so no special tokens
    are added on top, as ``apply_chat_template(tokenize=True)`` does)."""
    return list(tokenizer(chat_text(tokenizer, messages), add_special_tokens=False)["input_ids"])
