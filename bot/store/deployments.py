"""Deployments (one row per attempt to put a SHA in an environment), their logs, and the
state of the comment that tells each merged PR where its change is live."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.schema import deploy_notices, deployment_logs, deployments


class DeployState(StrEnum):
    """Where a deployment is; the first four are GitHub's deployment-status states."""

    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    SUCCESS = "success"
    FAILURE = "failure"
    SUPERSEDED = "superseded"  # a newer deploy for the environment replaced it in the queue
    SKIPPED = "skipped"  # older than (or the same as) what is live: nothing to do

    @property
    def is_finished(self) -> bool:
        """Whether the deploy has ended, one way or another."""
        return self not in {DeployState.QUEUED, DeployState.IN_PROGRESS}


@dataclass(frozen=True)
class DeploymentRecord:
    id: int
    repo: str
    environment: str
    sha: str
    github_id: int | None
    installation_id: int | None
    run_id: int | None
    state: DeployState
    description: str
    requested_by: str | None  # None: automatic, by the mode
    rollback: bool
    created_at: float
    started_at: float | None
    finished_at: float | None
    conclusion: str | None = None  # how its steps ended, from whoever ran them
    owner: str | None = None  # the replica that queued or runs it
    health_from: int | None = None  # where its health check's lines begin in its log


@dataclass(frozen=True)
class NewDeployment:
    repo: str
    environment: str
    sha: str
    installation_id: int | None
    run_id: int | None
    requested_by: str | None = None
    rollback: bool = False
    description: str = ""
    owner: str | None = None


def _record(row: Any) -> DeploymentRecord:
    values = {f.name: row[f.name] for f in fields(DeploymentRecord)}
    values["state"] = DeployState(values["state"])
    values["rollback"] = bool(values["rollback"])
    return DeploymentRecord(**values)


