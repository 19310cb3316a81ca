"""What GitHub answers, as small frozen values holding only the fields Greenlight reads.

Each `from_json` reads leniently: GitHub adds fields over time and sends `null` where its
description says otherwise (a deleted account as `user`, a deleted fork as `head.repo`),
so a missing or null field takes a neutral value instead of failing. Nothing outside
`bot.github` indexes a response by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Json = Mapping[str, Any]


def _object(data: Json, key: str) -> Json:
    value = data.get(key)
    return value if isinstance(value, Mapping) else {}


def _text(data: Json, key: str, default: str = "") -> str:
    value = data.get(key)
    return default if value is None else str(value)


def _optional_text(data: Json, key: str) -> str | None:
    value = data.get(key)
    return None if value is None else str(value)


@dataclass(frozen=True)
class App:
    """`GET /app`: the app itself."""

    slug: str

    @classmethod
    def from_json(cls, data: Json) -> App:
        return cls(slug=_text(data, "slug"))


@dataclass(frozen=True)
class Repository:
    """`GET /repos/{owner}/{repo}`."""

    full_name: str
    default_branch: str

    @classmethod
    def from_json(cls, data: Json) -> Repository:
        return cls(
            full_name=_text(data, "full_name"),
            default_branch=_text(data, "default_branch") or "main",
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
            status=_text(data, "status"),
            commits=tuple(
                _text(commit, "sha") for commit in commits if isinstance(commit, Mapping)
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

    @classmethod
    def from_json(cls, data: Json) -> CheckRun:
        return cls(
            id=int(data.get("id") or 0),
            name=_text(data, "name"),
            status=_text(data, "status") or "queued",
            conclusion=_optional_text(data, "conclusion"),
            app_slug=_optional_text(_object(data, "app"), "slug"),
        )


@dataclass(frozen=True)
class CommitStatus:
    """One context of a commit's combined status."""

    context: str
    state: str  # error | failure | pending | success

    @classmethod
    def from_json(cls, data: Json) -> CommitStatus:
        return cls(context=_text(data, "context"), state=_text(data, "state"))


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
            author=_optional_text(_object(data, "user"), "login"),
            state=_text(data, "state"),
            submitted_at=_text(data, "submitted_at"),
            commit_id=_optional_text(data, "commit_id"),
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

    @classmethod
    def from_json(cls, data: Json) -> PullRequest:
        head, base = _object(data, "head"), _object(data, "base")
        mergeable = data.get("mergeable")
        labels = data.get("labels") or []
        return cls(
            number=int(data.get("number") or 0),
            title=_text(data, "title"),
            author=_text(_object(data, "user"), "login"),
            state=_text(data, "state") or "open",
            merged=bool(data.get("merged")),
            merged_at=_optional_text(data, "merged_at"),
            merge_commit_sha=_optional_text(data, "merge_commit_sha"),
            draft=bool(data.get("draft")),
            mergeable=mergeable if isinstance(mergeable, bool) else None,
            mergeable_state=_text(data, "mergeable_state") or "unknown",
            labels=tuple(_text(label, "name") for label in labels if isinstance(label, Mapping)),
            head_sha=_text(head, "sha"),
            head_ref=_text(head, "ref"),
            head_repo=_optional_text(_object(head, "repo"), "full_name"),
            base_ref=_text(base, "ref"),
            base_repo=_optional_text(_object(base, "repo"), "full_name"),
            html_url=_text(data, "html_url"),
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
            author=_text(_object(data, "user"), "login"),
            body=_text(data, "body"),
        )
