"""GitHub failing past the retries: the work is put off and done later, never lost, never
doubled, logged once with the delivery that started it. The later tries wait on a
virtual clock, so an outage of minutes passes at once."""

from __future__ import annotations

import logging
import textwrap
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.core.merge_messages import MERGED_MARKER
from bot.logcontext import DeliveryContextFilter
from tests.e2e.conftest import Greenlight, running_greenlight, start_greenlight
from tests.e2e.executors import ExecutorUnderTest
from tests.e2e.test_github_faults import DEPLOYING, EXPECTED, PIPELINE
from tests.fakes.github import FakeGitHub
from tests.fakes.server import Call
from tests.helpers import wait_until
from tests.merging.flows import BOT, comment, open_pull_request, wait_merged
from tests.virtual_time import VirtualTime

REPO = "octo/hello"
CONFIG = ".github/greenlight.yml"
OUTAGE = 6  # more failures in a row than the five tries of one request


@dataclass
class Outage(Greenlight):
    time: VirtualTime = field(default_factory=VirtualTime)


@pytest.fixture
async def outage(
    fake_github: FakeGitHub,
    tmp_path: Path,
    executor: ExecutorUnderTest,
    caplog: pytest.LogCaptureFixture,
) -> AsyncIterator[Outage]:
    """Greenlight on a virtual clock, its warnings captured with their delivery ids."""
    time = VirtualTime()
    async with running_greenlight(fake_github, tmp_path, executor, clock=time.clock) as running:
        running.context.github.clock = time.clock
        running.context.github.sleep = time.sleep
        caplog.set_level(logging.INFO, logger="greenlight")
        caplog.handler.addFilter(DeliveryContextFilter())
        yield Outage(running.fake, running.server, running.tmp_path, running.executor, time)


def put_off(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "trying again later" in r.getMessage()]


async def quiet(greenlight: Outage) -> None:
    """Until deliveries, deploys and the work put off are all done: the virtual clock is
    moved on to each later try in turn, and the timers fired as the app fires them."""
    for _ in range(10):
        await greenlight.settle()
        await greenlight.services.deployer.wait_idle()
        waiting = await greenlight.context.github.backlog.pending()
        if not waiting:
            return
        greenlight.time.offset += max(0.0, waiting[0].due_at - greenlight.time.clock())
        await greenlight.services.timekeeper.fire_due()
    raise AssertionError(f"work still put off: {waiting}")


async def until(greenlight: Outage, condition: Callable[[], bool], *, message: str) -> None:
    """Until `condition` holds, the virtual clock moved on to each later try meanwhile."""

    async def holds() -> bool:
        await quiet(greenlight)
        return condition()

    await wait_until(holds, deadline=30, message=message)


async def built(greenlight: Outage, sha: str) -> dict[str, str | None]:
    await quiet(greenlight)  # the build itself may have been put off
    await greenlight.run_for(REPO, sha)
    await quiet(greenlight)
    fake = greenlight.fake

    def all_completed() -> bool:  # the last job's report may land just after the run ends
        return all(run.status == "completed" for run in fake.check_runs(REPO, sha))

    await wait_until(all_completed, deadline=10, message="every check run completed")
    runs = fake.check_runs(REPO, sha)
    names = [run.name for run in runs]
    assert sorted(names) == sorted(set(names)), f"a check run made twice: {names}"
    greenlight.fake.assert_no_violations()
    return {run.name: run.conclusion for run in runs}


def deployed(fake: FakeGitHub) -> bool:
    return any(
        [s.state for s in fake.deployment_statuses(d.id)][-1:] == ["success"]
        for d in fake.deployments(REPO, "staging")
    )


async def push(fake: FakeGitHub, config: str = PIPELINE) -> str:
    fake.create_repo(REPO, {"README.md": "hi\n"})
    return await fake.push(REPO, "main", {CONFIG: textwrap.dedent(config).lstrip("\n")})


