"""GitHub's faults, end to end: 5xx answers (some after the write landed), dropped
connections, secondary and primary rate limits, on check-run creation and update, the
token exchange, the merge and a deployment status. Every job ends with the right
conclusion, nothing stays queued or in progress, nothing is made twice, and the wait
after a rate limit is at least what GitHub asked for (measured on a virtual clock)."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.core.merge_messages import MERGED_MARKER
from bot.web.keys import SERVICES
from tests.e2e.conftest import Greenlight, start_greenlight
from tests.fakes.github import FakeGitHub
from tests.fakes.server import Call
from tests.helpers import wait_until
from tests.merging.flows import BOT, open_pull_request, wait_merged
from tests.services import postgres_database
from tests.virtual_time import VirtualTime

REPO = "octo/hello"
CONFIG = ".github/greenlight.yml"
PIPELINE = """
    jobs:
      lint:
        run: echo tidy
      test:
        run: echo broken; exit 1
      docs:
        needs: [lint]
        run: echo built
"""
EXPECTED = {"lint": "success", "test": "failure", "docs": "success", "greenlight": "failure"}
RETRY_AFTER = 7


FAULTS = [
    pytest.param({"status": 502}, id="502"),
    pytest.param({"status": 502, "after_applying": True}, id="502-after-applying"),
    pytest.param({"reset": True, "after_applying": True}, id="reset-after-applying"),
    pytest.param({"status": 403, "headers": {"Retry-After": str(RETRY_AFTER)}}, id="403-secondary"),
    pytest.param({"status": 429, "headers": {"Retry-After": str(RETRY_AFTER)}}, id="429"),
    pytest.param({"status": 403, "primary": True}, id="403-primary-exhausted"),
]


@pytest.fixture
def faulty(greenlight: Greenlight) -> tuple[Greenlight, VirtualTime]:
    """Greenlight whose GitHub client waits on a virtual clock (waits are recorded)."""
    time = VirtualTime()
    greenlight.context.github.clock = time.clock
    greenlight.context.github.sleep = time.sleep
    return greenlight, time


def inject(
    fake: FakeGitHub,
    time: VirtualTime,
    method: str,
    template: str,
    fault: dict[str, Any],
    *,
    times: int = 2,
    where: Callable[[Call], bool] | None = None,
) -> Callable[[], None]:
    """Inject `fault` (twice by default); return a check that Greenlight waited as long as
    the fault asked: `Retry-After`, or until the primary limit's reset."""
    options = dict(fault)
    if options.pop("primary", False):
        reset = int(time.clock()) + 30
        options["headers"] = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)}
        options["body"] = {"message": "API rate limit exceeded", "documentation_url": "x"}
    fake.inject(method, template, times=times, where=where, **options)

    def waited_enough() -> None:
        if "primary" in fault:
            assert any(woke >= reset for woke in time.woke), (reset, time.woke)
        elif "headers" in fault:
            assert time.waits, "no wait after a rate limit"
            assert max(time.waits) >= RETRY_AFTER

    return waited_enough


async def built(greenlight: Greenlight, sha: str) -> dict[str, str | None]:
    """Once the run of `sha` is over: each check's conclusion, after checking that every
    check run is completed and that there is exactly one per job."""
    await greenlight.run_for(REPO, sha)
    await greenlight.settle()
    fake = greenlight.fake

    def all_completed() -> bool:  # the last job's report may land just after the run ends
        return all(run.status == "completed" for run in fake.check_runs(REPO, sha))

    await wait_until(all_completed, deadline=10, message="every check run completed")
    runs = fake.check_runs(REPO, sha)
    names = [run.name for run in runs]
    assert sorted(names) == sorted(set(names)), f"a check run made twice: {names}"
    greenlight.fake.assert_no_violations()
    return {run.name: run.conclusion for run in runs}


async def push(fake: FakeGitHub) -> str:
    return await fake.push(REPO, "main", {CONFIG: textwrap.dedent(PIPELINE).lstrip("\n")})


@pytest.mark.parametrize("fault", FAULTS)
async def test_creating_check_runs(
    faulty: tuple[Greenlight, VirtualTime], fault: dict[str, Any]
) -> None:
    greenlight, time = faulty
    fake = greenlight.fake
    fake.create_repo(REPO, {"README.md": "hi\n"})
    waited_enough = inject(fake, time, "POST", "/repos/{owner}/{repo}/check-runs", fault)
    sha = await push(fake)
    assert await built(greenlight, sha) == EXPECTED
    assert fake.faults.injected
    waited_enough()


