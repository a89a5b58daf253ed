"""Shared fixtures: a tiny, valid gold file and a way to run the real CLI.

The gold records below are hand-written to docs/RESPONSE_FORMAT.md; ``test_cli`` proves them
clean with ``align data check`` so every test that builds on them starts from valid data.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

SYSTEM = (
    "You are a pediatric mass-casualty triage assistant. Open with the triage line, then "
    "the rationale, numbered actions, a Do NOT list and reassessment triggers."
)

# Line 1: JumpSTART, 5 y, 18 kg, crush + bleeding, RR 36 in band, pulse, alert -> YELLOW.
# Carries a dose, a quoted normal range and hazard prohibitions, so every perturbation applies.
CRUSH_5Y = {
    "id": "crush-leg-5y-001",
    "messages": [
        {"role": "system", "content": SYSTEM},
        {
            "role": "user",
            "content": "5-year-old, 18 kg, leg pinned under a slab for two hours, "
            "tourniquet on the thigh. Not walking, breathing 36/min, "
            "pedal pulse present, alert.",
        },
        {
            "role": "assistant",
            "content": (
                "TRIAGE: YELLOW (Delayed)\n"
                "Rationale: JumpSTART: not walking, breathing at 36/min within the JumpSTART band "
                "of 15-45/min, palpable pulse, alert. The normal RR for a 5-year-old is "
                "20-28/min.\n"
                "Immediate Actions:\n"
                "1. Keep the tourniquet on and write the time on it.\n"
                "2. Start IV or IO access before the slab is moved.\n"
                "3. Fluid bolus 20 mL/kg x 18 kg = 360 mL of 0.9% saline before release.\n"
                "Do NOT:\n"
                "- loosen or remove the tourniquet once it is on; write the time on it instead\n"
                "- release a prolonged compression before IV/IO access and fluids are running\n"
                "- straighten a crushed or deformed limb; splint it as found\n"
                "Reassess if:\n"
                "- breathing rises above 45/min or falls below 15/min\n"
                "- the pulse is lost or the child stops responding"
            ),
        },
    ],
    "scenario": {
        "age_years": 5,
        "ambulatory": False,
        "breathing": True,
        "resp_rate": 36,
        "peripheral_pulse": True,
        "avpu": "A",
        "protocol": "jumpstart",
        "weight_kg": 18,
        "hazards": ["crush", "bleeding"],
    },
    "expected_triage": "YELLOW",
    "topics": ["crush"],
    "source": "hand-authored",
}

# Line 2: START, 12 y, RR 34 above the cut-off of 30 -> RED; no system turn.
SPINE_12Y = {
    "id": "spine-fall-12y-001",
    "messages": [
        {
            "role": "user",
            "content": "12-year-old after a fall from a wall, not walking, "
            "breathing 34/min, radial pulse present, follows commands, "
            "neck pain.",
        },
        {
            "role": "assistant",
            "content": (
                "TRIAGE: RED (Immediate)\n"
                "Rationale: START: not walking, breathing 34/min above the START cut-off of "
                "30/min, so Immediate. The normal respiratory rate for a 12-year-old is "
                "12-20/min.\n"
                "Immediate Actions:\n"
                "1. Hold the head in line with manual in-line stabilisation.\n"
                "2. Open the airway with a jaw thrust if needed.\n"
                "3. Give oxygen and move to the Immediate area on a board.\n"
                "Do NOT:\n"
                "- use a head-tilt chin-lift; open the airway with a jaw thrust\n"
                "- move or log-roll the child without manual in-line stabilisation\n"
                "Reassess if:\n"
                "- breathing slows below 10/min or becomes noisy\n"
                "- the child stops following commands"
            ),
        },
    ],
    "scenario": {
        "age_years": 12,
        "ambulatory": False,
        "breathing": True,
        "resp_rate": 34,
        "radial_pulse": True,
        "follows_commands": True,
        "protocol": "start",
        "hazards": ["spinal"],
    },
    "expected_triage": "RED",
    "topics": ["spinal"],
    "source": "hand-authored",
}

# Line 3: a reference question with no patient: no scenario, no triage line.
VITALS_REF = {
    "id": "vitals-toddler-ref-001",
    "messages": [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "What are normal vitals for a toddler?"},
        {
            "role": "assistant",
            "content": (
                "Key points: normal respiratory rate for a toddler is 22-37/min and normal heart "
                "rate (toddler) is 98-140/min.\n"
                "Immediate Actions:\n"
                "1. Count breaths for a full 30 seconds and double.\n"
                "2. Compare with the toddler range before deciding.\n"
                "Do NOT:\n"
                "- use adult cut-offs for a toddler\n"
                "Reassess if:\n"
                "- the child's condition changes"
            ),
        },
    ],
    "topics": ["vitals"],
    "source": "hand-authored",
}

TINY_GOLD = (CRUSH_5Y, SPINE_12Y, VITALS_REF)


def jsonl_bytes(rows) -> bytes:
    """One line per row: dicts are JSON-encoded, bytes and str are written as given."""
    out = []
    for row in rows:
        if isinstance(row, dict):
            row = json.dumps(row, ensure_ascii=False)
        out.append(row if isinstance(row, bytes) else row.encode("utf-8"))
    return b"".join(line + b"\n" for line in out)


@pytest.fixture(scope="session")
def tiny_gold_rows() -> tuple[dict, ...]:
    """The tiny gold records, shared: do not mutate (use ``gold_records`` for copies)."""
    return TINY_GOLD


@pytest.fixture
def gold_records() -> list[dict]:
    """Fresh deep copies of the tiny gold records (line 1, 2, 3), safe to mutate."""
    return copy.deepcopy(list(TINY_GOLD))


@pytest.fixture
def write_jsonl(tmp_path):
    """write_jsonl(name, rows) -> Path: rows (dicts, str or raw bytes) one per line."""

    def write(name: str, rows) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(jsonl_bytes(rows))
        return path

    return write


@pytest.fixture
def tiny_gold(write_jsonl) -> Path:
    """A small valid gold file (3 records) in tmp_path."""
    return write_jsonl("gold/tiny.jsonl", TINY_GOLD)


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    def lines(self) -> list[str]:
        return self.stdout.splitlines()


def _run_align(
    *args, input: str | bytes | None = None, cwd: Path | None = None, timeout: float = 60
) -> Result:
    if isinstance(input, str):
        input = input.encode("utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "align.cli", *map(str, args)],
        input=input if input is not None else b"",
        capture_output=True,
        cwd=cwd,
        timeout=timeout,
        check=False,
    )
    return Result(
        done.returncode,
        done.stdout.decode("utf-8", "replace"),
        done.stderr.decode("utf-8", "replace"),
    )


@pytest.fixture
def run_align(tmp_path):
    """run_align(*args, input=None) -> Result: the real CLI in a subprocess, run in tmp_path
    (so defaults such as preference_data/pairs never touch the repository)."""

    def run(*args, input: str | bytes | None = None, cwd: Path | None = None) -> Result:
        return _run_align(*args, input=input, cwd=cwd or tmp_path)

    return run


@pytest.fixture(scope="session")
def run_align_anywhere():
    """Session-scoped variant of ``run_align`` for module/session fixtures (give ``cwd``)."""
    return _run_align


@pytest.fixture(scope="session")
def jsonl():
    """jsonl(rows) -> bytes, as ``write_jsonl`` writes them (for session-scoped fixtures)."""
    return jsonl_bytes


REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def in_repo(monkeypatch) -> Path:
    """Run from the repository root, where the committed data and default paths live: for
    reading them only. A test writes under tmp_path, never where a user's run writes."""
    monkeypatch.chdir(REPO_ROOT)
    return REPO_ROOT


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a module (``pytestmark = pytest.mark.usefixtures(...)``): on the
    shared 2-core machine a second thread mostly waits (about 3x slower)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory) -> Path:
    """A toy LFM2 base built from 40 gold records with 2 training steps: real architecture,
    tokenizer and chat template, untrained weights. For the training tests (CPU, seconds)."""
    from align.train.toy import ensure_toy_base

    folder = tmp_path_factory.mktemp("tiny-base")
    gold = folder / "gold.jsonl"
    lines = (REPO_ROOT / "preference_data/gold/generated.jsonl").read_text().splitlines()
    gold.write_text("\n".join(lines[:40]) + "\n")
    return ensure_toy_base(folder / "model", gold=[gold], train_steps=2, progress=False)


