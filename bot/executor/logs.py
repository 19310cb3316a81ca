"""Stores a job's output as it streams: small writes batched, nothing lost on the way."""

from __future__ import annotations

import asyncio
import contextlib
import time

from bot.store.runs import Runs

FLUSH_EVERY_SECONDS = 0.25
FLUSH_AT_CHARS = 16 * 1024


class LogWriter:
    def __init__(self, runs: Runs, job_id: int) -> None:
        self._runs = runs
        self._job_id = job_id
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
            await self._runs.append_log(self._job_id, text)

    async def close(self) -> None:
        if self._timer is not None and self._timer is not asyncio.current_task():
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
        await self.flush()
