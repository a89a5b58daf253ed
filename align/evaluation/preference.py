"""Preference accuracy and implicit-reward margin on the eval pairs, per perturbation type.

No generation: two forward passes per pair and model. With a reference (the SFT adapter a DPO
run started from) the margin is DPO's implicit reward,
``beta * ((log pi(c) - log ref(c)) - (log pi(r) - log ref(r)))``; without one it is the plain
log-probability margin ``log pi(c) - log pi(r)``. Accuracy is the share of pairs with a
positive margin. TRL computes these only inside a DPOTrainer whose reference is the policy's
own frozen copy, so evaluating a finished adapter against its SFT reference needs these few
lines of our own.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Reference:
    base_model: str
    adapter: str | None
    beta: float


def reference_from_run(adapter: str | None) -> Reference | None:
    """The reference a DPO run trained against (its SFT adapter and beta), from the run's
    manifest; None for anything else (an SFT adapter, a merged folder, a Hub id)."""
    if not adapter:
        return None
    manifest = Path(adapter) / "manifest.json"
    if not manifest.is_file():
        return None
    run = json.loads(manifest.read_text(encoding="utf-8"))
    if run.get("command") != "dpo":
        return None
    config = run["config"]
    return Reference(config["base_model"], config["adapter"], float(config["beta"]))


def select_pairs(pairs: list[dict], per_type: int | None) -> list[dict]:
    """The first ``per_type`` pairs of each perturbation type, in file order (deterministic)."""
    taken: dict[str, int] = defaultdict(int)
    chosen = []
    for pair in pairs:
        name = pair["perturbation"]
        if per_type is None or taken[name] < per_type:
            taken[name] += 1
            chosen.append(pair)
    return chosen


def _completion_ids(tokenizer, prompt: list[dict], completion: list[dict]) -> tuple[list, list]:
    from align.export.common import chat_ids

    prompt_ids = chat_ids(tokenizer, prompt)
    full_ids = chat_ids(tokenizer, prompt + completion)
    if full_ids[: len(prompt_ids)] != prompt_ids:
        raise ValueError("the chat template renders the prompt differently inside a conversation")
    return prompt_ids, full_ids[len(prompt_ids) :]


def completion_log_probs(
    model, tokenizer, rows: list[tuple[list, list]], batch_size: int = 8, max_length: int = 1024
) -> list[float]:
    """Sum of log-probabilities of each completion given its prompt (truncated to
    ``max_length`` tokens in all, completion cut from the end as in training)."""
    import torch

    sums = []
    for start in range(0, len(rows), batch_size):
        batch = rows[start : start + batch_size]
        sequences, masks = [], []
        for prompt_ids, completion_ids in batch:
            ids = (prompt_ids + completion_ids)[:max_length]
            sequences.append(ids)
            masks.append([0] * len(prompt_ids) + [1] * (len(ids) - len(prompt_ids)))
        width = max(map(len, sequences))
        pad = tokenizer.pad_token_id
        input_ids = torch.tensor([s + [pad] * (width - len(s)) for s in sequences])
        attention = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in sequences])
        loss_mask = torch.tensor([m + [0] * (width - len(m)) for m in masks], dtype=torch.bool)
        with torch.inference_mode():
            logits = model(
                input_ids=input_ids.to(model.device), attention_mask=attention.to(model.device)
            ).logits.float()
        log_probs = torch.log_softmax(logits[:, :-1], dim=-1)
        targets = input_ids[:, 1:].to(model.device)
        token_log_probs = log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        token_log_probs = token_log_probs * loss_mask[:, 1:].to(model.device)
        sums.extend(token_log_probs.sum(-1).tolist())
    return sums


def pair_log_probs(model, tokenizer, pairs: list[dict], batch_size: int) -> tuple[list, list]:
    """(chosen, rejected) completion log-probs for every pair."""
    chosen = [_completion_ids(tokenizer, p["prompt"], p["chosen"]) for p in pairs]
    rejected = [_completion_ids(tokenizer, p["prompt"], p["rejected"]) for p in pairs]
    return (
        completion_log_probs(model, tokenizer, chosen, batch_size),
        completion_log_probs(model, tokenizer, rejected, batch_size),
    )


def preference_metrics(
    policy, tokenizer, pairs: list[dict], reference_model=None, beta: float = 0.1, batch_size=8
) -> dict:
    """Accuracy and mean margin per perturbation type, and over all pairs."""
    policy_c, policy_r = pair_log_probs(policy, tokenizer, pairs, batch_size)
    if reference_model is not None:
        ref_c, ref_r = pair_log_probs(reference_model, tokenizer, pairs, batch_size)
        margins = [
            beta * ((pc - rc) - (pr - rr))
            for pc, rc, pr, rr in zip(policy_c, ref_c, policy_r, ref_r, strict=True)
        ]
    else:
        margins = [pc - pr for pc, pr in zip(policy_c, policy_r, strict=True)]
    by_type: dict[str, list[float]] = defaultdict(list)
    for pair, margin in zip(pairs, margins, strict=True):
        by_type[pair["perturbation"]].append(margin)
    summary = {
        name: {
            "n": len(values),
            "accuracy": sum(m > 0 for m in values) / len(values),
            "mean_margin": sum(values) / len(values),
        }
        for name, values in sorted(by_type.items())
    }
    return {
        "margin": "implicit_reward" if reference_model is not None else "log_prob",
        "by_perturbation": summary,
        "overall": {
            "n": len(margins),
            "accuracy": sum(m > 0 for m in margins) / len(margins),
            "mean_margin": sum(margins) / len(margins),
        },
    }
