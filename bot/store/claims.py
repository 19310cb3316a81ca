"""Which replica handles a pending delivery: a claim with an expiry, renewed while it works.

A replica records each delivery it receives already claimed by itself (in the same insert,
see bot.store.deliveries). The statements here renew a replica's claims, give them back
when it stops, and take over what no live claim holds: deliveries left by a replica that
died (its claims ran out) or gave them back. Each is one `UPDATE … WHERE … RETURNING`, so of
replicas racing for a delivery exactly one gets it: on PostgreSQL a second UPDATE waits for
the first one's row lock, then checks its WHERE clause again against the row the first one
wrote (READ COMMITTED), finds the claim taken and leaves the row alone.
https://www.postgresql.org/docs/current/transaction-iso.html#XACT-READ-COMMITTED
"""

from __future__ import annotations

from collections.abc import Collection

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.deliveries import delivery_from_row
from bot.store.records import Delivery, DeliveryStatus
from bot.store.schema import deliveries

_PENDING = deliveries.c.status == DeliveryStatus.PENDING
_CHUNK = 500  # ids per statement: SQLite takes at most 32,766 parameters


def _is_free(now: float) -> sa.ColumnElement[bool]:
    return deliveries.c.claimed_by.is_(None) | (deliveries.c.claim_expires <= now)


class DeliveryClaims:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def take_free(
        self, holder: str, *, now: float, until: float, everything: bool = False
    ) -> list[Delivery]:
        """Claim for `holder`, until `until`, the pending deliveries no live claim holds
        (every pending one with `everything`: no other process can be handling them);
        the deliveries taken, oldest first."""
        where = _PENDING if everything else _PENDING & _is_free(now)
        statement = (
            deliveries.update()
            .where(where)
            .values(claimed_by=holder, claim_expires=until)
            .returning(*deliveries.c)
        )
        async with self._engine.begin() as connection:
            rows = (await connection.execute(statement)).mappings().all()
        taken = [delivery_from_row(row) for row in rows]
        return sorted(taken, key=lambda delivery: delivery.received_at)

    async def take(self, delivery_id: str, holder: str, *, now: float, until: float) -> bool:
        """Claim one pending delivery, if it is free or `holder`'s already; False when it
        was handled, or another replica holds it."""
        statement = (
            deliveries.update()
            .where(
                (deliveries.c.id == delivery_id)
                & _PENDING
                & (_is_free(now) | (deliveries.c.claimed_by == holder))
            )
            .values(claimed_by=holder, claim_expires=until)
            .returning(deliveries.c.id)
        )
        async with self._engine.begin() as connection:
            return (await connection.execute(statement)).first() is not None

    async def renew(self, holder: str, ids: Collection[str], *, until: float) -> set[str]:
        """Extend `holder`'s claims on these pending deliveries to `until`; those it still
        holds (the others were handled, or taken over once its claim ran out)."""
        ids = list(ids)
        held: set[str] = set()
        async with self._engine.begin() as connection:
            for start in range(0, len(ids), _CHUNK):
                statement = (
                    deliveries.update()
                    .where(
                        deliveries.c.id.in_(ids[start : start + _CHUNK])
                        & _PENDING
                        & (deliveries.c.claimed_by == holder)
                    )
                    .values(claim_expires=until)
                    .returning(deliveries.c.id)
                )
                held.update((await connection.execute(statement)).scalars())
        return held

    async def release(self, holder: str) -> None:
        """Give back `holder`'s claims on pending deliveries: another replica takes them at
        its next look instead of once they run out."""
        statement = (
            deliveries.update()
            .where(_PENDING & (deliveries.c.claimed_by == holder))
            .values(claimed_by=None, claim_expires=None)
        )
        async with self._engine.begin() as connection:
            await connection.execute(statement)

    async def holder(self, delivery_id: str, *, now: float) -> str | None:
        """The replica whose claim on a pending delivery has not run out; None otherwise."""
        query = sa.select(deliveries.c.claimed_by).where(
            (deliveries.c.id == delivery_id) & _PENDING & (deliveries.c.claim_expires > now)
        )
        async with self._engine.connect() as connection:
            return (await connection.execute(query)).scalar()
