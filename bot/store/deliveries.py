"""The delivery log: every webhook recorded durably before it is answered, once per id.

Concurrent webhook requests are written in one transaction (group commit), so recording
every delivery costs little more than recording one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.records import Delivery, DeliveryStatus
from bot.store.schema import deliveries


class DeliveryLog:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._waiting: list[tuple[Delivery, asyncio.Future[bool]]] = []
        self._wakeup = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None

    async def record(self, delivery: Delivery) -> bool:
        """Store a new delivery as pending; False when this id was recorded before."""
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_batches(), name="delivery-writer")
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((delivery, future))
        self._wakeup.set()
        return await future

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer

    async def _write_batches(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            batch, self._waiting = self._waiting, []
            if not batch:
                continue
            try:
                inserted = await self._insert(batch)
            except Exception as error:  # every waiting request gets the failure
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for (_, future), was_new in zip(batch, inserted, strict=True):
                if not future.done():
                    future.set_result(was_new)

    async def _insert(self, batch: Sequence[tuple[Delivery, asyncio.Future[bool]]]) -> list[bool]:
        ids = [delivery.id for delivery, _ in batch]
        async with self._engine.begin() as connection:
            existing = set(
                (
                    await connection.execute(
                        sa.select(deliveries.c.id).where(deliveries.c.id.in_(ids))
                    )
                ).scalars()
            )
            fresh: dict[str, Delivery] = {}
            for delivery, _ in batch:
                if delivery.id not in existing and delivery.id not in fresh:
                    fresh[delivery.id] = delivery
            if fresh:
                await connection.execute(
                    deliveries.insert(),
                    [
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
                    ],
                )
        seen: set[str] = set()
        result = []
        for delivery, _ in batch:
            result.append(delivery.id in fresh and delivery.id not in seen)
            seen.add(delivery.id)
        return result

    async def pending(self) -> list[Delivery]:
        """Deliveries recorded but not yet handled, oldest first (re-queued at start-up)."""
        query = (
            sa.select(deliveries)
            .where(deliveries.c.status == DeliveryStatus.PENDING)
            .order_by(deliveries.c.received_at)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).mappings().all()
        return [
            Delivery(
                id=row["id"],
                event=row["event"],
                action=row["action"],
                installation_id=row["installation_id"],
                repo=row["repo"],
                payload=row["payload"],
                received_at=row["received_at"],
            )
            for row in rows
        ]

    async def finish(
        self, delivery_id: str, status: DeliveryStatus, *, now: float, error: str | None = None
    ) -> None:
        """Mark a delivery handled (done) or failed, with the error for the operator."""
        async with self._engine.begin() as connection:
            await connection.execute(
                deliveries.update()
                .where(deliveries.c.id == delivery_id)
                .values(status=status, error=error, handled_at=now)
            )

    async def status(self, delivery_id: str) -> DeliveryStatus | None:
        async with self._engine.connect() as connection:
            value = (
                await connection.execute(
                    sa.select(deliveries.c.status).where(deliveries.c.id == delivery_id)
                )
            ).scalar()
        return None if value is None else DeliveryStatus(value)
