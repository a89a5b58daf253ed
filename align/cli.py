"""The ``align`` command line. Each command parses its options and calls one function.

Light paths (pairs, score, triage, data) never import torch; heavy imports live inside the
commands that need them.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from align import __version__
from align.export.command import export_command
from align.hub.command import publish_command

# What bad input or the system raises: an unreadable or unwritable path, a number too large,
# nesting too deep, text that is not Unicode, a value a parser refuses. Anything else is a bug
# in align and keeps its traceback.
INPUT_ERRORS = (OSError, OverflowError, RecursionError, UnicodeError, ValueError)


def error_boundary(command):
    """``command`` with the errors of INPUT_ERRORS that it did not handle itself turned into
    ``error: <what>`` on stderr and exit 2 (bad input), never a traceback and exit 1."""

    @functools.wraps(command)  # Typer reads the options from the wrapped signature
    def run(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except INPUT_ERRORS as error:
            if os.environ.get("ALIGN_TRACEBACK"):
                raise  # a ValueError may be a bug, not bad input: show where it came from
            typer.echo(f"error: {describe_error(error)}", err=True)
            raise typer.Exit(2) from None

    return run


def describe_error(error: BaseException) -> str:
    """What went wrong, naming the file where the error knows it."""
    if isinstance(error, RecursionError):
        return "input nested too deeply to read"
    if isinstance(error, OSError) and error.filename is not None:
        what = error.strerror or str(error)
        if isinstance(error, (FileExistsError, NotADirectoryError)):
            what += " (a file where a folder is needed)"
        return f"{error.filename}: {what}"
    return str(error) or type(error).__name__


class App(typer.Typer):
    """A Typer app whose every command runs inside ``error_boundary``."""

    def command(self, *args, **kwargs):
        register = super().command(*args, **kwargs)
        return lambda function: register(error_boundary(function))


app = App(
    name="align",
    help="DPO preference alignment for pediatric triage chat models. "
    "Research tooling: neither it nor the models it trains are a medical device.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
data_app = App(help="Gold dataset: validate and generate.", no_args_is_help=True)
app.add_typer(data_app, name="data")


def fail(message: str, code: int = 2) -> None:
    """Print an error to stderr and exit with ``code`` (2: bad input or options)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def version_callback(value: bool):
    if value:
        typer.echo(f"align {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=version_callback, is_eager=True, help="Show the version."
        ),
    ] = False,
):
    """align: gold data -> preference pairs -> DPO -> evaluation -> export -> Hub."""


@app.command("triage")
def triage_command(
    file: Annotated[
        Path | None,
        typer.Argument(help="JSON lines, one patient each (standard input when omitted)."),
    ] = None,
):
    """Triage patients with JumpSTART/START; prints one JSON line per input line."""
    from align.commands import run_triage

    raise typer.Exit(run_triage(file, sys.stdout))


@app.command("score")
def score_command(
    input: Annotated[
        Path | None,
        typer.Option(
            "--input",
            "-i",
            help="JSON lines: {id, scenario, response} or gold records "
            "(standard input when omitted).",
        ),
    ] = None,
    summary: Annotated[
        bool,
        typer.Option("--summary", help="Also print the rate of each finding code as a last line."),
    ] = False,
    benchmark: Annotated[
        list[Path] | None,
        typer.Option(
            "--benchmark",
            help="Labelled benchmark .jsonl files or folders (preference_data/benchmarks/): "
            "print precision and recall per finding code instead.",
        ),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="With --benchmark: one JSON object, not a table.")
    ] = False,
    show_errors: Annotated[
        bool,
        typer.Option(
            "--show-errors",
            help="With --benchmark: list each record whose findings differ from its expected set.",
        ),
    ] = False,
):
    """Score responses with the detectors; prints {id, findings} per record, or {id, error}
    for a record that cannot be scored (exit 1). With --benchmark, measure the detectors."""
    from align.commands import run_score, run_score_benchmark

    if benchmark:
        if input or summary:
            fail("--benchmark does not combine with --input or --summary")
        raise typer.Exit(run_score_benchmark(benchmark, json_output, show_errors, sys.stdout))
    if json_output or show_errors:
        fail("--json and --show-errors go with --benchmark")
    raise typer.Exit(run_score(input, summary, sys.stdout))


