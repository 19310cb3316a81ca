"""A health check the service stopped in the middle of is carried on by the service that
takes the deploy over: a restart here (one SQLite process, as one replica after another);
a `kill -9` with real processes is in tests/replicas/test_health_takeover.py.

It goes on for what remains of its period, then ends as an uninterrupted check would:
healthy, promoted; unhealthy, rolled back. Never left `in_progress`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Greenlight, start_greenlight
from tests.e2e.executors import LOCAL_EXECUTOR, ExecutorUnderTest
from tests.e2e.health_endpoint import HealthEndpoint
from tests.e2e.test_deploy import REPO, deployed, marked, marks, settled, states
from tests.e2e.test_health import descriptions, health_config, notice, release
from tests.fakes.github import FakeGitHub
from tests.helpers import wait_until

# Long enough to stop the service half way through, short enough for a test.
SLOW = "every: 0.2s\n        for: 4s"


class Restarting:
    """The service on SQLite under `tmp_path`, stopped and started again by the test."""

    def __init__(
        self, fake: FakeGitHub, tmp_path: Path, executor: ExecutorUnderTest = LOCAL_EXECUTOR
    ) -> None:
        self.fake, self.tmp_path, self.executor = fake, tmp_path, executor
        self.greenlight: Greenlight | None = None

    async def start(self) -> Greenlight:
        server = await start_greenlight(self.fake, self.tmp_path, **self.executor.settings)
        self.greenlight = Greenlight(self.fake, server, self.tmp_path, self.executor)
        return self.greenlight

    async def stop(self) -> None:
        if self.greenlight is not None:
            await self.greenlight.server.close()
            self.greenlight = None


@pytest.fixture
async def service(fake_github: FakeGitHub, tmp_path: Path) -> AsyncIterator[Restarting]:
    restarting = Restarting(fake_github, tmp_path)
    try:
        yield restarting
    finally:
        await fake_github.settle()
        await restarting.stop()


@pytest.fixture
async def endpoint(tmp_path: Path) -> AsyncIterator[HealthEndpoint]:
    server = HealthEndpoint(tmp_path / "marks" / "staging-health")
    await server.start()
    try:
        yield server
    finally:
        await server.close()


async def stop_mid_check(service: Restarting, endpoint: HealthEndpoint, sha: str) -> None:
    """Once the deploy of `sha` to staging has been probed a few times, stop the service."""
    fake = service.fake
    await wait_until(
        lambda: (
            any(d.sha == sha for d in fake.deployments(REPO, "staging"))
            and ("in_progress", "checking health") in descriptions_of(service, sha)
        ),
        deadline=30,
        message="the health check to begin",
    )
    probed = endpoint.hits
    await wait_until(lambda: endpoint.hits >= probed + 3, message="a few probes")
    await service.stop()


def descriptions_of(service: Restarting, sha: str) -> list[tuple[str, str]]:
    assert service.greenlight is not None
    return descriptions(service.greenlight, "staging", sha)


async def test_a_health_check_cut_short_by_a_restart_resumes_and_promotes(
    service: Restarting, endpoint: HealthEndpoint
) -> None:
    fake = service.fake
    first = await service.start()
    fake.create_repo(REPO, health_config(first, endpoint.url, check=SLOW))
    number, sha = await release(first, "good", "200")
    await stop_mid_check(service, endpoint, sha)
    (deployment,) = fake.deployments(REPO, "staging")
    assert states(fake, deployment)[-1] == "in_progress"  # left for the next service
    hits_before = endpoint.hits

    second = await service.start()
    await deployed(second, "production", sha)

    assert descriptions(second, "staging", sha)[-1] == ("success", "Live in staging")
    assert endpoint.hits > hits_before  # probed again after the restart
    (record,) = await second.services.deployer.store.history(REPO, "staging")
    log = await second.services.deployer.store.read_log(record.id)
    assert "Greenlight is stopping: the health check goes on" in log
    assert "checks again for the rest of the period" in log
    assert "Health check passed" in log
    assert marked(second, "staging") == [sha]  # the steps did not run again
    assert marked(second, "production") == [sha]  # promoted, as without the restart
    assert "live in production" in notice(second, number)


async def test_a_resumed_health_check_that_fails_rolls_back(
    service: Restarting, endpoint: HealthEndpoint
) -> None:
    fake = service.fake
    first = await service.start()
    fake.create_repo(REPO, health_config(first, endpoint.url, check=SLOW))
    _, good = await release(first, "good", "200")
    await deployed(first, "production", good)
    endpoint.forced = "200"  # the bad release looks healthy until the restart
    number, bad = await release(first, "bad", "503")
    await stop_mid_check(service, endpoint, bad)
    endpoint.forced = None  # now the release answers for itself: 503

    second = await service.start()
    await wait_until(
        lambda: (
            [d.sha for d in fake.deployments(REPO, "staging")] == [good, bad, good]
            and states(fake, fake.deployments(REPO, "staging")[-1])[-1:] == ["success"]
        ),
        deadline=30,
        message="the rollback to the good release to succeed",
    )
    await settled(second)

    assert (
        "failure",
        "staging unhealthy: HTTP 503, expected HTTP 200",
    ) in descriptions(second, "staging", bad)
    assert marked(second, "staging") == [good, bad, good]  # the rollback's steps ran
    assert marked(second, "production") == [good]  # promotion stopped
    assert f"rolling back to {good[:7]}" in notice(second, number)
    records = await second.services.deployer.store.history(REPO, "staging")
    assert {record.state.value for record in records} == {"success", "failure"}  # none left


async def test_a_deploy_stopped_during_its_steps_still_ends_as_error(
    service: Restarting, endpoint: HealthEndpoint
) -> None:
    """Only a health check is carried on: steps cut short may have half-applied anything."""
    fake = service.fake
    first = await service.start()
    files = health_config(first, endpoint.url, check=SLOW)
    gate = marks(first) / "gate"
    files[".github/greenlight.yml"] = files[".github/greenlight.yml"].replace(
        "- run: cp health.txt",
        f"- run: 'touch {marks(first)}/steps-began; while [ ! -e {gate} ]; do sleep 0.05; done'\n"
        "        - run: cp health.txt",
    )
    fake.create_repo(REPO, files)
    await release(first, "good", "200")
    await wait_until((marks(first) / "steps-began").exists, deadline=30, message="the steps")
    await service.stop()

    second = await service.start()
    await wait_until(
        lambda: states(fake, fake.deployments(REPO, "staging")[0])[-1:] in (["error"], ["failure"]),
        deadline=30,
        message="the interrupted deploy to end",
    )
    await settled(second)
    (record,) = await second.services.deployer.store.history(REPO, "staging")
    assert record.state.is_finished
    assert marked(second, "production") == []
    assert endpoint.hits == 0  # never probed: its steps never finished


async def test_a_stop_mid_check_never_leaves_the_deploy_in_progress_on_either_executor(
    fake_github: FakeGitHub, tmp_path: Path, executor: ExecutorUnderTest, endpoint: HealthEndpoint
) -> None:
    """Local: left for the next service, which carries the check on. Celery: the worker's
    probe loop cannot be carried on, so the stop ends the deploy as it always did."""
    service = Restarting(fake_github, tmp_path, executor)
    fake = fake_github
    try:
        first = await service.start()
        fake.create_repo(REPO, health_config(first, endpoint.url, check=SLOW))
        _, sha = await release(first, "good", "200")
        await stop_mid_check(service, endpoint, sha)
        (deployment,) = fake.deployments(REPO, "staging")
        after_stop = states(fake, deployment)[-1]
        second = await service.start()
        if executor.is_celery:
            assert after_stop == "failure"
            await settled(second)
            assert states(fake, deployment)[-1] == "failure"  # not taken over again
            assert marked(second, "production") == []
        else:
            assert after_stop == "in_progress"
            await deployed(second, "production", sha)
    finally:
        await fake.settle()
        await service.stop()
