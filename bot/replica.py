"""This process as one replica among several on one database: its id and its heartbeat.

Every web process beats a row in the store; what a replica owns (deliveries, runs, jobs,
deploys) is taken over by another only once its beats stop for `REPLICA_TTL_SECONDS`.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from collections.abc import Callable

from bot.periodic import Periodic
from bot.store import Store

log = logging.getLogger("greenlight.replica")
BEAT_SECONDS = 5.0
# Several beats may be missed (a slow database, a long pause for garbage collection)
# before a replica counts as dead and its work is taken over.
REPLICA_TTL_SECONDS = 30.0


def new_replica_id() -> str:
    """A name for this process that no other replica, now or after a restart, shares."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


def beat_seconds(timeout: float) -> float:
    """How often to beat so that several beats may be missed within `timeout`."""
    return timeout / (REPLICA_TTL_SECONDS / BEAT_SECONDS)


async def live_replicas(store: Store, replica_id: str, *, now: float, ttl: float) -> set[str]:
    """The replicas whose work is theirs: on PostgreSQL every one that beat within `ttl`
    (this one included); on SQLite, which serves one process, this one alone, so what an
    earlier process left is taken over at once."""
    if store.engine.dialect.name != "postgresql":
        return {replica_id}
    return await store.replicas.live(now=now, ttl=ttl) | {replica_id}


def beating(
    store: Store,
    replica_id: str,
    *,
    clock: Callable[[], float] = time.time,
    interval: float = BEAT_SECONDS,
) -> Periodic:
    """Beat every `interval` seconds until stopped; a failed beat is logged and retried."""

    async def beat() -> None:
        await store.replicas.beat(replica_id, now=clock())

    return Periodic(
        "replica beat",
        beat,
        interval=interval,
        failure=f"could not record that replica {replica_id} is alive",
    )


async def leave(store: Store, replica_id: str) -> None:
    """Say this replica stopped, so its work can be taken over at once; if the store cannot
    be reached, the beats stopping say the same once they run out."""
    try:
        await store.replicas.remove(replica_id)
    except Exception:  # shutting down: nothing else to do about it
        log.warning("could not record that replica %s stopped", replica_id, exc_info=True)
