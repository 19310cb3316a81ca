"""Writes are paced to stay under GitHub's 80 content-creating requests a minute."""

from __future__ import annotations

import asyncio

from bot.github.pacing import WritePacer


async def test_writes_beyond_the_limit_wait_for_the_window() -> None:
    now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = WritePacer(limit=3, window=60, clock=lambda: now[0], sleep=sleep)
    sent = []
    for _ in range(7):
        await pacer.wait()
        sent.append(now[0])
        now[0] += 1
    assert sent == [0, 1, 2, 60, 61, 62, 120]
    assert all(sum(1 for t in sent if start <= t < start + 60) <= 3 for start in sent)
    assert pacer.waited == sum(slept)


async def test_concurrent_writers_are_served_in_order() -> None:
    pacer = WritePacer(limit=2, window=0.2)
    order: list[int] = []

    async def write(n: int) -> None:
        await pacer.wait()
        order.append(n)

    await asyncio.gather(*(write(n) for n in range(5)))
    assert order == [0, 1, 2, 3, 4]
    assert pacer.waited > 0
