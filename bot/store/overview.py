"""What the web pages read beyond single rows: runs with their times, job duration trends,
the repositories with their installations, and facts kept only in webhook payloads (the
default branch, pull request titles, who pushed)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.records import Run, Status
from bot.store.runs import _run
from bot.store.schema import deliveries, installations, jobs, repositories, runs

FACT_DELIVERIES = 200  # how many recent payloads of a repository its facts are read from


@dataclass(frozen=True)
class RunSummary:
    """A run with when it was asked for and when its jobs started and ended."""

    run: Run
    created_at: float
    started_at: float | None
    finished_at: float | None

    @property
    def duration(self) -> float | None:
        """Seconds from its first job's start to its last job's end; None until then."""
        if self.started_at is None or self.finished_at is None:
            return None
        return max(0.0, self.finished_at - self.started_at)


@dataclass(frozen=True)
class RunFilter:
    """Which runs a repository page lists; None fields do not filter."""

    ref: str | None = None
    pr_number: int | None = None
    outcome: str | None = None  # a conclusion, or a status while unfinished


@dataclass(frozen=True)
class JobTime:
    run_id: int
    name: str
    duration: float | None
    conclusion: str | None


@dataclass(frozen=True)
class RepositoryEntry:
    full_name: str
    private: bool
    installation_id: int
    account: str
    suspended: bool


@dataclass(frozen=True)
class RepositoryFacts:
    """Facts from the repository's recent webhook payloads."""

    default_branch: str | None = None
    titles: dict[int, str] = field(default_factory=dict)  # pull request number → title
    # When each title was last changed on GitHub (`pull_request.updated_at`, ISO 8601, which
    # sorts as text): a payload that arrives late (redelivered, recovered from the delivery
    # log) never puts back a title an `edited` event replaced.
    title_stamps: dict[int, str] = field(default_factory=dict)
    senders: dict[str, str] = field(default_factory=dict)  # SHA → login that pushed or opened


def _summaries_query() -> sa.Select[Any]:
    started = (
        sa.select(sa.func.min(jobs.c.started_at))
        .where(jobs.c.run_id == runs.c.id)
        .scalar_subquery()
    )
    finished = (
        sa.select(sa.func.max(jobs.c.finished_at))
        .where(jobs.c.run_id == runs.c.id)
        .scalar_subquery()
    )
    return sa.select(runs, started.label("jobs_started"), finished.label("jobs_finished"))


def _summary(row: Any) -> RunSummary:
    run = _run(row)
    finished = row["jobs_finished"] if run.status == Status.COMPLETED else None
    return RunSummary(run, row["created_at"], row["jobs_started"], finished)


async def run_summaries(
    engine: AsyncEngine, repo: str, chosen: RunFilter = RunFilter(), *, limit: int = 50
) -> list[RunSummary]:
    """A repository's latest runs matching `chosen`, newest first."""
    query = _summaries_query().where(runs.c.repo == repo)
    if chosen.ref is not None:
        query = query.where(runs.c.ref == chosen.ref)
    if chosen.pr_number is not None:
        query = query.where(runs.c.pr_number == chosen.pr_number)
    if chosen.outcome is not None:
        query = query.where(
            (runs.c.conclusion == chosen.outcome)
            | (runs.c.conclusion.is_(None) & (runs.c.status == chosen.outcome))
        )
    query = query.order_by(runs.c.id.desc()).limit(limit)
    async with engine.connect() as connection:
        return [_summary(row) for row in (await connection.execute(query)).mappings()]


async def run_summary(engine: AsyncEngine, run_id: int) -> RunSummary | None:
    """One run with its times; None when there is no such id."""
    query = _summaries_query().where(runs.c.id == run_id)
    async with engine.connect() as connection:
        row = (await connection.execute(query)).mappings().first()
    return None if row is None else _summary(row)


