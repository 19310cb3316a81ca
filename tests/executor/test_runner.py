"""One path for jobs and deploys: the local executor runs either kind of ticket, and each
kind's log and conclusion land in its own row."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.core.config import Step
from bot.executor.base import Target, TargetKind, Ticket
from bot.executor.local import LocalExecutor
from bot.executor.runner import refuse_ticket
from bot.executor.sandbox import Sandbox
from bot.store import NewJob, NewRun, Store
from bot.store.deployments import DeploymentRecord, Deployments, DeployState, NewDeployment
from bot.store.records import Job, Status
from tests.executor.test_workspace import Origin
from tests.helpers import wait_until

SECRET = "hunter2-deploy-key"


@pytest.fixture
def origin(tmp_path: Path) -> Origin:
    return Origin(tmp_path / "origin")


@pytest.fixture
async def executor(store: Store, tmp_path: Path) -> AsyncIterator[LocalExecutor]:
    executor = LocalExecutor(
        store, work_dir=tmp_path / "work", concurrency=1, sandbox=Sandbox.unsandboxed()
    )
    await executor.start()
    yield executor
    await executor.stop()


class Heard:
    """What an executor's listeners were told, per kind."""

    def __init__(self, executor: LocalExecutor) -> None:
        self.started: list[Target] = []
        self.finished: list[Target] = []
        for kind in TargetKind:
            executor.listeners.add(
                kind,
                started=lambda row, kind=kind: self._note(self.started, Target(kind, row)),
                finished=lambda row, kind=kind: self._note(self.finished, Target(kind, row)),
            )

    async def _note(self, heard: list[Target], target: Target) -> None:
        heard.append(target)


async def deployment(store: Store) -> DeploymentRecord:
    """A deployment the deployer has put in progress, as it does before submitting it."""
    deployments = Deployments(store.engine)
    new = NewDeployment("octo/hello", "staging", "c" * 40, installation_id=1, run_id=None)
    record = await deployments.add(new, now=1.0)
    return await deployments.update(record.id, state=DeployState.IN_PROGRESS, started_at=2.0)


async def queued_job(store: Store, sha: str) -> Job:
    new = NewRun("octo/hello", sha, installation_id=1, clone_url="/x", event="push", ref="main")
    run, _ = await store.runs.start(new, now=1.0)
    (job,) = await store.runs.add_jobs(run.id, [NewJob(name="build", spec="{}")])
    return job


def ticket(target: Target, origin: Origin, sha: str, *steps: str, **env: str) -> Ticket:
    return Ticket(
        target=target,
        clone_url=origin.url,
        sha=sha,
        steps=tuple(Step(run, run) for run in steps),
        env={"PATH": "/usr/bin:/bin", **env},
        timeout_seconds=60.0,
        secrets={"DEPLOY_KEY": SECRET},
    )


async def test_a_deploy_runs_through_the_executor_into_its_deployment_row(
    store: Store, executor: LocalExecutor, origin: Origin
) -> None:
    sha = origin.commit({"app.txt": "v2\n"})
    record = await deployment(store)
    heard = Heard(executor)
    target = Target.deploy(record.id)
    steps = ('echo "to $GREENLIGHT_ENVIRONMENT: $(cat app.txt) with $DEPLOY_KEY"',)
    executor.submit(ticket(target, origin, sha, *steps, GREENLIGHT_ENVIRONMENT="staging"))
    await wait_until(lambda: heard.finished == [target], message="the deploy to end")
    deployments = Deployments(store.engine)
    assert (await deployments.get(record.id)).conclusion == "success"  # type: ignore[union-attr]
    log = await deployments.read_log(record.id)
    assert "to staging: v2 with ***" in log
    assert SECRET not in log
    assert heard.started == [target]


async def test_a_cancelled_deploy_ends_cancelled(
    store: Store, executor: LocalExecutor, origin: Origin, tmp_path: Path
) -> None:
    sha = origin.commit({"app.txt": "v2\n"})
    record = await deployment(store)
    heard = Heard(executor)
    started = tmp_path / "started"
    target = Target.deploy(record.id)
    executor.submit(ticket(target, origin, sha, f"touch {started}; sleep 60"))
    await wait_until(started.exists, deadline=30, message="the deploy's step to start")
    assert executor.cancel(target)
    await wait_until(lambda: heard.finished == [target], message="the deploy to end")
    deployment_row = await Deployments(store.engine).get(record.id)
    assert deployment_row is not None
    assert deployment_row.conclusion == "cancelled"


async def test_a_deploy_does_not_wait_for_a_build_slot(
    store: Store, executor: LocalExecutor, origin: Origin, tmp_path: Path
) -> None:
    sha = origin.commit({"app.txt": "v2\n"})
    job, record = await queued_job(store, sha), await deployment(store)
    heard = Heard(executor)
    gate, building = tmp_path / "gate", tmp_path / "building"
    build = f"touch {building}; while [ ! -e {gate} ]; do sleep 0.05; done"
    executor.submit(ticket(Target.job(job.id), origin, sha, build))  # takes the only slot
    await wait_until(building.exists, deadline=30, message="the build to start")
    executor.submit(ticket(Target.deploy(record.id), origin, sha, "true"))
    await wait_until(lambda: Target.deploy(record.id) in heard.finished, deadline=30)
    assert heard.finished == [Target.deploy(record.id)]  # the build still runs
    gate.touch()
    await wait_until(lambda: Target.job(job.id) in heard.finished, deadline=30)
    finished_job = await store.runs.job(job.id)
    assert finished_job is not None
    assert (finished_job.status, finished_job.conclusion) == (Status.COMPLETED, "success")


async def test_an_unreadable_ticket_fails_its_job_once_and_says_why(
    store: Store, origin: Origin
) -> None:
    job = await queued_job(store, origin.commit({"a.txt": "a\n"}))
    assert await refuse_ticket(Target.job(job.id), store, "the key differs") == "failure"
    refused = await store.runs.job(job.id)
    assert refused is not None
    assert (refused.status, refused.conclusion) == (Status.COMPLETED, "failure")
    text, _ = await store.runs.read_log(job.id)
    assert "could not read this job's ticket: the key differs" in text
    # A second copy of the message finds the job ended and leaves it alone.
    assert await refuse_ticket(Target.job(job.id), store, "again") == "failure"
    assert "again" not in (await store.runs.read_log(job.id))[0]


async def test_an_unreadable_ticket_leaves_a_finished_deploy_alone(store: Store) -> None:
    record = await deployment(store)
    deployments = Deployments(store.engine)
    await deployments.update(record.id, state=DeployState.SUCCESS, conclusion="success")
    assert await refuse_ticket(Target.deploy(record.id), store, "the key differs") == "skipped"
    assert (await deployments.get(record.id)).conclusion == "success"  # type: ignore[union-attr]
    assert await deployments.read_log(record.id) == ""


async def test_a_deploy_refused_while_in_progress_fails_with_the_reason(store: Store) -> None:
    record = await deployment(store)
    deployments = Deployments(store.engine)
    assert await refuse_ticket(Target.deploy(record.id), store, "the key differs") == "failure"
    assert (await deployments.get(record.id)).conclusion == "failure"  # type: ignore[union-attr]
    assert "could not read this deploy's ticket" in await deployments.read_log(record.id)
