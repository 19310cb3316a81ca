"""Housekeeping while the service runs.

Every webhook delivery is stored with its payload (often 25 KB) so that a restart can
handle what was not handled yet; once handled, a delivery is kept only as long as GitHub
could redeliver it plus a margin (`GREENLIGHT_DELIVERY_RETENTION_DAYS`, default 14), so
the store does not grow by every webhook forever.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

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


async def keep_pruning(
    store: Store,
    retention_days: int,
    *,
    clock: Callable[[], float] = time.time,
    interval: float = PRUNE_INTERVAL_SECONDS,
) -> None:
    """Prune at start-up, then every `interval` seconds, until cancelled."""
    while True:
        try:
            await prune_deliveries(store, retention_days, clock())
        except Exception:  # the store may be down for a while: try again later
            log.exception("could not delete old webhook deliveries; trying again later")
        await asyncio.sleep(interval)