async def branch_runs(
    engine: AsyncEngine, repo: str, ref: str, *, limit: int = 30
) -> list[RunSummary]:
    """The latest runs of pushes to a branch, newest first (the default branch's history)."""
    query = (
        _summaries_query()
        .where((runs.c.repo == repo) & (runs.c.ref == ref) & (runs.c.pr_number.is_(None)))
        .order_by(runs.c.id.desc())
        .limit(limit)
    )
    async with engine.connect() as connection:
        return [_summary(row) for row in (await connection.execute(query)).mappings()]


async def job_times(engine: AsyncEngine, run_ids: list[int]) -> list[JobTime]:
    """Every job's latest attempt in these runs, with how long it took."""
    if not run_ids:
        return []
    query = (
        sa.select(
            jobs.c.run_id,
            jobs.c.name,
            jobs.c.attempt,
            jobs.c.started_at,
            jobs.c.finished_at,
            jobs.c.conclusion,
        )
        .where(jobs.c.run_id.in_(run_ids))
        .order_by(jobs.c.run_id, jobs.c.name, jobs.c.attempt)
    )
    latest: dict[tuple[int, str], JobTime] = {}
    async with engine.connect() as connection:
        for row in await connection.execute(query):
            took = (
                row.finished_at - row.started_at
                if row.finished_at is not None and row.started_at is not None
                else None
            )
            latest[(row.run_id, row.name)] = JobTime(row.run_id, row.name, took, row.conclusion)
    return list(latest.values())


async def repository_entries(
    engine: AsyncEngine, full_name: str | None = None
) -> list[RepositoryEntry]:
    """Every repository of every installation (or the one named), by name."""
    query = (
        sa.select(
            repositories.c.full_name,
            repositories.c.private,
            repositories.c.installation_id,
            installations.c.account,
            installations.c.suspended,
        )
        .join(installations, installations.c.id == repositories.c.installation_id)
        .order_by(repositories.c.full_name)
    )
    if full_name is not None:
        query = query.where(repositories.c.full_name == full_name)
    async with engine.connect() as connection:
        rows = (await connection.execute(query)).all()
    return [
        RepositoryEntry(
            r.full_name, bool(r.private), r.installation_id, r.account, bool(r.suspended)
        )
        for r in rows
    ]


async def repository_facts(engine: AsyncEngine, repo: str) -> RepositoryFacts:
    """The default branch, PR titles and pushers named by the repository's recent payloads
    (a pull request's newest title: any action, `edited` included, carries it)."""
    query = (
        sa.select(deliveries.c.event, deliveries.c.payload)
        .where((deliveries.c.repo == repo) & deliveries.c.event.in_(["push", "pull_request"]))
        .order_by(deliveries.c.received_at.desc())
        .limit(FACT_DELIVERIES)
    )
    async with engine.connect() as connection:
        rows = (await connection.execute(query)).all()
    facts = RepositoryFacts()
    for row in reversed(rows):  # oldest first: the newest word wins
        facts = _learn(facts, row.event, row.payload)
    return facts


def _learn(facts: RepositoryFacts, event: str, payload: str) -> RepositoryFacts:
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return facts
    if not isinstance(data, dict):
        return facts
    branch = _text(data, "repository", "default_branch") or facts.default_branch
    sender = _text(data, "sender", "login")
    titles, stamps, senders = dict(facts.titles), dict(facts.title_stamps), dict(facts.senders)
    if event == "pull_request":
        number, title = data.get("number"), _text(data, "pull_request", "title")
        stamp = _text(data, "pull_request", "updated_at") or ""
        if isinstance(number, int) and title is not None and stamp >= stamps.get(number, ""):
            titles[number], stamps[number] = title, stamp
        sha = _text(data, "pull_request", "head", "sha")
    else:
        sha = _text(data, "after")
    if sha is not None and sender is not None:
        senders[sha] = sender
    return RepositoryFacts(branch, titles, stamps, senders)


def _text(data: Any, *path: str) -> str | None:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data if isinstance(data, str) else None


async def repository_entry(engine: AsyncEngine, full_name: str) -> RepositoryEntry | None:
    """One repository of an installation; None when no installation covers it."""
    for entry in await repository_entries(engine, full_name):
        return entry
    return None
