"""Timers kept in the store: something to do at a time, whichever replica is up then.

A freeze window's end must release the merges and deploys it held even when no webhook
arrives, and even if the replica that saw the freeze has stopped. Each timer has a unique
name (setting it again moves it), a kind that says which service handles it, and a small
JSON-able text of data.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.schema import timers


@dataclass(frozen=True)
class Timer:
    name: str
    kind: str
    due_at: float
    data: str = ""


class Timers:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def set(self, timer: Timer) -> None:
        """Keep `timer`, replacing any of the same name."""
        dialect = postgresql if self._engine.dialect.name == "postgresql" else sqlite
        values = {
            "name": timer.name,
            "kind": timer.kind,
            "due_at": timer.due_at,
            "data": timer.data,
        }
        statement = dialect.insert(timers).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=[timers.c.name],
            set_={"kind": timer.kind, "due_at": timer.due_at, "data": timer.data},
        )
        async with self._engine.begin() as connection:
            await connection.execute(statement)

    async def add(self, timer: Timer) -> bool:
        """Keep `timer` unless one of the same name is kept already; whether it was added."""
        dialect = postgresql if self._engine.dialect.name == "postgresql" else sqlite
        values = {
            "name": timer.name,
            "kind": timer.kind,
            "due_at": timer.due_at,
            "data": timer.data,
        }
        statement = dialect.insert(timers).values(values).on_conflict_do_nothing()
        async with self._engine.begin() as connection:
            return (await connection.execute(statement)).rowcount == 1

    async def named(self, prefix: str) -> list[Timer]:
        """The timers whose names start with `prefix`, earliest first."""
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = (
            sa.select(timers)
            .where(timers.c.name.like(pattern, escape="\\"))
            .order_by(timers.c.due_at, timers.c.name)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).mappings().all()
        return [Timer(row["name"], row["kind"], row["due_at"], row["data"]) for row in rows]

    async def due(self, *, now: float, limit: int = 100) -> list[Timer]:
        """The timers due at `now`, earliest first."""
        query = (
            sa.select(timers)
            .where(timers.c.due_at <= now)
            .order_by(timers.c.due_at, timers.c.name)
            .limit(limit)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).mappings().all()
        return [Timer(row["name"], row["kind"], row["due_at"], row["data"]) for row in rows]

    async def next_due(self) -> float | None:
        """When the earliest timer is due; None when there is none."""
        async with self._engine.connect() as connection:
            due = (await connection.execute(sa.select(sa.func.min(timers.c.due_at)))).scalar()
        return None if due is None else float(due)

    async def get(self, name: str) -> Timer | None:
        """The timer called `name`, if set."""
        async with self._engine.connect() as connection:
            row = (
                (await connection.execute(sa.select(timers).where(timers.c.name == name)))
                .mappings()
                .first()
            )
        return None if row is None else Timer(row["name"], row["kind"], row["due_at"], row["data"])

    async def done(self, timer: Timer) -> None:
        """Remove a timer that fired, unless it was set again meanwhile (another due time)."""
        async with self._engine.begin() as connection:
            await connection.execute(
                timers.delete().where(
                    (timers.c.name == timer.name) & (timers.c.due_at == timer.due_at)
                )
            )

    async def postpone(self, timer: Timer, due_at: float) -> None:
        """Move a timer whose handler failed to `due_at`, unless it was set again meanwhile."""
        async with self._engine.begin() as connection:
            await connection.execute(
                timers.update()
                .where((timers.c.name == timer.name) & (timers.c.due_at == timer.due_at))
                .values(due_at=due_at)
            )
