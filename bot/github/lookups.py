"""Finding a write that GitHub may have applied although its answer was an error.

A 5xx or a dropped connection after a POST does not say whether the object was made;
sending it again blindly makes a second check run, comment or deployment. Each write
that creates something carries what finds it again, and these pure functions pick it
out of what GitHub lists: a check run by the app and its `external_id`, a comment by a
hidden marker unique to the request, a deployment by its payload, a deployment status by
its state and description.
https://docs.github.com/en/rest/using-the-rest-api/troubleshooting-the-rest-api
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from bot.github.models import CheckRun, Comment

# GitHub refuses a comment body over 65,536 characters.
# https://docs.github.com/en/rest/issues/comments#create-an-issue-comment
COMMENT_LIMIT = 65_536


def request_marker() -> str:
    """A hidden marker naming one comment request, to find the comment again."""
    return f"<!-- greenlight-request: {uuid.uuid4().hex} -->"


def with_marker(body: str, marker: str) -> str:
    """`body` with `marker` at its end, shortened where both would not fit GitHub's limit."""
    room = COMMENT_LIMIT - len(marker) - 1
    if len(body) <= room:
        return f"{body}\n{marker}"
    # Keep a hidden marker the body ends with (`/status` finds its reply by it).
    head, _, last = body.rpartition("\n")
    tail = f"\n{last}" if last.startswith("<!--") else ""
    return f"{head[: room - len(tail)] if tail else body[:room]}{tail}\n{marker}"


def check_run_with(
    check_runs: Sequence[CheckRun], *, external_id: str, app_id: str | None
) -> CheckRun | None:
    """The app's check run that carries `external_id`, if one was made."""
    for check_run in check_runs:
        if check_run.external_id == external_id and (app_id is None or check_run.app_id == app_id):
            return check_run
    return None


def comment_with(comments: Sequence[Comment], marker: str) -> Comment | None:
    """The comment that carries `marker`, if one was posted."""
    return next((comment for comment in comments if marker in comment.body), None)


def deployment_with(deployments: Sequence[Any], payload: Mapping[str, Any]) -> int | None:
    """The id of the deployment made with exactly `payload`, if one was made."""
    for deployment in deployments:
        if isinstance(deployment, Mapping) and deployment.get("payload") == payload:
            return int(deployment["id"])
    return None


def has_status(statuses: Sequence[Any], body: Mapping[str, Any]) -> bool:
    """Whether the newest status (GitHub lists newest first) is the one `body` asked for."""
    newest = statuses[0] if statuses else None
    return (
        isinstance(newest, Mapping)
        and newest.get("state") == body.get("state")
        and (newest.get("description") or "") == (body.get("description") or "")
    )
