"""The delivery log: every webhook recorded durably before it is answered, once per id.

One writer task owns every write to this table: the deliveries of concurrent webhook
requests and the outcomes the dispatcher reports are committed together, in one
transaction per batch (group commit), so recording a delivery costs little more than
recording one, and the writes never contend with each other for SQLite's lock.

A delivery is recorded already claimed by the replica that received it (see
bot.store.claims), in the same row: taking it costs no extra round trip.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.engine import sync_sqlite_engine
from bot.store.records import Claim, Delivery, DeliveryStatus
from bot.store.schema import deliveries

log = logging.getLogger("greenlight.store")

_MARK = (
    deliveries.update()
    .where(deliveries.c.id == sa.bindparam("delivery_id"))
    .values(
        status=sa.bindparam("new_status"),
        error=sa.bindparam("new_error"),
        handled_at=sa.bindparam("now"),
    )
)


def _rows(batch: Sequence[tuple[Delivery, Claim | None]]) -> list[dict[str, Any]]:
    """Rows for the deliveries of a batch, the first copy of an id winning."""
    rows = {
        d.id: {
            "id": d.id,
            "event": d.event,
            "action": d.action,
            "installation_id": d.installation_id,
            "repo": d.repo,
            "payload": d.payload,
            "received_at": d.received_at,
            "status": DeliveryStatus.PENDING,
            "recovered": d.recovered,
            "claimed_by": claim.holder if claim else None,
            "claim_expires": claim.expires if claim else None,
        }
        for d, claim in reversed(batch)
    }
    return list(rows.values())


def delivery_from_row(row: sa.RowMapping) -> Delivery:
    """The delivery a row of the table holds."""
    return Delivery(
        id=row["id"],
        event=row["event"],
        action=row["action"],
        installation_id=row["installation_id"],
        repo=row["repo"],
        payload=row["payload"],
        received_at=row["received_at"],
        recovered=row["recovered"],
    )


def _insert_new(dialect: Any) -> Any:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id: the new ids, in one statement."""
    return (
        dialect.insert(deliveries)
        .on_conflict_do_nothing(index_elements=[deliveries.c.id])
        .returning(deliveries.c.id)
    )


# The batch's statements for SQLite, sent through the DBAPI itself: SQLAlchemy's statement
# building and result handling cost more than SQLite's own work for a batch (about 0.25 of
# the 0.4 ms each delivery took in the writer thread, `python -m bench intake`).
_SQLITE_INSERT = (
    "INSERT INTO deliveries (id, event, action, installation_id, repo, payload, received_at,"
    " status, recovered, claimed_by, claim_expires) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (id) DO NOTHING"
)
_SQLITE_MARK = "UPDATE deliveries SET status = ?, error = ?, handled_at = ? WHERE id = ?"


def _commit_sqlite(
    engine: sa.Engine, rows: list[dict[str, Any]], marks: list[dict[str, Any]]
) -> set[str]:
    """One transaction on a pooled connection (WAL, busy timeout): the ids inserted."""
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        inserted: set[str] = set()
        for row in rows:
            cursor.execute(
                _SQLITE_INSERT,
                (
                    row["id"],
                    row["event"],
                    row["action"],
                    row["installation_id"],
                    row["repo"],
                    row["payload"],
                    row["received_at"],
                    str(row["status"]),
                    bool(row["recovered"]),
                    row["claimed_by"],
                    row["claim_expires"],
                ),
            )
            if cursor.rowcount == 1:  # 0: recorded before (the conflict did nothing)
                inserted.add(row["id"])
        if marks:
            cursor.executemany(
                _SQLITE_MARK,
                [(str(m["new_status"]), m["new_error"], m["now"], m["delivery_id"]) for m in marks],
            )
        connection.commit()
        return inserted
    except BaseException:
        connection.rollback()
        raise
    finally:
        connection.close()  # back to the pool


def _mark(
    delivery_id: str, status: DeliveryStatus, now: float, error: str | None
) -> dict[str, Any]:
    return {"delivery_id": delivery_id, "new_status": status, "new_error": error, "now": now}