def one_check_run(status: str) -> Callable[[Call], bool]:
    """Matches the updates to `status` of the first check run so updated, and no other."""
    chosen: list[str] = []

    def matches(call: Call) -> bool:
        if call.body.get("status") != status:
            return False
        chosen[:] = chosen or [call.params["check_run_id"]]
        return call.params["check_run_id"] == chosen[0]

    return matches


CHECK_RUN = "/repos/{owner}/{repo}/check-runs/{check_run_id}"


@pytest.mark.parametrize(
    ("method", "template", "where"),
    [
        pytest.param("PATCH", CHECK_RUN, one_check_run("completed"), id="completing"),
        pytest.param("PATCH", CHECK_RUN, one_check_run("in_progress"), id="starting"),
        pytest.param(
            "POST",
            "/repos/{owner}/{repo}/check-runs",
            lambda call: call.body.get("name") == "test",
            id="creating",
        ),
    ],
)
@pytest.mark.parametrize("after_applying", [False, True], ids=["refused", "applied"])
async def test_no_check_run_is_left_behind(
    outage: Outage,
    caplog: pytest.LogCaptureFixture,
    method: str,
    template: str,
    where: Any,
    after_applying: bool,
) -> None:
    fake = outage.fake
    fake.inject(method, template, times=OUTAGE, where=where, after_applying=after_applying)
    sha = await push(fake)
    assert await built(outage, sha) == EXPECTED
    if after_applying and method == "POST":
        assert put_off(caplog) == []  # the first retry found the check run made
        return
    if type(outage.services.pipeline.executor).__name__ != "LocalExecutor":
        # On Celery a job's start and end are seen by the executor's watcher, outside any
        # delivery, and a job that ends before the watcher sees it start is never marked
        # in progress at all: at most one write put off, and the checks right (above).
        assert len(put_off(caplog)) <= 1
        return
    (record,) = put_off(caplog)  # logged once, with the delivery that started the build
    assert "delivery=" in record.context


async def test_a_build_whose_token_exchange_failed_runs_later(
    outage: Outage, caplog: pytest.LogCaptureFixture
) -> None:
    fake = outage.fake
    fake.fail_next("POST", "/app/installations/{installation_id}/access_tokens", times=OUTAGE)
    sha = await push(fake)
    assert await built(outage, sha) == EXPECTED
    assert put_off(caplog)
    assert all("delivery=" in record.context for record in put_off(caplog))


async def test_a_merge_github_kept_failing_is_made_later_once(
    outage: Outage, caplog: pytest.LogCaptureFixture
) -> None:
    fake = outage.fake
    fake.fail_next("PUT", "/repos/{owner}/{repo}/pulls/{pull_number}/merge", times=OUTAGE)
    pr = await open_pull_request(outage, "merge: {auto: true}\njobs:\n  test:\n    run: echo ok\n")
    await wait_merged(outage, pr.number, deadline=60)
    main = fake.repo(REPO).git.branch_sha("main")
    assert main is not None
    await outage.run_for(REPO, main)
    await quiet(outage)
    merged = [c for c in fake.comments(REPO, pr.number) if c.user.login == BOT]
    assert len(merged) == 1
    assert len(put_off(caplog)) == 1
    fake.assert_no_violations()


async def test_a_deployment_github_kept_failing_is_made_later_once(
    outage: Outage, caplog: pytest.LogCaptureFixture
) -> None:
    fake = outage.fake
    fake.fail_next("POST", "/repos/{owner}/{repo}/deployments", times=OUTAGE)
    sha = await push(fake, DEPLOYING)
    await outage.run_for(REPO, sha)
    await until(outage, lambda: deployed(fake), message="staging deployed")
    await quiet(outage)
    (staging,) = fake.deployments(REPO, "staging")
    assert [s.state for s in fake.deployment_statuses(staging.id)] == ["in_progress", "success"]
    live = await outage.services.deployer.store.live(REPO, "staging")
    assert live is not None
    assert live.sha == sha
    assert len(put_off(caplog)) == 1
    fake.assert_no_violations()


