"""What people said about a pull request through commands: holds, /merge, /ok-to-test."""

from __future__ import annotations

import dataclasses
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.records import PullRequestState
from bot.store.schema import pull_requests


class PullRequests:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def get(self, repo: str, number: int) -> PullRequestState:
        """What Greenlight keeps about a pull request (a blank state when nothing yet)."""
        async with self._engine.connect() as connection:
            row = (
                (
                    await connection.execute(
                        sa.select(pull_requests).where(
                            (pull_requests.c.repo == repo) & (pull_requests.c.number == number)
                        )
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            return PullRequestState(repo=repo, number=number)
        return PullRequestState(
            **{f.name: row[f.name] for f in dataclasses.fields(PullRequestState)}
        )

    async def update(self, repo: str, number: int, **changes: Any) -> PullRequestState:
        """Change some fields of the pull request's state, creating it if needed."""
        async with self._engine.begin() as connection:
            result = await connection.execute(
                pull_requests.update()
                .where((pull_requests.c.repo == repo) & (pull_requests.c.number == number))
                .values(**changes)
            )
            if result.rowcount == 0:
                state = dataclasses.replace(PullRequestState(repo=repo, number=number), **changes)
                await connection.execute(pull_requests.insert().values(**dataclasses.asdict(state)))
        return await self.get(repo, number)