class DeliveryLog:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sqlite = sync_sqlite_engine(engine)  # None on PostgreSQL
        self._new: list[tuple[Delivery, Claim | None, asyncio.Future[bool]]] = []
        self._marks: list[tuple[dict[str, Any], asyncio.Future[None] | None]] = []
        self._wakeup = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._closing = False
        self._writing = False
        self._flushes: list[asyncio.Future[None]] = []

    async def record(self, delivery: Delivery, *, claim: Claim | None = None) -> bool:
        """Store a new delivery as pending (held by `claim`, if given); False when this id
        was recorded before (its claim is then left as it was)."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._new.append((delivery, claim, future))
        self._wake_writer()
        return await future

    async def finish(
        self, delivery_id: str, status: DeliveryStatus, *, now: float, error: str | None = None
    ) -> None:
        """Mark a delivery handled (done) or failed, with the error for the operator."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._marks.append((_mark(delivery_id, status, now, error), future))
        self._wake_writer()
        await future

    def finish_soon(
        self, delivery_id: str, status: DeliveryStatus, *, now: float, error: str | None = None
    ) -> None:
        """`finish` with the next batch, without waiting; a failure is logged, and the
        delivery stays pending, so it is handled again after a restart."""
        self._marks.append((_mark(delivery_id, status, now, error), None))
        self._wake_writer()

    def _wake_writer(self) -> None:
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_batches(), name="delivery-writer")
        self._wakeup.set()

    async def close(self) -> None:
        """Write what is still waiting, then stop the writer."""
        self._closing = True
        if self._writer is not None and not self._writer.done():
            self._wakeup.set()
            await self._writer
        if self._sqlite is not None:
            self._sqlite.dispose()

    async def flush(self) -> None:
        """Until every write asked for so far is committed (for shutdown and tests)."""
        if not (self._new or self._marks or self._writing):
            return
        flushed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._flushes.append(flushed)
        self._wake_writer()
        await flushed

    async def _write_batches(self) -> None:
        while True:
            if not (self._new or self._marks or self._closing):
                await self._wakeup.wait()
                self._wakeup.clear()
            new, self._new = self._new, []
            marks, self._marks = self._marks, []
            if new or marks:
                self._writing = True
                try:
                    await self._write(new, marks)
                finally:
                    self._writing = False
            if not (self._new or self._marks):
                flushes, self._flushes = self._flushes, []
                for flushed in flushes:
                    if not flushed.done():
                        flushed.set_result(None)
                if self._closing:
                    return

    async def _write(
        self,
        new: Sequence[tuple[Delivery, Claim | None, asyncio.Future[bool]]],
        marks: Sequence[tuple[dict[str, Any], asyncio.Future[None] | None]],
    ) -> None:
        rows = _rows([(delivery, claim) for delivery, claim, _ in new])
        mark_values = [values for values, _ in marks]
        try:
            inserted = await self._commit(rows, mark_values)
        except Exception as error:  # every waiting caller gets the failure
            futures: list[asyncio.Future[Any]] = [f for _, _, f in new]
            futures += [f for _, f in marks if f is not None]
            for future in futures:
                if not future.done():
                    future.set_exception(error)
            if len(futures) < len(new) + len(marks):
                log.exception("could not mark %d deliveries handled", len(marks))
            return
        for delivery, _, future in new:
            if not future.done():
                future.set_result(delivery.id in inserted)
            inserted.discard(delivery.id)  # a second copy in the same batch is a duplicate
        for _, mark in marks:
            if mark is not None and not mark.done():
                mark.set_result(None)

    async def _commit(self, rows: list[dict[str, Any]], marks: list[dict[str, Any]]) -> set[str]:
        """One transaction: insert the new deliveries, mark the handled; the ids inserted."""
        if self._sqlite is not None:
            # One hop to a thread for the whole batch, instead of one per statement through
            # aiosqlite: each hop waits for the event loop and the GIL.
            return await asyncio.to_thread(_commit_sqlite, self._sqlite, rows, marks)
        async with self._engine.begin() as connection:
            inserted: set[str] = set()
            if rows:
                result = await connection.execute(_insert_new(postgresql), rows)
                inserted = set(result.scalars())
            if marks:
                await connection.execute(_MARK, marks)
            return inserted

    async def pending(self) -> list[Delivery]:
        """Deliveries recorded but not yet handled, oldest first, whoever claims them."""
        query = (
            sa.select(deliveries)
            .where(deliveries.c.status == DeliveryStatus.PENDING)
            .order_by(deliveries.c.received_at)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).mappings().all()
        return [delivery_from_row(row) for row in rows]

    async def known(self, ids: Sequence[str]) -> set[str]:
        """Which of these delivery ids were recorded (received or recovered) before."""
        if not ids:
            return set()
        query = sa.select(deliveries.c.id).where(deliveries.c.id.in_(list(ids)))
        async with self._engine.connect() as connection:
            return set((await connection.execute(query)).scalars())

    async def is_empty(self) -> bool:
        """True when no delivery was ever recorded (a new installation of Greenlight)."""
        async with self._engine.connect() as connection:
            first = await connection.execute(sa.select(deliveries.c.id).limit(1))
            return first.first() is None

    async def prune(self, before: float, *, chunk: int = 500) -> int:
        """Delete handled deliveries received before `before`; how many went.

        Pending ones stay whatever their age (a restart still owes them a handler). Rows go
        `chunk` at a time, each in a transaction of its own, so intake never waits long for
        SQLite's write lock.
        """
        old = (
            sa.select(deliveries.c.id)
            .where(
                (deliveries.c.status != DeliveryStatus.PENDING)
                & (deliveries.c.received_at < before)
            )
            .limit(chunk)
            .scalar_subquery()
        )
        removed = 0
        while True:
            async with self._engine.begin() as connection:
                result = await connection.execute(
                    deliveries.delete().where(deliveries.c.id.in_(old))
                )
            removed += result.rowcount
            if result.rowcount < chunk:
                return removed

    async def get(self, delivery_id: str) -> Delivery | None:
        """The recorded delivery `delivery_id`; None when never recorded, or pruned."""
        query = sa.select(deliveries).where(deliveries.c.id == delivery_id)
        async with self._engine.connect() as connection:
            row = (await connection.execute(query)).mappings().first()
        return None if row is None else delivery_from_row(row)

    async def status(self, delivery_id: str) -> DeliveryStatus | None:
        """The status of a recorded delivery; None when it was never recorded."""
        async with self._engine.connect() as connection:
            value = (
                await connection.execute(
                    sa.select(deliveries.c.status).where(deliveries.c.id == delivery_id)
                )
            ).scalar()
        return None if value is None else DeliveryStatus(value)