@app.command("pairs")
def pairs_command(
    gold: Annotated[
        list[Path] | None,
        typer.Option(
            "--gold", help="Gold .jsonl files or folders (default: preference_data/gold/)."
        ),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path(
        "preference_data/pairs"
    ),
    seed: Annotated[int, typer.Option(help="Seed for perturbation choices and the split.")] = 3407,
    eval_fraction: Annotated[
        float, typer.Option(help="Share of gold groups held out for eval.")
    ] = 0.15,
    perturbations: Annotated[
        str | None, typer.Option(help="Comma-separated perturbations to use (default: all).")
    ] = None,
    count: Annotated[
        list[str] | None,
        typer.Option(
            help="Variants per gold record, NAME=N (repeatable), e.g. wrong_triage_color=4."
        ),
    ] = None,
    under_share: Annotated[
        float,
        typer.Option(help="Share of wrong-color variants that under-triage (the dangerous error)."),
    ] = 2 / 3,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite", help="Replace the pair files in --out (once the new ones are written)."
        ),
    ] = False,
):
    """Perturb gold responses into (chosen, rejected) pairs and check the closed loop."""
    from align.commands import run_pairs

    raise typer.Exit(
        run_pairs(gold, out, seed, eval_fraction, perturbations, count, under_share, overwrite)
    )


@app.command("gate")
def gate_command(
    report: Annotated[
        Path | None, typer.Argument(help="report.json from `align eval`.", show_default=False)
    ] = None,
    thresholds: Annotated[
        Path, typer.Option(help="Thresholds file (TOML): [max_rate], [min], [max_regression].")
    ] = Path("configs/gate.toml"),
    baseline: Annotated[
        Path | None, typer.Option(help="A baseline report to compare against (regressions).")
    ] = None,
    junit: Annotated[Path | None, typer.Option(help="Also write JUnit XML here.")] = None,
    pairs: Annotated[
        bool,
        typer.Option(
            "--pairs", help="No model: re-check the generator's closed loop on the pair files."
        ),
    ] = False,
    pairs_dir: Annotated[Path, typer.Option(help="Pair folder for --pairs.")] = Path(
        "preference_data/pairs"
    ),
    gold: Annotated[
        list[Path] | None, typer.Option(help="Gold files or folders for --pairs.")
    ] = None,
):
    """CI gate: exit 0 pass, 1 threshold breach or regression, 2 untrusted input or an
    output that cannot be written."""
    from align.commands import run_gate

    raise typer.Exit(run_gate(report, thresholds, baseline, junit, pairs, pairs_dir, gold))


@app.command("eval")
def eval_command(
    base_model: Annotated[
        str, typer.Option(help="Hub id, local folder (merged models too), or 'toy'.")
    ] = "toy",
    adapter: Annotated[str | None, typer.Option(help="LoRA adapter folder or Hub id.")] = None,
    gguf: Annotated[
        str | None, typer.Option(help="Judge this GGUF file with llama.cpp instead.")
    ] = None,
    dtype: Annotated[str, typer.Option(help="auto, float32, bfloat16, float16.")] = "auto",
    gold: Annotated[
        list[str] | None, typer.Option(help="Gold files or folders (eval split is used).")
    ] = None,
    pairs: Annotated[
        str, typer.Option(help="Folder with eval.jsonl (preference metrics).")
    ] = "preference_data/pairs",
    heldout: Annotated[bool, typer.Option(help="Add the generated held-out scenario set.")] = True,
    heldout_draws: Annotated[
        int, typer.Option(help="Draws of the held-out grid (74 cases each, new values).")
    ] = 1,
    limit: Annotated[
        int | None, typer.Option(help="At most N cases per source (quick checks).")
    ] = None,
    max_new_tokens: Annotated[int, typer.Option(help="Greedy decoding budget.")] = 512,
    batch_size: Annotated[
        int, typer.Option(help="Prompts per generation batch (16: 5.6x batch 1 on CPU).")
    ] = 16,
    preference: Annotated[
        bool, typer.Option(help="Measure preference accuracy and margins on eval pairs.")
    ] = True,
    pairs_per_type: Annotated[
        int, typer.Option(help="Eval pairs per perturbation type for preference metrics.")
    ] = 32,
    reference_adapter: Annotated[
        str | None,
        typer.Option(help="Reference for implicit rewards (default: a DPO run's SFT adapter)."),
    ] = None,
    beta: Annotated[
        float | None, typer.Option(help="DPO beta for rewards (default: the run's, else 0.1).")
    ] = None,
    baseline: Annotated[
        str | None, typer.Option(help="A baseline report.json: deltas per metric.")
    ] = None,
    out: Annotated[str, typer.Option(help="Report folder.")] = "eval/latest",
):
    """Generate on held-out scenarios, score every response, report rates (JSON, Markdown, PNG)."""
    from align.commands import run_eval_command
    from align.evaluation.run import EvalConfig

    config = EvalConfig(
        base_model=base_model,
        adapter=adapter,
        gguf=gguf,
        dtype=dtype,
        gold=gold or ["preference_data/gold"],
        pairs=pairs,
        heldout=heldout,
        heldout_draws=heldout_draws,
        limit=limit,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        preference=preference,
        pairs_per_type=pairs_per_type,
        reference_adapter=reference_adapter,
        beta=beta,
        baseline=baseline,
        output_dir=out,
    )
    raise typer.Exit(run_eval_command(config))


