"""The executor seam: the pipeline and the deployer submit tickets; an executor runs them.

A ticket is one unit of work, a build job or a deploy: check out a SHA, run steps with an
environment, record the log and the conclusion at its `Target` (job row N or deployment
row N). State and logs live in the store, so whoever submitted the work learns how it went
from there, whether it ran in this process (`local`) or on a Celery worker (`celery`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from bot.core.config import Step


class TargetKind(StrEnum):
    JOB = "job"  # a job of a run: its row in `jobs`
    DEPLOY = "deploy"  # a deploy: its row in `deployments`


@dataclass(frozen=True)
class Target:
    """Where a ticket's log and conclusion go."""

    kind: TargetKind
    id: int

    @classmethod
    def job(cls, job_id: int) -> Target:
        return cls(TargetKind.JOB, job_id)

    @classmethod
    def deploy(cls, deployment_id: int) -> Target:
        return cls(TargetKind.DEPLOY, deployment_id)

    def __str__(self) -> str:
        return f"{self.kind} {self.id}"


@dataclass(frozen=True)
class Ticket:
    """Everything needed to run one job or deploy, independent of the process that runs it."""

    target: Target
    clone_url: str
    sha: str
    steps: tuple[Step, ...]
    env: Mapping[str, str]  # the full environment, GREENLIGHT_* included
    timeout_seconds: float
    secrets: Mapping[str, str] = field(repr=False, default_factory=dict)  # as variables
    token: str | None = field(repr=False, default=None)  # read-only use: fetching the code
    reports: tuple[str, ...] = ()  # JUnit files the steps write (globs in the workspace)
    secret_files: Mapping[str, str] = field(repr=False, default_factory=dict)  # as files


TargetEvent = Callable[[int], Awaitable[None]]  # called with the row id of the target


async def _ignore(_row_id: int) -> None:
    return None


class Listeners:
    """Who hears when work of each kind starts and ends: the pipeline jobs, the deployer
    deploys. An executor calls them; nobody else does."""

    def __init__(self) -> None:
        self._started: dict[TargetKind, TargetEvent] = {}
        self._finished: dict[TargetKind, TargetEvent] = {}

    def add(
        self, kind: TargetKind, *, finished: TargetEvent, started: TargetEvent = _ignore
    ) -> None:
        self._started[kind], self._finished[kind] = started, finished

    async def started(self, target: Target) -> None:
        await self._started.get(target.kind, _ignore)(target.id)

    async def finished(self, target: Target) -> None:
        await self._finished.get(target.kind, _ignore)(target.id)


class Executor(Protocol):
    # True when running work outlives the service (Celery workers): after a restart a job
    # is watched, not run again.
    owns_running_jobs: bool
    listeners: Listeners

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def submit(self, ticket: Ticket) -> None:
        """Run the ticket; its listeners hear when it starts and when its target has ended."""
        ...

    def watch(self, target: Target) -> None:
        """Report on work submitted by an earlier process of the service."""
        ...

    def cancel(self, target: Target) -> bool:
        """Stop queued or running work; False when it is not known here."""
        ...

    async def abandon(self, target: Target) -> None:
        """An earlier process of the service started this: stop it if it still runs."""
        ...
