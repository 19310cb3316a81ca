"""The local executor: jobs run in this process tree, up to GREENLIGHT_CONCURRENCY at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from bot.executor.base import JobEvent, JobTicket
from bot.executor.job import execute_job
from bot.executor.sandbox import Sandbox
from bot.executor.workspace import GitCache
from bot.store import Store

log = logging.getLogger("greenlight.executor")


async def _ignore(_job_id: int) -> None:
    return None


class LocalExecutor:
    owns_running_jobs = False  # its processes end with the service

    def __init__(
        self,
        store: Store,
        *,
        work_dir: Path,
        concurrency: int,
        sandbox: Sandbox,
        cache: GitCache | None = None,
        kill_grace_seconds: float = 5.0,
    ) -> None:
        self._store = store
        self.sandbox = sandbox
        self._work_dir = work_dir
        self.cache = cache or GitCache(work_dir / "cache")
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._cancels: dict[int, asyncio.Event] = {}
        self._on_started: JobEvent = _ignore
        self._on_finished: JobEvent = _ignore
        self._kill_grace = kill_grace_seconds

    async def start(self, *, on_started: JobEvent, on_finished: JobEvent) -> None:
        self._on_started, self._on_finished = on_started, on_finished

    async def stop(self) -> None:
        """Kill what runs: a restart re-queues those jobs (see Pipeline.recover)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def submit(self, ticket: JobTicket) -> None:
        if ticket.job_id in self._tasks:
            return
        self._cancels[ticket.job_id] = asyncio.Event()
        self._tasks[ticket.job_id] = asyncio.create_task(
            self._run(ticket), name=f"job-{ticket.job_id}"
        )

    def watch(self, job_id: int) -> None:
        """Nothing to watch: a job of an earlier process died with it."""

    def cancel(self, job_id: int) -> bool:
        event = self._cancels.get(job_id)
        if event is None:
            return False
        event.set()
        return True

    def is_running(self, job_id: int) -> bool:
        return job_id in self._tasks

    async def _run(self, ticket: JobTicket) -> None:
        try:
            async with self._slots:
                try:
                    await execute_job(
                        ticket,
                        store=self._store,
                        cache=self.cache,
                        work_dir=self._work_dir,
                        cancel=self._cancels[ticket.job_id],
                        on_started=self._on_started,
                        sandbox=self.sandbox,
                        kill_grace_seconds=self._kill_grace,
                    )
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("job %s crashed in the executor", ticket.job_id)
                    await self._store.runs.update_job(
                        ticket.job_id, status="completed", conclusion="failure"
                    )
                    await self._store.runs.append_log(
                        ticket.job_id, "Greenlight failed to run this job; see the service log.\n"
                    )
            await self._on_finished(ticket.job_id)
        finally:
            self._tasks.pop(ticket.job_id, None)
            self._cancels.pop(ticket.job_id, None)
