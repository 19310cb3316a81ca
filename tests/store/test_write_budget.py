"""GitHub's write budget per installation, shared by replicas through one database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.core.write_room import room_delay
from bot.github.pacing import MemoryBudget, WritePacer
from bot.store import Store, open_store
from tests.services import postgres_database


class SharedTime:
    """One clock for every replica of a test; sleeping moves it on."""

    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


@pytest.fixture
async def two_replicas() -> AsyncIterator[tuple[Store, Store]]:
    """Two stores on one PostgreSQL database, as two web processes would open it."""
    async with postgres_database() as url:
        first, second = await open_store(url), await open_store(url)
        try:
            yield first, second
        finally:
            await first.close()
            await second.close()


def pacer(store: Store, time: SharedTime, *, installation: int = 7) -> WritePacer:
    return WritePacer(
        installation,
        budget=store.write_budget,
        limit=3,
        window=60,
        hourly_limit=5,
        clock=time.clock,
        sleep=time.sleep,
    )


@pytest.mark.parametrize(
    ("sent", "now", "delay"),
    [
        ((), 100.0, 0.0),
        ((50.0, 60.0), 100.0, 0.0),
        ((50.0, 60.0, 70.0), 100.0, 10.0),  # the oldest leaves the minute at 110
        ((30.0, 60.0, 70.0), 100.0, 0.0),  # 60 s ago is outside the window
        ((0.0, 1.0, 2.0, 3.0, 200.0), 300.0, 3300.0),  # five an hour: wait for the first
    ],
)
def test_room_for_one_more_write(sent: tuple[float, ...], now: float, delay: float) -> None:
    assert room_delay(sent, now=now, limits=((3, 60.0), (5, 3600.0))) == delay


@pytest.mark.postgres
async def test_two_replicas_share_one_write_budget(two_replicas: tuple[Store, Store]) -> None:
    time = SharedTime()
    first, second = (pacer(store, time) for store in two_replicas)
    sent = []
    for replica in (first, second, first, second, first):
        await replica.wait()
        sent.append(time.now - 1_000_000)
    # Three a minute between them, not three each: the fourth waits for the first to age.
    assert sent == [0, 0, 0, 60, 60]
    # Five an hour between them: the sixth waits for the hour of the first.
    await second.wait()
    assert time.now - 1_000_000 == 3600
    assert first.waited + second.waited == 3600


@pytest.mark.postgres
async def test_a_pause_learned_by_one_replica_holds_for_all(
    two_replicas: tuple[Store, Store],
) -> None:
    time = SharedTime()
    first, second = (pacer(store, time) for store in two_replicas)
    await first.pause_until(time.now + 42)
    await first.pause_until(time.now + 5)  # a shorter pause never shortens a longer one
    await second.wait()
    assert time.waits == [42]
    other = pacer(two_replicas[1], time, installation=8)
    await other.wait()  # another installation is not held
    assert time.waits == [42]


@pytest.mark.postgres
async def test_concurrent_replicas_never_exceed_the_budget(
    two_replicas: tuple[Store, Store],
) -> None:
    time = SharedTime()
    pacers = [pacer(store, time) for store in two_replicas for _ in range(2)]
    stamps: list[float] = []

    async def write(replica: WritePacer) -> None:
        await replica.wait()
        stamps.append(time.now)

    await asyncio.gather(*(write(pacers[n % 4]) for n in range(5)))
    assert all(sum(1 for t in stamps if start <= t < start + 60) <= 3 for start in stamps)


async def test_one_process_counts_in_memory() -> None:
    time = SharedTime()
    budget = MemoryBudget()
    one = WritePacer(7, budget=budget, limit=2, window=60, clock=time.clock, sleep=time.sleep)
    two = WritePacer(7, budget=budget, limit=2, window=60, clock=time.clock, sleep=time.sleep)
    for replica in (one, two, one):
        await replica.wait()
    assert time.now - 1_000_000 == 60
    await two.pause_until(time.now + 10)
    await one.wait()
    assert time.waits[-1] == 10
