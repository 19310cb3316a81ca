"""Pacing of writes to GitHub, per installation (its secondary rate limits).

The count of recent writes and any pause GitHub asked for live in a `Budget`: in process
memory for one process (`MemoryBudget`, SQLite's single process), in the store when
several replicas share one PostgreSQL database (`bot.store.write_budget`), so the
installation's budget is one whatever the number of replicas.
"""

from __future__ import annotations

import asyncio
import collections
import heapq
import itertools
import time
from collections.abc import Awaitable, Callable
from enum import IntEnum
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


class Priority(IntEnum):
    """Which writes go first when they wait for room: the lower, the sooner."""

    FEEDBACK = 0  # what people wait to see: check runs, conclusions, merges, replies
    DEFERRABLE = 1  # what can come a little later: comment edits, branch deletion, reactions


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
    installation, and none while GitHub asked to pause. Writes that wait for room go in
    order of priority, then of arrival, within the process: feedback (a first check run, a
    conclusion) before what can wait (a comment edit, a branch deletion, a reaction).

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
        # The writes waiting, as (priority, arrival): the first of them may take the room.
        self._line: list[tuple[int, int]] = []
        self._turns: dict[tuple[int, int], asyncio.Event] = {}
        self._arrivals = itertools.count()
        self.waited = 0.0  # seconds writes spent waiting, for benchmarks and metrics

    @property
    def limits(self) -> Limits:
        return ((self.limit, self.window), (self.hourly_limit, HOUR))

    @property
    def waiting(self) -> int:
        """How many writes wait for room now."""
        return len(self._line)

    async def wait(self, priority: Priority = Priority.FEEDBACK) -> None:
        """Return when one more write fits (and count it), after the waiting writes of the
        same or a higher priority."""
        place = (int(priority), next(self._arrivals))
        turn = asyncio.Event()
        heapq.heappush(self._line, place)
        self._turns[place] = turn
        if self._line[0] == place:
            turn.set()
        try:
            while True:
                await turn.wait()
                if self._line[0] != place:  # a write that goes before came while it slept
                    turn.clear()
                    continue
                delay = await self.budget.take(
                    self.installation_id, now=self._clock(), limits=self.limits
                )
                if delay <= 0:
                    return
                self.waited += delay
                await self._sleep(delay)
        finally:
            self._leave(place)

    def _leave(self, place: tuple[int, int]) -> None:
        self._line.remove(place)
        heapq.heapify(self._line)
        del self._turns[place]
        if self._line:
            self._turns[self._line[0]].set()

    async def pause_until(self, until: float) -> None:
        """Hold this installation's writes until `until` (epoch s): GitHub asked to wait."""
        await self.budget.pause(self.installation_id, until)
