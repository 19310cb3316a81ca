"""Reconciliation: what GitHub's log no longer holds is found by comparing state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.store.records import Status
from tests.e2e.conftest import Greenlight, start_greenlight
from tests.e2e.test_recovery import (
    ONE_PASS_AT_START,
    before_the_outage,
    check_names,
    comment_while_down,
    open_pull_request,
    push_main_while_down,
    recovery,
    restart,
)
from tests.fakes.github import FakeGitHub
from tests.helpers import wait_until
from tests.merging.flows import BOT, REPO, config, reactions


async def test_heads_and_tips_missed_beyond_the_log_are_built_once(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    fake = fake_github
    await before_the_outage(fake, tmp_path)
    new_pr = await open_pull_request(fake, "second", live=False)
    tip = await push_main_while_down(fake)
    fake.outbox.log.entries.clear()  # more than three days ago: GitHub forgot them
    for pull in fake.world.pulls.values():  # and nobody touched the pull requests since
        pull.updated_at = "2026-01-01T00:00:00Z"

    greenlight = await restart(fake, tmp_path)
    try:
        await wait_until(lambda: recovery(greenlight).completed_passes == 1, message="a pass")
        new_run = await greenlight.run_for(REPO, new_pr.head_sha, deadline=60)
        tip_run = await greenlight.run_for(REPO, tip, deadline=60)
        assert (new_run.conclusion, new_run.pr_number) == ("success", new_pr.number)
        assert (tip_run.conclusion, tip_run.event) == ("success", "push")
        assert check_names(fake, new_pr.head_sha) == ["greenlight", "test"]
        assert check_names(fake, tip) == ["greenlight", "test"]

        # The green pull request's "Merge when ready" button comes last, after the run.
        await wait_until(
            lambda: fake_checks(fake, new_pr.head_sha)["greenlight"].actions != [],
            message="the merge button",
        )
        await greenlight.settle()
        before = fake.request_counts.copy()
        not_modified = fake.not_modified
        report = await recovery(greenlight).run_pass()
        assert report is not None
        assert report.reconcile.built == []
        await greenlight.settle()
        assert check_names(fake, new_pr.head_sha) == ["greenlight", "test"]
        # Nothing missed: one log page, then three reads a repository, all unchanged.
        made = fake.request_counts - before
        assert report.requests == sum(made.values()) == 1 + 3, made
        assert report.not_modified == fake.not_modified - not_modified == 3
    finally:
        await fake.settle()
        await greenlight.server.close()


async def test_a_job_left_running_with_nothing_behind_it_runs_again(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    fake = fake_github
    pr, _ = await before_the_outage(fake, tmp_path)
    greenlight = await restart(fake, tmp_path)
    try:
        await wait_until(lambda: recovery(greenlight).completed_passes == 1, message="a pass")
        store = greenlight.store
        run = await store.runs.for_sha(REPO, pr.head_sha)
        assert run is not None
        (job,) = (await greenlight.jobs(run)).values()
        # The job's worker vanished: the store says it runs, nothing runs it.
        await store.runs.update_job(job.id, status=Status.IN_PROGRESS, conclusion=None)
        await store.runs.update(run.id, now=0, status=Status.IN_PROGRESS, conclusion=None)

        report = await recovery(greenlight).run_pass()
        assert report is not None
        assert report.reconcile.restarted_jobs == 1
        run = await greenlight.run_for(REPO, pr.head_sha)
        assert run.conclusion == "success"
        (job,) = (await greenlight.jobs(run)).values()
        assert "found nothing running this job" in await greenlight.log(job)
        assert {c.status for c in fake.check_runs(REPO, pr.head_sha)} == {"completed"}
    finally:
        await fake.settle()
        await greenlight.server.close()


async def test_a_green_approved_pull_request_missed_is_merged(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    fake = fake_github
    fake.create_repo(
        REPO, config("merge: {auto: true, approvals: 1}\njobs:\n  test:\n    run: echo ok\n")
    )
    server = await start_greenlight(fake, tmp_path, **ONE_PASS_AT_START)
    first = Greenlight(fake, server, tmp_path)
    await wait_until(lambda: recovery(first).completed_passes == 1, message="a pass")
    pr = await open_pull_request(fake, "first", live=True)
    assert (await first.run_for(REPO, pr.head_sha)).conclusion == "success"
    await first.settle()
    assert fake.pull(REPO, pr.number).state == "open"  # waits for an approval
    await server.close()
    fake.add_review(REPO, pr.number, "octo")  # approved while Greenlight was down…
    fake.outbox.log.entries.clear()  # …and the delivery is gone from GitHub's log

    greenlight = await restart(fake, tmp_path)
    try:

        async def merged() -> bool:
            await greenlight.settle()
            return fake.pull(REPO, pr.number).merged

        await wait_until(merged, deadline=30, message="the pull request to be merged")
    finally:
        await fake.settle()
        await greenlight.server.close()


async def test_a_store_with_no_history_starts_from_now(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    fake = fake_github
    pr, _ = await before_the_outage(fake, tmp_path)
    old = await comment_while_down(fake, pr.number, "/retest")
    forget_everything(tmp_path)  # a new installation of Greenlight

    greenlight = await restart(fake, tmp_path)
    try:
        await wait_until(lambda: recovery(greenlight).completed_passes == 1, message="a pass")
        await greenlight.settle()
        assert reactions(fake, old) == []
        assert [c for c in fake.comments(REPO, pr.number) if c.user.login == BOT] == []
        target = fake.outbox.target
        assert target is not None
        fake.configure_webhooks("http://127.0.0.1:9/webhook", target.secret)  # a lost tunnel
        fresh = await comment_while_down(fake, pr.number, "/retest")
        fake.configure_webhooks(target.url, target.secret)
        report = await recovery(greenlight).run_pass()
        assert report is not None
        assert report.log is not None
        assert len(report.log.recovered) == 1
        await greenlight.settle()
        # Answered (with "no build": the new store has none), the older one never.
        assert (reactions(fake, old), reactions(fake, fresh)) == ([], ["eyes"])
        assert len([c for c in fake.comments(REPO, pr.number) if c.user.login == BOT]) == 1
    finally:
        await fake.settle()
        await greenlight.server.close()


def forget_everything(tmp_path: Path) -> None:
    """Delete the stopped service's SQLite store."""
    for path in list(tmp_path.glob("greenlight.db*")):
        path.unlink()


def fake_checks(fake: FakeGitHub, sha: str) -> dict[str, Any]:
    """The latest check run of each name on `sha`, as the fake GitHub holds them."""
    return {check.name: check for check in fake.check_runs(REPO, sha)}
