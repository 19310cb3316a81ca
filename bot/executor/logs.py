"""Stores a job's or a deploy's output as it streams: small writes batched, nothing lost."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

FLUSH_EVERY_SECONDS = 0.25
FLUSH_AT_CHARS = 16 * 1024


class LogWriter:
    """Buffers output and hands it to `append` at most every quarter second (or 16 KB)."""

    def __init__(self, append: Callable[[str], Awaitable[None]]) -> None:
        self._append = append
        self._buffer: list[str] = []
        self._size = 0
        self._last_flush = time.monotonic()
        self._lock = asyncio.Lock()
        self._timer: asyncio.Task[None] | None = None

    async def write(self, text: str) -> None:
        self._buffer.append(text)
        self._size += len(text)
        if (
            self._size >= FLUSH_AT_CHARS
            or time.monotonic() - self._last_flush > FLUSH_EVERY_SECONDS
        ):
            await self.flush()
        elif self._timer is None or self._timer.done():
            self._timer = asyncio.create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        await asyncio.sleep(FLUSH_EVERY_SECONDS)
        await self.flush()

    async def flush(self) -> None:
        async with self._lock:
            if not self._buffer:
                return
            text, self._buffer, self._size = "".join(self._buffer), [], 0
            self._last_flush = time.monotonic()
            await self._append(text)

    async def close(self) -> None:
        if self._timer is not None and self._timer is not asyncio.current_task():
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
        await self.flush()