# --- training -------------------------------------------------------------------------------
# Every option defaults to None so that only flags actually given override the config file;
# the help shows the real defaults (from the config dataclasses).


def _default(command: str, name: str) -> str:
    from align.train.config import DPOConfig, SFTConfig, defaults

    value = defaults(SFTConfig if command == "sft" else DPOConfig)[name]
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


def _csv(value: str | None) -> list[str] | None:
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


def _opt(command: str, name: str, help: str, *flags: str):
    return typer.Option(
        *(flags or ("--" + name.replace("_", "-"),)),
        help=help,
        show_default=_default(command, name),
    )


ConfigFile = Annotated[
    Path | None,
    typer.Option("--config", help="TOML or YAML file of options; flags given here override it."),
]


def _shared(name: str, kind, help: str, *flags: str):
    """An option both training commands take, with the same default in both."""
    return Annotated[kind | None, _opt("sft", name, help, *flags)]


BaseModel = _shared("base_model", str, "Hub id, local folder, or 'toy' (the embedded default).")
Overwrite = _shared(
    "overwrite", bool, "Replace an existing run folder (at the end).", "--overwrite/--no-overwrite"
)
Resume = _shared(
    "resume", bool, "Continue an interrupted run from its last checkpoint.", "--resume/--no-resume"
)
AllowChangedSettings = _shared(
    "allow_changed_settings",
    bool,
    "With --resume: continue although a setting differs from the interrupted run's "
    "(the change is recorded in the manifest).",
    "--allow-changed-settings/--no-allow-changed-settings",
)
Backend = _shared("backend", str, "auto, transformers or unsloth.")
Dtype = _shared("dtype", str, "auto, float32, bfloat16, float16.")
LoadIn4bit = _shared(
    "load_in_4bit", bool, "QLoRA (bitsandbytes).", "--load-in-4bit/--no-load-in-4bit"
)
MaxSteps = _shared("max_steps", int, "> 0 overrides epochs.")
BatchSize = _shared("batch_size", int, "Per-device batch.")
GradAccum = _shared("grad_accum", int, "Gradient accumulation.")
MaxLength = _shared("max_length", int, "Max tokens per sequence.")
LrScheduler = _shared("lr_scheduler", str, "Schedule.")
WarmupRatio = _shared("warmup_ratio", float, "Warmup share.")
Optim = _shared("optim", str, "Optimizer.")
Seed = _shared("seed", int, "Random seed.")
LoggingSteps = _shared("logging_steps", int, "Log every N steps.")
SaveSteps = _shared("save_steps", int, "Checkpoint every N steps.")
ReportTo = _shared(
    "report_to", str, "auto (TensorBoard, + Trackio if installed), tensorboard, trackio, none."
)
GradientCheckpointing = _opt(  # SFT's; DPO's default is automatic (its own option below)
    "sft",
    "gradient_checkpointing",
    "Recompute activations to save memory.",
    "--gradient-checkpointing/--no-gradient-checkpointing",
)


