"""`align export`: the Typer command function (registered in align/cli.py).

Exit status: 0 every GGUF verified; 1 verification failed (the files stay in
``<output-dir>.partial/`` with the report); 2 bad input or options, named in the message, or
an output folder another export is writing (its lock file named).
Only typer, pathlib and typing are imported here; the work is imported when the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def export_command(
    adapter: Annotated[
        str | None, typer.Option("--adapter", help="The LoRA adapter folder to merge (required).")
    ] = None,
    base_model: Annotated[
        str | None,
        typer.Option(
            "--base-model", help="Base model: Hub id, local folder or 'toy' (default: toy)."
        ),
    ] = None,
    output_dir: Annotated[
        str | None,
        typer.Option(
            "--output-dir", help="Export folder (default: checkpoints/export-<UTC time>)."
        ),
    ] = None,
    dtype: Annotated[
        str | None,
        typer.Option("--dtype", help="Merged safetensors: bf16 or f16 (default: bf16)."),
    ] = None,
    outtype: Annotated[
        str | None,
        typer.Option("--outtype", help="Full-precision GGUF: f16 or bf16 (default: f16)."),
    ] = None,
    quants: Annotated[
        str | None,
        typer.Option(
            "--quants",
            help="Comma-separated GGUF quants: Q4_K_M, Q5_K_M, Q8_0, or 'none' (default: Q4_K_M).",
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            "--name", help="File name stem, <name>-<QUANT>.gguf (default: the adapter's folder)."
        ),
    ] = None,
    modelfile: Annotated[
        bool | None,
        typer.Option(
            "--modelfile/--no-modelfile",
            help="Also write an Ollama Modelfile for the first quant (default: no).",
        ),
    ] = None,
    overwrite: Annotated[
        bool | None,
        typer.Option(
            "--overwrite", help="Replace an existing export folder (once the new one is verified)."
        ),
    ] = None,
    threads: Annotated[
        int | None,
        typer.Option(
            "--threads", help="llama.cpp threads for quantization and checks (default: 2)."
        ),
    ] = None,
    max_new_tokens: Annotated[
        int | None,
        typer.Option(
            "--max-new-tokens", help="Token limit of the verification's generation (default: 512)."
        ),
    ] = None,
    require_stop: Annotated[
        bool | None,
        typer.Option(
            "--require-stop/--no-require-stop",
            help="Fail verification when the generation does not end its turn (default: yes).",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="TOML or YAML file with any of these options (flags win)."),
    ] = None,
):
    """Merge the adapter into the base, convert to GGUF, quantize, and verify every file with
    llama.cpp (chat template, logits against the HF model, a greedy generation)."""
    flags = dict(locals())
    flags.pop("config")
    if quants is not None:
        flags["quants"] = [] if quants.strip().lower() == "none" else _csv(quants)
    raise typer.Exit(run_export(config, flags))


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def run_export(config_file: Path | None, flags: dict) -> int:
    """Build the configuration, run the export, print the summary; the exit status."""
    from align.data.atomic import OutputFolderError
    from align.export.common import ExportError
    from align.export.pipeline import REPORT_FILE, export_config, export_model
    from align.train.config import ConfigError, load_config_file
    from align.train.loading import LoadError

    try:
        file_values = load_config_file(config_file) if config_file else {}
        config = export_config(file_values, flags)
        report = export_model(config, progress=lambda message: typer.echo(message, err=True))
    # OSError names its file; OutputFolderError: a folder it may not replace, another lock.
    except (ExportError, ConfigError, LoadError, OutputFolderError, OSError) as error:
        typer.echo(f"error: {error}", err=True)
        return 2
    for line in summary_lines(report):
        typer.echo(line)
    typer.echo(f"report: {Path(report['output_dir']) / REPORT_FILE}")
    return 0 if report["passed"] else 1


def summary_lines(report: dict) -> list[str]:
    """One line per GGUF: name, type, size, bits per weight, logits cosine, checks."""
    lines = [f"{'file':<36} {'type':<7} {'MiB':>8} {'bpw':>6} {'cosine':>8}  checks"]
    for entry in report["files"]:
        checks = entry["checks"]
        failed = [name for name, check in checks.items() if not check["passed"]]
        cosine = checks.get("logits", {}).get("mean_cosine")
        lines.append(
            f"{entry['file']:<36} {entry.get('type', '?'):<7} "
            f"{entry.get('size_bytes', 0) / 2**20:>8.1f} {entry.get('bits_per_weight', 0):>6.2f} "
            f"{cosine if cosine is not None else '-':>8}  "
            + ("ok" if not failed else "FAILED: " + ", ".join(failed))
        )
        for name in failed:
            lines.append(f"  {name}: {checks[name].get('error', '')}")
        generation = checks.get("generation", {})
        if "note" in generation:
            lines.append(f"  generation: {generation['note']}")
    return lines
