"""Replicas, leases and locks: what several web processes on one database coordinate with."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.store import Store, open_store
from bot.store.engine import make_engine
from bot.store.migrations import MIGRATIONS, SchemaTooNew, migrate
from tests.services import postgres_database


async def test_a_replica_is_live_while_it_beats(store: Store) -> None:
    await store.replicas.beat("a", now=100)
    await store.replicas.beat("b", now=100)
    await store.replicas.beat("a", now=125)
    assert await store.replicas.live(now=131, ttl=30) == {"a"}
    assert await store.replicas.is_live("a", now=131, ttl=30)
    assert not await store.replicas.is_live("b", now=131, ttl=30)
    assert not await store.replicas.is_live(None, now=131, ttl=30)
    await store.replicas.remove("a")
    assert await store.replicas.live(now=131, ttl=30) == set()


async def test_a_lease_has_one_holder_until_it_runs_out(store: Store) -> None:
    assert await store.leases.acquire("deploy:o/r:production", "a", ttl=30, now=0)
    assert not await store.leases.acquire("deploy:o/r:production", "b", ttl=30, now=10)
    assert await store.leases.acquire("deploy:o/r:production", "a", ttl=30, now=20)  # renew
    assert not await store.leases.acquire("deploy:o/r:production", "b", ttl=30, now=45)
    assert await store.leases.holder("deploy:o/r:production", now=45) == "a"
    assert await store.leases.acquire("deploy:o/r:production", "b", ttl=30, now=50)  # ran out
    assert await store.leases.holder("deploy:o/r:production", now=50) == "b"
    assert await store.leases.acquire("other", "a", ttl=30, now=50)  # names are separate


async def test_only_the_holder_releases_a_lease(store: Store) -> None:
    await store.leases.acquire("recovery", "a", ttl=30, now=0)
    await store.leases.release("recovery", "b")
    assert await store.leases.holder("recovery", now=1) == "a"
    await store.leases.release("recovery", "a")
    assert await store.leases.holder("recovery", now=1) is None
    assert await store.leases.acquire("recovery", "b", ttl=30, now=1)


async def test_contenders_for_a_free_lease_get_one_winner(store: Store) -> None:
    won = await asyncio.gather(
        *(store.leases.acquire("merge:o/r#1", f"r{n}", ttl=30, now=0) for n in range(8))
    )
    assert won.count(True) == 1


async def test_a_lock_admits_one_holder_at_a_time(store: Store) -> None:
    inside, most = 0, 0

    async def critical() -> None:
        nonlocal inside, most
        async with store.locks.hold("merge:o/r#1"):
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0)  # let the others try to enter
            await asyncio.sleep(0)
            inside -= 1

    await asyncio.gather(*(critical() for _ in range(5)))
    assert most == 1


async def test_a_lock_holds_across_two_stores_on_postgresql() -> None:
    """Two replicas are two processes with their own connections: the lock is PostgreSQL's."""
    async with postgres_database() as url:
        first, second = await open_store(url), await open_store(url)
        try:
            entered = asyncio.Event()
            release = asyncio.Event()

            async def hold_in_first() -> None:
                async with first.locks.hold("merge:o/r#1"):
                    entered.set()
                    await release.wait()

            holder = asyncio.create_task(hold_in_first())
            await entered.wait()
            waiting = asyncio.create_task(_enter(second, "merge:o/r#1"))
            other = await _enter(second, "merge:o/r#2")  # another key is not held
            assert other
            assert not waiting.done()
            release.set()
            await holder
            assert await asyncio.wait_for(waiting, timeout=10)
        finally:
            await first.close()
            await second.close()


async def _enter(store: Store, key: str) -> bool:
    async with store.locks.hold(key):
        return True


async def test_replicas_starting_together_migrate_once() -> None:
    async with postgres_database() as url:
        stores = await asyncio.gather(*(open_store(url) for _ in range(4)))
        try:
            async with stores[0].engine.connect() as connection:
                versions = (
                    await connection.execute(sa.text("SELECT version FROM schema_version"))
                ).scalars()
                assert sorted(versions) == list(range(1, len(MIGRATIONS) + 1))
        finally:
            for store in stores:
                await store.close()


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
async def test_code_older_than_the_schema_refuses_to_start(tmp_path: Path, dialect: str) -> None:
    async def refuse(url: str) -> None:
        await (await open_store(url)).close()
        engine = make_engine(url)
        async with engine.begin() as connection:
            await connection.execute(
                sa.text("INSERT INTO schema_version (version) VALUES (:v)"),
                {"v": len(MIGRATIONS) + 1},
            )
        await engine.dispose()
        with pytest.raises(SchemaTooNew, match="same release"):
            await open_store(url)
        engine = make_engine(url)
        with pytest.raises(SchemaTooNew):
            async with engine.begin() as connection:
                await migrate(connection)
        await engine.dispose()

    if dialect == "sqlite":
        await refuse(f"sqlite:///{tmp_path / 'g.db'}")
    else:
        async with postgres_database() as url:
            await refuse(url)
