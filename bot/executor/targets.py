"""Where a ticket's log and conclusion go: a job's row of its run, or a deployment's row.

The runner and the Celery executor's watcher speak to a `Destination`; only here do the two
kinds of work differ:

- a job is claimed in its row before it runs (queued → in_progress), so a job submitted
  twice runs once and one that ended is not run again; its step results and test report
  are kept with its conclusion;
- a deployment's row is put in progress by the deployer, which also keeps its state; a
  deploy whose row already ended (the deployer gave up on it, or it ran) is not run, and
  what the steps concluded is written for the deployer to read.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict, dataclass
from typing import Protocol

from bot.core.junit import TestReport
from bot.executor.base import Target, TargetKind
from bot.executor.process import StepResult
from bot.store import Store
from bot.store.deployments import Deployments
from bot.store.records import Status


@dataclass(frozen=True)
class Go:
    """Run it, in the workspace of this name."""

    workspace: str


@dataclass(frozen=True)
class Skip:
    """Do not run it; how it ended, or why it does not run here."""

    conclusion: str


@dataclass(frozen=True)
class RowState:
    """What the store says of a target, as the Celery executor watches it."""

    taken: bool | None  # a worker claimed it; None: the row cannot tell (a deployment's)
    finished: bool


class Destination(Protocol):
    async def begin(self, cancel: asyncio.Event) -> Go | Skip: ...

    async def append_log(self, text: str) -> None: ...

    async def finish(
        self,
        conclusion: str,
        steps: tuple[StepResult, ...] = (),
        report: TestReport | None = None,
    ) -> None: ...


@dataclass(frozen=True)
class JobRow:
    store: Store
    target: Target

    async def begin(self, cancel: asyncio.Event) -> Go | Skip:
        job = await self.store.runs.job(self.target.id)
        if job is None:
            raise LookupError(f"job {self.target.id} is not in the store")
        if job.status != Status.QUEUED:
            return Skip(job.conclusion or job.status)  # submitted twice: the other copy has it
        if cancel.is_set():
            await self.finish("cancelled")
            return Skip("cancelled")
        if not await self.store.runs.claim_job(self.target.id, now=time.time()):
            return Skip("claimed elsewhere")
        return Go(f"job-{self.target.id}-{job.attempt}")

    async def append_log(self, text: str) -> None:
        await self.store.runs.append_log(self.target.id, text)

    async def finish(
        self,
        conclusion: str,
        steps: tuple[StepResult, ...] = (),
        report: TestReport | None = None,
    ) -> None:
        await self.store.runs.update_job(
            self.target.id,
            status=Status.COMPLETED,
            conclusion=conclusion,
            steps=json.dumps([asdict(step) for step in steps]),
            report=json.dumps(asdict(report)) if report is not None else None,
            finished_at=time.time(),
        )


@dataclass(frozen=True)
class DeploymentRow:
    deployments: Deployments
    target: Target

    async def begin(self, cancel: asyncio.Event) -> Go | Skip:
        record = await self.deployments.get(self.target.id)
        if record is None or record.state.is_finished:
            return Skip("skipped")  # the deployer gave up on it (or it ran) already
        return Go(f"deploy-{self.target.id}")

    async def append_log(self, text: str) -> None:
        await self.deployments.append_log(self.target.id, text)

    async def finish(
        self,
        conclusion: str,
        steps: tuple[StepResult, ...] = (),
        report: TestReport | None = None,
    ) -> None:
        await self.deployments.update(self.target.id, conclusion=conclusion)


def destination(target: Target, store: Store) -> Destination:
    """The row `target` names, in `store`."""
    if target.kind == TargetKind.JOB:
        return JobRow(store, target)
    return DeploymentRow(Deployments(store.engine), target)


async def give_up(target: Target, store: Store, message: str, conclusion: str) -> None:
    """End `target` without its steps' word: say why in its log, then record `conclusion`."""
    row = destination(target, store)
    await row.append_log(message)
    await row.finish(conclusion)


async def read_states(store: Store, targets: list[Target]) -> dict[Target, RowState]:
    """The state of each target's row; a target whose row is gone is left out."""
    job_ids = [target.id for target in targets if target.kind == TargetKind.JOB]
    states: dict[Target, RowState] = {}
    for job in await store.runs.jobs_by_id(job_ids) if job_ids else []:
        states[Target.job(job.id)] = RowState(
            taken=job.status != Status.QUEUED, finished=job.status == Status.COMPLETED
        )
    deployments = Deployments(store.engine)
    for target in targets:
        if target.kind == TargetKind.DEPLOY:
            record = await deployments.get(target.id)
            if record is not None:
                states[target] = RowState(taken=None, finished=bool(record.conclusion))
    return states
