"""Automatic deploys held by a freeze window: they wait, say so on the commit, and the
newest one goes out when the window ends, even with no webhook arriving then. The service's
clock is the real one moved forward by the test: no sleeping through windows."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.core.deploy import Wait
from bot.deploy.facts import Facts
from bot.deploy.freeze import timer_name
from bot.deploy.requests import DeployRequest
from tests.e2e.conftest import Greenlight, start_greenlight
from tests.e2e.executors import ExecutorUnderTest
from tests.e2e.test_deploy import (
    CONFIG,
    REPO,
    config,
    deployed,
    marked,
    merge_pr,
    open_pr,
    settled,
)
from tests.fakes.github import FakeGitHub
from tests.helpers import wait_until

HOUR = 3600.0


class ShiftedClock:
    """The real time, moved forward by `shift` seconds."""

    def __init__(self) -> None:
        self.shift = 0.0

    def __call__(self) -> float:
        return time.time() + self.shift


@pytest.fixture
def clock() -> ShiftedClock:
    return ShiftedClock()


@pytest.fixture
async def frozen(
    fake_github: FakeGitHub, tmp_path: Path, executor: ExecutorUnderTest, clock: ShiftedClock
) -> AsyncIterator[Greenlight]:
    server = await start_greenlight(fake_github, tmp_path, clock=clock, **executor.settings)
    greenlight = Greenlight(fake_github, server, tmp_path, executor)
    try:
        yield greenlight
    finally:
        await fake_github.settle()
        await server.close()


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def window(name: str, starts: float, ends: float) -> str:
    return (
        f"  - name: {name}\n    from: {iso(starts)}\n    until: {iso(ends)}\n"
        "    applies_to: [production]\n"
    )


def held_check(greenlight: Greenlight, sha: str) -> str:
    check = greenlight.checks(REPO, sha).get("deploy: production")
    if check is None:
        return ""
    assert check.conclusion == "neutral"  # a wait, not a failure: the commit stays green
    return str(check.output["summary"])


async def test_a_freeze_holds_automatic_deploys_and_lets_the_newest_go_when_it_ends(
    frozen: Greenlight, clock: ShiftedClock
) -> None:
    fake = frozen.fake
    end = round(time.time()) + HOUR
    freeze = "freeze:\n" + window("release-freeze", end - 10 * HOUR, end)
    fake.create_repo(REPO, {CONFIG: config(frozen, "deployment")[CONFIG] + freeze})
    first = await merge_pr(fake, await open_pr(frozen, "one", {"a.txt": "1\n"}))
    await deployed(frozen, "staging", first)  # staging is not frozen
    await wait_until(lambda: held_check(frozen, first), deadline=30, message="the held check")
    assert "frozen by the window `release-freeze` until" in held_check(frozen, first)
    second = await merge_pr(fake, await open_pr(frozen, "two", {"a.txt": "2\n"}))
    await deployed(frozen, "staging", second)
    await wait_until(lambda: held_check(frozen, second), deadline=30, message="the held check")
    timer = await frozen.store.timers.get(timer_name(REPO, "production"))
    assert timer is not None
    assert timer.due_at == end
    newest = await frozen.store.runs.for_sha(REPO, second)
    assert newest is not None
    assert json.loads(timer.data)[0] == newest.id  # one timer per environment: the newest
    await _deploy_automatically(frozen, first, "production")  # an older one, late
    timer = await frozen.store.timers.get(timer_name(REPO, "production"))
    assert timer is not None
    assert json.loads(timer.data)[0] == newest.id  # the older did not replace the newest
    # Meanwhile the freeze is extended, on the default branch, by a commit that builds nothing.
    longer = fake.read_file(REPO, "main", CONFIG).decode() + window(
        "extended", end - 60, end + HOUR
    )
    await fake.push(REPO, "main", {CONFIG: longer}, message="Extend the freeze [skip ci]")
    await settled(frozen)

    clock.shift = HOUR + 1  # the first window ended; no webhook arrives
    await frozen.services.timekeeper.fire_due()
    await wait_until(
        lambda: _is_due_at(frozen, end + HOUR), deadline=30, message="held again by the extension"
    )
    await settled(frozen)
    assert fake.deployments(REPO, "production") == []

    later = datetime.fromtimestamp(end + HOUR, UTC).strftime("%Y-%m-%d %H:%M UTC")
    assert f"frozen by the window `extended` until {later}" in held_check(frozen, second)

    clock.shift = 2 * HOUR + 1
    await frozen.services.timekeeper.fire_due()
    await deployed(frozen, "production", second)
    assert marked(frozen, "production") == [second]  # the newest; the older never went
    assert frozen.checks(REPO, first)["deploy: production"].output["title"] == (
        f"Replaced: {second[:7]} waits for production"
    )
    shown = fake.check_runs(REPO, second, name="deploy: production")
    assert [check.output["title"] for check in shown] == ["Freeze over: deploying to production"]


async def _is_due_at(greenlight: Greenlight, due_at: float) -> bool:
    timer = await greenlight.store.timers.get(timer_name(REPO, "production"))
    return timer is not None and timer.due_at == due_at


async def _deploy_automatically(greenlight: Greenlight, sha: str, env: str) -> None:
    run = await greenlight.store.runs.for_sha(REPO, sha)
    assert run is not None
    config = await Facts(greenlight.context, run.installation_id or 0, REPO).config(sha)
    assert config is not None
    target = config.deploy.environment(env)
    assert target is not None
    request = DeployRequest(run, target, config.deploy.environments)
    held = await greenlight.services.deployer.submit(request)
    assert isinstance(held, Wait)
    assert held.reason.environment == env
