"""The uploads: find the token, commit the model repo in one commit, push the pairs as a
dataset; retry on network and server errors, then stop with a clear error.

Resumable: before its commit the client uploads every large file as an LFS object (as Xet
chunks when ``hf_xet`` is installed, which the Hub prefers). The Hub keeps what arrived even
when the commit never happens, and the next attempt (a retry here, or running the same command
again) skips every object it already holds. The commit itself is atomic: a repo gets every
file of the plan or none of them, so nothing is reported as published that was not.

The token comes from ``HF_TOKEN`` or the login cache (``hf auth login``); it is passed to the
client and never printed: every error message shown is scrubbed of it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from align.hub.artifacts import PublishError
from align.hub.plan import PublishPlan

DEFAULT_ENDPOINT = "https://huggingface.co"
LOGIN_HELP = (
    "log in with `hf auth login` (it stores a token in the login cache), or set HF_TOKEN to "
    "a token with write access (https://huggingface.co/settings/tokens)"
)
PAIR_COLUMNS = ("prompt", "chosen", "rejected", "gold_id", "perturbation", "detail", "split")
PAIR_EXTRA_COLUMNS = ("seed", "generator")


class UploadError(RuntimeError):
    """The Hub could not be reached or kept failing (exit 3); the message says what is not
    published."""


class AuthError(RuntimeError):
    """No token, or the Hub refused it (exit 2); the message says how to log in."""


@dataclass(frozen=True)
class Published:
    repo_type: str  # "model" or "dataset"
    repo_id: str
    commit_url: str


def hub_endpoint(option: str | None) -> str:
    """--endpoint, else HF_ENDPOINT, else the public Hub."""
    return (option or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def find_token() -> tuple[str | None, str]:
    """The token and where it came from (HF_TOKEN or the login cache); (None, "") if none."""
    from huggingface_hub import get_token

    token = get_token()
    if token is None:
        return None, ""
    return token, "HF_TOKEN" if os.environ.get("HF_TOKEN") else "the login cache"


def token_note(token: str | None, source: str) -> str:
    """The dry run's line about the token: where it would come from, never what it is."""
    if token is None:
        return f"none found: a real publish would stop here; {LOGIN_HELP}"
    return f"found in {source} (not shown)"


# --- errors and retries -------------------------------------------------------------------


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def classify(error: BaseException) -> str:
    """ "auth" (token missing or refused), "transient" (network, 5xx, 429: retry) or "fatal"."""
    import httpx
    from huggingface_hub.errors import HfHubHTTPError

    for cause in _chain(error):
        response = getattr(cause, "response", None)
        if isinstance(cause, HfHubHTTPError) and response is not None:
            status = response.status_code
            if status in (401, 403):
                return "auth"
            return "transient" if status in (408, 409, 429) or status >= 500 else "fatal"
        if isinstance(cause, httpx.TransportError | ConnectionError | TimeoutError):
            return "transient"
    return "fatal"


def describe(error: BaseException, token: str | None) -> str:
    """The error and its causes on one line, without the token. An HTTP error is told by its
    status, request and the server's message (the client's own text repeats itself)."""
    from huggingface_hub.errors import HfHubHTTPError

    parts: list[str] = []
    for cause in _chain(error):
        response = getattr(cause, "response", None)
        if isinstance(cause, HfHubHTTPError) and response is not None:
            text = f"HTTP {response.status_code} on {response.request.method} "
            text += response.request.url.path
            if cause.server_message:
                text += f": {' '.join(cause.server_message.split())}"
            parts.append(text)
            break
        text = " ".join(str(cause).split()).rstrip(".") or type(cause).__name__
        if text not in parts:
            parts.append(text)
    message = " <- ".join(parts[:3])[:800]
    return message.replace(token, "***") if token else message


def with_retries(
    action: Callable[[], Published],
    repo_id: str,
    attempts: int,
    wait: float,
    token: str,
    say: Callable[[str], None],
) -> Published:
    """Run ``action`` up to ``attempts`` times while it fails on network or server errors."""
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except PublishError:
            raise
        except Exception as error:  # the client raises many types; classify() sorts them
            kind, reason = classify(error), describe(error, token)
            if kind == "auth":
                raise AuthError(
                    f"the Hub refused the token for {repo_id} ({reason}); check that it has "
                    f"write access to {repo_id.split('/')[0]!r}, or {LOGIN_HELP}"
                ) from None
            if kind == "fatal" or attempt == attempts:
                tries = f"after {attempt} attempt{'s' if attempt > 1 else ''}"
                raise UploadError(
                    f"upload to {repo_id} failed {tries}: {reason}. Nothing was committed to "
                    f"{repo_id}; files that reached the Hub are kept and skipped when the same "
                    "command runs again"
                ) from None
            delay = wait * 2 ** (attempt - 1)
            say(
                f"{repo_id}: attempt {attempt} of {attempts} failed ({reason}); retrying in "
                f"{delay:g} s"
            )
            time.sleep(delay)
    raise AssertionError("unreachable")


