"""Everything `decide_merge` needs, re-read from GitHub and the store each time.

Webhooks are only triggers (kodiak's lesson): the facts come fresh from GitHub, so a
missed, repeated or out-of-order delivery changes nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace

from bot.check_facts import check_facts
from bot.core.config import CONFIG_PATH, Config, MergeMethod
from bot.core.freeze import MERGE, Freeze, freeze_at
from bot.core.merge import CheckFact, MergeFacts, Review, latest_checks
from bot.core.permissions import Permission
from bot.core.replan import lacks_plan
from bot.executor.workspace import GitCache, GitError
from bot.github import models
from bot.github.client import InstallationClient
from bot.merging.access import PermissionCache
from bot.pipeline.check_runs import AGGREGATE
from bot.pipeline.jobspec import load_job
from bot.repo_config import (
    NoConfig,
    RepoConfig,
    config_from_text,
    freeze_windows,
    read_config,
    usable,
)
from bot.store import Store
from bot.store.records import PullRequestState, Run, Status

# Reviews that decide something; comments and pending reviews never need a permission.
_DECIDING_REVIEWS = frozenset({"APPROVED", "CHANGES_REQUESTED", "DISMISSED"})


@dataclass(frozen=True)
class PullRequest:
    """The few fields of GitHub's pull request the orchestration uses besides the facts."""

    repo: str
    number: int
    title: str
    author: str
    head_sha: str
    head_ref: str
    base_ref: str
    is_fork: bool
    is_open: bool
    html_url: str

    @classmethod
    def from_github(cls, repo: str, data: models.PullRequest) -> PullRequest:
        base_repo = repo if data.base_repo is None else data.base_repo
        return cls(
            repo=repo,
            number=data.number,
            title=data.title,
            author=data.author,
            head_sha=data.head_sha,
            head_ref=data.head_ref,
            base_ref=data.base_ref,
            # A deleted fork has no head repository: still a fork, never ours to delete.
            is_fork=data.head_repo is None or data.head_repo.lower() != base_repo.lower(),
            is_open=data.state == "open" and not data.merged,
            html_url=data.html_url,
        )


@dataclass(frozen=True)
class ChecksRead:
    """What the checks say, read apart from the rest: an evaluation that is already
    decided without them (`decided_before_checks`) does not read them."""

    checks: tuple[CheckFact, ...]
    required_checks: tuple[str, ...]
    freeze: Freeze | None


@dataclass(frozen=True)
class Snapshot:
    pull: PullRequest
    facts: MergeFacts  # before `with_checks`: no checks, required checks or freeze
    config: Config | None  # None when the file at the head does not parse
    state: PullRequestState

    def with_checks(self, read: ChecksRead) -> Snapshot:
        facts = replace(
            self.facts,
            checks=read.checks,
            required_checks=read.required_checks,
            freeze=read.freeze,
        )
        return replace(self, facts=facts)


async def gather(
    client: InstallationClient,
    store: Store,
    permissions: PermissionCache,
    pull: PullRequest,
    data: models.PullRequest,
    *,
    now: float,
    cache: GitCache | None = None,
) -> Snapshot | None:
    """The snapshot of an open pull request at `now`, every fact read at once (`/status`);
    None for a repository without a config."""
    first, checks = await asyncio.gather(
        gather_before_checks(client, store, permissions, pull, data, cache=cache),
        read_checks(client, pull, data, now=now),
    )
    return None if first is None else first.with_checks(checks)


async def gather_before_checks(
    client: InstallationClient,
    store: Store,
    permissions: PermissionCache,
    pull: PullRequest,
    data: models.PullRequest,
    *,
    cache: GitCache | None = None,
) -> Snapshot | None:
    """The snapshot without the checks, branch rules and freeze (see `Snapshot.with_checks`);
    None for a repository without a config.

    With `cache`, the config at the head is read from the commit the pipeline fetched to
    build it, when it did: one request less per evaluation."""
    repo, sha = pull.repo, pull.head_sha
    run = await store.runs.for_sha(repo, sha)
    repo_config, reviews = await asyncio.gather(
        config_at_head(client, cache, run, repo, sha),
        client.reviews(repo, pull.number),
    )
    if isinstance(repo_config, NoConfig):
        return None
    config = usable(repo_config)
    state = await store.pull_requests.get(repo, pull.number)
    facts = MergeFacts(
        state=data.state,
        merged=data.merged,
        draft=data.draft,
        head_sha=sha,
        base_ref=pull.base_ref,
        mergeable=data.mergeable,
        mergeable_state=data.mergeable_state,
        labels=data.labels,
        reviews=await _reviews(client, permissions, repo, reviews),
        checks=(),
        required_checks=(),
        held_by=state.held_by,
        merge_requested_by=state.merge_requested_by,
        requested_method=_method(state.merge_method),
        is_fork=pull.is_fork,
        head_trusted=run is None or run.trusted or state.trusted_sha == sha,
        own_check_names=(AGGREGATE,),
        config=(config or Config()).merge,
        plan_pending=_plan_pending(run, pull.number),
        skipped_by_marker=await _skipped_by_marker(store, run),
    )
    return Snapshot(pull, facts, config, state)


