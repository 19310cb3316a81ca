"""One merge evaluation per burst of events on a pull request, never missing the last one;
the app itself read once."""

from __future__ import annotations

import asyncio

from bot.context import Context
from bot.merging.service import Merging
from bot.timekeeper import Timekeeper
from tests.fakes.github import FakeGitHub
from tests.fakes.server import Call
from tests.merging.conftest import client_for
from tests.merging.flows import MERGE, REPO, config

GREEN = "merge: {auto: true}\njobs:\n  t:\n    run: echo\n"
PULL = "/repos/{owner}/{repo}/pulls/{pull_number}"


class Gate:
    """The settling wait, held until the test opens it (the burst has arrived by then)."""

    def __init__(self) -> None:
        self.opened = asyncio.Event()
        self.waits = 0

    async def __call__(self, _seconds: float) -> None:
        self.waits += 1
        await self.opened.wait()


def pull_request(fake: FakeGitHub, *, green: bool) -> tuple[int, str]:
    fake.create_repo(REPO, config(GREEN))
    sha = fake.commit(REPO, "feature", {"a.txt": "a\n"})
    pr = fake.open_pull_request(REPO, "feature")
    if green:
        fake.add_check_run(REPO, sha, "greenlight", app="greenlight-test")
    return pr.number, sha


async def test_a_burst_of_events_is_evaluated_once_after_it(
    context: Context, fake_github: FakeGitHub
) -> None:
    number, _ = pull_request(fake_github, green=True)
    installation = client_for(context, fake_github).installation_id
    gate = Gate()
    merging = Merging(context, Timekeeper(context.store, "test"), sleep=gate)
    for _ in range(3):  # a review, a label and a check suite, arriving together
        merging.evaluate_soon(installation, REPO, number)
    assert not fake_github.pull(REPO, number).merged  # nothing read before the burst ends
    gate.opened.set()
    await merging.wait_idle()
    assert fake_github.pull(REPO, number).merged
    assert (await merging.evaluator()).evaluations == 1
    assert gate.waits == 1
    assert fake_github.request_counts[("GET", PULL)] == 1


async def test_an_event_during_an_evaluation_is_evaluated_again(
    context: Context, fake_github: FakeGitHub
) -> None:
    number, sha = pull_request(fake_github, green=False)
    installation = client_for(context, fake_github).installation_id
    gate = Gate()
    gate.opened.set()
    merging = Merging(context, Timekeeper(context.store, "test"), sleep=gate)
    reads: list[int] = []

    def while_evaluating(call: Call) -> bool:
        """The first evaluation is reading the pull request: its check goes green then,
        and that event arrives (never a fault: only a hook into the fake)."""
        reads.append(1)
        if len(reads) == 1:
            fake_github.add_check_run(REPO, sha, "greenlight", app="greenlight-test")
            merging.evaluate_soon(installation, REPO, number)
        return False

    fake_github.inject("get", PULL, where=while_evaluating)
    merging.evaluate_soon(installation, REPO, number)
    await merging.wait_idle()
    assert (await merging.evaluator()).evaluations == 2
    assert fake_github.pull(REPO, number).merged
    assert fake_github.request_counts[MERGE] == 1


async def test_events_on_other_pull_requests_are_not_folded(
    context: Context, fake_github: FakeGitHub
) -> None:
    number, _ = pull_request(fake_github, green=True)
    installation = client_for(context, fake_github).installation_id
    gate = Gate()
    merging = Merging(context, Timekeeper(context.store, "test"), sleep=gate)
    merging.evaluate_soon(installation, REPO, number)
    merging.evaluate_soon(installation, REPO, number + 100)  # no such pull request
    gate.opened.set()
    await merging.wait_idle()  # the missing one's failure is logged, not raised
    assert gate.waits == 2
    assert fake_github.pull(REPO, number).merged
    fake_github.take_violations()  # the 404 of the missing pull request is expected


async def test_the_app_itself_is_read_once_per_process(
    context: Context, fake_github: FakeGitHub
) -> None:
    merging = Merging(context, Timekeeper(context.store, "test"))
    logins = await asyncio.gather(*(merging.bot_login() for _ in range(10)))
    await merging.evaluator()
    assert set(logins) == {f"{fake_github.github_app.slug}[bot]"}
    assert fake_github.request_counts[("GET", "/app")] == 1


async def test_a_merge_that_goes_through_never_asks_for_the_app(
    context: Context, fake_github: FakeGitHub
) -> None:
    """The bot's login finds its own comments; a merge and its comment need none."""
    number, _ = pull_request(fake_github, green=True)
    installation = client_for(context, fake_github).installation_id
    merging = Merging(context, Timekeeper(context.store, "test"))
    await merging.evaluate(installation, REPO, number)
    assert fake_github.pull(REPO, number).merged
    assert fake_github.request_counts[("GET", "/app")] == 0
    assert await merging.bot_login() == f"{fake_github.github_app.slug}[bot]"
    assert fake_github.request_counts[("GET", "/app")] == 1


async def test_a_pull_request_merged_here_is_not_read_again(
    context: Context, fake_github: FakeGitHub
) -> None:
    """An evaluation queued behind the one that merged reads nothing: merged is final."""
    number, _ = pull_request(fake_github, green=True)
    installation = client_for(context, fake_github).installation_id
    merging = Merging(context, Timekeeper(context.store, "test"))
    await merging.evaluate(installation, REPO, number)
    assert fake_github.pull(REPO, number).merged
    reads = fake_github.request_counts[("GET", PULL)]
    assert await merging.evaluate(installation, REPO, number) is None
    assert fake_github.request_counts[("GET", PULL)] == reads
