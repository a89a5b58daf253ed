"""`align publish`: the Typer command function (registered in align/cli.py), the work it
runs, and the dry run `align demo` ends with.

Exit status: 0 published, or a dry run the safety rails accept; 1 refused by the safety rails
(the gate verdict failing or missing, an unverified export; ``--force`` overrides and the card
says so); 2 bad input, no token or a refused token, named in the message; 3 the upload failed
after its retries (the message says what was and was not published).
Only typer, pathlib and typing are imported here; the work is imported when the command runs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

EXIT_REFUSED, EXIT_BAD_INPUT, EXIT_UPLOAD_FAILED = 1, 2, 3


def publish_command(
    repo_id: Annotated[
        str, typer.Option("--repo-id", help="The model repo on the Hub, user/name.")
    ],
    adapter: Annotated[
        Path,
        typer.Option("--adapter", help="The run folder of `align dpo` (or `align sft`)."),
    ],
    export: Annotated[
        Path | None,
        typer.Option(
            "--export", help="The folder of `align export` (merged model and GGUF files)."
        ),
    ] = None,
    eval_report: Annotated[
        Path | None,
        typer.Option(
            "--eval-report",
            help="report.json from `align eval`; the gate verdict is recomputed from it "
            "(without one, publishing is refused unless --force).",
        ),
    ] = None,
    thresholds: Annotated[
        Path, typer.Option("--thresholds", help="Gate thresholds (TOML), as for `align gate`.")
    ] = Path("configs/gate.toml"),
    baseline: Annotated[
        Path | None,
        typer.Option(
            "--baseline",
            help="A baseline report.json (e.g. the SFT adapter's): before/after table and "
            "regression checks.",
        ),
    ] = None,
    pairs: Annotated[
        Path, typer.Option("--pairs", help="Pair folder to publish as a dataset.")
    ] = Path("preference_data/pairs"),
    dataset: Annotated[
        bool,
        typer.Option("--dataset/--no-dataset", help="Also publish the pairs as a Hub dataset."),
    ] = True,
    dataset_repo_id: Annotated[
        str | None,
        typer.Option("--dataset-repo-id", help="The dataset repo (default: <repo-id>-pairs)."),
    ] = None,
    private: Annotated[bool, typer.Option("--private", help="Create the repos private.")] = False,
    revision: Annotated[
        str, typer.Option("--revision", help="Branch to commit to (created when missing).")
    ] = "main",
    license: Annotated[
        str | None,
        typer.Option(
            "--license",
            help="License id for the card (default: the base model's; apache-2.0 for the toy).",
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Print every file, its size and both cards; upload nothing."
        ),
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Publish although the gate verdict fails or is missing (recorded in the card).",
        ),
    ] = False,
    endpoint: Annotated[
        str | None,
        typer.Option(
            "--endpoint", help="Hub endpoint (default: HF_ENDPOINT, else huggingface.co)."
        ),
    ] = None,
    retries: Annotated[
        int, typer.Option("--retries", help="Attempts per repo on network or server errors.")
    ] = 3,
):
    """Publish the adapter, the merged model and the GGUF files to the Hugging Face Hub with a
    model card built from the run, and the preference pairs as a dataset. Token: HF_TOKEN or
    `hf auth login`."""
    from align.hub.plan import PublishOptions

    options = PublishOptions(
        repo_id=repo_id,
        adapter=adapter,
        export=export,
        eval_report=eval_report,
        thresholds=thresholds,
        baseline=baseline,
        pairs=pairs,
        dataset=dataset,
        dataset_repo_id=dataset_repo_id,
        private=private,
        revision=revision,
        license=license,
        force=force,
        dry_run=dry_run,
        endpoint=endpoint,
        retries=retries,
    )
    raise typer.Exit(run_publish(options))


def _out(text: str) -> None:
    typer.echo(text)


def _err(text: str) -> None:
    typer.echo(text, err=True)


def run_publish(
    options,
    say: Callable[[str], None] = _out,
    warn: Callable[[str], None] = _err,
) -> int:
    """Plan, check the rails, upload; the exit status. ``say`` gets the results and the dry
    run, ``warn`` errors and progress."""
    from align.hub import upload
    from align.hub.artifacts import PublishError
    from align.hub.plan import build_plan, plan_text

    try:
        plan = build_plan(options)
    except PublishError as error:
        warn(f"error: {error}")
        return EXIT_BAD_INPUT
    token, source = upload.find_token()
    if options.dry_run:
        say("dry run: nothing is uploaded")
        say(plan_text(plan, upload.token_note(token, source)))
        if plan.refused:
            warn(refusal(plan))
            return EXIT_REFUSED
        return 0
    if token is None:
        warn(f"error: no Hugging Face token found; {upload.LOGIN_HELP}")
        return EXIT_BAD_INPUT
    if plan.refused:
        warn(refusal(plan))
        return EXIT_REFUSED
    if not plan.verdict.passed:
        warn(
            "warning: publishing with --force over the safety rails (the card says so): "
            + "; ".join(plan.verdict.reasons())
        )
    return upload_plan(plan, token, upload.hub_endpoint(options.endpoint), say, warn)


def refusal(plan) -> str:
    lines = [f"publish refused for {plan.options.repo_id}:"]
    lines += [f"  - {reason}" for reason in plan.verdict.reasons()]
    lines.append("  fix the cause, or give --force to publish anyway (the card will say so)")
    return "\n".join(lines)


def upload_plan(plan, token: str, endpoint: str, say, warn) -> int:
    """The model repo, then the dataset; reports exactly what was published."""
    from align.hub import upload
    from align.hub.artifacts import PublishError

    targets = [("model", plan.options.repo_id, upload.publish_model)]
    if plan.dataset_card is not None:
        targets.append(("dataset", plan.options.dataset_repo(), upload.publish_dataset))
    published, status = [], 0
    for _, _, publish in targets:
        try:
            published.append(publish(plan, token, endpoint, warn))
        except (upload.AuthError, PublishError) as error:
            warn(f"error: {error}")
            status = EXIT_BAD_INPUT
        except upload.UploadError as error:
            warn(f"error: {error}")
            status = EXIT_UPLOAD_FAILED
        if status:
            break
    for item in published:
        say(f"published {item.repo_type} repo {item.repo_id}: {item.commit_url}")
    done = {(item.repo_type, item.repo_id) for item in published}
    missing = [
        f"{kind} repo {repo_id}" for kind, repo_id, _ in targets if (kind, repo_id) not in done
    ]
    if missing:
        warn("not published: " + ", ".join(missing))
    return status


def publish_dry_run(
    adapter: str | Path,
    export: str | Path | None,
    eval_report: str | Path | None,
    repo_id: str = "your-name/pediatric-triage-dpo",
    baseline: str | Path | None = None,
    pairs: str | Path = "preference_data/pairs",
    thresholds: str | Path = "configs/gate.toml",
    say: Callable[[str], None] = print,
) -> int:
    """`align demo`'s last step: the publish dry run on the demo's folders. Prints the plan
    and both cards through ``say``; returns the exit status (1: the rails would refuse, which
    the toy model's gate verdict normally does)."""
    from align.hub.plan import PublishOptions

    options = PublishOptions(
        repo_id=repo_id,
        adapter=Path(adapter),
        export=Path(export) if export else None,
        eval_report=Path(eval_report) if eval_report else None,
        thresholds=Path(thresholds),
        baseline=Path(baseline) if baseline else None,
        pairs=Path(pairs),
        dry_run=True,
    )
    return run_publish(options, say=say, warn=say)
