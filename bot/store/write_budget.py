"""GitHub's write budget per installation, kept in the store so that replicas share it.

GitHub counts an installation's content-creating requests (80 a minute, 500 an hour)
whichever process sends them, and a `Retry-After` pause it asks for holds for all of
them; several web replicas on one PostgreSQL database count and pause here, one
installation at a time under a transaction-level advisory lock.
https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.core.write_room import Limits, room_delay
from bot.store.schema import github_pauses, github_writes

# The first key of the two-key advisory lock: this table's, so that other locks keyed by
# an installation id never wait on it.
LOCK_CLASS = 0x474C  # "GL"


class WriteBudget:
    """The `bot.github.pacing.Budget` of every process on this database."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def take(self, installation_id: int, *, now: float, limits: Limits) -> float:
        """Count one write and return 0, or return how long until one fits."""
        async with self._engine.begin() as connection:
            await _lock(connection, installation_id)
            paused = await connection.scalar(
                sa.select(github_pauses.c.until_at).where(
                    github_pauses.c.installation_id == installation_id
                )
            )
            if paused is not None and paused > now:
                return float(paused - now)
            sent = await _recent_writes(connection, installation_id, now=now, limits=limits)
            delay = room_delay(sent, now=now, limits=limits)
            if delay == 0:
                await connection.execute(
                    github_writes.insert().values(installation_id=installation_id, sent_at=now)
                )
            return delay

    async def pause(self, installation_id: int, until: float) -> None:
        """Hold the installation's writes until `until`, in every process."""
        async with self._engine.begin() as connection:
            await connection.execute(
                sa.text(
                    "INSERT INTO github_pauses (installation_id, until_at) VALUES (:i, :u) "
                    "ON CONFLICT (installation_id) DO UPDATE SET until_at = CASE "
                    "WHEN excluded.until_at > github_pauses.until_at THEN excluded.until_at "
                    "ELSE github_pauses.until_at END"
                ),
                {"i": installation_id, "u": until},
            )


async def _lock(connection: AsyncConnection, installation_id: int) -> None:
    """Serialise the installation's count across processes (SQLite has one process)."""
    if connection.dialect.name == "postgresql":
        await connection.execute(
            sa.text("SELECT pg_advisory_xact_lock(:c, :i)"),
            {"c": LOCK_CLASS, "i": installation_id % 2**31},
        )


async def _recent_writes(
    connection: AsyncConnection, installation_id: int, *, now: float, limits: Limits
) -> list[float]:
    """The installation's writes inside the longest window, oldest first (older ones go)."""
    oldest = now - max(window for _, window in limits)
    mine = github_writes.c.installation_id == installation_id
    await connection.execute(
        github_writes.delete().where(mine & (github_writes.c.sent_at <= oldest))
    )
    rows = await connection.execute(
        sa.select(github_writes.c.sent_at).where(mine).order_by(github_writes.c.sent_at)
    )
    return [float(sent_at) for (sent_at,) in rows]
