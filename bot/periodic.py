"""Work the service does now and then while it runs, stopped between two rounds.

A background loop cancelled at shutdown in the middle of a store call can leave SQLite's
write lock taken until its busy timeout (aiosqlite's transaction is on its own thread, and
the cancelled coroutine never ends it), which stalls the stop and whatever shares the
file. So a loop here is told to stop and finishes the round it is in; it is cancelled only
if that round outlasts `STOP_SECONDS` (the store hangs).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("greenlight.periodic")
STOP_SECONDS = 10.0
Work = Callable[[], Awaitable[object]]


class Periodic:
    """`work` every `interval` seconds (the first after `first_delay`) from `start` to
    `stop`. A round that raises is logged with `failure` and the loop goes on."""

    def __init__(
        self,
        name: str,
        work: Work,
        *,
        interval: float,
        first_delay: float = 0.0,
        failure: str = "",
        stop_seconds: float = STOP_SECONDS,
    ) -> None:
        self.name = name
        self._work = work
        self._interval = interval
        self._first_delay = first_delay
        self._failure = failure or f"{name} failed; trying again in {interval:.0f} s"
        self._stop_seconds = stop_seconds
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.rounds = 0

    def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        """Stop between two rounds; cancel a round that takes longer than the stop allows."""
        self._stopping.set()
        task, self._task = self._task, None
        if task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), timeout=self._stop_seconds)
        if not task.done():
            log.warning("%s still busy after %.0f s; cancelling it", self.name, self._stop_seconds)
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _loop(self) -> None:
        if await self._rest(self._first_delay):
            return
        while True:
            try:
                await self._work()
            except Exception:  # the boundary of a background loop: log it, go on
                log.exception(self._failure)
            self.rounds += 1
            if await self._rest(self._interval):
                return

    async def _rest(self, seconds: float) -> bool:
        """Wait `seconds`, or less if told to stop; whether to stop."""
        if self._stopping.is_set():
            return True
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        return self._stopping.is_set()
