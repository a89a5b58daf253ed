#!/usr/bin/env python3
# /// script
# requires-python = ">=3.10"
# dependencies = [
#     "align[train]",
# ]
#
# [tool.uv.sources]
# # Where `align` comes from. The path is this checkout (relative to this script's folder), so
# # `uv run scripts/hf_job_dpo.py ...` trains with the code next to it. On Hugging Face Jobs the
# # script is uploaded alone: point the source at the pushed repository and commit instead, e.g.
# #   align = { git = "https://github.com/<you>/align", rev = "<commit>" }
# align = { path = "..", editable = false }
# ///
"""`align dpo` as one job script, for `hf jobs uv run` or any `uv run`, then `align publish`.

    uv run scripts/hf_job_dpo.py --adapter you/sft-adapter --pairs-dataset you/triage-pairs \\
        --base-model LiquidAI/LFM2.5-1.2B-Instruct --publish-repo-id you/triage-dpo
    hf jobs uv run --flavor a10g-small --secrets HF_TOKEN --timeout 2h scripts/hf_job_dpo.py \\
        --adapter you/sft-adapter --pairs-dataset you/triage-pairs --publish-repo-id you/triage-dpo

Every option of `align dpo` is passed through unchanged (`--help` lists them). The job adds:

  --pairs-dataset REPO   download the pairs from a Hub dataset (what `align publish` writes to
                         <repo-id>-pairs) instead of a local --pairs folder
  --num-processes N      train under `accelerate launch` on N GPUs (DDP, transformers backend)
  --publish-repo-id REPO after training, `align publish --repo-id REPO --adapter <run folder>`
  --publish-args "..."   more `align publish` options, e.g. "--eval-report r.json --private"
  --where                print where `align` is imported from, and stop

Exit status: `align dpo`'s when training fails, else `align publish`'s (0 when not publishing).
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from pathlib import Path

JOB_OPTIONS = ("--pairs-dataset", "--num-processes", "--publish-repo-id", "--publish-args")


def split_args(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    """(this script's options, the rest for `align dpo`). Accepts `--name value` and
    `--name=value`; a job option without its value is an error."""
    job: dict[str, str] = {}
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, _, value = arg.partition("=")
        if name in JOB_OPTIONS:
            if not value:
                if i + 1 >= len(argv) or argv[i + 1].startswith("--"):
                    raise SystemExit(f"error: {name} needs a value")
                value = argv[i + 1]
                i += 1
            job[name] = value
        else:
            rest.append(arg)
        i += 1
    return job, rest


def option_value(args: list[str], name: str) -> str | None:
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def download_pairs(repo_id: str, folder: Path) -> Path:
    """A Hub pairs dataset (splits train and eval) as the train.jsonl/eval.jsonl folder that
    `align dpo --pairs` reads."""
    import json

    from datasets import load_dataset

    splits = load_dataset(repo_id)
    missing = {"train", "eval"} - set(splits)
    if missing:
        raise SystemExit(f"error: --pairs-dataset {repo_id}: no {', '.join(sorted(missing))} split")
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "eval"):
        with (folder / f"{split}.jsonl").open("w", encoding="utf-8") as out:
            for row in splits[split]:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return folder


def dpo_command(args: list[str], processes: int) -> list[str]:
    if processes > 1:
        return [
            sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu",
            "--num_processes", str(processes), "--num_machines", "1",
            "--mixed_precision", "no", "--dynamo_backend", "no",
            "-m", "align.cli", "dpo", *args,
        ]  # fmt: skip
    return [sys.executable, "-m", "align.cli", "dpo", *args]


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--where" in argv:
        import align

        print(Path(align.__file__).resolve().parent)
        return 0
    if "--help" in argv or "-h" in argv:
        print(__doc__)
        print("Options of `align dpo`:\n", flush=True)
        return subprocess.call([sys.executable, "-m", "align.cli", "dpo", "--help"])
    job, args = split_args(argv)
    try:
        processes = int(job.get("--num-processes", "1"))
    except ValueError:
        raise SystemExit("error: --num-processes must be a whole number") from None
    if processes < 1:
        raise SystemExit("error: --num-processes must be >= 1")

    if "--pairs-dataset" in job:
        if option_value(args, "--pairs") is not None:
            raise SystemExit("error: give --pairs or --pairs-dataset, not both")
        args += ["--pairs", str(download_pairs(job["--pairs-dataset"], Path("job-pairs")))]
    output_dir = option_value(args, "--output-dir")
    if output_dir is None:  # named here: publishing needs to know it
        output_dir = f"checkpoints/dpo-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
        args += ["--output-dir", output_dir]

    status = subprocess.call(dpo_command(args, processes))
    if status != 0 or "--publish-repo-id" not in job:
        return status
    publish = [sys.executable, "-m", "align.cli", "publish"]
    publish += ["--repo-id", job["--publish-repo-id"], "--adapter", output_dir]
    publish += shlex.split(job.get("--publish-args", ""))
    return subprocess.call(publish)


if __name__ == "__main__":
    sys.exit(main())
