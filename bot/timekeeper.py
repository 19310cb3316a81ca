"""Fires the store's timers: on one replica at a time, whichever is up when they are due.

Services register a handler per timer kind in `bot.wiring`. A handler that fails is
logged and tried again a little later; a timer is removed only once its handler returned,
so a replica dying half way leaves it to the next holder of the lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from bot.store import Store
from bot.store.timers import Timer

log = logging.getLogger("greenlight.timers")
Handler = Callable[[Timer], Awaitable[None]]
LEASE = "timers"
TICK_SECONDS = 5.0  # the longest a due timer waits for a replica to notice it
RETRY_SECONDS = 30.0  # after a handler failed
STOP_SECONDS = 10.0  # how long `stop` lets a pass finish


class Timekeeper:
    def __init__(
        self,
        store: Store,
        replica_id: str,
        *,
        clock: Callable[[], float] = time.time,
        tick: float = TICK_SECONDS,
    ) -> None:
        self._store = store
        self._replica_id = replica_id
        self._clock = clock
        self._tick = tick
        self._handlers: dict[str, Handler] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._wakeup = asyncio.Event()
        self._firing = asyncio.Lock()  # one pass at a time, even when asked from outside

    def handle(self, kind: str, handler: Handler) -> None:
        """Call `handler` with each timer of `kind` when it is due."""
        self._handlers[kind] = handler

    async def set(self, timer: Timer) -> None:
        """Keep `timer` in the store (replacing one of the same name), to fire when due."""
        await self._store.timers.set(timer)
        self._wakeup.set()

    async def add(self, timer: Timer) -> bool:
        """Keep `timer` unless one of its name is kept already; whether it was added."""
        added = await self._store.timers.add(timer)
        self._wakeup.set()
        return added

    async def named(self, prefix: str) -> list[Timer]:
        """The timers whose names start with `prefix`, earliest first."""
        return await self._store.timers.named(prefix)

    def now(self) -> float:
        """The time timers are due by (epoch s)."""
        return self._clock()

    def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._keep_firing(), name="timers")

    async def stop(self) -> None:
        """Stop between two passes, never inside one: a store call cancelled half way can
        leave SQLite's write lock taken until its busy timeout."""
        self._stopping.set()
        self._wakeup.set()
        if self._task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._task), timeout=STOP_SECONDS)
            self._task.cancel()  # a pass stuck longer than that (the store hangs)
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):  # best effort: the lease runs out anyway
            await self._store.leases.release(LEASE, self._replica_id)

    async def fire_due(self) -> int:
        """Fire what is due now, if this replica holds the lease; how many fired."""
        async with self._firing:
            now = self._clock()
            if not await self._hold_lease():
                return 0
            fired = 0
            for timer in await self._store.timers.due(now=now):
                # Renewed before each timer: work put off may take a while (GitHub's
                # retries), and a lease run out mid-pass would let another replica fire
                # the same timers.
                if not await self._hold_lease():
                    break
                fired += await self._fire(timer)
            return fired

    async def _hold_lease(self) -> bool:
        return await self._store.leases.acquire(
            LEASE, self._replica_id, ttl=6 * self._tick, now=self._clock()
        )

    async def _fire(self, timer: Timer) -> int:
        handler = self._handlers.get(timer.kind)
        if handler is None:
            log.error("no handler for timer %s of kind %s; dropping it", timer.name, timer.kind)
            await self._store.timers.done(timer)
            return 0
        try:
            await handler(timer)
        except Exception:  # a handler's failure: try again later, never stop the others
            log.exception("timer %s failed; trying again in %.0f s", timer.name, RETRY_SECONDS)
            await self._store.timers.postpone(timer, self._clock() + RETRY_SECONDS)
            return 0
        await self._store.timers.done(timer)
        return 1

    async def _keep_firing(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.fire_due()
            except Exception:  # the store may be down for a while
                log.exception("could not fire due timers; trying again later")
            self._wakeup.clear()
            pause = await self._pause()
            if self._stopping.is_set():
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=pause)

    async def _pause(self) -> float:
        """Until the next timer is due, at most one tick (another replica may set one); a
        tick when one is due already (another replica holds the lease and fires it)."""
        try:
            due = await self._store.timers.next_due()
        except Exception:  # the loop logs the store's failures, once per tick
            return self._tick
        now = self._clock()
        return self._tick if due is None or due <= now else min(self._tick, due - now)