class Deployments:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, new: NewDeployment, *, now: float) -> DeploymentRecord:
        """Record a new deploy, queued."""
        values = {f.name: getattr(new, f.name) for f in fields(NewDeployment)}
        async with self._engine.begin() as connection:
            result = await connection.execute(
                deployments.insert().values(**values, state=DeployState.QUEUED, created_at=now)
            )
            key = result.inserted_primary_key
        assert key is not None
        found = await self.get(int(key[0]))
        assert found is not None
        return found

    async def get(self, deployment_id: int) -> DeploymentRecord | None:
        """One deploy; None when there is no such id."""
        found = await self._select(sa.select(deployments).where(deployments.c.id == deployment_id))
        return found[0] if found else None

    async def update(self, deployment_id: int, **changes: Any) -> DeploymentRecord:
        """Change fields of a deploy and return it as it now is."""
        async with self._engine.begin() as connection:
            await connection.execute(
                deployments.update().where(deployments.c.id == deployment_id).values(**changes)
            )
        found = await self.get(deployment_id)
        assert found is not None
        return found

    async def history(
        self, repo: str, environment: str | None = None, *, limit: int = 100
    ) -> list[DeploymentRecord]:
        """Deployments of a repository (or one environment of it), newest first."""
        where = deployments.c.repo == repo
        if environment is not None:
            where = where & (deployments.c.environment == environment)
        query = sa.select(deployments).where(where).order_by(deployments.c.id.desc()).limit(limit)
        return await self._select(query)

    async def last_of_sha(self, repo: str, environment: str, sha: str) -> DeploymentRecord | None:
        """The latest deployment of `sha` to the environment, in any state."""
        query = (
            sa.select(deployments)
            .where(
                (deployments.c.repo == repo)
                & (deployments.c.environment == environment)
                & (deployments.c.sha == sha)
            )
            .order_by(deployments.c.id.desc())
            .limit(1)
        )
        found = await self._select(query)
        return found[0] if found else None

    async def live(self, repo: str, environment: str) -> DeploymentRecord | None:
        """The last deployment of the environment that succeeded: what runs there now."""
        query = (
            sa.select(deployments)
            .where(
                (deployments.c.repo == repo)
                & (deployments.c.environment == environment)
                & (deployments.c.state == DeployState.SUCCESS)
            )
            .order_by(deployments.c.id.desc())
            .limit(1)
        )
        found = await self._select(query)
        return found[0] if found else None

    async def begin(self, deployment_id: int, *, owner: str, now: float) -> bool:
        """Move a queued deploy in progress for `owner`; False when it is no longer queued
        (a newer deploy, queued on any replica, superseded it)."""
        where = (deployments.c.id == deployment_id) & (deployments.c.state == DeployState.QUEUED)
        change = {"state": DeployState.IN_PROGRESS, "started_at": now, "owner": owner}
        async with self._engine.begin() as connection:
            result = await connection.execute(deployments.update().where(where).values(change))
        return bool(result.rowcount)

    async def of_state(
        self, repo: str, environment: str, state: DeployState
    ) -> list[DeploymentRecord]:
        """The environment's deploys in `state` (queued: waiting, on any replica), oldest first."""
        query = (
            sa.select(deployments)
            .where(
                (deployments.c.repo == repo)
                & (deployments.c.environment == environment)
                & (deployments.c.state == state)
            )
            .order_by(deployments.c.id)
        )
        return await self._select(query)

    async def unfinished(self) -> list[DeploymentRecord]:
        """Deploys queued or in progress, oldest first."""
        query = (
            sa.select(deployments)
            .where(deployments.c.state.in_([DeployState.QUEUED, DeployState.IN_PROGRESS]))
            .order_by(deployments.c.id)
        )
        return await self._select(query)

    async def append_log(self, deployment_id: int, text: str) -> None:
        """Add text to the end of a deploy's log."""
        async with self._engine.begin() as connection:
            last = (
                await connection.execute(
                    sa.select(sa.func.max(deployment_logs.c.seq)).where(
                        deployment_logs.c.deployment_id == deployment_id
                    )
                )
            ).scalar()
            await connection.execute(
                deployment_logs.insert().values(
                    deployment_id=deployment_id, seq=(last or 0) + 1, text=text
                )
            )

    async def read_log(self, deployment_id: int) -> str:
        """A deploy's whole log."""
        query = (
            sa.select(deployment_logs.c.text)
            .where(deployment_logs.c.deployment_id == deployment_id)
            .order_by(deployment_logs.c.seq)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return "".join(row.text for row in rows)

    # The PR comment ----------------------------------------------------------------------------

    async def notice(self, repo: str, pr_number: int) -> tuple[int | None, dict[str, Any]]:
        """The comment id and the per-environment lines of the PR's deploy comment."""
        query = sa.select(deploy_notices).where(
            (deploy_notices.c.repo == repo) & (deploy_notices.c.pr_number == pr_number)
        )
        async with self._engine.connect() as connection:
            row = (await connection.execute(query)).mappings().first()
        if row is None:
            return None, {}
        lines: dict[str, Any] = json.loads(row["lines"])
        return row["comment_id"], lines

    async def save_notice(
        self, repo: str, pr_number: int, *, comment_id: int | None, lines: dict[str, Any]
    ) -> None:
        """Remember the PR's deploy comment and its per-environment lines."""
        text = json.dumps(lines)
        where = (deploy_notices.c.repo == repo) & (deploy_notices.c.pr_number == pr_number)
        async with self._engine.begin() as connection:
            result = await connection.execute(
                deploy_notices.update().where(where).values(comment_id=comment_id, lines=text)
            )
            if result.rowcount == 0:
                await connection.execute(
                    deploy_notices.insert().values(
                        repo=repo, pr_number=pr_number, comment_id=comment_id, lines=text
                    )
                )

    async def _select(self, query: sa.Select[Any]) -> list[DeploymentRecord]:
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).mappings().all()
        return [_record(row) for row in rows]
