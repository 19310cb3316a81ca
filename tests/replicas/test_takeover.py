"""Taking over a stopped replica's work, and only its work: two apps in this process, each
with its own store (engine and connections) on one PostgreSQL database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from bot.store.deployments import Deployments, DeployState, NewDeployment
from bot.store.records import Status
from tests.e2e.conftest import Greenlight, start_greenlight
from tests.e2e.executors import stop_process
from tests.e2e.test_celery import broker, celery_options, start_worker
from tests.fakes.github import FakeGitHub
from tests.helpers import WEBHOOK_SECRET, wait_until
from tests.services import postgres_database

REPO = "octo/hello"
__all__ = ["broker"]  # the Celery tests' fixture: a flushed Redis database


@pytest.fixture
async def database() -> AsyncIterator[str]:
    async with postgres_database() as url:
        yield url


async def start(
    fake: FakeGitHub, tmp_path: Path, database: str, name: str, **settings: str
) -> Greenlight:
    directory = tmp_path / name
    directory.mkdir()
    settings = {**settings, "DATABASE_URL": database}
    server: TestServer = await start_greenlight(fake, directory, **settings)
    return Greenlight(fake, server, directory)


async def test_a_deploy_is_ended_only_when_its_replica_is_gone(
    fake_github: FakeGitHub, tmp_path: Path, database: str
) -> None:
    fake = fake_github
    fake.create_repo(REPO, {"README.md": "hi\n"})
    first = await start(fake, tmp_path, database, "first")
    second = await start(fake, tmp_path, database, "second")
    try:
        running = await in_progress_deploy(first, owner=first.context.replica_id)
        orphan = await in_progress_deploy(first, owner="gone-1-abcdef")

        await second.services.deployer.recover()  # as a replica starting up does

        deployments = Deployments(second.store.engine)
        assert (await deployments.get(running.id)).state == DeployState.IN_PROGRESS  # type: ignore[union-attr]
        assert (await deployments.get(orphan.id)).state == DeployState.FAILURE  # type: ignore[union-attr]
        running_status, orphan_status = (
            fake.deployment_statuses(record.github_id or 0) for record in (running, orphan)
        )
        assert running_status == []
        assert [s.state for s in orphan_status] == ["error"]
        assert "The replica running it stopped" in orphan_status[0].description
    finally:
        await fake.settle()
        await second.server.close()
        await first.server.close()


async def in_progress_deploy(greenlight: Greenlight, *, owner: str) -> object:
    fake = greenlight.fake
    sha = fake.repo(REPO).git.branch_sha("main")
    assert sha is not None
    installation = fake.world.installation_for(REPO, fake.app_id)
    assert installation is not None
    client = greenlight.context.github.installation(installation.id)
    body = {"ref": sha, "environment": "staging", "auto_merge": False, "required_contexts": []}
    github_id = await client.create_deployment(REPO, body)
    deployments = Deployments(greenlight.store.engine)
    new = NewDeployment(REPO, "staging", sha, installation.id, None, owner=owner)
    record = await deployments.add(new, now=1)
    return await deployments.update(
        record.id, github_id=github_id, state=DeployState.IN_PROGRESS, started_at=1
    )


async def test_a_job_is_run_again_by_another_replica_only_once_its_own_stopped(
    fake_github: FakeGitHub, tmp_path: Path, database: str
) -> None:
    fake = fake_github
    started, gate = tmp_path / "started", tmp_path / "gate"
    script = f"echo attempt $$ >> {started}; while [ ! -e {gate} ]; do sleep 0.05; done"
    fake.create_repo(REPO, {"README.md": "hi\n"})
    first = await start(fake, tmp_path, database, "first")
    second = await start(fake, tmp_path, database, "second")
    try:
        fake.configure_webhooks(str(first.server.make_url("/webhook")), WEBHOOK_SECRET)
        config = f"jobs:\n  wait:\n    run: '{script}'\n"
        sha = await fake.push(REPO, "main", {".github/greenlight.yml": config})
        await first.settle()
        await wait_until(started.exists, message="the job to start on the first replica")

        await second.services.pipeline.recover()  # the first replica is alive: hands off
        run = await second.store.runs.for_sha(REPO, sha)
        assert run is not None
        (job,) = await second.store.runs.jobs(run.id)
        assert job.status == Status.IN_PROGRESS
        assert job.owner == first.context.replica_id

        await first.server.close()  # it stops: its job's processes end with it
        await second.services.pipeline.take_over(await second.context.live_replicas())
        await wait_until(
            lambda: started.read_text().count("attempt") == 2, message="the job to run again"
        )
        gate.touch()
        done = await second.run_for(REPO, sha)
        assert done.conclusion == "success"
        (again,) = await second.store.runs.jobs(run.id)
        assert again.owner == second.context.replica_id
        assert "the replica running it stopped" in await second.log(again)
        assert {c.status for c in second.checks(REPO, sha).values()} == {"completed"}
    finally:
        gate.touch()
        await fake.settle()
        await second.server.close()
        await first.server.close()


@pytest.mark.redis
async def test_a_worker_job_of_a_stopped_replica_is_watched_by_another_not_run_again(
    fake_github: FakeGitHub, tmp_path: Path, database: str, broker: str
) -> None:
    """With Celery the worker outlives the replica that sent it the job: the taker follows
    the job to its end instead of running it again."""
    fake = fake_github
    started, gate = tmp_path / "started", tmp_path / "gate"
    script = f"echo attempt >> {started}; while [ ! -e {gate} ]; do sleep 0.05; done"
    fake.create_repo(REPO, {"README.md": "hi\n"})
    worker = start_worker(tmp_path, database, broker)
    options = celery_options(database, broker)
    first = await start(fake, tmp_path, database, "first", **options)
    second = await start(fake, tmp_path, database, "second", **options)
    try:
        fake.configure_webhooks(str(first.server.make_url("/webhook")), WEBHOOK_SECRET)
        config = f"jobs:\n  wait:\n    run: '{script}'\n"
        sha = await fake.push(REPO, "main", {".github/greenlight.yml": config})
        await first.settle()
        await wait_until(started.exists, deadline=60, message="the worker to start the job")
        await first.server.close()  # the worker keeps the job

        await second.services.pipeline.take_over(await second.context.live_replicas())
        gate.touch()
        run = await second.run_for(REPO, sha, deadline=60)
        assert run.conclusion == "success"
        assert started.read_text().count("attempt") == 1  # watched, not run again
        (job,) = await second.store.runs.jobs(run.id)
        assert job.owner == second.context.replica_id
        assert second.checks(REPO, sha)["wait"].conclusion == "success"
    finally:
        gate.touch()
        await fake.settle()
        await second.server.close()
        await first.server.close()
        stop_process(worker)
