"""Deliveries reconciliation makes up from the state GitHub shows now.

An open pull request whose head was never built, or a default-branch tip, becomes the
`pull_request` `synchronize` or `push` delivery GitHub would have sent, handed to the same
handlers as a real one. Its id is made from the repository, the commit (and the pull
request), so the store's dedupe lets each be handled once, whichever pass or replica
makes it again.
"""

from __future__ import annotations

import json
from typing import Any

from bot.core.lenient import Json, number_at, object_at, text_at
from bot.store.records import Delivery

NULL_SHA = "0" * 40


def pull_request_delivery(
    repository: Json, pull: Json, installation_id: int, *, now: float
) -> Delivery:
    """A `pull_request` `synchronize` for the pull request's current head."""
    head_sha = text_at(object_at(pull, "head"), "sha")
    number = number_at(pull, "number")
    payload = {
        "action": "synchronize",
        "number": number,
        "pull_request": pull,
        "repository": repository,
        "installation": {"id": installation_id},
        "sender": object_at(pull, "user"),
    }
    ident = f"reconcile:{text_at(repository, 'full_name')}:pull:{number}:{head_sha}"
    return _delivery(ident, "pull_request", payload, repository, installation_id, now)


def push_delivery(repository: Json, sha: str, installation_id: int, *, now: float) -> Delivery:
    """A `push` of the default branch's tip (its message is read from git)."""
    branch = text_at(repository, "default_branch")
    payload = {
        "ref": f"refs/heads/{branch}",
        "before": NULL_SHA,
        "after": sha,
        "created": False,
        "deleted": False,
        "head_commit": None,
        "pusher": {"name": text_at(object_at(repository, "owner"), "login")},
        "repository": repository,
        "installation": {"id": installation_id},
    }
    ident = f"reconcile:{text_at(repository, 'full_name')}:push:{sha}"
    return _delivery(ident, "push", payload, repository, installation_id, now)


def _delivery(
    ident: str, event: str, payload: dict[str, Any], repository: Json, installation: int, now: float
) -> Delivery:
    return Delivery(
        id=ident,
        event=event,
        action=payload.get("action"),
        installation_id=installation,
        repo=text_at(repository, "full_name"),
        payload=json.dumps(payload),
        received_at=now,
    )
