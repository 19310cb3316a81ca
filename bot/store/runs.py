"""Runs (one per repository and SHA), their jobs (one row per attempt) and job logs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.records import Job, Run, Status
from bot.store.schema import jobs, log_chunks, runs


@dataclass(frozen=True)
class NewRun:
    repo: str
    sha: str
    installation_id: int | None
    clone_url: str
    event: str
    ref: str
    base_ref: str = ""
    before_sha: str = ""
    pr_number: int | None = None
    trusted: bool = True
    fork: bool = False
    repo_id: int | None = None  # GitHub's id of `repo`, from the payload
    owner: str | None = None  # the replica recording it


@dataclass(frozen=True)
class NewJob:
    name: str
    spec: str
    status: Status = Status.QUEUED
    conclusion: str | None = None
    skip_reason: str | None = None
    input_digest: str | None = None  # see bot.core.reuse


def _run(row: Any) -> Run:
    values = {f.name: row[f.name] for f in fields(Run)}
    values["status"] = Status(values["status"])
    values["trusted"] = bool(values["trusted"])
    values["fork"] = bool(values["fork"])
    values["plans"] = tuple(values["plans"].split())
    return Run(**values)


def _job(row: Any) -> Job:
    values = {f.name: row[f.name] for f in fields(Job)}
    values["status"] = Status(values["status"])
    return Job(**values)


class Runs:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def start(self, new: NewRun, *, now: float) -> tuple[Run, bool]:
        """The run of this repository and SHA, and whether this call created it."""
        existing = await self.for_sha(new.repo, new.sha)
        if existing is not None:
            return existing, False
        values = {f.name: getattr(new, f.name) for f in fields(NewRun)}
        try:
            async with self._engine.begin() as connection:
                await connection.execute(
                    runs.insert().values(
                        **values, status=Status.QUEUED, created_at=now, updated_at=now
                    )
                )
        except IntegrityError:  # a concurrent delivery for the same SHA won the race
            pass
        else:
            created = await self.for_sha(new.repo, new.sha)
            assert created is not None
            return created, True
        run = await self.for_sha(new.repo, new.sha)
        assert run is not None
        return run, False

    async def get(self, run_id: int) -> Run | None:
        """One run; None when there is no such id."""
        return await self._one_run(runs.c.id == run_id)

    async def for_sha(self, repo: str, sha: str) -> Run | None:
        """The run of a commit; None when it was never built."""
        return await self._one_run((runs.c.repo == repo) & (runs.c.sha == sha))

    async def for_pull_request(self, repo: str, number: int) -> list[Run]:
        """Every run of a pull request, oldest first."""
        return await self._runs(
            sa.select(runs)
            .where((runs.c.repo == repo) & (runs.c.pr_number == number))
            .order_by(runs.c.id)
        )

    async def recent(self, repo: str | None = None, *, limit: int = 50) -> list[Run]:
        """The latest runs, newest first, of one repository or all."""
        query = sa.select(runs).order_by(runs.c.id.desc()).limit(limit)
        if repo is not None:
            query = query.where(runs.c.repo == repo)
        return await self._runs(query)

    async def unfinished(self) -> list[Run]:
        """Runs not completed yet, oldest first."""
        return await self._runs(
            sa.select(runs).where(runs.c.status != Status.COMPLETED).order_by(runs.c.id)
        )

    async def update(self, run_id: int, *, now: float, **changes: Any) -> None:
        """Change fields of a run, stamping `updated_at` with `now`."""
        async with self._engine.begin() as connection:
            await connection.execute(
                runs.update().where(runs.c.id == run_id).values(**changes, updated_at=now)
            )

    async def add_plan(self, run_id: int, key: str, *, now: float) -> None:
        """Record that the run's jobs now include the plan of trigger `key`."""
        async with self._engine.begin() as connection:
            current = (
                await connection.execute(sa.select(runs.c.plans).where(runs.c.id == run_id))
            ).scalar()
            keys = (current or "").split()
            if key not in keys:
                await connection.execute(
                    runs.update()
                    .where(runs.c.id == run_id)
                    .values(plans=" ".join([*keys, key]), updated_at=now)
                )

    async def add_jobs(self, run_id: int, new_jobs: Sequence[NewJob]) -> list[Job]:
        """Add jobs to a run, each as the next attempt of its name."""
        async with self._engine.begin() as connection:
            for new in new_jobs:
                attempt = (
                    await connection.execute(
                        sa.select(sa.func.max(jobs.c.attempt)).where(
                            (jobs.c.run_id == run_id) & (jobs.c.name == new.name)
                        )
                    )
                ).scalar() or 0
                await connection.execute(
                    jobs.insert().values(
                        run_id=run_id,
                        name=new.name,
                        attempt=attempt + 1,
                        spec=new.spec,
                        status=new.status,
                        conclusion=new.conclusion,
                        skip_reason=new.skip_reason,
                        input_digest=new.input_digest,
                        steps="[]",
                    )
                )
        names = {new.name for new in new_jobs}
        return [job for job in await self.jobs(run_id) if job.name in names]

    async def jobs(self, run_id: int) -> list[Job]:
        """The latest attempt of every job of the run, in the order they were planned."""
        query = sa.select(jobs).where(jobs.c.run_id == run_id).order_by(jobs.c.id)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).mappings().all()
        latest: dict[str, Job] = {}  # insertion order is the first attempt's: the plan order
        for row in rows:
            job = _job(row)
            if job.name not in latest or job.attempt > latest[job.name].attempt:
                latest[job.name] = job
        return list(latest.values())

    async def of_tree(
        self, repo: str, tree: str, digests: Sequence[str], *, limit: int = 500
    ) -> list[tuple[Run, Job]]:
        """Jobs with one of these input digests in finished runs of `tree`, newest first,
        each with its run: what a new commit of the same tree may reuse."""
        if not digests:
            return []
        query = (
            sa.select(jobs, runs)
            .join(runs, runs.c.id == jobs.c.run_id)
            .where(
                (runs.c.repo == repo)
                & (runs.c.tree == tree)
                & (runs.c.status == Status.COMPLETED)
                & (jobs.c.status == Status.COMPLETED)
                & jobs.c.input_digest.in_(list(digests))
            )
            .order_by(jobs.c.id.desc())
            .limit(limit)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        found = []
        for row in rows:
            values = row._mapping
            job = _job({f.name: values[jobs.c[f.name]] for f in fields(Job)})
            run = _run({f.name: values[runs.c[f.name]] for f in fields(Run)})
            found.append((run, job))
        return found

    async def job(self, job_id: int) -> Job | None:
        """One job; None when there is no such id."""
        async with self._engine.connect() as connection:
            row = (
                (await connection.execute(sa.select(jobs).where(jobs.c.id == job_id)))
                .mappings()
                .first()
            )
        return None if row is None else _job(row)

    async def update_job(self, job_id: int, **changes: Any) -> None:
        """Change fields of a job."""
        async with self._engine.begin() as connection:
            await connection.execute(jobs.update().where(jobs.c.id == job_id).values(**changes))

    async def claim_job(self, job_id: int, *, now: float) -> bool:
        """Mark a queued job running; False when it is not queued (already claimed, or done).

        This makes a job run once even when it is submitted twice (a restart re-submits
        what a Celery broker may still hold).
        """
        async with self._engine.begin() as connection:
            result = await connection.execute(
                jobs.update()
                .where((jobs.c.id == job_id) & (jobs.c.status == Status.QUEUED))
                .values(status=Status.IN_PROGRESS, started_at=now)
            )
        return bool(result.rowcount)

    async def jobs_by_id(self, job_ids: Sequence[int]) -> list[Job]:
        """The jobs with these ids."""
        if not job_ids:
            return []
        query = sa.select(jobs).where(jobs.c.id.in_(list(job_ids)))
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).mappings().all()
        return [_job(row) for row in rows]

    async def unfinished_jobs(self) -> list[Job]:
        """Latest attempts queued or running: after a restart these are re-queued."""
        newer = jobs.alias("newer")
        has_newer = (
            sa.select(newer.c.id)
            .where(
                (newer.c.run_id == jobs.c.run_id)
                & (newer.c.name == jobs.c.name)
                & (newer.c.attempt > jobs.c.attempt)
            )
            .exists()
        )
        query = (
            sa.select(jobs)
            .where((jobs.c.status != Status.COMPLETED) & ~has_newer)
            .order_by(jobs.c.id)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).mappings().all()
        return [_job(row) for row in rows]

    async def append_log(self, job_id: int, text: str) -> None:
        """Store the next chunk of a job's output."""
        async with self._engine.begin() as connection:
            last = (
                await connection.execute(
                    sa.select(sa.func.max(log_chunks.c.seq)).where(log_chunks.c.job_id == job_id)
                )
            ).scalar()
            await connection.execute(
                log_chunks.insert().values(job_id=job_id, seq=(last or 0) + 1, text=text)
            )

    async def read_log(self, job_id: int, *, after: int = 0) -> tuple[str, int]:
        """The job's output from chunk `after` on, and the number of the last chunk."""
        query = (
            sa.select(log_chunks.c.seq, log_chunks.c.text)
            .where((log_chunks.c.job_id == job_id) & (log_chunks.c.seq > after))
            .order_by(log_chunks.c.seq)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        if not rows:
            return "", after
        return "".join(row.text for row in rows), rows[-1].seq

    async def _one_run(self, where: sa.ColumnElement[bool]) -> Run | None:
        found = await self._runs(sa.select(runs).where(where))
        return found[0] if found else None

    async def _runs(self, query: sa.Select[Any]) -> list[Run]:
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).mappings().all()
        return [_run(row) for row in rows]
