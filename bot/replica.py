"""This process as one replica among several on one database: its id and its heartbeat.

Every web process beats a row in the store; what a replica owns (deliveries, runs, jobs,
deploys) is taken over by another only once its beats stop for `REPLICA_TTL_SECONDS`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable

from bot.store import Store

log = logging.getLogger("greenlight.replica")
BEAT_SECONDS = 5.0
# Several beats may be missed (a slow database, a long pause for garbage collection)
# before a replica counts as dead and its work is taken over.
REPLICA_TTL_SECONDS = 30.0


def new_replica_id() -> str:
    """A name for this process that no other replica, now or after a restart, shares."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


async def keep_beating(
    store: Store,
    replica_id: str,
    *,
    clock: Callable[[], float] = time.time,
    interval: float = BEAT_SECONDS,
) -> None:
    """Beat every `interval` seconds until cancelled; a failed beat is logged and retried."""
    while True:
        try:
            await store.replicas.beat(replica_id, now=clock())
        except Exception:  # the store may be down for a while: beat again later
            log.exception("could not record that replica %s is alive", replica_id)
        await asyncio.sleep(interval)


async def leave(store: Store, replica_id: str) -> None:
    """Say this replica stopped, so its work can be taken over at once; if the store cannot
    be reached, the beats stopping say the same once they run out."""
    try:
        await store.replicas.remove(replica_id)
    except Exception:  # shutting down: nothing else to do about it
        log.warning("could not record that replica %s stopped", replica_id, exc_info=True)
