"""Nothing lost while Greenlight is down: missed deliveries come back from GitHub's log.

Each test stops the app, lets GitHub's deliveries fail (the fake logs them as GitHub
does), starts it again and asserts on the fake GitHub's state that each missed delivery
had its effect exactly once.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from aiohttp.test_utils import TestServer

from bot.recovery.service import Recovery
from bot.store.records import Status
from bot.web.keys import RECOVERY
from tests.e2e.conftest import Greenlight, start_greenlight
from tests.fakes.github import FakeGitHub
from tests.fakes.state import IssueComment, PullRequest
from tests.helpers import wait_until
from tests.merging.flows import BOT, REPO, config, reactions

CONFIG = "jobs:\n  test:\n    run: echo ok\n"
ONE_PASS_AT_START = {"GREENLIGHT_RECOVERY_INTERVAL": "1h"}


async def deliver_while_down(fake: FakeGitHub, event: str, payload: object) -> None:
    """GitHub tries to deliver; nothing answers, and its log records the failure."""
    with contextlib.suppress(ConnectionError):
        await fake.send(event, payload)


async def open_pull_request(fake: FakeGitHub, branch: str, *, live: bool) -> PullRequest:
    fake.commit(REPO, branch, {f"{branch}.txt": "change\n"})
    pr = fake.open_pull_request(REPO, branch)
    payload = fake.pull_request_event("opened", REPO, pr.number)
    if live:
        await fake.send("pull_request", payload)
    else:
        await deliver_while_down(fake, "pull_request", payload)
    return pr


async def push_main_while_down(fake: FakeGitHub) -> str:
    before = fake.repo(REPO).git.branch_sha("main")
    after = fake.commit(REPO, "main", {"main.txt": "pushed while down\n"})
    assert before is not None
    await deliver_while_down(fake, "push", fake.push_event(REPO, "main", before, after))
    return after


async def comment_while_down(fake: FakeGitHub, number: int, body: str) -> IssueComment:
    payload = fake.issue_comment_event(REPO, number, "octo", body)
    await deliver_while_down(fake, "issue_comment", payload)
    return fake.world.comments[int(payload["comment"]["id"])]


def recovery(greenlight: Greenlight) -> Recovery:
    return greenlight.app[RECOVERY]


async def restart(fake: FakeGitHub, tmp_path: Path, **settings: str) -> Greenlight:
    server = await start_greenlight(fake, tmp_path, **{**ONE_PASS_AT_START, **settings})
    return Greenlight(fake, server, tmp_path)


async def before_the_outage(fake: FakeGitHub, tmp_path: Path) -> tuple[PullRequest, TestServer]:
    """Greenlight running, a pull request built green; then Greenlight stops."""
    fake.create_repo(REPO, config(CONFIG))
    server = await start_greenlight(fake, tmp_path, **ONE_PASS_AT_START)
    first = Greenlight(fake, server, tmp_path)
    await wait_until(lambda: recovery(first).completed_passes == 1, message="the first pass")
    pr = await open_pull_request(fake, "first", live=True)
    run = await first.run_for(REPO, pr.head_sha)
    assert run.conclusion == "success"
    await first.settle()
    await server.close()
    return pr, server


def check_names(fake: FakeGitHub, sha: str) -> list[str]:
    return sorted(check.name for check in fake.check_runs(REPO, sha))


def answers_to(fake: FakeGitHub, number: int, after: IssueComment) -> list[IssueComment]:
    return [c for c in fake.comments(REPO, number) if c.user.login == BOT and c.id > after.id]


async def assert_each_had_its_effect_once(
    greenlight: Greenlight, pr: PullRequest, new_pr: PullRequest, retest: IssueComment, tip: str
) -> None:
    fake = greenlight.fake
    new_run = await greenlight.run_for(REPO, new_pr.head_sha, deadline=60)
    tip_run = await greenlight.run_for(REPO, tip, deadline=60)
    assert (new_run.conclusion, tip_run.conclusion) == ("success", "success")
    assert (new_run.pr_number, tip_run.event) == (new_pr.number, "push")

    async def answered() -> bool:
        await greenlight.settle()
        return len(answers_to(fake, pr.number, retest)) >= 1

    await wait_until(answered, deadline=30, message="the /retest to be answered")
    await greenlight.settle()
    # Each exactly once: one check run per job and SHA, one answer to the command.
    assert check_names(fake, new_pr.head_sha) == ["greenlight", "test"]
    assert check_names(fake, tip) == ["greenlight", "test"]
    (answer,) = answers_to(fake, pr.number, retest)
    assert "Nothing failed on" in answer.body
    assert reactions(fake, retest) == ["eyes", "+1"]
    assert {job.status for job in (await greenlight.jobs(new_run)).values()} == {Status.COMPLETED}


async def test_what_happened_while_down_takes_effect_once_after_a_restart(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    fake = fake_github
    pr, _ = await before_the_outage(fake, tmp_path)
    new_pr = await open_pull_request(fake, "second", live=False)
    retest = await comment_while_down(fake, pr.number, "/retest")
    tip = await push_main_while_down(fake)
    assert [d.status for d in fake.deliveries[-3:]] == [None, None, None]

    greenlight = await restart(fake, tmp_path)
    try:
        await wait_until(lambda: recovery(greenlight).completed_passes == 1, message="a pass")
        await assert_each_had_its_effect_once(greenlight, pr, new_pr, retest, tip)
        metrics = greenlight.context.metrics.render().decode()
        assert 'greenlight_recovered_deliveries_total{event="pull_request"} 1.0' in metrics
        assert 'greenlight_recovered_deliveries_total{event="issue_comment"} 1.0' in metrics
        assert 'greenlight_recovered_deliveries_total{event="push"} 1.0' in metrics
        # A second pass (another interval) finds nothing more to do.
        report = await recovery(greenlight).run_pass()
        assert report is not None
        assert report.log is not None
        assert (report.log.recovered, report.reconcile.built) == ([], [])
        await greenlight.settle()
        assert check_names(fake, new_pr.head_sha) == ["greenlight", "test"]
        assert len(answers_to(fake, pr.number, retest)) == 1
        # Someone presses "Redeliver" on GitHub too: same GUID, already handled.
        missed = next(e for e in fake.outbox.log.entries if e.status_code == 502)
        fake.outbox.redeliver(missed)
        await greenlight.settle()
        assert (fake.deliveries[-1].delivery_id, fake.deliveries[-1].status) == (missed.guid, 200)
        assert check_names(fake, new_pr.head_sha) == ["greenlight", "test"]
    finally:
        await fake.settle()
        await greenlight.server.close()


async def test_more_missed_deliveries_than_one_page_holds(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    fake = fake_github
    pr, _ = await before_the_outage(fake, tmp_path)
    new_pr = await open_pull_request(fake, "second", live=False)
    retest = await comment_while_down(fake, pr.number, "/retest")
    tip = await push_main_while_down(fake)
    for index in range(100):  # newer than the three: they push them to the second page
        await comment_while_down(fake, pr.number, f"thanks, {index}")

    greenlight = await restart(fake, tmp_path)
    try:
        # 103 payloads fetched one by one: the pass takes a while on a busy machine.
        passed = lambda: recovery(greenlight).completed_passes == 1  # noqa: E731
        await wait_until(passed, deadline=90, message="a pass")
        await assert_each_had_its_effect_once(greenlight, pr, new_pr, retest, tip)
        assert fake.request_counts[("GET", "/app/hook/deliveries")] >= 2 + 1
        missed = {d.delivery_id for d in fake.deliveries if d.status is None}
        assert len(missed) == 103
        assert await greenlight.store.deliveries.known(sorted(missed)) == missed
    finally:
        await fake.settle()
        await greenlight.server.close()
