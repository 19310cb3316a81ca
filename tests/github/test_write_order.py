"""Under a paced burst, writes that give people feedback reach GitHub before those that
can wait, through the real client and the fake GitHub."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.core.write_room import Limits
from bot.github.client import InstallationClient
from bot.github.pacing import MemoryBudget, WritePacer
from tests.fakes.github import FakeGitHub
from tests.helpers import fake_github_app, wait_until
from tests.virtual_time import VirtualTime

REPO = "octo/hello"
WRITES = frozenset({"POST", "PATCH", "PUT", "DELETE"})


class Arrivals(collections.Counter[Any]):
    """The fake's request counter, also keeping the order requests arrived in."""

    def __init__(self) -> None:
        super().__init__()
        self.order: list[tuple[str, str]] = []

    def __setitem__(self, key: Any, value: int) -> None:
        if value > self.get(key, 0):
            self.order.append(key)
        super().__setitem__(key, value)

    def writes(self) -> list[tuple[str, str]]:
        return [key for key in self.order if key[0] in WRITES and "access_tokens" not in key[1]]


class CountingBudget(MemoryBudget):
    """The in-memory budget, counting the writes it let through."""

    def __init__(self) -> None:
        super().__init__()
        self.let_through = 0

    async def take(self, installation_id: int, *, now: float, limits: Limits) -> float:
        delay = await super().take(installation_id, now=now, limits=limits)
        self.let_through += delay <= 0
        return delay


@pytest.fixture
async def client(fake_github: FakeGitHub) -> AsyncIterator[InstallationClient]:
    fake_github.create_repo(REPO, {"README.md": "hi\n"})
    installation = fake_github.world.installation_for(REPO, fake_github.app_id)
    assert installation is not None
    async with fake_github_app(fake_github) as app:
        client = app.installation(installation.id)
        await client.token()
        yield client


async def test_check_runs_go_before_comment_edits_branch_deletion_and_reactions(
    client: InstallationClient, fake_github: FakeGitHub
) -> None:
    sha = fake_github.commit(REPO, "feature", {"a.txt": "a\n"})
    number = fake_github.open_pull_request(REPO, "feature").number
    comment = await client.comment(REPO, number, "Merged.")
    arrivals = Arrivals()
    fake_github.request_counts = arrivals
    time_passes, budget, burst_queued = VirtualTime(), CountingBudget(), asyncio.Event()

    async def sleep(seconds: float) -> None:
        # The burst is all in line, and what was let through reached GitHub, before the
        # window moves on: the order GitHub sees is the order the pacer let writes go.
        await burst_queued.wait()
        await wait_until(lambda: len(arrivals.writes()) >= budget.let_through)
        await time_passes.sleep(seconds)

    client.writes = WritePacer(
        client.installation_id,
        budget=budget,
        limit=1,
        window=60,
        clock=time_passes.clock,
        sleep=sleep,
    )
    can_wait = [
        client.edit_comment(REPO, comment.id, "Merged, deploying."),
        client.react(REPO, comment.id, "rocket"),
        client.delete_branch(REPO, "feature"),
    ]
    feedback = [
        client.create_check_run(
            REPO, {"name": name, "head_sha": sha, "external_id": name, "status": "in_progress"}
        )
        for name in ("lint", "test")
    ]
    tasks = [asyncio.create_task(write) for write in can_wait]
    await wait_until(lambda: client.writes.waiting == 2)  # the edit went; the others wait
    tasks += [asyncio.create_task(write) for write in feedback]
    await wait_until(lambda: client.writes.waiting == 4)
    burst_queued.set()
    await asyncio.gather(*tasks)

    assert [template for _, template in arrivals.writes()] == [
        "/repos/{owner}/{repo}/issues/comments/{comment_id}",
        "/repos/{owner}/{repo}/check-runs",
        "/repos/{owner}/{repo}/check-runs",
        "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions",
        "/repos/{owner}/{repo}/git/refs/{ref}",
    ]
    assert {run.name for run in fake_github.check_runs(REPO, sha)} == {"lint", "test"}
    assert time_passes.offset >= 4 * 60  # each write waited for its own window
