"""Housekeeping while the service runs.

Every webhook delivery is stored with its payload (often 25 KB) so that a restart can
handle what was not handled yet; once handled, a delivery is kept only as long as GitHub
could redeliver it plus a margin (`GREENLIGHT_DELIVERY_RETENTION_DAYS`, default 14), so
the store does not grow by every webhook forever.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.periodic import Periodic
from bot.store import Store

log = logging.getLogger("greenlight.housekeeping")
PRUNE_INTERVAL_SECONDS = 3600.0
DAY_SECONDS = 86_400


async def prune_deliveries(store: Store, retention_days: int, now: float) -> int:
    """Delete handled deliveries older than `retention_days` (0 keeps them all)."""
    if retention_days <= 0:
        return 0
    removed = await store.deliveries.prune(before=now - retention_days * DAY_SECONDS)
    if removed:
        log.info(
            "deleted %d handled webhook deliveries older than %d days", removed, retention_days
        )
    return removed


def pruning(store: Store, retention_days: int, *, clock: Callable[[], float]) -> Periodic:
    """Prune at start-up, then every hour, until stopped."""

    async def prune() -> None:
        await prune_deliveries(store, retention_days, clock())

    return Periodic(
        "prune deliveries",
        prune,
        interval=PRUNE_INTERVAL_SECONDS,
        failure="could not delete old webhook deliveries; trying again later",
    )
