"""The local executor: jobs and deploys run in this process tree.

Build jobs take one of GREENLIGHT_CONCURRENCY slots. Deploys do not: the deployer already
runs at most one per environment, and a deploy must not wait behind a long build.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from bot.executor import messages
from bot.executor.base import Listeners, Target, TargetKind, Ticket
from bot.executor.runner import run_ticket
from bot.executor.sandbox import Sandbox
from bot.executor.targets import give_up
from bot.executor.workspace import GitCache
from bot.store import Store

log = logging.getLogger("greenlight.executor")


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
        self.listeners = Listeners()
        self._job_slots = asyncio.Semaphore(concurrency)
        self._tasks: dict[Target, asyncio.Task[None]] = {}
        self._cancels: dict[Target, asyncio.Event] = {}
        self._kill_grace = kill_grace_seconds

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        """Kill what runs: a restart re-queues those jobs (see Pipeline.recover)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def submit(self, ticket: Ticket) -> None:
        target = ticket.target
        if target in self._tasks:
            return
        self._cancels[target] = asyncio.Event()
        self._tasks[target] = asyncio.create_task(self._run(ticket), name=str(target))

    def watch(self, target: Target) -> None:
        """Nothing to watch: work of an earlier process died with it."""

    def cancel(self, target: Target) -> bool:
        event = self._cancels.get(target)
        if event is None:
            return False
        event.set()
        return True

    async def abandon(self, target: Target) -> None:
        return None  # its processes ended with the process that started them

    def is_running(self, target: Target) -> bool:
        return target in self._tasks

    async def _run(self, ticket: Ticket) -> None:
        target = ticket.target
        try:
            async with self._slot(target):
                try:
                    await run_ticket(
                        ticket,
                        store=self._store,
                        cache=self.cache,
                        work_dir=self._work_dir,
                        cancel=self._cancels[target],
                        on_started=self.listeners.started,
                        sandbox=self.sandbox,
                        kill_grace_seconds=self._kill_grace,
                    )
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("%s crashed in the executor", target)
                    await give_up(target, self._store, messages.crashed(target.kind), "failure")
            await self.listeners.finished(target)
        finally:
            self._tasks.pop(target, None)
            self._cancels.pop(target, None)

    def _slot(self, target: Target) -> contextlib.AbstractAsyncContextManager[object]:
        if target.kind == TargetKind.JOB:
            return self._job_slots
        return contextlib.nullcontext()
