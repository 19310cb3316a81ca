"""The fake's state of the world: plain dataclasses tests can read and assert on."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.fakes.gitrepo import GitRepo

Json = Any

# A check run conclusion that lets a required check pass, as GitHub counts it.
PASSING_CONCLUSIONS = frozenset({"success", "neutral", "skipped"})
# Role → the legacy ``permission`` value GitHub reports beside ``role_name``.
ROLE_PERMISSION = {
    "admin": "admin",
    "maintain": "write",
    "write": "write",
    "triage": "read",
    "read": "read",
    "none": "none",
}


def iso(moment: datetime) -> str:
    """GitHub's timestamp format."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class User:
    """A GitHub account (``type`` User, Organization or Bot)."""

    login: str
    id: int
    type: str = "User"


@dataclass
class App:
    """A GitHub App; its bot user acts for it through installation tokens."""

    id: int
    slug: str
    name: str
    owner: User
    bot: User
    client_id: str
    public_key_pem: bytes | None = None
    webhook_secret: str | None = None
    events: list[str] = field(default_factory=list)
    permissions: dict[str, str] = field(default_factory=dict)


@dataclass
class Installation:
    """An app installed on an account, for all or selected repositories."""

    id: int
    app_id: int
    account: User
    repositories: list[str] | None  # full names; None = all repositories of the account
    suspended_at: str | None = None
    created_at: str = ""


@dataclass
class Token:
    """An installation access token."""

    token: str
    installation_id: int
    expires_at: datetime
    repositories: list[str] | None  # None = every repository of the installation
    permissions: dict[str, str] = field(default_factory=dict)  # what it may do there


@dataclass
class RequiredChecks:
    """Required status checks of a branch (branch protection or a ruleset)."""

    contexts: list[str]
    strict: bool = False


@dataclass
class Repo:
    """A repository, backed by a real bare git repository."""

    id: int
    owner: User
    name: str
    git: GitRepo
    default_branch: str = "main"
    private: bool = False
    fork_of: str | None = None
    created_at: str = ""
    collaborators: dict[str, str] = field(default_factory=dict)  # login → role
    protection: dict[str, RequiredChecks] = field(default_factory=dict)  # branch → checks
    rulesets: dict[str, RequiredChecks] = field(default_factory=dict)  # branch → checks
    deleted_branches: list[str] = field(default_factory=list)

    @property
    def full_name(self) -> str:
        """``owner/name``."""
        return f"{self.owner.login}/{self.name}"

    @property
    def clone_url(self) -> str:
        """The bare repository's path: git clones it like any URL."""
        return str(self.git.path)


@dataclass
class PullRequest:
    """A pull request; ``head_repo`` differs from ``repo`` for a fork."""

    id: int
    number: int
    repo: str
    head_repo: str
    head_ref: str
    head_sha: str
    base_ref: str
    title: str
    user: User
    body: str | None = None
    state: str = "open"
    draft: bool = False
    merged: bool = False
    merged_at: str | None = None
    merged_by: User | None = None
    merge_commit_sha: str | None = None
    closed_at: str | None = None
    labels: list[str] = field(default_factory=list)
    maintainer_can_modify: bool = False
    created_at: str = ""
    updated_at: str = ""


@dataclass
class Review:
    """A submitted review (state APPROVED, CHANGES_REQUESTED, COMMENTED or DISMISSED)."""

    id: int
    repo: str
    pull_number: int
    user: User
    state: str
    commit_id: str
    body: str = ""
    submitted_at: str = ""


@dataclass
class CheckSuite:
    """One app's suite of check runs on one commit."""

    id: int
    repo: str
    head_sha: str
    head_branch: str | None
    app_id: int
    created_at: str = ""
    updated_at: str = ""


@dataclass
class CheckRun:
    """A check run; ``output`` holds title, summary, text; annotations accumulate."""

    id: int
    repo: str
    head_sha: str
    name: str
    app_id: int
    suite_id: int
    status: str = "queued"
    conclusion: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    details_url: str | None = None
    external_id: str | None = None
    output: dict[str, str | None] = field(default_factory=dict)
    annotations: list[Json] = field(default_factory=list)
    actions: list[Json] = field(default_factory=list)


@dataclass
class CommitStatus:
    """A commit status (the older Status API)."""

    id: int
    repo: str
    sha: str
    state: str
    context: str
    creator: User
    description: str | None = None
    target_url: str | None = None
    created_at: str = ""


@dataclass
class IssueComment:
    """A comment on an issue or pull request."""

    id: int
    repo: str
    issue_number: int
    user: User
    body: str
    app_id: int | None = None
    created_at: str = ""
    updated_at: str = ""


