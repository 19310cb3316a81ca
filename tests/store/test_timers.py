"""Timers in the store, fired by one replica at a time, kept until their handler succeeds."""

from __future__ import annotations

import asyncio

import pytest

from bot.store import Store
from bot.store.timers import Timer
from bot.timekeeper import Timekeeper
from tests.helpers import wait_until


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_a_timer_is_kept_moved_and_listed_when_due(store: Store) -> None:
    await store.timers.set(Timer("freeze:o/r:merge", "freeze", 50.0, "o/r"))
    await store.timers.set(Timer("freeze:o/r:production", "freeze", 20.0))
    assert await store.timers.next_due() == 20.0
    await store.timers.set(Timer("freeze:o/r:production", "freeze", 70.0))  # moved
    assert [t.name for t in await store.timers.due(now=60)] == ["freeze:o/r:merge"]
    assert await store.timers.get("freeze:o/r:merge") == Timer(
        "freeze:o/r:merge", "freeze", 50.0, "o/r"
    )


async def test_a_timer_set_again_while_it_fired_is_not_lost(store: Store) -> None:
    fired = Timer("t", "freeze", 10.0)
    await store.timers.set(fired)
    await store.timers.set(Timer("t", "freeze", 99.0))  # set again before `done`
    await store.timers.done(fired)
    assert await store.timers.get("t") == Timer("t", "freeze", 99.0)


async def test_due_timers_fire_once_on_the_replica_holding_the_lease(store: Store) -> None:
    clock = Clock()
    calls: list[tuple[str, str]] = []
    keepers = [Timekeeper(store, replica, clock=clock) for replica in ("a", "b")]
    for replica, keeper in zip(("a", "b"), keepers, strict=True):
        keeper.handle("freeze", lambda timer, replica=replica: _record(calls, replica, timer))
    await keepers[0].set(Timer("one", "freeze", 1000.0))
    await keepers[1].set(Timer("later", "freeze", 1010.0))
    fired = await asyncio.gather(*(keeper.fire_due() for keeper in keepers))
    assert sorted(fired) == [0, 1]
    assert [name for _, name in calls] == ["one"]
    clock.now = 1020.0  # within the lease (30 s) the first holder took
    holder = await store.leases.holder("timers", now=clock.now)
    holding, other = keepers if holder == "a" else keepers[::-1]
    assert await other.fire_due() == 0  # one replica holds the lease, not both
    assert await holding.fire_due() == 1
    assert [name for _, name in calls] == ["one", "later"]
    assert await store.timers.next_due() is None


async def test_a_failing_handler_keeps_its_timer_for_later(store: Store) -> None:
    clock = Clock()
    attempts: list[str] = []

    async def flaky(timer: Timer) -> None:
        attempts.append(timer.name)
        if len(attempts) == 1:
            raise RuntimeError("GitHub answered 502")

    keeper = Timekeeper(store, "a", clock=clock)
    keeper.handle("freeze", flaky)
    await keeper.set(Timer("t", "freeze", 1000.0))
    assert await keeper.fire_due() == 0
    assert await keeper.fire_due() == 0  # postponed, not retried at once
    clock.now += 31
    assert await keeper.fire_due() == 1
    assert attempts == ["t", "t"]
    assert await store.timers.get("t") is None


async def test_a_dead_holder_s_lease_runs_out_and_another_fires(store: Store) -> None:
    clock = Clock()
    calls: list[tuple[str, str]] = []
    dead, alive = Timekeeper(store, "dead", clock=clock), Timekeeper(store, "alive", clock=clock)
    alive.handle("freeze", lambda timer: _record(calls, "alive", timer))
    await store.leases.acquire("timers", "dead", ttl=30, now=clock.now)
    del dead  # it stopped without releasing anything
    await store.timers.set(Timer("t", "freeze", clock.now))
    assert await alive.fire_due() == 0
    clock.now += 31
    assert await alive.fire_due() == 1
    assert calls == [("alive", "t")]


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
async def test_the_running_keeper_fires_a_timer_when_it_comes_due(store: Store) -> None:
    calls: list[tuple[str, str]] = []
    keeper = Timekeeper(store, "a", tick=0.05)
    keeper.handle("freeze", lambda timer: _record(calls, "a", timer))
    keeper.start()
    try:
        await keeper.set(Timer("soon", "freeze", 0.0))  # due long ago
        await wait_until(lambda: _done(calls), deadline=10, message="the timer to fire")
    finally:
        await keeper.stop()
    assert calls == [("a", "soon")]
    assert await store.leases.holder("timers", now=0) is None  # released on stop


async def _done(calls: list[tuple[str, str]]) -> bool:
    return bool(calls)


async def _record(calls: list[tuple[str, str]], replica: str, timer: Timer) -> None:
    calls.append((replica, timer.name))
