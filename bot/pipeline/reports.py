"""What the pipeline tells GitHub about a run, check run by check run."""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import Collection, Sequence
from typing import Any

import cachetools

from bot import links, messages
from bot.context import Context
from bot.core.checks import (
    CheckOutput,
    aggregate_conclusion,
    check_run_actions,
    fit_log_tail,
    render_aggregate_output,
    render_job_output,
)
from bot.core.config import CONFIG_PATH, ConfigError
from bot.github.errors import GitHubError
from bot.pipeline.check_runs import (
    AGGREGATE,
    CONFIG_CHECK,
    LOG_TAIL_CHARS,
    CheckReporter,
    config_error_output,
    job_view,
)
from bot.pipeline.progress import ProgressUpdates
from bot.store.records import Job, Run, Status


def _plain(title: str, summary: str) -> CheckOutput:
    return CheckOutput(title=title, summary=summary, text=None, annotation_batches=())


def _note(run: Run) -> str | None:
    """What the aggregate says besides the jobs: a skip marker this head did not honour."""
    if run.ignored_marker is None:
        return None
    return messages.skip_marker_ignored(run.ignored_marker)


# Check runs whose last write is remembered (a few hundred bytes each).
WRITTEN_KEPT = 10_000


class Reports:
    def __init__(self, context: Context) -> None:
        self._context = context
        # One report at a time per job, so a start delayed by GitHub (a retry, a rate-limit
        # pause) never lands after the job's completion and leaves it `in_progress`.
        self._job_locks: weakref.WeakValueDictionary[int, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        # What each check run was last told, to send no write that changes nothing; the
        # recent ones are enough (a run's checks are written within its life).
        self._written: cachetools.LRUCache[int, str] = cachetools.LRUCache(WRITTEN_KEPT)
        self.progress = ProgressUpdates()
        self._tails: dict[int, tuple[int, str]] = {}  # job id → (last log chunk, log tail)

    def _job_lock(self, job: Job) -> asyncio.Lock:
        return self._job_locks.setdefault(job.id, asyncio.Lock())

    def _reporter(self, run: Run, *, strict: bool = False) -> CheckReporter:
        client = self._context.github.installation(run.installation_id or 0)
        if strict:
            return CheckReporter(client, run, strict=True, written=self._written)
        return CheckReporter(
            client, run, on_failure=lambda error: self._later(run, error), written=self._written
        )

    async def _later(self, run: Run, error: GitHubError) -> None:
        """GitHub failed a check run of `run` after its retries: bring them up to date later
        (`resync`, registered for the backlog's `checks` in `bot.wiring`)."""
        await self._context.github.backlog.again(
            f"checks:{run.id}",
            "checks",
            {"run_id": run.id},
            what=f"check runs of {run.repo}@{run.sha[:7]}",
            error=error,
        )

    async def resync(self, run_id: int) -> None:
        """Make the run's check runs on GitHub say what the store says: create those never
        made (once: looked up first), complete those left behind. Raises when GitHub fails
        again, for the backlog to try later."""
        store = self._context.store
        run = await store.runs.get(run_id)
        if run is None or not await store.runs.jobs(run_id):
            return  # a run without jobs (config errors, a skip) reports in one call
        reporter = self._reporter(run, strict=True)
        await self.create_job_checks(run, await store.runs.jobs(run_id), reporter=reporter)
        jobs = await store.runs.jobs(run_id)
        for job in jobs:
            if job.status == Status.COMPLETED:
                await self.job_done(run, job, reporter=reporter)
            elif job.status == Status.IN_PROGRESS:
                await self.job_started(run, job, reporter=reporter)
        if run.aggregate_check_id is None:
            await self.create_aggregate(run, jobs, reporter=reporter)
        run = await store.runs.get(run_id)
        if run is not None and run.status == Status.COMPLETED:
            await self.aggregate_done(run, jobs, reporter=reporter)

    def _run_url(self, run: Run) -> str:
        settings = self._context.settings
        return links.run_url(settings.public_url, run.id, settings.link_secret)

    def _log_url(self, job: Job) -> str:
        settings = self._context.settings
        return links.job_log_url(settings.public_url, job.id, settings.link_secret)

    async def _aggregate_now(
        self,
        run: Run,
        output: CheckOutput,
        conclusion: str | None,
        status: str = "completed",
        reporter: CheckReporter | None = None,
    ) -> None:
        """Create or finish the aggregate check outside a normal run (config, skip, hold)."""
        reporter = reporter or self._reporter(run)
        now = self._context.clock()
        if run.aggregate_check_id is not None and conclusion is not None:
            await reporter.complete(
                run.aggregate_check_id, conclusion=conclusion, output=output, now=now
            )
            return
        check_id = await reporter.create(
            AGGREGATE,
            external_id=f"run:{run.id}",
            details_url=self._run_url(run),
            status=status,
            output=output,
            conclusion=conclusion,
            now=now,
        )
        await self._context.store.runs.update(run.id, now=now, aggregate_check_id=check_id)

    async def config_errors(self, run: Run, errors: Sequence[ConfigError]) -> None:
        output = config_error_output(errors, path=CONFIG_PATH)
        await self._reporter(run).create(
            CONFIG_CHECK,
            external_id=f"config:{run.id}",
            details_url=self._run_url(run),
            status="completed",
            conclusion="failure",
            output=output,
            now=self._context.clock(),
        )
        await self._aggregate_now(run, _plain(output.title, output.summary), "failure")

    async def skipped(self, run: Run, marker: str) -> None:
        await self._aggregate_now(run, _plain(*messages.skipped_by_marker(marker)), "skipped")

    async def awaiting_approval(self, run: Run, author: str) -> None:
        await self._aggregate_now(
            run, _plain(*messages.awaiting_approval(author)), None, status="queued"
        )

    async def internal_error(self, run: Run, error: str) -> None:
        await self._aggregate_now(run, _plain(*messages.internal_error(error)), "failure")

    async def cancelled(self, run: Run, reason: str) -> None:
        title = f"Cancelled: {reason}"
        await self._aggregate_now(run, _plain(title, title), "cancelled")

    async def create_job_checks(
        self,
        run: Run,
        jobs: Sequence[Job],
        *,
        starting: Collection[str] = (),
        reporter: CheckReporter | None = None,
    ) -> None:
        """Create the check runs of jobs that have none: those `starting` (handed to the
        executor right after) first and already `in_progress`, the finished ones
        `completed`, the others `queued`."""
        reporter = reporter or self._reporter(run)
        first = sorted(jobs, key=lambda job: job.name not in starting)
        for job in first:
            if job.check_run_id is not None:
                continue
            check_id = await reporter.create(
                job.name,
                external_id=f"job:{job.id}",
                details_url=self._log_url(job),
                **self._first_state(job, starting=job.name in starting),
            )
            await self._context.store.runs.update_job(job.id, check_run_id=check_id)

    def _first_state(self, job: Job, *, starting: bool) -> dict[str, Any]:
        """How a job's check run is created: as far as the job has come."""
        now = self._context.clock()
        if job.status == Status.COMPLETED:
            view = job_view(job, log_text="", log_url=self._log_url(job))
            return {
                "status": "completed",
                "output": render_job_output(view),
                "conclusion": job.conclusion,
                "now": now,
            }
        if starting or job.status == Status.IN_PROGRESS:
            title = messages.job_started()
            return {
                "status": "in_progress",
                "output": _plain(title, title),
                "started_at": job.started_at or now,
            }
        return {"status": "queued", "output": _plain(messages.job_queued(), messages.job_queued())}

    async def create_aggregate(
        self, run: Run, jobs: Sequence[Job], *, reporter: CheckReporter | None = None
    ) -> None:
        done = sum(1 for job in jobs if job.status == Status.COMPLETED)
        title = messages.run_in_progress(done, len(jobs))
        note = _note(run)
        summary = f"{title}\n\n{note}" if note else title
        await self._aggregate_now(
            run, _plain(title, summary), None, status="in_progress", reporter=reporter
        )

    async def job_started(
        self, run: Run, job: Job, *, reporter: CheckReporter | None = None
    ) -> None:
        async with self._job_lock(job):
            current = await self._context.store.runs.job(job.id)
            if current is not None and current.status == Status.COMPLETED:
                return  # its completion was reported first
            await (reporter or self._reporter(run)).start(
                job.check_run_id,
                started_at=job.started_at or self._context.clock(),
                title=messages.job_started(),
            )
            self.progress.watch(job.id, functools.partial(self._job_progress, run, job.id))

    async def _job_progress(self, run: Run, job_id: int) -> None:
        """Show the tail of a running job's log, if it grew since it was last shown."""
        store = self._context.store
        last_chunk, tail = self._tails.get(job_id, (0, ""))
        text, chunk = await store.runs.read_log(job_id, after=last_chunk)
        if chunk == last_chunk:
            return
        tail = (tail + text)[-LOG_TAIL_CHARS:]
        self._tails[job_id] = (chunk, tail)
        job = await store.runs.job(job_id)
        if job is None:
            return
        async with self._job_lock(job):
            current = await store.runs.job(job_id)
            if current is None or current.status == Status.COMPLETED:
                return  # its final update goes out instead, never one after it
            title = messages.job_started()
            output = CheckOutput(
                title=title,
                summary=messages.job_running(self._log_url(job)),
                text=fit_log_tail(tail, log_url=self._log_url(job)),
                annotation_batches=(),
            )
            # Failing, it is logged, and not tried again: the next window or the end says more.
            client = self._context.github.installation(run.installation_id or 0)
            reporter = CheckReporter(client, run, written=self._written)
            await reporter.show(current.check_run_id, output)

    async def job_done(self, run: Run, job: Job, *, reporter: CheckReporter | None = None) -> None:
        await self.progress.stop(job.id)  # an intermediate update pending never lands after
        self._tails.pop(job.id, None)
        log_text, _ = await self._context.store.runs.read_log(job.id)
        view = job_view(job, log_text=log_text, log_url=self._log_url(job))
        async with self._job_lock(job):
            await (reporter or self._reporter(run)).complete(
                job.check_run_id,
                conclusion=job.conclusion or "failure",
                output=render_job_output(view),
                now=self._context.clock(),
            )

    async def aggregate_done(
        self, run: Run, jobs: Sequence[Job], *, reporter: CheckReporter | None = None
    ) -> str:
        """Complete the aggregate check; return the run's conclusion."""
        conclusion = aggregate_conclusion([job.conclusion for job in jobs]) or "failure"
        views = [job_view(job, log_text="", log_url=self._log_url(job)) for job in jobs]
        output = render_aggregate_output(views, run_url=self._run_url(run), note=_note(run))
        failed = any(job.conclusion in {"failure", "timed_out", "cancelled"} for job in jobs)
        actions = check_run_actions(can_rerun_failed=failed, deploy_env=None)
        await (reporter or self._reporter(run)).complete(
            run.aggregate_check_id,
            conclusion=conclusion,
            output=output,
            now=self._context.clock(),
            actions=actions,
        )
        return conclusion
