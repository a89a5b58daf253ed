"""The model card and the dataset card, generated from the run: its manifest (training data and
recipe), the eval report (rates, before/after DPO against a baseline, the gate verdict), the
export report (GGUF files and their verification) and the pairs' summary (provenance).

The YAML metadata is built with huggingface_hub's ``ModelCardData``/``DatasetCardData`` and
``EvalResult`` (model-index), so the Hub's card tools read back what was written.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from align import __version__
from align.hub.artifacts import Artifacts, Verdict, check_name, check_repo_id

MODEL_TAGS = (
    "pediatric",
    "disaster-response",
    "triage",
    "jumpstart",
    "medical",
    "edge-ai",
    "lfm",
)
DATASET_TAGS = ("dpo", "preference", "pediatric", "triage", "disaster-response", "medical")
DATA_LICENSE = "apache-2.0"  # the gold data and the pairs are this project's own work
# Bases whose license a derivative keeps: Liquid AI's LFM models ship under the LFM Open License.
BASE_LICENSES = {"LiquidAI/": ("other", "lfm1.0")}
EVAL_DATASET_TYPE = "align-triage-eval"
# Model names that are local paths, never Hub ids (run folders live under checkpoints/).
LOCAL_PREFIXES = ("/", ".", "~", "checkpoints/")
TRIAGE_METRICS = ("accuracy", "red_recall", "under_triage", "over_triage")

DISCLAIMER = (
    "> [!WARNING]\n"
    "> **This is NOT a medical device.** It is a research model. It has not been validated for "
    "clinical use and must not guide the care of a real patient: not in triage, not in "
    "treatment, not in dosing. Do not use it in any patient-facing setting. Every output must "
    "be reviewed by a qualified healthcare professional. Triage rules, vital-sign ranges and "
    "doses in its training data were transcribed from published references to build and test "
    "checkers; they are not clinical guidance. The authors accept no liability for decisions "
    "made on the basis of its outputs."
)
DATA_DISCLAIMER = (
    "> [!WARNING]\n"
    "> **Research data, not clinical guidance.** The chosen responses were written or generated "
    "from published references (JumpSTART, START, PALS 2015 vital signs, Broselow and "
    "weight-based doses) to build and test checkers; they have not been clinically reviewed. "
    "The rejected responses are wrong on purpose. Nothing here may guide the care of a real "
    "patient, and a model trained on it is not a medical device."
)


# --- small formatting helpers -----------------------------------------------------------


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    for unit in ("KiB", "MiB", "GiB"):
        size /= 1024
        if size < 1024 or unit == "GiB":
            break
    return f"{size:.1f} {unit}"


def table(header: list[str], rows: list[list], align: str = "") -> list[str]:
    """A Markdown table; ``align`` gives one character per column ('r' right-aligns)."""
    marks = ["---:" if (align[i : i + 1] == "r") else "---" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(marks) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def hub_model_id(name: str | None) -> str | None:
    """``name`` when it is a Hub model id, else None (the toy, a local folder)."""
    if not name or Path(name).exists() or name.startswith(LOCAL_PREFIXES):
        return None
    try:
        return check_repo_id(name, "base_model")
    except ValueError:
        return None


def shown(name: str | None, what: str) -> str:
    """A model as the card names it: a Hub id as it is, a local path by its folder name (the
    card does not publish the layout of the machine it was made on). PublishError naming
    ``what`` when that name could break the card (a newline, a backtick, a quote)."""
    if not name:
        return "?"
    return name if hub_model_id(name) else check_name(Path(name).name, what)


def license_fields(base_model: str | None, override: str | None) -> dict:
    """The card's license: ``override``, else the base's (LFM Open License for Liquid AI's
    models), else Apache-2.0 (the toy base and this project's code and data)."""
    if override:
        return {"license": override}
    for prefix, (license_id, name) in BASE_LICENSES.items():
        if base_model and base_model.startswith(prefix):
            link = f"https://huggingface.co/{base_model}/blob/main/LICENSE"
            return {"license": license_id, "license_name": name, "license_link": link}
    return {"license": "apache-2.0"}


def system_prompt(artifacts: Artifacts) -> str | None:
    """The system prompt the model was trained with (the first pair's), for usage examples."""
    if artifacts.pairs is None:
        return None
    first_split = next((records for records in artifacts.pairs.splits.values() if records), [])
    first_turn = first_split[0]["prompt"][0] if first_split else {}
    return first_turn.get("content") if first_turn.get("role") == "system" else None


# --- the model card -----------------------------------------------------------------------


def model_card_data(
    artifacts: Artifacts, repo_id: str, dataset_repo_id: str | None, license_info: dict
):
    """The YAML metadata: base model, library, license, tags, datasets and model-index."""
    from huggingface_hub import ModelCardData

    run = artifacts.run
    base = hub_model_id(run.config.get("base_model"))
    tags = [*MODEL_TAGS, run.command if run.command in ("dpo", "sft") else "lora"]
    if artifacts.export is not None:
        tags.append("gguf")
    return ModelCardData(
        base_model=base,
        library_name="transformers" if artifacts.export is not None else "peft",
        pipeline_tag="text-generation",
        language=["en"],
        tags=tags,
        datasets=[dataset_repo_id] if dataset_repo_id else None,
        model_name=repo_id.split("/")[1],
        eval_results=eval_results(artifacts) or None,
        **license_info,
    )


def eval_results(artifacts: Artifacts) -> list:
    """model-index entries: each rejected-pattern rate and the triage metrics of the report."""
    from huggingface_hub import EvalResult

    if artifacts.evaluation is None:
        return []
    report = artifacts.evaluation.report
    eval_set = report["eval_set"]
    common = {
        "task_type": "text-generation",
        "task_name": "Pediatric triage responses (rejected-pattern rates: lower is better)",
        "dataset_type": EVAL_DATASET_TYPE,
        "dataset_name": (
            f"align eval set ({eval_set['cases']} cases: {eval_set['gold_eval']} gold eval, "
            f"{eval_set['heldout']} held-out; digest {eval_set['digest'][:12]})"
        ),
        "dataset_split": "eval",
    }
    results = []
    for code, entry in report["rates"].items():
        if entry["rate"] is not None:
            results.append(
                EvalResult(
                    **common,
                    metric_type=f"{code}_rate",
                    metric_name=f"{code} rate",
                    metric_value=round(entry["rate"], 4),
                )
            )
    for name in TRIAGE_METRICS:
        rate = report["triage"][name]["rate"]
        if rate is not None:
            results.append(
                EvalResult(
                    **common,
                    metric_type=f"triage_{name}",
                    metric_name=f"triage {name.replace('_', ' ')}",
                    metric_value=round(rate, 4),
                )
            )
    return results


def model_card(
    artifacts: Artifacts,
    verdict: Verdict,
    repo_id: str,
    dataset_repo_id: str | None,
    license_override: str | None,
    forced: bool,
    files: list[tuple[str, int]],
) -> str:
    """README.md for the model repo. ``files``: (path in repo, size) of what is uploaded."""
    run = artifacts.run
    license_info = license_fields(run.config.get("base_model"), license_override)
    data = model_card_data(artifacts, repo_id, dataset_repo_id, license_info)
    sections = [
        f"# {repo_id.split('/')[1]}",
        DISCLAIMER,
        *([forced_notice(verdict)] if forced and not verdict.passed else []),
        summary(artifacts, repo_id),
        INTENDED_USE,
        files_section(files),
        usage_section(artifacts, repo_id),
        training_section(artifacts, dataset_repo_id),
        evaluation_section(artifacts, verdict, forced, {path for path, _ in files}),
        export_section(artifacts),
        limitations_section(artifacts),
        provenance_section(artifacts, license_info),
    ]
    body = "\n\n".join(section.strip() for section in sections if section) + "\n"
    return f"---\n{data.to_yaml()}\n---\n\n{body}"


def forced_notice(verdict: Verdict) -> str:
    lines = [
        "> [!CAUTION]",
        "> **Published with `--force` over the safety rails.** Publishing was refused because:",
    ]
    lines += [f"> - {reason}" for reason in verdict.reasons()]
    return "\n".join(lines)


def summary(artifacts: Artifacts, repo_id: str) -> str:
    run = artifacts.run
    base = shown(run.config.get("base_model"), "manifest config.base_model")
    method = {
        "dpo": "a LoRA SFT adapter refined with DPO (Direct Preference Optimization)",
        "sft": "a LoRA adapter trained with supervised fine-tuning",
    }.get(run.command, "a LoRA adapter")
    what = f"`{repo_id}` is {method} on `{base}`"
    if artifacts.export is not None:
        what += ", published with the merged 16-bit model and GGUF files for llama.cpp"
    return (
        f"{what}. It is a research model for pediatric mass-casualty triage support, meant to "
        "run offline on small devices. It answers in a fixed structure: a `TRIAGE: <COLOR> "
        "(<label>)` line first, then the rationale, numbered immediate actions, a `Do NOT` "
        "list and reassessment triggers. Preference pairs teach it to avoid specific errors "
        "(a wrong triage color, a missing Do NOT list, another age's vital-sign ranges, a "
        "contraindicated action, a wrong dose); the evaluation below measures how often it "
        "still makes each one.\n\nBuilt with `align` "
        f"{__version__} (DPO preference alignment for small pediatric-triage chat models)."
    )


INTENDED_USE = """## Intended use

- Research on preference alignment of small, offline chat models for pediatric triage support.
- Evaluation and red-teaming by teams with clinical oversight, on test scenarios only.
- A starting point for a future tool that would need independent clinical validation and
  regulatory review before any use with patients.

## Out-of-scope use

- Triage, diagnosis, treatment or dosing decisions for any real patient, in a disaster or not.
- Any patient-facing or responder-facing application in the field.
- General medical question answering.
- Any use without a qualified healthcare professional reviewing every output."""


FILE_NOTES = {
    "Modelfile": "Ollama Modelfile (first quant)",
    "adapter/manifest.json": "run manifest: config, data hashes, versions, git commit",
    "adapter/metrics.json": "training metrics",
    "reports/eval_report.json": "eval report (`align eval`)",
    "reports/eval_report.md": "eval report, Markdown",
    "reports/rates.png": "rejected-pattern rates chart",
    "reports/eval_responses.jsonl": "every eval response with its findings",
    "reports/baseline_report.json": "baseline eval report (before)",
    "reports/gate.json": "gate verdict recomputed when publishing",
    "reports/gate_thresholds.toml": "gate thresholds",
    "reports/export_report.json": "GGUF verification report (`align export`)",
}


def file_note(path: str) -> str:
    if path in FILE_NOTES:
        return FILE_NOTES[path]
    if path.endswith(".gguf"):
        return "GGUF for llama.cpp"
    if path.startswith("adapter/"):
        return "LoRA adapter" if "adapter_" in path else "LoRA adapter: tokenizer"
    return "merged 16-bit model (transformers)"


def files_section(files: list[tuple[str, int]]) -> str:
    rows = [[f"`{path}`", file_note(path), human_size(size)] for path, size in files]
    return "\n".join(["## Files", "", *table(["path", "what", "size"], rows, "llr")])


def usage_section(artifacts: Artifacts, repo_id: str) -> str:
    lines = ["## Usage", ""]
    prompt = system_prompt(artifacts)
    export = artifacts.export
    if export is not None:
        quant_files = [p.name for p in export.gguf_files]
        first = next((n for n in quant_files if "Q4_K_M" in n), quant_files[0])
        quant = Path(first).stem.rsplit("-", 1)[-1]  # <name>-<QUANT>.gguf
        lines += [
            "### llama.cpp (GGUF)",
            "",
            "The GGUF files carry the chat template; llama.cpp applies it.",
            "",
            "```bash",
            f"llama-cli -hf {repo_id}:{quant}",
            f"llama-server -hf {repo_id}:{quant}  # OpenAI-compatible API on :8080",
            "# or download one file and run it offline:",
            f"hf download {repo_id} {first} --local-dir .",
            f"llama-cli -m {first}" + (' -sys "$SYSTEM_PROMPT"' if prompt else ""),
            "```",
            "",
            "### Transformers (merged 16-bit model)",
            "",
            "```python",
            "from transformers import AutoModelForCausalLM, AutoTokenizer",
            "",
            *(
                ["SYSTEM_PROMPT = ...  # the system prompt printed at the end of this section"]
                if prompt
                else []
            ),
            f'tokenizer = AutoTokenizer.from_pretrained("{repo_id}")',
            f'model = AutoModelForCausalLM.from_pretrained("{repo_id}")',
            "messages = [",
            *(['    {"role": "system", "content": SYSTEM_PROMPT},'] if prompt else []),
            '    {"role": "user", "content": "7-year-old, not walking, breathing 38/min, '
            'radial pulse present, follows commands."},',
            "]",
            "inputs = tokenizer.apply_chat_template(",
            '    messages, add_generation_prompt=True, return_tensors="pt", return_dict=True',
            ")",
            "output = model.generate(**inputs, max_new_tokens=400, do_sample=False)",
            'new_tokens = output[0, inputs["input_ids"].shape[1]:]',
            "print(tokenizer.decode(new_tokens, skip_special_tokens=True))",
            "```",
            "",
        ]
    base = hub_model_id(artifacts.run.config.get("base_model"))
    lines += ["### PEFT (the adapter on its base)", "", "```python"]
    lines += [
        "from peft import PeftModel",
        "from transformers import AutoModelForCausalLM",
        "",
        f'base = AutoModelForCausalLM.from_pretrained("{base or "<the base model>"}")',
        f'model = PeftModel.from_pretrained(base, "{repo_id}", subfolder="adapter")',
        "```",
    ]
    if base is None:
        local_base = shown(artifacts.run.config.get("base_model"), "manifest config.base_model")
        lines += [
            "",
            f"The base, `{local_base}`, is not on the Hub (the "
            "embedded toy model of `align`, or a local folder): use the merged model or the "
            "GGUF files, or rebuild the base with `align`.",
        ]
    if prompt:
        lines += ["", "The system prompt it was trained with (`SYSTEM_PROMPT` above):", ""]
        lines += ["```text", prompt, "```"]
    return "\n".join(lines)


def training_section(artifacts: Artifacts, dataset_repo_id: str | None) -> str:
    run = artifacts.run
    config, manifest = run.config, run.manifest
    lines = ["## Training", "", "### Data", ""]
    if dataset_repo_id:
        lines.append(
            f"Preference pairs: [`{dataset_repo_id}`](https://huggingface.co/datasets/"
            f"{dataset_repo_id}) (its card documents each perturbation type and the "
            "provenance fields)."
        )
    if artifacts.pairs is not None:
        counts = artifacts.pairs.counts()
        splits = list(artifacts.pairs.splits)
        rows = [[f"`{name}`", *(row[s] for s in splits)] for name, row in counts.items()]
        lines += ["", *table(["perturbation", *splits], rows, "l" + "r" * len(splits))]
    data = manifest.get("data") or {}
    if data:
        lines += ["", "Files the run read (sha256):", ""]
        lines += [f"- `{path}`: `{digest[:16]}…`" for path, digest in data.items()]
    lines += ["", "### Recipe", ""]
    adapter = run.adapter_config
    recipe = [
        ("command", f"`align {run.command}`"),
        ("base model", f"`{shown(config.get('base_model'), 'manifest config.base_model')}`"),
    ]
    if run.command == "dpo":
        recipe += [
            (
                "starting adapter (also the frozen DPO reference)",
                f"`{shown(config.get('adapter'), 'manifest config.adapter')}`",
            ),
            ("beta", config.get("beta")),
            ("loss", ", ".join(map(str, config.get("loss_type") or []))),
            ("loss weights", config.get("loss_weights")),
            ("perturbations kept", config.get("perturbations") or "all"),
        ]
    recipe += [
        (
            "LoRA rank / alpha / dropout",
            f"{adapter.get('r')} / {adapter.get('lora_alpha')} / {adapter.get('lora_dropout')}",
        ),
        ("LoRA targets", ", ".join(sorted(adapter.get("target_modules") or []))),
        ("learning rate", config.get("learning_rate")),
        ("schedule / warmup", f"{config.get('lr_scheduler')} / {config.get('warmup_ratio')}"),
        ("epochs / max steps", f"{config.get('epochs')} / {config.get('max_steps')}"),
        ("steps run", manifest.get("global_step")),
        ("batch x accumulation", f"{config.get('batch_size')} x {config.get('grad_accum')}"),
        ("max length", config.get("max_length")),
        ("optimizer", config.get("optim")),
        ("seed", config.get("seed")),
        (
            "backend / dtype",
            f"{(manifest.get('metrics') or {}).get('backend', config.get('backend'))}"
            f" / {config.get('dtype')}",
        ),
    ]
    lines += table(["setting", "value"], [[k, "–" if v is None else v] for k, v in recipe])
    packages = {k: v for k, v in (manifest.get("packages") or {}).items() if v}
    if packages:
        lines += ["", "Packages: " + ", ".join(f"{k} {v}" for k, v in packages.items()) + "."]
    per_type = (manifest.get("metrics") or {}).get("per_perturbation") or {}
    if per_type:
        lines += [
            "",
            "DPO reward accuracy and margin on the eval pairs of each type, end of training:",
            "",
        ]
        rows = [
            [f"`{name}`", pct(entry.get("reward_accuracy")), _number(entry.get("reward_margin"))]
            for name, entry in per_type.items()
        ]
        lines += table(["perturbation", "reward accuracy", "reward margin"], rows, "lrr")
    return "\n".join(lines)


def _number(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def before_after(artifacts: Artifacts) -> dict[str, dict]:
    """Metric -> {baseline, value, delta, worse}: from --baseline, else the report's own."""
    evaluation = artifacts.evaluation
    if evaluation.baseline is not None:
        from align.evaluation.report import compare

        return compare(evaluation.report, evaluation.baseline)
    return (evaluation.report.get("baseline") or {}).get("deltas") or {}


def baseline_name(artifacts: Artifacts) -> str:
    evaluation = artifacts.evaluation
    if evaluation.baseline is not None:
        model = evaluation.baseline["model"]
        return shown(
            model.get("gguf") or model.get("adapter") or model.get("base_model"),
            "--baseline model",
        )
    return shown((evaluation.report.get("baseline") or {}).get("path"), "eval report baseline.path")


def evaluation_section(
    artifacts: Artifacts, verdict: Verdict, forced: bool, paths: set[str]
) -> str:
    lines = ["## Evaluation", ""]
    if artifacts.evaluation is None:
        lines.append(
            "**No evaluation report was given**, so nothing here measures this model"
            + (" (published with `--force`)." if forced else ".")
        )
        return "\n".join(lines)
    report = artifacts.evaluation.report
    model, eval_set = report["model"], report["eval_set"]
    measured = shown(
        model.get("gguf") or model.get("adapter") or model.get("base_model"), "eval report model"
    )
    lines += [
        f"Measured with `align eval` on `{measured}` ({model['backend']}): {eval_set['cases']} "
        f"cases ({eval_set['gold_eval']} from the gold eval split, {eval_set['heldout']} "
        f"held-out scenarios), greedy decoding, at most {report['decoding']['max_new_tokens']} "
        "new tokens. Each response is scored by `align`'s detectors; a rate is the share of "
        "responses showing that error (Wilson 95% interval).",
        "",
        "### Rejected-pattern rates",
        "",
    ]
    deltas = before_after(artifacts)
    if deltas:
        lines.append(
            f"Before: `{baseline_name(artifacts)}` (the baseline report); after: this model."
        )
        lines.append("")
        rows = []
        for code, entry in report["rates"].items():
            delta = deltas.get(f"rates.{code}")
            rows.append(
                [
                    f"`{code}`",
                    pct(delta["baseline"]) if delta else "n/a",
                    pct(entry["rate"]),
                    f"{100 * delta['delta']:+.1f} pt" if delta else "n/a",
                ]
            )
        lines += table(["pattern", "before", "after", "change"], rows, "lrrr")
    else:
        rows = [
            [
                f"`{code}`",
                entry["count"],
                entry["n"],
                pct(entry["rate"]),
                f"{pct(entry['ci95'][0])}–{pct(entry['ci95'][1])}",
            ]
            for code, entry in report["rates"].items()
        ]
        lines += table(["pattern", "count", "n", "rate", "95% CI"], rows, "lrrrl")
        lines += ["", "No baseline report was given, so there is no before/after comparison."]
    if "reports/rates.png" in paths:
        lines += ["", "![Rejected-pattern rates with 95% intervals](reports/rates.png)"]
    lines += ["", "### Triage", ""]
    rows = []
    for name in TRIAGE_METRICS:
        entry = report["triage"][name]
        delta = deltas.get(f"triage.{name}")
        before = f" (before: {pct(delta['baseline'])})" if delta else ""
        rows.append(
            [name.replace("_", " "), f"{entry['count']}/{entry['n']}", pct(entry["rate"]) + before]
        )
    lines += table(["metric", "count", "rate"], rows, "lrr")
    preference = report.get("preference") or {}
    if preference.get("by_perturbation"):
        lines += ["", "### Preference on the eval pairs (no generation)", ""]
        rows = [
            [f"`{name}`", entry["n"], pct(entry["accuracy"]), _number(entry["mean_margin"])]
            for name, entry in preference["by_perturbation"].items()
        ]
        lines += table(["perturbation", "pairs", "accuracy", "mean margin"], rows, "lrrr")
    lines += ["", gate_section(artifacts, verdict)]
    return "\n".join(lines)


def gate_section(artifacts: Artifacts, verdict: Verdict) -> str:
    evaluation = artifacts.evaluation
    state = "PASS" if verdict.passed else "FAIL"
    lines = [
        f"### Gate: {state}",
        "",
        "The `align gate` checks, recomputed when publishing (`reports/gate.json`) with the "
        "thresholds in `reports/gate_thresholds.toml`"
        + (" and the baseline `reports/baseline_report.json`" if evaluation.baseline_path else "")
        + ".",
        "",
    ]
    rows = [
        [
            check.name,
            pct(check.value) if check.value is not None else "–",
            check.limit,
            check.detail,
            "pass" if check.passed else "**FAIL**",
        ]
        for check in verdict.checks
    ]
    lines += table(["check", "value", "limit", "detail", "result"], rows, "lrlll")
    return "\n".join(lines)


def export_section(artifacts: Artifacts) -> str:
    export = artifacts.export
    if export is None:
        return ""
    report = export.report
    lines = [
        "## GGUF export and verification",
        "",
        "Merged in 16-bit, converted to GGUF and quantized by `align export`; each file was "
        "loaded by llama.cpp and checked against the merged Hugging Face model (chat template, "
        "logits cosine, a greedy generation).",
        "",
    ]
    rows = []
    for entry in report["files"]:
        cosine = entry.get("checks", {}).get("logits", {}).get("mean_cosine")
        rows.append(
            [
                f"`{entry['file']}`",
                entry.get("type", "?"),
                human_size(entry.get("size_bytes", 0)),
                f"{entry.get('bits_per_weight', 0):.2f}",
                "n/a" if cosine is None else f"{cosine:.4f}",
                "pass" if entry.get("passed") else "**FAIL**",
                f"`{entry.get('sha256', '')[:16]}…`",
            ]
        )
    lines += table(
        ["file", "type", "size", "bits/weight", "logits cosine", "verified", "sha256"],
        rows,
        "llrrrll",
    )
    return "\n".join(lines)


def limitations_section(artifacts: Artifacts) -> str:
    lines = [
        "## Limitations",
        "",
        "- The rates above count specific, rule-detected errors in a fixed response format; a "
        "response without them can still be clinically wrong or unsafe.",
        "- The evaluation scenarios are synthetic and English only; real incidents are messier.",
        "- Small models hallucinate. Nothing here was reviewed by clinicians.",
    ]
    if hub_model_id(artifacts.run.config.get("base_model")) is None:
        lines.append(
            "- This run used a base that is not on the Hub (the embedded toy model of `align` "
            "or a local folder): a pipeline check, not a useful model."
        )
    return "\n".join(lines)


def provenance_section(artifacts: Artifacts, license_info: dict) -> str:
    git = artifacts.run.manifest.get("git") or {}
    commit = git.get("commit")
    lines = [
        "## Provenance",
        "",
        f"- Published with `align publish` (align {__version__}) on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        f"- Run folder `{artifacts.run.folder.name}`, finished "
        f"{artifacts.run.manifest.get('finished_utc', '?')}"
        + (f", source commit `{commit[:12]}`" if commit else "")
        + (" (with uncommitted changes)" if git.get("dirty") else "")
        + ".",
        "",
        "## License",
        "",
    ]
    if license_info.get("license") == "other":
        lines.append(
            f"`{license_info['license_name']}`, the base model's license: see "
            f"[its terms]({license_info['license_link']})."
        )
    else:
        lines.append(f"`{license_info['license']}`.")
    return "\n".join(lines)


# --- the dataset card ---------------------------------------------------------------------


def size_category(count: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K")):
        if count < limit:
            return name
    return "100K<n<1M"


def dataset_card(artifacts: Artifacts, dataset_repo_id: str, model_repo_id: str) -> str:
    """README.md for the pairs dataset: format, each perturbation type, provenance fields.
    ``datasets.push_to_hub`` adds its ``dataset_info`` and ``configs`` to this metadata."""
    from huggingface_hub import DatasetCardData

    from align.data.perturb import PERTURBATIONS

    pairs = artifacts.pairs
    total = sum(len(records) for records in pairs.splits.values())
    data = DatasetCardData(
        license=DATA_LICENSE,
        language=["en"],
        task_categories=["text-generation"],
        tags=[*DATASET_TAGS, "synthetic"],
        size_categories=[size_category(total)],
        pretty_name="Pediatric triage preference pairs (align)",
    )
    summary = pairs.summary
    counts = pairs.counts()
    splits = list(pairs.splits)
    rows = []
    for name, row in counts.items():
        spec = PERTURBATIONS.get(name)
        rows.append(
            [
                f"`{name}`",
                f"`{spec.intended_code}`" if spec else "?",
                spec.description if spec else "?",
                *(row[s] for s in splits),
            ]
        )
    lines = [
        "# Pediatric triage preference pairs",
        "",
        DATA_DISCLAIMER,
        "",
        f"{total} preference pairs (TRL's conversational format) for DPO on pediatric "
        "mass-casualty triage responses, made by `align pairs`: each gold response is perturbed "
        "into a plausible-but-wrong one, and `align`'s detectors check that every rejected "
        "response shows exactly the intended error and every chosen response none (the closed "
        f"loop below). Used to train [`{model_repo_id}`](https://huggingface.co/{model_repo_id}).",
        "",
        "## Splits",
        "",
        *table(["split", "pairs"], [[s, len(r)] for s, r in pairs.splits.items()], "lr"),
        "",
        "Split by gold group (and by scenario family for generated near-copies): no eval pair "
        "shares a gold response with a train pair.",
        "",
        "## Fields",
        "",
        *table(
            ["field", "content"],
            [
                ["`prompt`", "system and user messages (`role`, `content`)"],
                ["`chosen`", "one assistant message: the gold response"],
                ["`rejected`", "one assistant message: the perturbed response"],
                ["`gold_id`", "id of the gold record the pair comes from (provenance)"],
                ["`perturbation`", "the perturbation type (table below)"],
                [
                    "`detail`",
                    "what the perturbation changed, a JSON object **stored as a "
                    "string** (its keys depend on the type: `from`/`to`/`direction` for a "
                    "color, `vital`/`age_years`/`taken_from` for a range, ...)",
                ],
                ["`split`", "`train` or `eval`"],
                ["`seed`", "seed of the perturbation choices and the split"],
                ["`generator`", "the `align` version that made the pair"],
            ],
        ),
        "",
        "## Perturbation types",
        "",
        "Each type intends exactly one detector finding (the finding codes are `align`'s "
        "interface; how each is decided: the project's docs/DESIGN.md).",
        "",
        *table(
            ["perturbation", "intended finding", "what it does", *splits],
            rows,
            "lll" + "r" * len(splits),
        ),
    ]
    directions = summary.get("wrong_triage_color_directions")
    if directions:
        lines += [
            "",
            "Wrong colors: "
            + ", ".join(f"{count} {name}-triage" for name, count in directions.items())
            + " (under-triage, the dangerous error, is weighted higher).",
        ]
    closed = summary.get("closed_loop") or {}
    if closed:
        lines += ["", "## Closed loop", ""]
        closed_rows = [
            [f"`{name}`", row.get("pairs"), row.get("rejected_exact"), row.get("chosen_clean")]
            for name, row in sorted(closed.items())
        ]
        lines += table(
            [
                "perturbation",
                "pairs",
                "rejected shows exactly the intended finding",
                "chosen has no finding",
            ],
            closed_rows,
            "lrrr",
        )
    lines += ["", "## Provenance", ""]
    lines += [
        f"- Generator `{summary.get('generator', '?')}`, seed {summary.get('seed', '?')}, "
        f"eval fraction {summary.get('eval_fraction', '?')}, under-triage share "
        f"{summary.get('under_share', '?')}.",
        "- Variants per gold record: "
        + ", ".join(f"{k}={v}" for k, v in (summary.get("counts") or {}).items())
        + ".",
        "- Gold files (sha256, records):",
    ]
    lines += [
        f"  - `{entry['path']}`: `{entry['sha256'][:16]}…`, {entry['records']} records"
        for entry in summary.get("gold_files") or []
    ]
    lines += [
        "",
        "## Usage",
        "",
        "```python",
        "import json",
        "",
        "from datasets import load_dataset",
        "",
        f'pairs = load_dataset("{dataset_repo_id}")',
        "# prompt / chosen / rejected feed TRL's DPOTrainer directly",
        'detail = json.loads(pairs["train"][0]["detail"])',
        "```",
        "",
        "## License",
        "",
        f"`{DATA_LICENSE}`.",
    ]
    return f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(lines) + "\n"


def gate_json(verdict: Verdict, artifacts: Artifacts, forced: bool) -> str:
    """reports/gate.json: the verdict recomputed at publish time, and whether it was forced."""
    evaluation = artifacts.evaluation
    document = {
        "verdict": "pass" if verdict.passed else ("missing" if verdict.missing else "fail"),
        "forced": forced and not verdict.passed,
        "missing": verdict.missing,
        "thresholds": str(evaluation.thresholds_path) if evaluation else None,
        "baseline": str(evaluation.baseline_path)
        if evaluation and evaluation.baseline_path
        else None,
        "checks": [
            {
                "name": c.name,
                "value": c.value,
                "limit": c.limit,
                "passed": c.passed,
                "detail": c.detail,
            }
            for c in verdict.checks
        ],
    }
    return json.dumps(document, indent=2) + "\n"