@dataclass
class Reaction:
    """An emoji reaction on an issue comment."""

    id: int
    comment_id: int
    user: User
    content: str
    created_at: str = ""


@dataclass
class Deployment:
    """A deployment of a commit to an environment."""

    id: int
    repo: str
    sha: str
    ref: str
    task: str
    environment: str
    creator: User
    payload: Json = None
    description: str | None = None
    production_environment: bool = False
    transient_environment: bool = False
    created_at: str = ""
    updated_at: str = ""


@dataclass
class DeploymentStatus:
    """A state a deployment went through."""

    id: int
    deployment_id: int
    state: str
    creator: User
    description: str = ""
    environment: str = ""
    environment_url: str = ""
    log_url: str = ""
    target_url: str = ""
    created_at: str = ""


@dataclass
class World:
    """Everything the fake knows, in plain containers."""

    users: dict[str, User] = field(default_factory=dict)
    apps: dict[int, App] = field(default_factory=dict)
    installations: dict[int, Installation] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    repos: dict[str, Repo] = field(default_factory=dict)  # lower-cased full name → repo
    pulls: dict[tuple[str, int], PullRequest] = field(default_factory=dict)
    reviews: list[Review] = field(default_factory=list)
    check_suites: dict[int, CheckSuite] = field(default_factory=dict)
    check_runs: dict[int, CheckRun] = field(default_factory=dict)
    statuses: list[CommitStatus] = field(default_factory=list)
    comments: dict[int, IssueComment] = field(default_factory=dict)
    reactions: list[Reaction] = field(default_factory=list)
    deployments: dict[int, Deployment] = field(default_factory=dict)
    deployment_statuses: list[DeploymentStatus] = field(default_factory=list)
    manifest_codes: dict[str, Json] = field(default_factory=dict)
    issue_numbers: dict[str, int] = field(default_factory=dict)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1001))

    def next_id(self) -> int:
        """A fresh id (unique across every kind of object, as good as GitHub's)."""
        return next(self._ids)

    def next_number(self, repo: str) -> int:
        """The next issue/pull request number of a repository."""
        self.issue_numbers[repo] = self.issue_numbers.get(repo, 0) + 1
        return self.issue_numbers[repo]

    def user(self, login: str, kind: str = "User") -> User:
        """The account ``login``, created on first use."""
        if login not in self.users:
            self.users[login] = User(login, self.next_id(), kind)
        return self.users[login]

    def repo(self, full_name: str) -> Repo | None:
        """A repository by ``owner/name`` (case-insensitive, as on GitHub)."""
        return self.repos.get(full_name.lower())

    def pull(self, repo: str, number: int) -> PullRequest | None:
        """A pull request by repository and number."""
        return self.pulls.get((repo, number))

    def suite_runs(self, suite_id: int) -> list[CheckRun]:
        """The check runs of a suite."""
        return [run for run in self.check_runs.values() if run.suite_id == suite_id]

    def installation_for(self, full_name: str, app_id: int | None = None) -> Installation | None:
        """The installation (of ``app_id`` when given) that covers a repository."""
        owner = full_name.split("/", 1)[0].lower()
        for installation in self.installations.values():
            if app_id is not None and installation.app_id != app_id:
                continue
            if installation.account.login.lower() != owner:
                continue
            names = installation.repositories
            if names is None or full_name.lower() in {n.lower() for n in names}:
                return installation
        return None


def suite_status(runs: list[CheckRun]) -> tuple[str, str | None]:
    """A suite's (status, conclusion) from its runs, as GitHub rolls them up."""
    if not runs or all(run.status == "queued" for run in runs):
        return "queued", None
    if any(run.status != "completed" for run in runs):
        return "in_progress", None
    order = ["action_required", "timed_out", "cancelled", "failure", "stale", "success", "neutral"]
    conclusions = {run.conclusion for run in runs}
    return "completed", next((c for c in order if c in conclusions), "skipped")


def combined_state(statuses: list[CommitStatus]) -> str:
    """The combined state of the latest status per context."""
    states = {status.state for status in statuses}
    if states & {"error", "failure"}:
        return "failure"
    if not states or "pending" in states:
        return "pending"
    return "success"


def latest_per_context(statuses: list[CommitStatus]) -> list[CommitStatus]:
    """The newest status of each context, newest first."""
    latest: dict[str, CommitStatus] = {}
    for status in sorted(statuses, key=lambda s: s.id, reverse=True):
        latest.setdefault(status.context, status)
    return list(latest.values())
