"""The payload fields handlers use, read once into small frozen values.

Payloads are read leniently and only for the fields used: GitHub's own example payloads
often miss fields its current schemas require, repository webhooks carry no
`installation`, and a deleted fork or account arrives as `null`. A handler never indexes
a payload by hand; it asks this module for the value it needs.
https://docs.github.com/en/webhooks/webhook-events-and-payloads
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.lenient import Json, number_at, object_at, objects_at, optional_text_at, text_at
from bot.dispatch.events import WebhookEvent


@dataclass(frozen=True)
class Repository:
    """The event's `repository`."""

    id: int
    full_name: str
    clone_url: str
    default_branch: str

    @classmethod
    def of(cls, event: WebhookEvent) -> Repository:
        return cls.from_json(object_at(event.payload, "repository"))

    @classmethod
    def from_json(cls, data: Json) -> Repository:
        return cls(
            id=number_at(data, "id"),
            full_name=text_at(data, "full_name"),
            clone_url=text_at(data, "clone_url"),
            # A push payload's repository also names it `master_branch`.
            default_branch=text_at(data, "default_branch")
            or text_at(data, "master_branch")
            or "main",
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
        data = object_at(event.payload, "pull_request")
        head, base = object_at(data, "head"), object_at(data, "base")
        base_repo = Repository.from_json(object_at(base, "repo"))
        head_repo = object_at(head, "repo")
        return cls(
            number=number_at(data, "number"),
            author=text_at(object_at(data, "user"), "login"),
            author_association=text_at(data, "author_association") or "NONE",
            head_sha=text_at(head, "sha"),
            head_ref=text_at(head, "ref"),
            head_repo=Repository.from_json(head_repo) if head_repo else base_repo,
            base_sha=text_at(base, "sha"),
            base_ref=text_at(base, "ref"),
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
        head_commit = object_at(payload, "head_commit")
        return cls(
            ref=text_at(payload, "ref"),
            before=text_at(payload, "before"),
            after=text_at(payload, "after"),
            deleted=bool(payload.get("deleted")),
            head_message=optional_text_at(head_commit, "message"),
            pusher=text_at(object_at(payload, "pusher"), "name"),
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
        group = object_at(event.payload, "merge_group")
        head_commit = object_at(group, "head_commit")
        return cls(
            head_sha=text_at(group, "head_sha"),
            head_ref=text_at(group, "head_ref"),
            base_sha=text_at(group, "base_sha"),
            base_ref=text_at(group, "base_ref"),
            head_message=optional_text_at(head_commit, "message"),
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
        data = object_at(payload, "check_run") or object_at(payload, "check_suite")
        app, output = object_at(data, "app"), object_at(data, "output")
        return cls(
            id=number_at(data, "id"),
            head_sha=text_at(data, "head_sha"),
            external_id=text_at(data, "external_id"),
            app_id=text_at(app, "id"),
            app_slug=text_at(app, "slug"),
            output_title=text_at(output, "title"),
            output_summary=text_at(output, "summary"),
        )


def requested_action(event: WebhookEvent) -> str:
    """The identifier of the button pressed on a check run."""
    return text_at(object_at(event.payload, "requested_action"), "identifier")


def status_sha(event: WebhookEvent) -> str:
    """The commit a `status` event is about."""
    return text_at(event.payload, "sha")


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
        issue, comment = object_at(payload, "issue"), object_at(payload, "comment")
        return cls(
            comment_id=number_at(comment, "id"),
            body=text_at(comment, "body"),
            number=number_at(issue, "number"),
            on_pull_request=bool(issue.get("pull_request")),
            issue_author=text_at(object_at(issue, "user"), "login"),
            sender_type=text_at(object_at(payload, "sender"), "type"),
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
        installation = object_at(payload, "installation")
        listed = objects_at(payload, "repositories") or objects_at(payload, "repositories_added")
        return cls(
            id=number_at(installation, "id"),
            account=text_at(object_at(installation, "account"), "login"),
            repositories=tuple(
                InstalledRepository(
                    number_at(r, "id"), text_at(r, "full_name"), bool(r.get("private"))
                )
                for r in listed
            ),
            removed=tuple(
                text_at(r, "full_name") for r in objects_at(payload, "repositories_removed")
            ),
        )