@app.command("sft")
def sft_command(
    config: ConfigFile = None,
    base_model: BaseModel = None,
    gold: Annotated[list[str] | None, _opt("sft", "gold", "Gold files or folders.")] = None,
    train_split_only: Annotated[
        bool | None,
        _opt(
            "sft",
            "train_split_only",
            "Train on the train side of `align pairs`' split only (eval gold stays unseen).",
            "--train-split-only/--all-gold",
        ),
    ] = None,
    output_dir: Annotated[
        str | None, _opt("sft", "output_dir", "Run folder (default checkpoints/sft-<time>).")
    ] = None,
    overwrite: Overwrite = None,
    resume: Resume = None,
    allow_changed_settings: AllowChangedSettings = None,
    backend: Backend = None,
    dtype: Dtype = None,
    load_in_4bit: LoadIn4bit = None,
    epochs: Annotated[float | None, _opt("sft", "epochs", "Training epochs.")] = None,
    max_steps: MaxSteps = None,
    learning_rate: Annotated[
        float | None, _opt("sft", "learning_rate", "Peak learning rate.")
    ] = None,
    batch_size: BatchSize = None,
    grad_accum: GradAccum = None,
    max_length: MaxLength = None,
    lora_r: Annotated[int | None, _opt("sft", "lora_r", "LoRA rank.")] = None,
    lora_alpha: Annotated[int | None, _opt("sft", "lora_alpha", "LoRA alpha.")] = None,
    lora_dropout: Annotated[float | None, _opt("sft", "lora_dropout", "LoRA dropout.")] = None,
    target_modules: Annotated[
        str | None, _opt("sft", "target_modules", "Comma-separated LoRA target modules.")
    ] = None,
    lr_scheduler: LrScheduler = None,
    warmup_ratio: WarmupRatio = None,
    optim: Optim = None,
    seed: Seed = None,
    logging_steps: LoggingSteps = None,
    save_steps: SaveSteps = None,
    report_to: ReportTo = None,
    gradient_checkpointing: Annotated[bool | None, GradientCheckpointing] = None,
):
    """Train a LoRA SFT adapter on the gold conversations (loss on assistant tokens only)."""
    flags = dict(locals())  # every option, None where not given
    flags.pop("config")
    flags["target_modules"] = _csv(target_modules)
    from align.commands import run_training

    raise typer.Exit(run_training("sft", config, flags))


