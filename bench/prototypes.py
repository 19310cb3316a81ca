"""Variants of the app for finding where intake time goes: `--servers app:VARIANT,...`.

Each variant patches the app inside the benchmark's server process only (nothing in
`bot/` changes); the README and the lead's report carry the matching diffs.

- `no-dispatch`   deliveries are recorded but never handed to the dispatcher
- `no-store`      nothing is written: `record` answers "new" at once (dispatcher still runs)
- `bare-handler`  both: what is left is signature, JSON parse, summarize, metrics
- `upsert`        one `INSERT … ON CONFLICT DO NOTHING RETURNING id` per batch instead of a
                  SELECT then an INSERT
- `fast`          `upsert`, plus the dispatcher reuses the parsed payload and marks
                  deliveries done in batches (one transaction for many)
- `thread`        (with `fast`) SQLite only: the writer commits each batch in one call to a
                  thread, through a synchronous engine on the same file and the same Core
                  statements, instead of one thread hop per statement through aiosqlite
- `switch`        `sys.setswitchinterval(0.0005)`: a thread waiting for the GIL (aiosqlite's,
                  with a result for the event loop) gets it after 0.5 ms instead of 5 ms
- `orjson`        the webhook parses with orjson (only where orjson is importable, e.g.
                  `PYTHONPATH=<a venv with orjson>/lib/python3.11/site-packages`)

Variants combine with `+`: `app:fast+orjson`. Every app variant also counts the batches
the delivery writer commits (`batch_stats`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import Sequence
from typing import Any

VARIANTS = (
    *("no-dispatch", "no-store", "bare-handler", "upsert", "fast", "orjson", "thread", "switch"),
)
batch_sizes: list[int] = []


def apply(variant: str) -> None:
    parts = {part for part in variant.split("+") if part}
    unknown = parts - set(VARIANTS)
    if unknown:
        raise SystemExit(f"unknown app variant {unknown}; choose from {', '.join(VARIANTS)}")
    if parts & {"no-dispatch", "bare-handler"}:
        _no_dispatch()
    if parts & {"no-store", "bare-handler"}:
        _no_store()
    if parts & {"upsert", "fast"}:
        _upsert()
    if "fast" in parts:
        _fast_dispatch()
    if "orjson" in parts:
        _orjson()
    if "thread" in parts:
        _thread_writer()
    if "switch" in parts:
        sys.setswitchinterval(0.0005)  # the GIL changes hands every 0.5 ms, not 5 ms
    _count_batches()


def batch_stats() -> dict[str, float]:
    """Transactions the delivery writer committed and their mean size."""
    count = len(batch_sizes)
    return {"batches": count, "mean_batch": sum(batch_sizes) / count if count else 0.0}


def _count_batches() -> None:
    from bot.store.deliveries import DeliveryLog

    insert = DeliveryLog._insert

    async def counted(self: Any, *args: Any) -> Any:
        batch_sizes.append(len(args[-1]))  # the batch is the last argument, whatever the shape
        return await insert(self, *args)

    DeliveryLog._insert = counted  # type: ignore[method-assign]


def _orjson() -> None:
    import orjson

    from bot.web import webhook

    class _Json:
        loads = staticmethod(orjson.loads)

    webhook.json = _Json  # type: ignore[assignment]


def _no_dispatch() -> None:
    from bot.dispatch.queue import Dispatcher

    def submit(self: Any, delivery: Any) -> None:
        return None

    Dispatcher.submit = submit  # type: ignore[method-assign]


def _no_store() -> None:
    from bot.store.deliveries import DeliveryLog

    async def record(self: Any, delivery: Any) -> bool:
        return True

    DeliveryLog.record = record  # type: ignore[method-assign]


def _upsert() -> None:
    from bot.store.deliveries import DeliveryLog

    DeliveryLog._insert = _insert_upsert  # type: ignore[method-assign]


async def _insert_upsert(self: Any, batch: Sequence[tuple[Any, Any]]) -> list[bool]:
    """The suggested `DeliveryLog._insert`: one statement, one round trip to the database."""
    from sqlalchemy.dialects import postgresql, sqlite

    from bot.store.records import DeliveryStatus
    from bot.store.schema import deliveries

    dialect = postgresql if self._engine.dialect.name == "postgresql" else sqlite
    fresh: dict[str, Any] = {}
    for delivery, _ in batch:
        fresh.setdefault(delivery.id, delivery)
    statement = (
        dialect.insert(deliveries)
        .on_conflict_do_nothing(index_elements=[deliveries.c.id])
        .returning(deliveries.c.id)
    )
    rows = [
        {
            "id": d.id,
            "event": d.event,
            "action": d.action,
            "installation_id": d.installation_id,
            "repo": d.repo,
            "payload": d.payload,
            "received_at": d.received_at,
            "status": DeliveryStatus.PENDING,
        }
        for d in fresh.values()
    ]
    async with self._engine.begin() as connection:
        inserted = set((await connection.execute(statement, rows)).scalars())
    result = []
    for delivery, _ in batch:
        result.append(delivery.id in inserted)
        inserted.discard(delivery.id)  # a second copy in the same batch is a duplicate
    return result


def _fast_dispatch() -> None:
    """The dispatcher keeps the parsed payload and marks deliveries in batches."""
    import sqlalchemy as sa

    from bot.dispatch import queue
    from bot.dispatch.events import WebhookEvent
    from bot.store.schema import deliveries
    from bot.web import webhook

    parsed: dict[str, Any] = {}
    original_loads = json.loads
    original_record = webhook._record

    async def record(request: Any, event: str, delivery_id: str, payload: Any, body: bytes) -> Any:
        parsed[delivery_id] = payload
        return await original_record(request, event, delivery_id, payload, body)

    webhook._record = record

    def from_delivery(delivery: Any) -> WebhookEvent:
        payload = parsed.pop(delivery.id, None)
        return WebhookEvent(
            name=delivery.event,
            action=delivery.action,
            delivery_id=delivery.id,
            installation_id=delivery.installation_id,
            repo=delivery.repo,
            payload=payload if payload is not None else original_loads(delivery.payload),
        )

    queue.from_delivery = from_delivery
    done: list[tuple[str, str, str | None, float]] = []
    wake = asyncio.Event()
    writer: list[asyncio.Task[None]] = []

    async def finish(
        self: Any, delivery_id: str, status: Any, *, now: float, error: Any = None
    ) -> None:
        done.append((delivery_id, str(status), error, now))
        wake.set()
        if not writer or writer[0].done():
            writer[:] = [asyncio.create_task(_flush(self._engine))]

    async def _flush(engine: Any) -> None:
        statement = (
            deliveries.update()
            .where(deliveries.c.id == sa.bindparam("delivery_id"))
            .values(
                status=sa.bindparam("new_status"),
                error=sa.bindparam("new_error"),
                handled_at=sa.bindparam("now"),
            )
        )
        while True:
            await wake.wait()
            wake.clear()
            batch, done[:] = list(done), []
            if batch:
                with contextlib.suppress(Exception):  # the delivery stays pending: retried
                    async with engine.begin() as connection:
                        await connection.execute(
                            statement,
                            [
                                {"delivery_id": i, "new_status": s, "new_error": e, "now": n}
                                for i, s, e, n in batch
                            ],
                        )

    from bot.store.deliveries import DeliveryLog

    DeliveryLog.finish = finish  # type: ignore[method-assign]


def _thread_writer() -> None:
    import threading

    import sqlalchemy as sa
    from sqlalchemy.dialects import sqlite

    from bot.store.deliveries import DeliveryLog
    from bot.store.engine import _tune_sqlite
    from bot.store.records import DeliveryStatus
    from bot.store.schema import deliveries

    engines: dict[str, sa.Engine] = {}
    lock = threading.Lock()

    def sync_engine(url: str) -> sa.Engine:
        with lock:
            if url not in engines:
                engine = sa.create_engine(
                    url.replace("+aiosqlite", ""), connect_args={"timeout": 30}
                )
                sa.event.listen(engine, "connect", _tune_sqlite)
                engines[url] = engine
            return engines[url]

    statement = (
        sqlite.insert(deliveries)
        .on_conflict_do_nothing(index_elements=[deliveries.c.id])
        .returning(deliveries.c.id)
    )

    def write(url: str, rows: list[dict[str, Any]]) -> set[str]:
        with sync_engine(url).begin() as connection:
            return set(connection.execute(statement, rows).scalars())

    async def insert(self: Any, batch: Sequence[tuple[Any, Any]]) -> list[bool]:
        fresh: dict[str, Any] = {}
        for delivery, _ in batch:
            fresh.setdefault(delivery.id, delivery)
        rows = [
            {
                "id": d.id,
                "event": d.event,
                "action": d.action,
                "installation_id": d.installation_id,
                "repo": d.repo,
                "payload": d.payload,
                "received_at": d.received_at,
                "status": DeliveryStatus.PENDING,
            }
            for d in fresh.values()
        ]
        url = self._engine.url.render_as_string(hide_password=False)
        inserted = await asyncio.to_thread(write, url, rows)
        result = []
        for delivery, _ in batch:
            result.append(delivery.id in inserted)
            inserted.discard(delivery.id)
        return result

    DeliveryLog._insert = insert  # type: ignore[method-assign]
