"""The store: one data layer over SQLite (default) or PostgreSQL, the same code for both."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.claims import DeliveryClaims
from bot.store.deliveries import DeliveryLog
from bot.store.engine import make_engine
from bot.store.installations import Installations
from bot.store.leases import Leases, Locks, Replicas
from bot.store.migrations import migrate
from bot.store.owners import Owners
from bot.store.pull_requests import PullRequests
from bot.store.recovery import RecoveryPoints
from bot.store.runs import NewJob, NewRun, Runs
from bot.store.timers import Timers
from bot.store.write_budget import WriteBudget

__all__ = ["NewJob", "NewRun", "Store", "open_store"]


class Store:
    """The tables, grouped by what they are about."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.deliveries = DeliveryLog(engine)
        self.installations = Installations(engine)
        self.runs = Runs(engine)
        self.pull_requests = PullRequests(engine)
        self.replicas = Replicas(engine)
        self.leases = Leases(engine)
        self.locks = Locks(engine)
        self.owners = Owners(engine)
        self.timers = Timers(engine)
        self.recovery_points = RecoveryPoints(engine)
        self.claims = DeliveryClaims(engine)
        self.write_budget = WriteBudget(engine)

    @property
    def is_shared(self) -> bool:
        """True when several web processes may share the database (PostgreSQL); SQLite
        serves one (see bot.store.exclusive)."""
        return self.engine.dialect.name == "postgresql"

    async def is_healthy(self) -> bool:
        """True when the database answers a query."""
        try:
            async with self.engine.connect() as connection:
                await connection.execute(sa.text("SELECT 1"))
        except (OSError, sa.exc.SQLAlchemyError):
            return False
        return True

    async def close(self) -> None:
        """Write what is pending, then close the connections."""
        await self.deliveries.close()
        await self.engine.dispose()


async def open_store(database_url: str) -> Store:
    """Connect and bring the schema up to date."""
    engine = make_engine(database_url)
    try:
        async with engine.begin() as connection:
            await migrate(connection)
    except BaseException:
        await engine.dispose()
        raise
    return Store(engine)