@app.command("dpo")
def dpo_command(
    config: ConfigFile = None,
    adapter: Annotated[
        str | None,
        _opt(
            "dpo",
            "adapter",
            "The SFT adapter to refine (folder or Hub id); it is also the frozen reference.",
        ),
    ] = None,
    base_model: BaseModel = None,
    pairs: Annotated[
        str | None, _opt("dpo", "pairs", "Folder with train.jsonl and eval.jsonl.")
    ] = None,
    output_dir: Annotated[
        str | None, _opt("dpo", "output_dir", "Run folder (default checkpoints/dpo-<time>).")
    ] = None,
    overwrite: Overwrite = None,
    resume: Resume = None,
    allow_changed_settings: AllowChangedSettings = None,
    backend: Backend = None,
    dtype: Dtype = None,
    load_in_4bit: LoadIn4bit = None,
    beta: Annotated[float | None, _opt("dpo", "beta", "DPO beta.")] = None,
    loss_type: Annotated[
        str | None, _opt("dpo", "loss_type", "Comma-separated TRL loss types, e.g. sigmoid,sft.")
    ] = None,
    loss_weights: Annotated[
        str | None, _opt("dpo", "loss_weights", "Comma-separated weights, one per loss type.")
    ] = None,
    precompute_ref_log_probs: Annotated[
        bool | None,
        _opt(
            "dpo",
            "precompute_ref_log_probs",
            "Compute reference log-probs once before training.",
            "--precompute-ref-log-probs/--no-precompute-ref-log-probs",
        ),
    ] = None,
    fast_path: Annotated[
        str | None,
        _opt("dpo", "fast_path", "GPU fast path: auto (on with CUDA), on, off."),
    ] = None,
    torch_compile: Annotated[
        str | None, _opt("dpo", "torch_compile", "Compile decoder layers: auto (off), on, off.")
    ] = None,
    fast_lora: Annotated[
        str | None,
        _opt("dpo", "fast_lora", "bf16 LoRA, fused add: auto (transformers fast path), on, off."),
    ] = None,
    sub_batches: Annotated[
        int | None,
        _opt("dpo", "sub_batches", "Fast path: most forward calls per batch, split by length."),
    ] = None,
    flash_attention: Annotated[
        str | None,
        _opt(
            "dpo",
            "flash_attention",
            "Fast path: flash attention, no padding mask: auto (off), on, off.",
        ),
    ] = None,
    share_prompts: Annotated[
        str | None,
        _opt("dpo", "share_prompts", "Fast path: each pair's prompt run once: auto (on), on, off."),
    ] = None,
    ref_cache_dir: Annotated[
        str | None, _opt("dpo", "ref_cache_dir", "Folder caching reference log-probs.")
    ] = None,
    perturbations: Annotated[
        str | None,
        _opt("dpo", "perturbations", "Comma-separated perturbation types to keep (default: all)."),
    ] = None,
    mix: Annotated[
        str | None, _opt("dpo", "mix", "Share of each type's train pairs to keep: NAME=0..1,...")
    ] = None,
    max_eval_pairs: Annotated[
        int | None,
        _opt("dpo", "max_eval_pairs", "Eval pairs per perturbation type (default: all)."),
    ] = None,
    eval_steps: Annotated[int | None, _opt("dpo", "eval_steps", "Evaluate every N steps.")] = None,
    epochs: Annotated[float | None, _opt("dpo", "epochs", "Training epochs.")] = None,
    max_steps: MaxSteps = None,
    learning_rate: Annotated[
        float | None, _opt("dpo", "learning_rate", "Peak learning rate.")
    ] = None,
    batch_size: BatchSize = None,
    grad_accum: GradAccum = None,
    max_length: MaxLength = None,
    lr_scheduler: LrScheduler = None,
    warmup_ratio: WarmupRatio = None,
    optim: Optim = None,
    seed: Seed = None,
    logging_steps: LoggingSteps = None,
    save_steps: SaveSteps = None,
    report_to: ReportTo = None,
    gradient_checkpointing: Annotated[
        bool | None,
        typer.Option(
            "--gradient-checkpointing/--no-gradient-checkpointing",
            help="Recompute activations to save memory.",
            show_default="auto: on when activations would fill over a quarter of GPU memory",
        ),
    ] = None,
):
    """Refine the SFT adapter with DPO on the pairs; the reference is the frozen SFT policy."""
    flags = dict(locals())  # every option, None where not given
    flags.pop("config")
    from align.commands import parse_mix, parse_weights, run_training

    flags["loss_type"] = _csv(loss_type)
    flags["perturbations"] = _csv(perturbations)
    try:
        flags["loss_weights"] = parse_weights(loss_weights)
        flags["mix"] = parse_mix(mix)
    except ValueError as error:
        fail(str(error))
    raise typer.Exit(run_training("dpo", config, flags))


# The export command lives with its pipeline (align/export/command.py); Typer, pathlib and
# typing are all it imports until it runs.
app.command("export")(export_command)
app.command("publish")(publish_command)


@app.command("demo")
def demo_command(
    quick: Annotated[
        bool,
        typer.Option(
            "--quick",
            help="Two training steps per stage: checks the pipeline, trains nothing useful.",
        ),
    ] = False,
):
    """The whole pipeline offline on the toy default: gold, pairs, toy base, SFT, DPO."""
    from align.commands import run_demo_command

    raise typer.Exit(run_demo_command(quick))


@data_app.command("check")
def data_check_command(
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="Gold files or folders (default: preference_data/gold/)."),
    ] = None,
    tokenizer: Annotated[
        Path | None,
        typer.Option(
            help="tokenizer.json (or its folder) for exact token counts; estimated without it."
        ),
    ] = None,
    max_tokens: Annotated[int, typer.Option(help="Training window to check against.")] = 1024,
):
    """Validate gold records and report token lengths."""
    from align.commands import run_data_check

    raise typer.Exit(run_data_check(files, tokenizer, max_tokens))


@data_app.command("generate")
def data_generate_command(
    out: Annotated[Path, typer.Option(help="Where to write the generated gold records.")] = Path(
        "preference_data/gold/generated.jsonl"
    ),
    seed: Annotated[int, typer.Option(help="Generator seed.")] = 3407,
    check: Annotated[
        bool,
        typer.Option("--check", help="Only verify that OUT equals what the generator produces."),
    ] = False,
):
    """Expand the scenario families into structured gold records."""
    from align.commands import run_data_generate

    raise typer.Exit(run_data_generate(out, seed, check))


if __name__ == "__main__":
    app()
