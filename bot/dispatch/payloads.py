"""The payload fields handlers use, read once into small frozen values.

Payloads are read leniently and only for the fields used: GitHub's own example payloads
often miss fields its current schemas require, repository webhooks carry no
`installation`, and a deleted fork or account arrives as `null`. A handler never indexes
a payload by hand; it asks this module for the value it needs.
https://docs.github.com/en/webhooks/webhook-events-and-payloads
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.dispatch.events import WebhookEvent

Json = Mapping[str, Any]


def _object(data: Json, key: str) -> Json:
    value = data.get(key)
    return value if isinstance(value, Mapping) else {}


def _objects(data: Json, key: str) -> list[Json]:
    value = data.get(key)
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _text(data: Json, key: str, default: str = "") -> str:
    value = data.get(key)
    return default if value is None else str(value)


def _optional_text(data: Json, key: str) -> str | None:
    value = data.get(key)
    return None if value is None else str(value)


def _number(data: Json, key: str) -> int:
    value = data.get(key)
    return int(value) if isinstance(value, int | str) and str(value).isdigit() else 0


@dataclass(frozen=True)
class Repository:
    """The event's `repository`."""

    id: int
    full_name: str
    clone_url: str
    default_branch: str

    @classmethod
    def of(cls, event: WebhookEvent) -> Repository:
        return cls.from_json(_object(event.payload, "repository"))

    @classmethod
    def from_json(cls, data: Json) -> Repository:
        return cls(
            id=_number(data, "id"),
            full_name=_text(data, "full_name"),
            clone_url=_text(data, "clone_url"),
            # A push payload's repository also names it `master_branch`.
            default_branch=_text(data, "default_branch") or _text(data, "master_branch") or "main",
        )


@dataclass(frozen=True)
class PullRequest:
    """`pull_request` of a `pull_request` or `pull_request_review` event."""

    number: int
    author: str
    author_association: str
    head_sha: str
    head_ref: str
    # The head repository, or the base repository when the fork was deleted.
    head_repo: Repository
    base_sha: str
    base_ref: str
    base_repo: Repository

    @classmethod
    def of(cls, event: WebhookEvent) -> PullRequest:
        data = _object(event.payload, "pull_request")
        head, base = _object(data, "head"), _object(data, "base")
        base_repo = Repository.from_json(_object(base, "repo"))
        head_repo = _object(head, "repo")
        return cls(
            number=_number(data, "number"),
            author=_text(_object(data, "user"), "login"),
            author_association=_text(data, "author_association") or "NONE",
            head_sha=_text(head, "sha"),
            head_ref=_text(head, "ref"),
            head_repo=Repository.from_json(head_repo) if head_repo else base_repo,
            base_sha=_text(base, "sha"),
            base_ref=_text(base, "ref"),
            base_repo=base_repo,
        )


@dataclass(frozen=True)
class Push:
    """A `push` event."""

    ref: str  # refs/heads/… or refs/tags/…
    before: str
    after: str
    deleted: bool
    head_message: str | None
    pusher: str

    @classmethod
    def of(cls, event: WebhookEvent) -> Push:
        payload = event.payload
        head_commit = _object(payload, "head_commit")
        return cls(
            ref=_text(payload, "ref"),
            before=_text(payload, "before"),
            after=_text(payload, "after"),
            deleted=bool(payload.get("deleted")),
            head_message=_optional_text(head_commit, "message"),
            pusher=_text(_object(payload, "pusher"), "name"),
        )


@dataclass(frozen=True)
class MergeGroup:
    """`merge_group` of a merge queue's `checks_requested`."""

    head_sha: str
    head_ref: str
    base_sha: str
    base_ref: str
    head_message: str | None

    @classmethod
    def of(cls, event: WebhookEvent) -> MergeGroup:
        group = _object(event.payload, "merge_group")
        head_commit = _object(group, "head_commit")
        return cls(
            head_sha=_text(group, "head_sha"),
            head_ref=_text(group, "head_ref"),
            base_sha=_text(group, "base_sha"),
            base_ref=_text(group, "base_ref"),
            head_message=_optional_text(head_commit, "message"),
        )


@dataclass(frozen=True)
class Checked:
    """The `check_run` or `check_suite` of a check event, whichever it carries."""

    id: int
    head_sha: str
    external_id: str  # check runs only; `run:<id>` or `job:<id>` on Greenlight's own
    app_id: str  # as text, the way settings hold the app's own id
    app_slug: str
    output_title: str
    output_summary: str

    def is_from(self, app_id: str | None) -> bool:
        """True when the app with this id reported it: decided by id, which never changes,
        not by slug, which the app's owner can rename."""
        return app_id is not None and self.app_id == app_id

    @classmethod
    def of(cls, event: WebhookEvent) -> Checked:
        payload = event.payload
        data = _object(payload, "check_run") or _object(payload, "check_suite")
        app, output = _object(data, "app"), _object(data, "output")
        return cls(
            id=_number(data, "id"),
            head_sha=_text(data, "head_sha"),
            external_id=_text(data, "external_id"),
            app_id=_text(app, "id"),
            app_slug=_text(app, "slug"),
            output_title=_text(output, "title"),
            output_summary=_text(output, "summary"),
        )


def requested_action(event: WebhookEvent) -> str:
    """The identifier of the button pressed on a check run."""
    return _text(_object(event.payload, "requested_action"), "identifier")


def status_sha(event: WebhookEvent) -> str:
    """The commit a `status` event is about."""
    return _text(event.payload, "sha")


@dataclass(frozen=True)
class IssueComment:
    """An `issue_comment` event: the comment, and the issue or pull request it is on."""

    comment_id: int
    body: str
    number: int
    on_pull_request: bool
    issue_author: str
    sender_type: str  # User | Bot | Organization

    @classmethod
    def of(cls, event: WebhookEvent) -> IssueComment:
        payload = event.payload
        issue, comment = _object(payload, "issue"), _object(payload, "comment")
        return cls(
            comment_id=_number(comment, "id"),
            body=_text(comment, "body"),
            number=_number(issue, "number"),
            on_pull_request=bool(issue.get("pull_request")),
            issue_author=_text(_object(issue, "user"), "login"),
            sender_type=_text(_object(payload, "sender"), "type"),
        )


@dataclass(frozen=True)
class InstalledRepository:
    id: int
    full_name: str
    private: bool


@dataclass(frozen=True)
class Installation:
    """An `installation` or `installation_repositories` event."""

    id: int
    account: str
    repositories: tuple[InstalledRepository, ...]  # `repositories` or `repositories_added`
    removed: tuple[str, ...]  # full names, from `repositories_removed`

    @classmethod
    def of(cls, event: WebhookEvent) -> Installation:
        payload = event.payload
        installation = _object(payload, "installation")
        listed = _objects(payload, "repositories") or _objects(payload, "repositories_added")
        return cls(
            id=_number(installation, "id"),
            account=_text(_object(installation, "account"), "login"),
            repositories=tuple(
                InstalledRepository(_number(r, "id"), _text(r, "full_name"), bool(r.get("private")))
                for r in listed
            ),
            removed=tuple(_text(r, "full_name") for r in _objects(payload, "repositories_removed")),
        )
