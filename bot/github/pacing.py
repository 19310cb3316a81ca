"""Pacing of writes to GitHub, per installation (its secondary rate limit)."""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Awaitable, Callable

# GitHub allows 80 content-creating requests a minute, counted where they arrive: a write
# let through here reaches GitHub a little later, and bench/api_requests.py saw up to 5
# more arrive in one 60-second window than were let through in any, hence the margin.
WRITES_PER_MINUTE = 70


class WritePacer:
    """At most `limit` writes in any `window` seconds for one installation, in FIFO order.

    GitHub's secondary limit allows 80 content-creating requests a minute (and 500 an
    hour) and answers 403/429 beyond; a burst of PRs going green at once (check runs,
    merges, comments, the builds the merges start) exceeds it within seconds, so writes
    wait for room instead of being refused.
    https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits
    """

    def __init__(
        self,
        *,
        limit: int = WRITES_PER_MINUTE,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._sent: collections.deque[float] = collections.deque()
        self._lock = asyncio.Lock()
        self.waited = 0.0  # seconds writes spent waiting, for benchmarks and metrics

    async def wait(self) -> None:
        """Return when one more write fits in the window (and count it)."""
        async with self._lock:
            while True:
                now = self._clock()
                while self._sent and now - self._sent[0] >= self.window:
                    self._sent.popleft()
                if len(self._sent) < self.limit:
                    self._sent.append(now)
                    return
                delay = self.window - (now - self._sent[0])
                self.waited += delay
                await self._sleep(delay)
