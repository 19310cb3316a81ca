"""Writes are paced to stay under GitHub's 80 content-creating requests a minute."""

from __future__ import annotations

import asyncio

from bot.github.pacing import Priority, WritePacer
from tests.virtual_time import VirtualTime


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


async def test_waiting_feedback_writes_go_before_writes_that_can_wait() -> None:
    time_passes = VirtualTime()
    checks_queued = asyncio.Event()

    async def sleep(seconds: float) -> None:
        await checks_queued.wait()  # the burst is all in line before the window moves on
        await time_passes.sleep(seconds)

    pacer = WritePacer(limit=1, window=60, clock=time_passes.clock, sleep=sleep)
    order: list[str] = []

    async def write(name: str, priority: Priority) -> None:
        await pacer.wait(priority)
        order.append(name)

    waiting = [asyncio.create_task(write(f"edit {n}", Priority.DEFERRABLE)) for n in range(3)]
    await asyncio.sleep(0)  # the edits are in line before the check runs come
    waiting += [asyncio.create_task(write(f"check {n}", Priority.FEEDBACK)) for n in range(3)]
    await asyncio.sleep(0)
    checks_queued.set()
    await asyncio.gather(*waiting)
    assert order == ["edit 0", "check 0", "check 1", "check 2", "edit 1", "edit 2"]
    assert sum(time_passes.waits) >= 5 * 60


async def test_a_write_given_up_while_waiting_leaves_the_line() -> None:
    time_passes = VirtualTime()
    gate = asyncio.Event()

    async def slow_sleep(seconds: float) -> None:
        await gate.wait()
        await time_passes.sleep(seconds)

    pacer = WritePacer(limit=1, window=60, clock=time_passes.clock, sleep=slow_sleep)
    await pacer.wait()
    head = asyncio.create_task(pacer.wait(Priority.DEFERRABLE))
    behind = asyncio.create_task(pacer.wait(Priority.DEFERRABLE))
    await asyncio.sleep(0)
    head.cancel()  # cancelled while it slept at the head of the line
    gate.set()
    await asyncio.wait_for(behind, timeout=5)
    assert head.cancelled()
