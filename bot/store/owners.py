"""Who owns each piece of unfinished work: the replica that runs it, by its id.

A run is owned by the replica that last scheduled its jobs, a job by the one that handed
it to its executor, a deploy by the one that queued or runs it. What a replica owns is
taken over by another only once that replica is no longer live (see `Replicas`); taking
is a conditional update, so when two replicas reach for the same row, one gets it.
"""

from __future__ import annotations

from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.records import Status
from bot.store.schema import deployments, jobs, runs


class Work(StrEnum):
    RUN = "run"
    JOB = "job"
    DEPLOY = "deploy"


_TABLES = {Work.RUN: runs, Work.JOB: jobs, Work.DEPLOY: deployments}


def _unfinished(work: Work) -> sa.ColumnElement[bool]:
    if work == Work.DEPLOY:
        return deployments.c.state.in_(["queued", "in_progress"])
    return _TABLES[work].c.status != Status.COMPLETED


def _owned_by(table: sa.Table, owner: str | None) -> sa.ColumnElement[bool]:
    return table.c.owner.is_(None) if owner is None else table.c.owner == owner


class Owners:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def own(self, work: Work, row_id: int, owner: str) -> None:
        """Say that `owner` now owns the row (it scheduled or queued the work)."""
        table = _TABLES[work]
        async with self._engine.begin() as connection:
            await connection.execute(table.update().where(table.c.id == row_id).values(owner=owner))

    async def take(self, work: Work, row_id: int, *, owner: str, previous: str | None) -> bool:
        """Take unfinished work over from `previous`; False when it ended or another
        replica took it first."""
        table = _TABLES[work]
        where = (table.c.id == row_id) & _owned_by(table, previous) & _unfinished(work)
        async with self._engine.begin() as connection:
            result = await connection.execute(table.update().where(where).values(owner=owner))
        return bool(result.rowcount)

    async def abandoned(self, work: Work, live: set[str]) -> list[tuple[int, str | None]]:
        """Unfinished work whose owner is not live, oldest first, with that owner.

        A job nobody handed to an executor yet (queued, no owner) is not abandoned: its
        run's owner schedules it. Work with no owner from before owners were recorded is.
        """
        table = _TABLES[work]
        orphan = table.c.owner.is_(None) | table.c.owner.not_in(sorted(live))
        if work == Work.JOB:
            orphan = (table.c.owner.is_not(None) & table.c.owner.not_in(sorted(live))) | (
                table.c.owner.is_(None) & (table.c.status == Status.IN_PROGRESS)
            )
        query = (
            sa.select(table.c.id, table.c.owner)
            .where(_unfinished(work) & orphan)
            .order_by(table.c.id)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [(int(row.id), row.owner) for row in rows]