@pytest.mark.parametrize("applied", [False, True])
async def test_a_deployment_status_github_kept_failing_is_posted_later_once(
    outage: Outage, caplog: pytest.LogCaptureFixture, applied: bool
) -> None:
    fake = outage.fake
    fake.inject(
        "POST",
        "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses",
        times=OUTAGE,
        after_applying=applied,
        where=lambda call: call.body.get("state") == "success",
    )
    sha = await push(fake, DEPLOYING)
    await outage.run_for(REPO, sha)
    await until(outage, lambda: deployed(fake), message="staging deployed")
    await quiet(outage)
    (staging,) = fake.deployments(REPO, "staging")
    assert [s.state for s in fake.deployment_statuses(staging.id)] == ["in_progress", "success"]
    assert len(put_off(caplog)) == (0 if applied else 1)


@pytest.mark.parametrize("applied", [False, True], ids=["refused", "applied"])
async def test_a_merge_comment_github_kept_failing_is_posted_later_once(
    outage: Outage, caplog: pytest.LogCaptureFixture, applied: bool
) -> None:
    fake = outage.fake
    fake.inject(
        "POST",
        "/repos/{owner}/{repo}/issues/{issue_number}/comments",
        times=OUTAGE,
        after_applying=applied,
        where=lambda call: MERGED_MARKER in call.body.get("body", ""),
    )
    pr = await open_pull_request(outage, "merge: {auto: true}\njobs:\n  test:\n    run: echo ok\n")
    await wait_merged(outage, pr.number, deadline=60)
    await quiet(outage)
    merged = [c for c in fake.comments(REPO, pr.number) if MERGED_MARKER in c.body]
    assert len(merged) == 1
    assert len(put_off(caplog)) == (0 if applied else 1)  # applied: found on the first retry
    fake.assert_no_violations()


async def test_a_merge_asked_by_command_is_made_later_once_and_the_command_runs_once(
    outage: Outage, caplog: pytest.LogCaptureFixture
) -> None:
    fake = outage.fake
    pr = await open_pull_request(outage, "jobs:\n  test:\n    run: echo ok\n")
    await outage.run_for(REPO, fake.pull(REPO, pr.number).head_sha)
    await quiet(outage)
    fake.fail_next("PUT", "/repos/{owner}/{repo}/pulls/{pull_number}/merge", times=OUTAGE)
    note = await comment(outage, pr.number, "octo", "/merge")
    await wait_merged(outage, pr.number, deadline=60)
    await quiet(outage)
    assert [r.content for r in fake.reactions(note.id)] == ["eyes", "+1"]  # acted once
    merged = [c for c in fake.comments(REPO, pr.number) if MERGED_MARKER in c.body]
    assert len(merged) == 1
    assert len(put_off(caplog)) == 1
    fake.assert_no_violations()


async def test_a_merge_comment_put_off_is_posted_once_by_the_next_process(
    outage: Outage, caplog: pytest.LogCaptureFixture
) -> None:
    fake = outage.fake
    fake.inject(
        "POST",
        "/repos/{owner}/{repo}/issues/{issue_number}/comments",
        times=OUTAGE,
        where=lambda call: MERGED_MARKER in call.body.get("body", ""),
    )
    pr = await open_pull_request(outage, "merge: {auto: true}\njobs:\n  test:\n    run: echo ok\n")
    await wait_merged(outage, pr.number, deadline=60)
    await outage.settle()
    await wait_until(outage.context.github.backlog.pending, message="the comment put off")
    await outage.server.close()  # the process stops before the later try

    server = await start_greenlight(
        fake, outage.tmp_path, clock=outage.time.clock, **outage.executor.settings
    )
    restarted = Outage(fake, server, outage.tmp_path, outage.executor, outage.time)
    try:
        await quiet(restarted)  # the clock passes the later try, on the new process
        merged = [c for c in fake.comments(REPO, pr.number) if MERGED_MARKER in c.body]
        assert len(merged) == 1
        assert len(put_off(caplog)) == 1
        assert await restarted.context.github.backlog.pending() == []
        done = restarted.context.metrics.registry.get_sample_value(
            "greenlight_work_done_later_total", {"kind": "merge-comment"}
        )
        assert done == 1
        fake.assert_no_violations()
    finally:
        await fake.settle()
        await server.close()
