"""Coalesced updates of a running job's check-run output.

A running job's check run shows the tail of its log, written at most once every
`PROGRESS_INTERVAL_SECONDS` and only when the log grew: a job that ends within that
interval gets no intermediate write at all, only its final one. GitHub allows an
installation about 80 content-creating requests a minute, and a write spent on a log tail
nobody reads is one a first check run or a conclusion waits for.
https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits

The final update never waits behind an intermediate one: `stop` cancels the job's pending
update (waiting for its interval, for room in the write budget, or on its way) before the
completion is written, and an intermediate update checks under the job's report lock that
the job is still running.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

# At most one intermediate output update per running job in this many seconds.
PROGRESS_INTERVAL_SECONDS = 10.0

Sleep = Callable[[float], Awaitable[None]]
Update = Callable[[], Awaitable[None]]


class ProgressUpdates:
    """One task per running job that brings its check run's output up to date now and then."""

    def __init__(
        self, *, interval: float = PROGRESS_INTERVAL_SECONDS, sleep: Sleep = asyncio.sleep
    ) -> None:
        self.interval = interval
        self.sleep = sleep
        self._tasks: dict[int, asyncio.Task[None]] = {}

    def watch(self, job_id: int, update: Update) -> None:
        """Call `update` every `interval` seconds until `stop(job_id)`."""
        if job_id in self._tasks:
            return
        task = asyncio.create_task(self._every_interval(update), name=f"progress of job {job_id}")
        self._tasks[job_id] = task
        task.add_done_callback(lambda _: self._forget(job_id, task))

    def is_watching(self, job_id: int) -> bool:
        return job_id in self._tasks

    async def stop(self, job_id: int) -> None:
        """No more updates for the job; one pending is cancelled and waited for."""
        task = self._tasks.pop(job_id, None)
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def close(self) -> None:
        for job_id in list(self._tasks):
            await self.stop(job_id)

    async def _every_interval(self, update: Update) -> None:
        while True:
            await self.sleep(self.interval)
            await update()  # GitHub's failures are logged by the reporter, not raised

    def _forget(self, job_id: int, task: asyncio.Task[None]) -> None:
        if self._tasks.get(job_id) is task:
            del self._tasks[job_id]
