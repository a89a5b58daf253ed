"""The ``align`` command line. Each command parses its options and calls one function.

Light paths (pairs, score, triage, data) never import torch; heavy imports live inside the
commands that need them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from align import __version__

app = typer.Typer(
    name="align",
    help="DPO preference alignment for pediatric triage chat models. "
    "Research tooling: neither it nor the models it trains are a medical device.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Gold dataset: validate and generate.", no_args_is_help=True)
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
):
    """Score responses with the detectors; prints {id, findings} per record."""
    from align.commands import run_score

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
):
    """Perturb gold responses into (chosen, rejected) pairs and check the closed loop."""
    from align.commands import run_pairs

    raise typer.Exit(run_pairs(gold, out, seed, eval_fraction, perturbations, count, under_share))


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
