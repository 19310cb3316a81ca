"""What only the Celery executor does. Every end-to-end test that builds or deploys also
runs on Celery (tests/e2e/executors.py); here: that the steps really run on the worker,
that the service's restart or stop leaves a worker's job alone or stops its deploy, what
the broker holds, and workers of their own (another key, none, a sandbox).

Workers are given only the store, the broker and the ticket key: none of the app's
credentials."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis
from cryptography.fernet import Fernet

from bot import worker
from bot.core.config import Step
from bot.executor.base import Target, TargetKind, Ticket
from bot.executor.celery import CeleryExecutor
from bot.executor.sealing import seal, unseal
from bot.settings import WorkerSettings
from bot.store import open_store
from bot.store.deployments import Deployments, DeployState, NewDeployment
from tests.e2e.conftest import Greenlight, running_greenlight, start_greenlight
from tests.e2e.executors import (
    BROKER,
    TICKET_KEY,
    ExecutorUnderTest,
    SharedWorker,
    stop_process,
    worker_command,
    worker_environment,
)
from tests.e2e.test_sandbox import assert_nothing_leaked, attacked, run_the_attack
from tests.fakes.github import FakeGitHub
from tests.helpers import Listener, wait_until
from tests.services import (
    REDIS_HOST,
    REDIS_PORT,
    postgres_database,
    require_sandbox,
    require_service,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
REPO = "octo/celery"
SECRET = "hunter2-celery-secret"


@pytest.fixture
async def on_celery(shared_worker: SharedWorker) -> AsyncIterator[ExecutorUnderTest]:
    """The session's worker, serving this test."""
    async with shared_worker.serving() as under_test:
        yield under_test


@pytest.fixture
async def celery_greenlight(
    fake_github: FakeGitHub, tmp_path: Path, on_celery: ExecutorUnderTest
) -> AsyncIterator[Greenlight]:
    async with running_greenlight(fake_github, tmp_path, on_celery) as running:
        yield running


@pytest.fixture
def broker(shared_worker: SharedWorker) -> Iterator[str]:
    """The broker to this test alone: the session's worker stopped, the database empty."""
    require_service("Redis", REDIS_HOST, REDIS_PORT)
    shared_worker.stop()
    client = redis.Redis.from_url(BROKER)
    client.flushdb()
    yield BROKER
    client.flushdb()
    client.close()


@pytest.fixture
async def database() -> AsyncIterator[str]:
    async with postgres_database() as url:
        yield url


