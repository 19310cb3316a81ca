"""Background loops stop between two rounds, never inside one (bot.periodic)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.periodic import Periodic
from bot.store import open_store
from bot.store.schema import timers
from bot.store.timers import Timer
from tests.helpers import wait_until


async def test_a_stop_during_a_store_transaction_lets_it_commit(tmp_path: Path) -> None:
    """The hazard this module exists for: a round inside a SQLite write transaction when
    the service stops. Cancelled there, it would leave the write lock taken; stopped
    between rounds, it commits, and the store takes the next write at once."""
    store = await open_store(f"sqlite:///{tmp_path / 'greenlight.db'}")
    inside, go_on = asyncio.Event(), asyncio.Event()

    async def write_slowly() -> None:
        async with store.engine.begin() as connection:
            await connection.execute(
                sa.insert(timers).values(name="first", kind="test", due_at=1.0, data="")
            )
            inside.set()
            await go_on.wait()

    loop = Periodic("writer", write_slowly, interval=3600.0)
    loop.start()
    await asyncio.wait_for(inside.wait(), timeout=10)
    stopping = asyncio.create_task(loop.stop())
    await asyncio.sleep(0)
    assert not stopping.done()  # it waits for the round, which is still inside
    go_on.set()
    await asyncio.wait_for(stopping, timeout=10)

    assert await store.timers.get("first") is not None  # the round committed
    await asyncio.wait_for(store.timers.set(Timer("second", "test", 2.0)), timeout=2)
    await store.close()


async def test_a_stop_between_rounds_does_not_wait_for_the_interval() -> None:
    rounds: list[int] = []

    async def count() -> None:
        rounds.append(1)

    loop = Periodic("counter", count, interval=3600.0)
    loop.start()
    await wait_until(lambda: len(rounds) == 1)
    await asyncio.wait_for(loop.stop(), timeout=2)
    assert len(rounds) == 1
    assert loop.rounds == 1


async def test_a_first_delay_postpones_the_first_round() -> None:
    rounds: dict[str, int] = {"now": 0, "later": 0}

    def counting(name: str) -> Periodic:
        async def count() -> None:
            rounds[name] += 1

        return Periodic(name, count, interval=3600.0, first_delay=3600.0 if name == "later" else 0)

    now, later = counting("now"), counting("later")
    now.start()
    later.start()
    await wait_until(lambda: rounds["now"] == 1)
    for _ in range(20):  # the loop without a delay ran within these; the other did not
        await asyncio.sleep(0)
    await now.stop()
    await later.stop()
    assert rounds == {"now": 1, "later": 0}


async def test_a_failing_round_is_logged_and_the_loop_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[int] = []

    async def fail_once() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the store is down")

    loop = Periodic("flaky", fail_once, interval=0.001, failure="could not do it")
    with caplog.at_level(logging.ERROR, logger="greenlight.periodic"):
        loop.start()
        await wait_until(lambda: len(calls) >= 3)
        await loop.stop()
    assert [record.getMessage() for record in caplog.records] == ["could not do it"]
    assert "the store is down" in caplog.text


async def test_a_round_that_hangs_is_cancelled_after_the_stop_allows(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cancelled = asyncio.Event()

    async def hang() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    loop = Periodic("stuck", hang, interval=1.0, stop_seconds=0.05)
    loop.start()
    await asyncio.sleep(0)
    with caplog.at_level(logging.WARNING, logger="greenlight.periodic"):
        await asyncio.wait_for(loop.stop(), timeout=5)
    assert cancelled.is_set()
    assert "stuck still busy after 0 s; cancelling it" in caplog.text
