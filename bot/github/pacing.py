"""Pacing of writes to GitHub, per installation (its secondary rate limits).

The count of recent writes and any pause GitHub asked for live in a `Budget`: in process
memory for one process (`MemoryBudget`, SQLite's single process), in the store when
several replicas share one PostgreSQL database (`bot.store.write_budget`), so the
installation's budget is one whatever the number of replicas.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from bot.core.write_room import Limits, room_delay

# GitHub allows 80 content-creating requests a minute and 500 an hour, counted where they
# arrive: a write let through here reaches GitHub a little later, and
# bench/api_requests.py saw up to 5 more arrive in one 60-second window than were let
# through in any, hence the margins.
WRITES_PER_MINUTE = 70
WRITES_PER_HOUR = 480
HOUR = 3600.0

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class Budget(Protocol):
    """Where an installation's recent writes and pauses are counted."""

    async def take(self, installation_id: int, *, now: float, limits: Limits) -> float:
        """Count one write and return 0, or return how long until one fits (nothing counted)."""

    async def pause(self, installation_id: int, until: float) -> None:
        """Hold every write of the installation until `until` (epoch s), as GitHub asked."""


class MemoryBudget:
    """The budget of one process."""

    def __init__(self) -> None:
        self._sent: dict[int, collections.deque[float]] = {}
        self._paused: dict[int, float] = {}

    async def take(self, installation_id: int, *, now: float, limits: Limits) -> float:
        paused = self._paused.get(installation_id, 0.0)
        if paused > now:
            return paused - now
        sent = self._sent.setdefault(installation_id, collections.deque())
        longest = max(window for _, window in limits)
        while sent and now - sent[0] >= longest:
            sent.popleft()
        delay = room_delay(list(sent), now=now, limits=limits)
        if delay == 0:
            sent.append(now)
        return delay

    async def pause(self, installation_id: int, until: float) -> None:
        self._paused[installation_id] = max(until, self._paused.get(installation_id, 0.0))


class WritePacer:
    """At most `limit` writes in any `window` seconds (and `hourly_limit` an hour) for one
    installation, in FIFO order within the process, and none while GitHub asked to pause.

    GitHub's secondary limit allows 80 content-creating requests a minute (and 500 an
    hour) and answers 403/429 beyond; a burst of PRs going green at once (check runs,
    merges, comments, the builds the merges start) exceeds it within seconds, so writes
    wait for room instead of being refused.
    https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits
    """

    def __init__(
        self,
        installation_id: int = 0,
        *,
        budget: Budget | None = None,
        limit: int = WRITES_PER_MINUTE,
        window: float = 60.0,
        hourly_limit: int = WRITES_PER_HOUR,
        clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.installation_id = installation_id
        self.budget: Budget = budget if budget is not None else MemoryBudget()
        self.limit = limit
        self.window = window
        self.hourly_limit = hourly_limit
        self._clock = clock
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self.waited = 0.0  # seconds writes spent waiting, for benchmarks and metrics

    @property
    def limits(self) -> Limits:
        return ((self.limit, self.window), (self.hourly_limit, HOUR))

    async def wait(self) -> None:
        """Return when one more write fits (and count it)."""
        async with self._lock:
            while True:
                delay = await self.budget.take(
                    self.installation_id, now=self._clock(), limits=self.limits
                )
                if delay <= 0:
                    return
                self.waited += delay
                await self._sleep(delay)

    async def pause_until(self, until: float) -> None:
        """Hold this installation's writes until `until` (epoch s): GitHub asked to wait."""
        await self.budget.pause(self.installation_id, until)