async def read_checks(
    client: InstallationClient, pull: PullRequest, data: models.PullRequest, *, now: float
) -> ChecksRead:
    """The head's check runs and statuses, the base's required checks, and the freeze
    windows of the default branch's tip that hold merges at `now`."""
    repo, sha = pull.repo, pull.head_sha
    check_runs, statuses, required, windows = await asyncio.gather(
        client.check_runs_for_ref(repo, sha),
        client.commit_statuses(repo, sha),
        client.required_checks(repo, pull.base_ref),
        freeze_windows(client, repo),
    )
    return ChecksRead(check_facts(check_runs, statuses), required, freeze_at(windows, MERGE, now))


async def config_at_head(
    client: InstallationClient, cache: GitCache | None, run: Run | None, repo: str, sha: str
) -> RepoConfig:
    """The config at `sha`: from the git cache when it holds the commit (it never fetches:
    that would cost a token), else through the contents API. The same text either way,
    so the same config, errors included."""
    if cache is not None and run is not None:
        try:
            data = await cache.read_cached_file(run.clone_url, sha, CONFIG_PATH)
        except GitError:
            pass  # not fetched (yet), or git failed: the API answers
        else:
            return config_from_text(None if data is None else data.decode("utf-8", "replace"))
    return await read_config(client, repo, sha)


def _plan_pending(run: Run | None, number: int) -> bool:
    """Whether the head's run (planned, trusted) lacks this pull request's plan."""
    if run is None or not run.trusted:
        return False  # not built yet, or held for /ok-to-test: said otherwise
    return lacks_plan(run.plans, number)


async def _skipped_by_marker(store: Store, run: Run | None) -> tuple[str, ...]:
    if run is None:
        return ()
    return tuple(
        job.name
        for job in await store.runs.jobs(run.id)
        if job.status == Status.COMPLETED and load_job(job.spec).skipped_by_marker
    )


def fingerprint(facts: MergeFacts) -> str:
    """What a merge attempt depended on: a refused merge is retried only when it changes.

    `mergeable_state` is left out on purpose: GitHub recomputes it lazily after a refusal,
    and that alone must not start another attempt.
    """
    parts = (
        facts.head_sha,
        sorted(label.lower() for label in facts.labels),
        sorted((r.reviewer.lower(), r.state, r.submitted_at) for r in facts.reviews),
        sorted(
            (c.name, c.app or "", c.status, c.conclusion or "", c.is_status)
            for c in latest_checks(facts.checks)
        ),
        facts.required_checks,
        facts.held_by,
        facts.merge_requested_by,
        facts.requested_method,
        facts.draft,
        facts.config,
    )
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:16]
    return f"{facts.head_sha}:{digest}"


async def _reviews(
    client: InstallationClient,
    permissions: PermissionCache,
    repo: str,
    reviews: Sequence[models.Review],
) -> tuple[Review, ...]:
    deciding = [r for r in reviews if r.state in _DECIDING_REVIEWS and r.author]
    logins = sorted({str(r.author) for r in deciding})
    levels = await asyncio.gather(
        *(permissions.permission(client, repo, login) for login in logins)
    )
    can_write = {
        login.lower()
        for login, level in zip(logins, levels, strict=True)
        if level >= Permission.WRITE
    }
    return tuple(
        Review(
            reviewer=str(r.author),
            state=r.state,
            submitted_at=r.submitted_at,
            reviewer_can_write=str(r.author).lower() in can_write,
            commit_id=r.commit_id,
        )
        for r in deciding
    )


def _method(name: str | None) -> MergeMethod | None:
    try:
        return MergeMethod(name) if name else None
    except ValueError:
        return None