# --- the model repo -----------------------------------------------------------------------


def hub_api(token: str, endpoint: str):
    from huggingface_hub import HfApi

    return HfApi(endpoint=endpoint, token=token)


def ensure_repo(api, repo_id: str, repo_type: str, private: bool, revision: str) -> None:
    """Create the repo (an existing one is kept as it is) and the branch when not main.
    --private never publishes into an existing public repo: the Hub would keep it public."""
    api.create_repo(repo_id, repo_type=repo_type, private=private or None, exist_ok=True)
    if private and not api.repo_info(repo_id, repo_type=repo_type).private:
        raise PublishError(
            f"--private: the {repo_type} repo {repo_id} already exists and is public; make it "
            "private on the Hub first, or choose another repo id"
        )
    if revision != "main":
        api.create_branch(repo_id, repo_type=repo_type, branch=revision, exist_ok=True)


def commit_message(plan: PublishPlan) -> tuple[str, str]:
    run = plan.artifacts.run
    summary = f"align publish: {run.folder.name}"
    description = (
        f"Published with `align publish` from the `align {run.command}` run {run.folder.name}."
    )
    if plan.options.force and not plan.verdict.passed:
        description += " Published with --force over the safety rails: " + "; ".join(
            plan.verdict.reasons()
        )
    return summary, description


def publish_model(
    plan: PublishPlan, token: str, endpoint: str, say: Callable[[str], None]
) -> Published:
    """Every file of the plan in one commit to the model repo."""
    from huggingface_hub import CommitOperationAdd

    options = plan.options
    api = hub_api(token, endpoint)
    summary, description = commit_message(plan)

    def attempt() -> Published:
        ensure_repo(api, options.repo_id, "model", options.private, options.revision)
        # Fresh operations each attempt: the client marks them as it uploads.
        operations = [
            CommitOperationAdd(
                f.path_in_repo, f.content if f.content is not None else str(f.source)
            )
            for f in plan.model_files
        ]
        info = api.create_commit(
            options.repo_id,
            operations,
            commit_message=summary,
            commit_description=description,
            revision=options.revision,
        )
        return Published("model", options.repo_id, info.commit_url)

    say(f"uploading {len(plan.model_files)} files to {options.repo_id} ...")
    return with_retries(attempt, options.repo_id, options.retries, options.retry_wait, token, say)


# --- the dataset repo ---------------------------------------------------------------------


def pair_rows(records: list[dict]) -> list[dict]:
    """Pair records as dataset rows. ``detail`` becomes a JSON string: its keys and value
    types differ between perturbation types, which one Arrow column cannot hold."""
    rows = []
    for record in records:
        row = {name: record[name] for name in PAIR_COLUMNS}
        row["detail"] = json.dumps(record["detail"], sort_keys=True, ensure_ascii=False)
        row.update({name: record.get(name) for name in PAIR_EXTRA_COLUMNS})
        rows.append(row)
    return rows


def pairs_dataset(plan: PublishPlan):
    from datasets import Dataset, DatasetDict

    splits = plan.artifacts.pairs.splits
    return DatasetDict(
        {
            split: Dataset.from_list(pair_rows(records))
            for split, records in splits.items()
            if records
        }
    )


@contextmanager
def datasets_endpoint(endpoint: str):
    """``datasets`` reads HF_ENDPOINT once, at import; point its push at ``endpoint``."""
    import datasets.config

    before = datasets.config.HF_ENDPOINT
    datasets.config.HF_ENDPOINT = endpoint
    try:
        yield
    finally:
        datasets.config.HF_ENDPOINT = before


def publish_dataset(
    plan: PublishPlan, token: str, endpoint: str, say: Callable[[str], None]
) -> Published:
    """The dataset card, then ``push_to_hub``, which keeps the card and adds its own
    metadata (dataset_info, configs) to it: two commits, the second holding the data."""
    from huggingface_hub import CommitOperationAdd

    options = plan.options
    repo_id = options.dataset_repo()
    api = hub_api(token, endpoint)
    dataset = pairs_dataset(plan)
    summary, description = commit_message(plan)

    def attempt() -> Published:
        ensure_repo(api, repo_id, "dataset", options.private, options.revision)
        card = CommitOperationAdd("README.md", plan.dataset_card.encode("utf-8"))
        api.create_commit(
            repo_id,
            [card],
            commit_message=f"{summary} (dataset card)",
            repo_type="dataset",
            revision=options.revision,
        )
        with datasets_endpoint(endpoint):
            info = dataset.push_to_hub(
                repo_id,
                private=options.private,
                token=token,
                revision=None if options.revision == "main" else options.revision,
                commit_message=f"{summary} (pairs)",
                commit_description=description,
            )
        return Published("dataset", repo_id, info.commit_url)

    say(f"pushing the pairs to {repo_id} ...")
    return with_retries(attempt, repo_id, options.retries, options.retry_wait, token, say)
