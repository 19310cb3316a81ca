"""What lets several replicas share one database: who is alive, who holds what, short locks.

- `Replicas`: each web process beats a row every few seconds; a replica whose last beat is
  older than the time-to-live is dead, and what it owned may be taken over.
- `Leases`: a named hold with an expiry (a deploy and its health checks, the recovery
  pass): renewed by its holder while it works, taken over by another once it runs out.
- `Locks`: a lock held for the length of a short critical section (merge evaluation of one
  pull request): PostgreSQL's transaction-level advisory lock, released with the
  transaction whatever happens to the process; on SQLite, which serves one process, an
  in-process lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.schema import leases, replicas

# Take the lease when it is free, expired or already ours; the row comes back only then.
_ACQUIRE = sa.text(
    """INSERT INTO leases (name, holder, expires_at) VALUES (:name, :holder, :expires_at)
    ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
    WHERE leases.holder = excluded.holder OR leases.expires_at <= :now
    RETURNING holder"""
)
_BEAT = sa.text(
    """INSERT INTO replicas (id, started_at, beat_at) VALUES (:id, :now, :now)
    ON CONFLICT (id) DO UPDATE SET beat_at = excluded.beat_at"""
)


class Replicas:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def beat(self, replica_id: str, *, now: float) -> None:
        """Say this replica is alive (registering it on its first beat)."""
        async with self._engine.begin() as connection:
            await connection.execute(_BEAT, {"id": replica_id, "now": now})

    async def live(self, *, now: float, ttl: float) -> set[str]:
        """The replicas that beat within the last `ttl` seconds."""
        query = sa.select(replicas.c.id).where(replicas.c.beat_at > now - ttl)
        async with self._engine.connect() as connection:
            return set((await connection.execute(query)).scalars())

    async def is_live(self, replica_id: str | None, *, now: float, ttl: float) -> bool:
        """True when `replica_id` beat within `ttl` seconds (None, no owner, is not live)."""
        return replica_id is not None and replica_id in await self.live(now=now, ttl=ttl)

    async def remove(self, replica_id: str) -> None:
        """Forget a replica that stopped cleanly, so its work is taken over at once."""
        async with self._engine.begin() as connection:
            await connection.execute(replicas.delete().where(replicas.c.id == replica_id))


class Leases:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def acquire(self, name: str, holder: str, *, ttl: float, now: float) -> bool:
        """Take or renew the lease `name` for `holder` until `now + ttl`; False while
        another holder's lease has not run out."""
        values = {"name": name, "holder": holder, "expires_at": now + ttl, "now": now}
        async with self._engine.begin() as connection:
            return (await connection.execute(_ACQUIRE, values)).first() is not None

    async def release(self, name: str, holder: str) -> None:
        """Give the lease up (only if `holder` still holds it)."""
        async with self._engine.begin() as connection:
            await connection.execute(
                leases.delete().where((leases.c.name == name) & (leases.c.holder == holder))
            )

    async def holder(self, name: str, *, now: float) -> str | None:
        """Who holds the lease `name` now; None when it is free or ran out."""
        query = sa.select(leases.c.holder).where(
            (leases.c.name == name) & (leases.c.expires_at > now)
        )
        async with self._engine.connect() as connection:
            return (await connection.execute(query)).scalar()


class Locks:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._local: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        """Hold the lock `key` across every replica for the body (keep the body short: it
        keeps a database connection and transaction open on PostgreSQL)."""
        lock = self._local.setdefault(key, asyncio.Lock())
        async with lock:  # one waiter per process on the database, the others here
            if self._engine.dialect.name != "postgresql":
                yield
                return
            async with self._engine.begin() as connection:
                await connection.execute(
                    sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                    {"key": key},
                )
                yield