@pytest.mark.parametrize("fault", FAULTS)
async def test_completing_check_runs(
    faulty: tuple[Greenlight, VirtualTime], fault: dict[str, Any]
) -> None:
    greenlight, time = faulty
    fake = greenlight.fake
    fake.create_repo(REPO, {"README.md": "hi\n"})
    waited_enough = inject(
        fake,
        time,
        "PATCH",
        "/repos/{owner}/{repo}/check-runs/{check_run_id}",
        fault,
        where=lambda call: call.body.get("status") == "completed",
    )
    sha = await push(fake)
    assert await built(greenlight, sha) == EXPECTED
    assert fake.faults.left() == 0
    waited_enough()


@pytest.mark.parametrize("fault", FAULTS)
async def test_the_token_exchange(
    faulty: tuple[Greenlight, VirtualTime], fault: dict[str, Any]
) -> None:
    greenlight, time = faulty
    fake = greenlight.fake
    fake.create_repo(REPO, {"README.md": "hi\n"})
    waited_enough = inject(
        fake, time, "POST", "/app/installations/{installation_id}/access_tokens", fault
    )
    sha = await push(fake)
    assert await built(greenlight, sha) == EXPECTED
    assert fake.faults.left() == 0
    waited_enough()


@pytest.mark.parametrize("fault", FAULTS)
async def test_the_merge(faulty: tuple[Greenlight, VirtualTime], fault: dict[str, Any]) -> None:
    greenlight, time = faulty
    fake = greenlight.fake
    waited_enough = inject(
        fake, time, "PUT", "/repos/{owner}/{repo}/pulls/{pull_number}/merge", fault, times=1
    )
    pr = await open_pull_request(
        greenlight, "merge: {auto: true}\njobs:\n  test:\n    run: echo ok\n"
    )
    await wait_merged(greenlight, pr.number)
    main = fake.repo(REPO).git.branch_sha("main")
    assert main is not None
    await greenlight.run_for(REPO, main)  # the merge's own build
    await greenlight.settle()
    assert fake.faults.left() == 0
    merged = [c for c in fake.comments(REPO, pr.number) if c.user.login == BOT]
    assert [MERGED_MARKER in c.body for c in merged] == [True]  # announced once
    assert all(run.status == "completed" for run in fake.check_runs(REPO))
    fake.assert_no_violations()
    waited_enough()


DEPLOYING = """
    mode: delivery
    jobs:
      build:
        run: echo built
    deploy:
      environments:
        staging:
          run: echo deployed
        production:
          run: echo deployed
"""


@pytest.mark.parametrize("fault", FAULTS)
async def test_a_deployment_status(
    faulty: tuple[Greenlight, VirtualTime], fault: dict[str, Any]
) -> None:
    greenlight, time = faulty
    fake = greenlight.fake
    fake.create_repo(REPO, {"README.md": "hi\n"})
    waited_enough = inject(
        fake,
        time,
        "POST",
        "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses",
        fault,
        where=lambda call: call.body.get("state") == "success",
    )
    sha = await fake.push(REPO, "main", {CONFIG: textwrap.dedent(DEPLOYING).lstrip("\n")})
    await greenlight.run_for(REPO, sha)

    def deployed() -> bool:
        return any(
            [s.state for s in fake.deployment_statuses(d.id)][-1:] == ["success"]
            for d in fake.deployments(REPO, "staging")
        )

    await wait_until(deployed, deadline=30, message="staging deployed")
    await greenlight.settle()
    await greenlight.services.deployer.wait_idle()
    (staging,) = fake.deployments(REPO, "staging")
    assert [s.state for s in fake.deployment_statuses(staging.id)] == ["in_progress", "success"]
    assert fake.deployments(REPO, "production") == []
    assert fake.faults.injected  # met (and, where the status had landed, found again)
    fake.assert_no_violations()
    waited_enough()


@pytest.mark.postgres
async def test_two_replicas_on_postgresql_share_the_write_budget(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    fake_github.create_repo(REPO, {"README.md": "hi\n"})
    installation = fake_github.world.installation_for(REPO, fake_github.app_id)
    assert installation is not None
    time = VirtualTime()
    async with postgres_database() as url:
        servers = []
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            servers.append(await start_greenlight(fake_github, tmp_path / name, DATABASE_URL=url))
        try:
            pacers = []
            for server in servers:
                github = server.app[SERVICES].context.github
                github.clock, github.sleep = time.clock, time.sleep
                pacer = github.installation(installation.id).writes
                pacer.limit = 2
                pacers.append(pacer)
            start = time.clock()
            for pacer in (pacers[0], pacers[1], pacers[0]):
                await pacer.wait()
            assert time.clock() - start >= 60  # two a minute between them, not two each
            await pacers[1].pause_until(time.clock() + 42)
            before = time.clock()
            await pacers[0].wait()  # the other replica's pause holds here too
            assert time.clock() - before >= 42
        finally:
            for server in servers:
                await server.close()
