"""A clock and a sleep that pass time without waiting, to measure what code waits for."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field


@dataclass
class VirtualTime:
    """Real time plus every wait asked for; each wait is recorded and returns at once."""

    offset: float = 0.0
    waits: list[float] = field(default_factory=list)
    woke: list[float] = field(default_factory=list)  # the clock as each wait ended

    def clock(self) -> float:
        """Now (epoch s), moved on by the waits so far."""
        return time.time() + self.offset

    async def sleep(self, seconds: float) -> None:
        """Record the wait and let it pass."""
        self.waits.append(seconds)
        self.offset += max(0.0, seconds)
        self.woke.append(self.clock())
        await asyncio.sleep(0)