@pytest.fixture(scope="session")
def sft_adapter(tiny_base, tmp_path_factory) -> Path:
    """A LoRA adapter on ``tiny_base`` with random (non-zero) weights, so the SFT policy
    differs measurably from the bare base (a fresh LoRA starts as the identity)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from align.train.config import LORA_TARGETS

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_base, dtype=torch.float32)
    config = LoraConfig(
        r=8,
        lora_alpha=16,
        target_modules=list(LORA_TARGETS),
        init_lora_weights=False,
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(model, config)
    folder = tmp_path_factory.mktemp("sft-adapter")
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny_base).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_pairs(tmp_path_factory) -> Path:
    """A pairs folder with 6 train and 4 eval pairs of two perturbation types, short ones."""
    import json

    folder = tmp_path_factory.mktemp("pairs")
    source = REPO_ROOT / "preference_data/pairs"
    for split, per_type in (("train", 3), ("eval", 2)):
        rows, seen = [], {}
        for line in (source / f"{split}.jsonl").read_text().splitlines():
            pair = json.loads(line)
            kind = pair["perturbation"]
            if kind in ("missing_do_not", "wrong_triage_color") and seen.get(kind, 0) < per_type:
                seen[kind] = seen.get(kind, 0) + 1
                rows.append(line)
        (folder / f"{split}.jsonl").write_text("\n".join(rows) + "\n")
    return folder


@pytest.fixture(scope="session")
def tiny_dpo_config(tiny_base, sft_adapter, tiny_pairs):
    """tiny_dpo_config(folder, **values) -> DPOConfig: one step of DPO on the tiny model, run
    folder and reference-log-prob cache under ``folder``; ``values`` override."""
    from align.train.config import DPOConfig, build_config

    def build(folder: Path, **values):
        base = {
            "base_model": str(tiny_base),
            "adapter": str(sft_adapter),
            "pairs": str(tiny_pairs),
            "output_dir": str(folder / "dpo"),
            "ref_cache_dir": str(folder / "ref-cache"),
            "max_steps": 1,
            "batch_size": 2,
            "grad_accum": 1,
            "report_to": "none",
            "logging_steps": 1,
            "save_steps": 1,
            "max_length": 768,
            "optim": "adamw_torch",
            "eval_steps": 1,
        }
        return build_config(DPOConfig, {**base, **values})

    return build
