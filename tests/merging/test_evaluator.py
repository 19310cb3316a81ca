"""The evaluator against the fake: one evaluation at a time per PR, merges once."""

from __future__ import annotations

import asyncio

from bot.context import Context
from bot.core.merge_messages import MERGED_MARKER
from bot.github.models import PullRequest
from bot.merging.access import PermissionCache
from bot.merging.evaluator import Evaluator, pull_numbers
from bot.timekeeper import Timekeeper
from tests.fakes.github import FakeGitHub
from tests.merging.conftest import client_for
from tests.merging.flows import BOT, MERGE, REPO, config

GREEN = "merge: {auto: true, delete_branch: true}\njobs:\n  t:\n    run: echo\n"


def green_pull_request(fake: FakeGitHub) -> int:
    fake.create_repo(REPO, config(GREEN))
    sha = fake.commit(REPO, "feature", {"a.txt": "a\n"})
    pr = fake.open_pull_request(REPO, "feature")
    fake.add_check_run(REPO, sha, "greenlight", app="greenlight-test")
    return pr.number


async def test_a_burst_of_triggers_merges_once(
    context: Context, fake_github: FakeGitHub, permissions: PermissionCache
) -> None:
    number = green_pull_request(fake_github)
    installation = client_for(context, fake_github).installation_id
    evaluator = Evaluator(context, permissions, bot_login, Timekeeper(context.store, "test"))

    await asyncio.gather(*(evaluator.evaluate(installation, REPO, number) for _ in range(10)))

    assert fake_github.pull(REPO, number).merged
    assert fake_github.request_counts[MERGE] == 1
    assert evaluator.evaluations == 2  # the running one, and one queued behind it
    (merged,) = fake_github.comments(REPO, number)
    assert MERGED_MARKER in merged.body
    assert fake_github.repo(REPO).git.branch_sha("feature") is None
    state = await context.store.pull_requests.get(REPO, number)
    assert state.merged_by_app


async def test_a_closed_pull_request_is_left_alone(
    context: Context, fake_github: FakeGitHub, permissions: PermissionCache
) -> None:
    number = green_pull_request(fake_github)
    fake_github.pull(REPO, number).state = "closed"
    installation = client_for(context, fake_github).installation_id
    evaluator = Evaluator(context, permissions, bot_login, Timekeeper(context.store, "test"))
    await evaluator.evaluate(installation, REPO, number)
    assert fake_github.request_counts[MERGE] == 0
    assert fake_github.comments(REPO, number) == []


async def bot_login() -> str:
    return BOT


def test_pull_numbers_keeps_open_heads_only() -> None:
    sha = "a" * 40
    pulls = [
        {"number": 3, "state": "open", "head": {"sha": sha}},
        {"number": 1, "state": "open", "head": {"sha": sha}},
        {"number": 2, "state": "open", "head": {"sha": "b" * 40}},  # contains it, not its head
        {"number": 4, "state": "closed", "head": {"sha": sha}},
    ]
    assert pull_numbers([PullRequest.from_json(pull) for pull in pulls], sha) == [1, 3]
