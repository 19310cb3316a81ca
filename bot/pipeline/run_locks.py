"""One planner or scheduler at a time per run, across every replica on the database.

Planning a run, adding a plan to it and scheduling its jobs read the run's jobs, decide
and write: two replicas doing it at once would start a job twice or lose a plan. The lock
is the store's (an advisory lock on PostgreSQL); a task already holding a run's lock may
take it again (planning schedules the jobs it planned). What must happen once the run is
over (merging, deploying: slow GitHub work) waits until the lock is released, so it never
holds a database connection for long.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from bot.store import Store

Later = Callable[[], Awaitable[None]]


class RunLocks:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._holders: dict[int, asyncio.Task[object]] = {}
        self._later: dict[int, list[Later]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, run_id: int) -> AsyncIterator[None]:
        """Hold the run's lock for the body (again, when this task holds it already)."""
        task = asyncio.current_task()
        if task is not None and self._holders.get(run_id) is task:
            yield
            return
        later: list[Later] = []
        try:
            async with self._store.locks.hold(f"run:{run_id}"):
                if task is not None:
                    self._holders[run_id] = task
                try:
                    yield
                finally:
                    self._holders.pop(run_id, None)
                    later = self._later.pop(run_id, [])
        finally:
            for work in later:
                await work()

    async def after(self, run_id: int, work: Later) -> None:
        """Do `work` once this task releases the run's lock (now if it does not hold it)."""
        if self._holders.get(run_id) is asyncio.current_task():
            self._later.setdefault(run_id, []).append(work)
        else:
            await work()
