"""Everything `decide_merge` needs, re-read from GitHub and the store each time.

Webhooks are only triggers (kodiak's lesson): the facts come fresh from GitHub, so a
missed, repeated or out-of-order delivery changes nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from typing import Any

from bot.core.config import CONFIG_PATH, Config, MergeMethod
from bot.core.config_parser import parse_config
from bot.core.merge import CheckFact, MergeFacts, Review, latest_checks
from bot.core.permissions import Permission
from bot.core.replan import plan_key
from bot.github.client import InstallationClient
from bot.merging.access import PermissionCache
from bot.pipeline.check_runs import AGGREGATE
from bot.pipeline.jobspec import load_job
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
    def from_github(cls, repo: str, data: dict[str, Any]) -> PullRequest:
        head, base = data["head"], data["base"]
        head_repo = (head.get("repo") or {}).get("full_name")
        base_repo = (base.get("repo") or {}).get("full_name", repo)
        return cls(
            repo=repo,
            number=int(data["number"]),
            title=str(data.get("title") or ""),
            author=str((data.get("user") or {}).get("login") or ""),
            head_sha=str(head["sha"]),
            head_ref=str(head.get("ref") or ""),
            base_ref=str(base.get("ref") or ""),
            # A deleted fork has no head repository: still a fork, never ours to delete.
            is_fork=head_repo is None or head_repo.lower() != str(base_repo).lower(),
            is_open=data.get("state") == "open" and not data.get("merged"),
            html_url=str(data.get("html_url") or ""),
        )


@dataclass(frozen=True)
class Snapshot:
    pull: PullRequest
    facts: MergeFacts
    config: Config | None  # None when the file at the head does not parse
    state: PullRequestState


class NoConfig:
    """The repository has no config file at that commit: Greenlight stays silent there."""


NO_CONFIG = NoConfig()


async def read_config(client: InstallationClient, repo: str, sha: str) -> Config | NoConfig | None:
    """The config at `sha`: NO_CONFIG without a file, None when the file does not parse."""
    text = await client.file_text(repo, CONFIG_PATH, sha)
    if text is None:
        return NO_CONFIG
    parsed = parse_config(text)
    return parsed if isinstance(parsed, Config) else None


async def gather(
    client: InstallationClient,
    store: Store,
    permissions: PermissionCache,
    pull: PullRequest,
    data: dict[str, Any],
) -> Snapshot | None:
    """The snapshot of an open pull request; None for a repository without a config."""
    repo, sha = pull.repo, pull.head_sha
    config, reviews, check_runs, status, required = await asyncio.gather(
        read_config(client, repo, sha),
        client.reviews(repo, pull.number),
        client.check_runs_for_ref(repo, sha),
        client.combined_status(repo, sha),
        client.required_checks(repo, pull.base_ref),
    )
    if isinstance(config, NoConfig):
        return None
    state = await store.pull_requests.get(repo, pull.number)
    run = await store.runs.for_sha(repo, sha)
    facts = MergeFacts(
        state=str(data.get("state") or "open"),
        merged=bool(data.get("merged")),
        draft=bool(data.get("draft")),
        head_sha=sha,
        base_ref=pull.base_ref,
        mergeable=data.get("mergeable"),
        mergeable_state=str(data.get("mergeable_state") or "unknown"),
        labels=tuple(str(label["name"]) for label in data.get("labels") or []),
        reviews=await _reviews(client, permissions, repo, reviews),
        checks=_checks(check_runs, status),
        required_checks=required,
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


def _plan_pending(run: Run | None, number: int) -> bool:
    """Whether the head's run (planned, trusted) lacks this pull request's plan."""
    if run is None or not run.trusted or not run.plans:
        return False  # not built yet, held for /ok-to-test, or never planned: said otherwise
    return plan_key("pull_request", number) not in run.plans


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
    client: InstallationClient, permissions: PermissionCache, repo: str, raw: list[dict[str, Any]]
) -> tuple[Review, ...]:
    deciding = [r for r in raw if r.get("state") in _DECIDING_REVIEWS and r.get("user")]
    logins = sorted({str(r["user"]["login"]) for r in deciding})
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
            reviewer=str(r["user"]["login"]),
            state=str(r["state"]),
            submitted_at=str(r.get("submitted_at") or ""),
            reviewer_can_write=str(r["user"]["login"]).lower() in can_write,
            commit_id=r.get("commit_id"),
        )
        for r in deciding
    )


def _checks(check_runs: list[dict[str, Any]], status: dict[str, Any]) -> tuple[CheckFact, ...]:
    runs = sorted(check_runs, key=lambda run: int(run.get("id") or 0))  # oldest first
    facts = [
        CheckFact(
            name=str(run["name"]),
            app=(run.get("app") or {}).get("slug"),
            status=str(run.get("status") or "queued"),
            conclusion=run.get("conclusion"),
        )
        for run in runs
    ]
    facts += [
        CheckFact.from_status(str(s["context"]), str(s["state"]))
        for s in status.get("statuses") or []
    ]
    return tuple(facts)


def _method(name: str | None) -> MergeMethod | None:
    try:
        return MergeMethod(name) if name else None
    except ValueError:
        return None