def start_worker(
    tmp_path: Path,
    database: str,
    broker: str,
    *,
    ticket_key: str | None = TICKET_KEY,
    sandbox: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """A worker of the test's own (see tests.e2e.executors.worker_environment)."""
    env = worker_environment(tmp_path, database, broker, tmp_path / "worker", **(sandbox or {}))
    if ticket_key is None:
        del env["GREENLIGHT_TICKET_KEY"]
    else:
        env["GREENLIGHT_TICKET_KEY"] = ticket_key
    with (tmp_path / "worker.log").open("wb") as log:  # the worker keeps its own copy
        return subprocess.Popen(
            worker_command(2), cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT
        )


def celery_options(database: str, broker: str, **more: str) -> dict[str, str]:
    """The service's settings for the Celery executor against these services."""
    return {
        "DATABASE_URL": database,
        "GREENLIGHT_EXECUTOR": "celery",
        "CELERY_BROKER_URL": broker,
        "GREENLIGHT_TICKET_KEY": TICKET_KEY,
        **more,
    }


async def test_a_worker_builds_the_push(celery_greenlight: Greenlight) -> None:
    greenlight = celery_greenlight
    fake = greenlight.fake
    fake.create_repo(REPO, {"README.md": "hi\n"})
    sha = await fake.push(
        REPO,
        "main",
        {
            ".github/greenlight.yml": (
                "jobs:\n  build:\n    run: echo built by pid $$ in $PWD\n"
                "  test:\n    needs: build\n    run: 'echo tested; exit 2'\n"
            )
        },
    )
    assert type(greenlight.services.pipeline.executor).__name__ == "CeleryExecutor"
    run = await greenlight.run_for(REPO, sha, deadline=60)
    jobs = await greenlight.jobs(run)
    assert (jobs["build"].conclusion, jobs["test"].conclusion) == ("success", "failure")
    # The steps ran in a workspace of the worker's own work dir, not the service's.
    assert_ran_on_the_worker(greenlight, await greenlight.log(jobs["build"]))
    checks = greenlight.checks(REPO, sha)
    assert checks["build"].conclusion == "success"
    assert checks["test"].conclusion == "failure"
    assert checks["greenlight"].conclusion == "failure"


def assert_ran_on_the_worker(greenlight: Greenlight, said: str) -> None:
    """`said` (a step's `$PWD`) names a workspace of the worker's work dir."""
    assert greenlight.executor.worker_dir is not None
    assert str(greenlight.executor.worker_dir / "workspaces") in said
    assert str(greenlight.context.settings.work_dir) not in said


def delivery_config(staging: str) -> str:
    """Delivery mode: a green main deploys to staging by running `staging`."""
    return (
        "mode: delivery\n"
        "jobs:\n  build:\n    run: echo built\n"
        "deploy:\n  environments:\n"
        f"    staging:\n      run: {staging}\n"
        "    production:\n      run: 'true'\n"
    )


async def test_a_worker_runs_the_deploy(celery_greenlight: Greenlight) -> None:
    greenlight = celery_greenlight
    fake = greenlight.fake
    marks = greenlight.tmp_path / "marks"
    config = delivery_config(f"pwd >> {marks}; echo deployed $GREENLIGHT_SHA")
    fake.create_repo(REPO, {"README.md": "hi\n"})
    sha = await fake.push(REPO, "main", {".github/greenlight.yml": config})
    await greenlight.run_for(REPO, sha, deadline=60)

    def deployed() -> bool:
        found = fake.deployments(REPO, "staging")
        states = [s.state for s in fake.deployment_statuses(found[0].id)] if found else []
        return states[-1:] == ["success"]

    await wait_until(deployed, deadline=60, message="the staging deploy to succeed")
    assert_ran_on_the_worker(greenlight, marks.read_text())
    deployer = greenlight.services.deployer
    (record,) = await deployer.store.history(REPO, "staging")
    assert (record.state, record.conclusion) == (DeployState.SUCCESS, "success")
    assert f"deployed {sha}" in await deployer.store.read_log(record.id)
    assert fake.deployments(REPO, "production") == []  # one click away in delivery mode


async def test_a_service_restart_leaves_the_worker_job_running(
    fake_github: FakeGitHub, tmp_path: Path, on_celery: ExecutorUnderTest
) -> None:
    fake = fake_github
    gate, started = tmp_path / "gate", tmp_path / "started"
    fake.create_repo(REPO, {"README.md": "hi\n"})
    options = on_celery.settings
    server = await start_greenlight(fake, tmp_path, **options)
    try:
        script = f"echo run >> {started}; while [ ! -e {gate} ]; do sleep 0.05; done"
        sha = await fake.push(
            REPO, "main", {".github/greenlight.yml": f"jobs:\n  wait:\n    run: '{script}'\n"}
        )
        await fake.settle()
        await wait_until(started.exists, deadline=60, message="the worker to start the job")
        await server.close()  # the web tier restarts; the worker keeps the job
        server = await start_greenlight(fake, tmp_path, **options)
        gate.touch()
        greenlight = Greenlight(fake, server, tmp_path)
        run = await greenlight.run_for(REPO, sha, deadline=60)
        assert run.conclusion == "success"
        assert started.read_text().count("run") == 1  # ran once, not again after the restart
        assert greenlight.checks(REPO, sha)["wait"].conclusion == "success"
    finally:
        await fake.settle()
        await server.close()


async def test_stopping_the_service_stops_the_deploy_on_the_worker(
    fake_github: FakeGitHub, tmp_path: Path, on_celery: ExecutorUnderTest
) -> None:
    fake = fake_github
    started = tmp_path / "started"
    config = delivery_config(f"touch {started}; sleep 120")
    fake.create_repo(REPO, {"README.md": "hi\n"})
    database = on_celery.settings["DATABASE_URL"]
    server = await start_greenlight(fake, tmp_path, **on_celery.settings)
    try:
        await fake.push(REPO, "main", {".github/greenlight.yml": config})
        await fake.settle()
        await wait_until(started.exists, deadline=60, message="the worker to start the deploy")
        await server.close()  # cancels what it runs, on the worker too
        store = await open_store(database)
        try:
            (record,) = await Deployments(store.engine).history(REPO, "staging")
            log = await Deployments(store.engine).read_log(record.id)
        finally:
            await store.close()
        assert (record.state, record.conclusion) == (DeployState.FAILURE, "cancelled")
        assert "no worker answered" not in log  # the worker itself stopped the steps
        (deployment,) = fake.deployments(REPO, "staging")
        assert [s.state for s in fake.deployment_statuses(deployment.id)][-1] == "failure"
    finally:
        await fake.settle()
        await server.close()


async def test_a_worker_never_runs_a_deploy_the_service_gave_up_on(
    tmp_path: Path, broker: str
) -> None:
    # E.g. a task that waited in the broker while the service reported the deploy failed.
    database = f"sqlite:///{tmp_path / 'g.db'}"
    settings = WorkerSettings(database, broker, TICKET_KEY, work_dir=tmp_path / "worker")
    store = await open_store(database)
    deployments = Deployments(store.engine)
    new = NewDeployment("octo/celery", "staging", "c" * 40, installation_id=1, run_id=1)
    record = await deployments.add(new, now=1.0)
    await deployments.update(record.id, state=DeployState.FAILURE, finished_at=2.0)
    marker = tmp_path / "ran"
    ticket = Ticket(
        Target.deploy(record.id), str(tmp_path / "nowhere"), "c" * 40,
        (Step("mark", f"touch {marker}"),), {}, 60.0,
    )  # fmt: skip
    assert await worker.run(seal(ticket, TICKET_KEY), settings) == "skipped"
    assert not marker.exists()
    assert (await deployments.get(record.id)).conclusion is None  # type: ignore[union-attr]
    await store.close()


async def test_a_cancelled_deploy_no_worker_answers_ends_anyway(
    tmp_path: Path, broker: str
) -> None:
    # No worker runs: the task waits in the broker, and the deployer waits on the deploy.
    store = await open_store(f"sqlite:///{tmp_path / 'g.db'}")
    deployments = Deployments(store.engine)
    new = NewDeployment("octo/celery", "staging", "c" * 40, installation_id=1, run_id=1)
    record = await deployments.add(new, now=1.0)
    executor = CeleryExecutor(
        store, broker_url=broker, ticket_key=TICKET_KEY, cancel_wait_seconds=0.5
    )
    ended: list[int] = []

    async def deploy_ended(deployment_id: int) -> None:
        ended.append(deployment_id)

    executor.listeners.add(TargetKind.DEPLOY, finished=deploy_ended)
    await executor.start()
    try:
        target = Target.deploy(record.id)
        executor.submit(Ticket(target, str(tmp_path), "c" * 40, (Step("x", "true"),), {}, 60.0))
        assert executor.cancel(target)
        await wait_until(lambda: ended == [record.id], deadline=20, message="the deploy to end")
    finally:
        await executor.stop()
    assert (await deployments.get(record.id)).conclusion == "cancelled"  # type: ignore[union-attr]
    assert "no worker answered within 0.5 s" in await deployments.read_log(record.id)
    await store.close()


async def test_the_broker_never_holds_a_secret_or_a_token_in_clear(
    tmp_path: Path, broker: str
) -> None:
    store = await open_store(f"sqlite:///{tmp_path / 'g.db'}")
    executor = CeleryExecutor(store, broker_url=broker, ticket_key=TICKET_KEY)
    token = "ghs_16C7e42F292c6912E7710c838347Ae178B4a"
    ticket = Ticket(
        Target.job(41), "https://github.com/octo/celery.git", "c" * 40,
        (Step("call", 'curl -H "Authorization: $API_KEY" https://api.example.com'),),
        {"CI": "true"}, 60.0, {"API_KEY": SECRET}, token,
    )  # fmt: skip
    client = redis.Redis.from_url(broker)
    await executor.start()
    try:
        executor.submit(ticket)  # no worker runs: the message stays in the broker to be read
        await wait_until(lambda: client.llen("celery") == 1, message="the ticket in the broker")
        (raw,) = client.lrange("celery", 0, -1)
    finally:
        await executor.stop()
        await store.close()
        client.close()
    body = base64.b64decode(json.loads(raw)["body"])  # kombu's envelope around the task
    (message,), _kwargs, _options = json.loads(body)
    for seen in (raw, body):
        assert SECRET.encode() not in seen
        assert token.encode() not in seen
    assert unseal(message, TICKET_KEY) == ticket  # all there for a worker with the key


async def test_a_worker_with_another_key_fails_the_job_and_says_why(
    fake_github: FakeGitHub, tmp_path: Path, database: str, broker: str
) -> None:
    fake = fake_github
    fake.create_repo(REPO, {"README.md": "hi\n"})
    worker = start_worker(tmp_path, database, broker, ticket_key=Fernet.generate_key().decode())
    server = await start_greenlight(fake, tmp_path, **celery_options(database, broker))
    try:
        config = "jobs:\n  build:\n    run: echo built\n"
        sha = await fake.push(REPO, "main", {".github/greenlight.yml": config})
        greenlight = Greenlight(fake, server, tmp_path)
        run = await greenlight.run_for(REPO, sha, deadline=60)  # ends: nothing hangs
        job = (await greenlight.jobs(run))["build"]
        assert job.conclusion == "failure"
        log = await greenlight.log(job)
        assert "another GREENLIGHT_TICKET_KEY than the worker's" in log
        assert "built" not in log
        assert greenlight.checks(REPO, sha)["build"].conclusion == "failure"
    finally:
        await fake.settle()
        await server.close()
        stop_process(worker)


def test_a_worker_without_a_ticket_key_refuses_to_start(tmp_path: Path, broker: str) -> None:
    worker = start_worker(tmp_path, f"sqlite:///{tmp_path / 'g.db'}", broker, ticket_key=None)
    try:
        code = worker.wait(timeout=60)
    finally:
        stop_process(worker)
    assert code != 0
    output = (tmp_path / "worker.log").read_text()
    assert "GREENLIGHT_TICKET_KEY: required by a Celery worker" in output
    assert "Fernet.generate_key()" in output  # how to make one


async def test_a_sandboxed_worker_gives_an_attackers_probe_nothing(
    fake_github: FakeGitHub, tmp_path: Path, database: str, broker: str, listener: Listener
) -> None:
    """The probe of tests/e2e/test_sandbox.py, as a job and as a deploy, on a worker."""
    require_sandbox()
    host_network = {"GREENLIGHT_SANDBOX": "bwrap", "GREENLIGHT_SANDBOX_NETWORK": "host"}
    worker = start_worker(tmp_path, database, broker, sandbox=host_network)
    try:
        options = celery_options(database, broker)
        async for greenlight in attacked(fake_github, tmp_path, listener, "bwrap", **options):
            received = await run_the_attack(greenlight, listener)
    finally:
        stop_process(worker)
    assert_nothing_leaked(received, fake_github)


async def test_a_worker_that_cannot_sandbox_refuses_to_start(
    tmp_path: Path, database: str, broker: str
) -> None:
    require_sandbox()
    private = tmp_path / "private" / "tools"  # under pytest's 0700 tmp: the build user is kept out
    private.mkdir(parents=True)
    unreachable = {"GREENLIGHT_SANDBOX": "bwrap", "GREENLIGHT_SANDBOX_PATHS": str(private)}
    worker = start_worker(tmp_path, database, broker, sandbox=unreachable)
    try:
        await wait_until(lambda: worker.poll() is not None, deadline=60, message="it to stop")
    finally:
        stop_process(worker)
    assert worker.returncode != 0
    said = (tmp_path / "worker.log").read_text()
    assert "will not take build jobs" in said
    assert "GREENLIGHT_SANDBOX_PATHS" in said
