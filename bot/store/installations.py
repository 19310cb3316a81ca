"""Installations of the app and the repositories each one covers."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.records import Installation
from bot.store.schema import installations, repositories


class Installations:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def save(
        self, installation_id: int, account: str, *, now: float, suspended: bool = False
    ) -> None:
        """Record an installation (created, or seen again), keeping its first date."""
        async with self._engine.begin() as connection:
            updated = await connection.execute(
                installations.update()
                .where(installations.c.id == installation_id)
                .values(account=account, suspended=suspended)
            )
            if updated.rowcount == 0:
                await connection.execute(
                    installations.insert().values(
                        id=installation_id, account=account, suspended=suspended, created_at=now
                    )
                )

    async def set_suspended(self, installation_id: int, suspended: bool) -> None:
        """Mark an installation suspended or active."""
        async with self._engine.begin() as connection:
            await connection.execute(
                installations.update()
                .where(installations.c.id == installation_id)
                .values(suspended=suspended)
            )

    async def forget(self, installation_id: int) -> None:
        """Drop an uninstalled installation and its repositories."""
        async with self._engine.begin() as connection:
            await connection.execute(
                repositories.delete().where(repositories.c.installation_id == installation_id)
            )
            await connection.execute(
                installations.delete().where(installations.c.id == installation_id)
            )

    async def add_repositories(
        self, installation_id: int, repos: Iterable[tuple[int, str, bool]]
    ) -> None:
        """Record (id, full name, private) repositories as covered by the installation."""
        async with self._engine.begin() as connection:
            for repo_id, full_name, private in repos:
                await connection.execute(
                    repositories.delete().where(repositories.c.full_name == full_name)
                )
                await connection.execute(
                    repositories.insert().values(
                        full_name=full_name,
                        id=repo_id,
                        installation_id=installation_id,
                        private=private,
                    )
                )

    async def remove_repositories(self, full_names: Iterable[str]) -> None:
        """Forget these repositories (by full name)."""
        names = list(full_names)
        async with self._engine.begin() as connection:
            await connection.execute(
                repositories.delete().where(repositories.c.full_name.in_(names))
            )

    async def get(self, installation_id: int) -> Installation | None:
        """One installation; None when it is unknown."""
        async with self._engine.connect() as connection:
            row = (
                (
                    await connection.execute(
                        sa.select(installations).where(installations.c.id == installation_id)
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            return None
        return Installation(id=row["id"], account=row["account"], suspended=row["suspended"])

    async def all(self) -> list[Installation]:
        """Every known installation, by id."""
        async with self._engine.connect() as connection:
            rows = (
                (await connection.execute(sa.select(installations).order_by(installations.c.id)))
                .mappings()
                .all()
            )
        return [
            Installation(id=r["id"], account=r["account"], suspended=r["suspended"]) for r in rows
        ]

    async def repositories(self, installation_id: int) -> list[str]:
        """The full names of an installation's repositories, sorted."""
        async with self._engine.connect() as connection:
            names = (
                await connection.execute(
                    sa.select(repositories.c.full_name)
                    .where(repositories.c.installation_id == installation_id)
                    .order_by(repositories.c.full_name)
                )
            ).scalars()
            return list(names)

    async def is_private(self, full_name: str) -> bool | None:
        """Whether a repository is private; None when it is unknown."""
        async with self._engine.connect() as connection:
            value = (
                await connection.execute(
                    sa.select(repositories.c.private).where(repositories.c.full_name == full_name)
                )
            ).scalar()
        return None if value is None else bool(value)
