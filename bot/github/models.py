"""What GitHub answers, as small frozen values holding only the fields Greenlight reads.

Each `from_json` reads leniently: GitHub adds fields over time and sends `null` where its
description says otherwise (a deleted account as `user`, a deleted fork as `head.repo`),
so a missing or null field takes a neutral value instead of failing. Nothing outside
`bot.github` indexes a response by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.core.lenient import Json, object_at, optional_text_at, text_at


@dataclass(frozen=True)
class App:
    """`GET /app`: the app itself."""

    slug: str

    @classmethod
    def from_json(cls, data: Json) -> App:
        return cls(slug=text_at(data, "slug"))


@dataclass(frozen=True)
class Repository:
    """`GET /repos/{owner}/{repo}`."""

    full_name: str
    default_branch: str

    @classmethod
    def from_json(cls, data: Json) -> Repository:
        return cls(
            full_name=text_at(data, "full_name"),
            default_branch=text_at(data, "default_branch") or "main",
        )


@dataclass(frozen=True)
class Comparison:
    """`GET /repos/{owner}/{repo}/compare/{base}...{head}`.

    `status` is `ahead`, `behind`, `diverged` or `identical` (head against base); `commits`
    are the SHAs of the commits head has and base lacks, oldest first.
    """

    status: str
    commits: tuple[str, ...]

    @classmethod
    def from_json(cls, data: Json) -> Comparison:
        commits = data.get("commits") or []
        return cls(
            status=text_at(data, "status"),
            commits=tuple(
                text_at(commit, "sha") for commit in commits if isinstance(commit, Mapping)
            ),
        )


@dataclass(frozen=True)
class CheckRun:
    """A check run of any app on a commit."""

    id: int
    name: str
    status: str  # queued | in_progress | completed (and newer ones GitHub may add)
    conclusion: str | None  # None until completed
    app_slug: str | None  # None for a check run whose app is gone
    app_id: str | None = None  # as text, as the app's credentials hold it
    external_id: str | None = None  # the creator's own id for it (Greenlight's: "job:12")

    @classmethod
    def from_json(cls, data: Json) -> CheckRun:
        return cls(
            id=int(data.get("id") or 0),
            name=text_at(data, "name"),
            status=text_at(data, "status") or "queued",
            conclusion=optional_text_at(data, "conclusion"),
            app_slug=optional_text_at(object_at(data, "app"), "slug"),
            app_id=optional_text_at(object_at(data, "app"), "id"),
            external_id=optional_text_at(data, "external_id") or None,
        )


@dataclass(frozen=True)
class CheckRunOutput:
    """What a check run shows: its title, summary and text (Markdown)."""

    title: str
    summary: str
    text: str | None

    @classmethod
    def from_json(cls, data: Json) -> CheckRunOutput:
        output = object_at(data, "output")
        return cls(
            title=text_at(output, "title"),
            summary=text_at(output, "summary"),
            text=optional_text_at(output, "text") or None,
        )


@dataclass(frozen=True)
class CommitStatus:
    """One context of a commit's combined status."""

    context: str
    state: str  # error | failure | pending | success

    @classmethod
    def from_json(cls, data: Json) -> CommitStatus:
        return cls(context=text_at(data, "context"), state=text_at(data, "state"))


@dataclass(frozen=True)
class Review:
    """A review of a pull request; `author` is None when the account was deleted."""

    author: str | None
    state: str  # APPROVED | CHANGES_REQUESTED | COMMENTED | DISMISSED | PENDING
    submitted_at: str  # ISO 8601; empty for a pending review
    commit_id: str | None

    @classmethod
    def from_json(cls, data: Json) -> Review:
        return cls(
            author=optional_text_at(object_at(data, "user"), "login"),
            state=text_at(data, "state"),
            submitted_at=text_at(data, "submitted_at"),
            commit_id=optional_text_at(data, "commit_id"),
        )


@dataclass(frozen=True)
class PullRequest:
    """A pull request, from `GET …/pulls/{number}` or a list (which lacks `merged`,
    `mergeable` and `mergeable_state`: they take their neutral values)."""

    number: int
    title: str
    author: str
    state: str  # open | closed
    merged: bool
    merged_at: str | None
    merge_commit_sha: str | None
    draft: bool
    mergeable: bool | None  # None while GitHub computes it
    mergeable_state: str
    labels: tuple[str, ...]
    head_sha: str
    head_ref: str
    head_repo: str | None  # None when the fork was deleted
    base_ref: str
    base_repo: str | None
    html_url: str
    default_branch: str | None = None  # the base repository's, where the payload has it

    @classmethod
    def from_json(cls, data: Json) -> PullRequest:
        head, base = object_at(data, "head"), object_at(data, "base")
        mergeable = data.get("mergeable")
        labels = data.get("labels") or []
        return cls(
            number=int(data.get("number") or 0),
            title=text_at(data, "title"),
            author=text_at(object_at(data, "user"), "login"),
            state=text_at(data, "state") or "open",
            merged=bool(data.get("merged")),
            merged_at=optional_text_at(data, "merged_at"),
            merge_commit_sha=optional_text_at(data, "merge_commit_sha"),
            draft=bool(data.get("draft")),
            mergeable=mergeable if isinstance(mergeable, bool) else None,
            mergeable_state=text_at(data, "mergeable_state") or "unknown",
            labels=tuple(text_at(label, "name") for label in labels if isinstance(label, Mapping)),
            head_sha=text_at(head, "sha"),
            head_ref=text_at(head, "ref"),
            head_repo=optional_text_at(object_at(head, "repo"), "full_name"),
            base_ref=text_at(base, "ref"),
            base_repo=optional_text_at(object_at(base, "repo"), "full_name"),
            html_url=text_at(data, "html_url"),
            default_branch=optional_text_at(object_at(base, "repo"), "default_branch"),
        )


@dataclass(frozen=True)
class Comment:
    """A comment on an issue or pull request."""

    id: int
    author: str
    body: str

    @classmethod
    def from_json(cls, data: Json) -> Comment:
        return cls(
            id=int(data.get("id") or 0),
            author=text_at(object_at(data, "user"), "login"),
            body=text_at(data, "body"),
        )
