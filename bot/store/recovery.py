"""How far back the recovery pass has reconciled GitHub's delivery log, kept across restarts."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.records import RecoveryPoint
from bot.store.schema import recovery_points, repositories, runs


class RecoveryPoints:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def get(self, name: str) -> RecoveryPoint | None:
        """The point named `name`; None before the first pass."""
        query = sa.select(recovery_points).where(recovery_points.c.name == name)
        async with self._engine.connect() as connection:
            row = (await connection.execute(query)).mappings().first()
        if row is None:
            return None
        return RecoveryPoint(
            newest_id=row["newest_id"],
            resume_cursor=row["resume_cursor"],
            resume_top=row["resume_top"],
        )

    async def put(self, name: str, point: RecoveryPoint, *, now: float) -> None:
        """Save the point (one row per name)."""
        values = {
            "newest_id": point.newest_id,
            "resume_cursor": point.resume_cursor,
            "resume_top": point.resume_top,
            "updated_at": now,
        }
        async with self._engine.begin() as connection:
            changed = await connection.execute(
                recovery_points.update().where(recovery_points.c.name == name).values(**values)
            )
            if changed.rowcount == 0:
                await connection.execute(recovery_points.insert().values(name=name, **values))

    async def repositories(self) -> list[tuple[str, int]]:
        """(full name, installation id) of every repository Greenlight knows: from the
        installations' repository lists, and from its own runs (the newest installation)."""
        listed = sa.select(repositories.c.full_name, repositories.c.installation_id)
        built = (
            sa.select(runs.c.repo, sa.func.max(runs.c.installation_id))
            .where(runs.c.installation_id.is_not(None))
            .group_by(runs.c.repo)
        )
        found: dict[str, int] = {}
        async with self._engine.connect() as connection:
            for query in (built, listed):  # an installation's own list wins
                found.update(
                    (repo, installation) for repo, installation in await connection.execute(query)
                )
        return sorted(found.items())
