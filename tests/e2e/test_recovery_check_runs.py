"""Reconciliation compares our check runs on GitHub with the store: a check run GitHub still
shows unfinished although its job completed (its final update lost to GitHub failing, and
its later tries given up) is completed by the next pass after a restart, exactly once."""

from __future__ import annotations

import collections
import time
from pathlib import Path

import pytest

from bot.store.records import Status
from tests.e2e.conftest import Greenlight, start_greenlight
from tests.e2e.test_recovery import ONE_PASS_AT_START, recovery
from tests.fakes.github import FakeGitHub
from tests.fakes.server import Call
from tests.helpers import wait_until
from tests.merging.flows import REPO, config
from tests.virtual_time import VirtualTime

CHECK_RUN = "/repos/{owner}/{repo}/check-runs/{check_run_id}"


class Completions:
    """Never matches: counts, by check run, the completions that reach the fake GitHub."""

    def __init__(self) -> None:
        self.counted: collections.Counter[int] = collections.Counter()

    def __call__(self, call: Call) -> bool:
        if call.body.get("status") == "completed":
            self.counted[int(call.params["check_run_id"])] += 1
        return False


@pytest.mark.parametrize(
    ("down_for", "completed"),
    [
        pytest.param(120, 1, id="down-two-minutes"),
        # Just finished: its report may still be on its way, so the pass leaves it be (the
        # work put off completes it when due).
        pytest.param(0, 0, id="just-finished"),
    ],
)
async def test_a_check_run_left_in_progress_is_completed_by_the_next_pass(
    fake_github: FakeGitHub, tmp_path: Path, down_for: float, completed: int
) -> None:
    fake = fake_github
    fake.create_repo(REPO, config("jobs:\n  test:\n    run: echo ok\n"))
    server = await start_greenlight(fake, tmp_path, **ONE_PASS_AT_START)
    first = Greenlight(fake, server, tmp_path)
    retries = VirtualTime()  # GitHub's retries pass at once; the app's own clock is real
    first.context.github.clock, first.context.github.sleep = retries.clock, retries.sleep
    await wait_until(lambda: recovery(first).completed_passes == 1, message="the first pass")
    outage = [True]  # GitHub fails every check-run update while it lasts
    fake.inject("PATCH", CHECK_RUN, times=10_000, where=lambda _: outage[0])
    completions = Completions()
    fake.inject("PATCH", CHECK_RUN, where=completions)
    before = fake.repo(REPO).git.branch_sha("main")
    tip = fake.commit(REPO, "main", {"main.txt": "pushed\n"})
    assert before is not None
    await fake.send("push", fake.push_event(REPO, "main", before, tip))
    run = await first.run_for(REPO, tip)
    await first.settle()
    assert {job.status for job in (await first.jobs(run)).values()} == {Status.COMPLETED}
    # Its later try was put off; it is lost here, as when the later tries are given up (GitHub
    # down longer than they last), so that only the reconciliation can complete the checks.
    (later,) = await first.context.github.backlog.pending()
    await first.store.timers.done(later)
    await server.close()
    unfinished = {check.name for check in fake.check_runs(REPO, tip) if check.status != "completed"}
    assert unfinished == {"greenlight", "test"}

    outage[0] = False  # GitHub is back, and Greenlight starts again `down_for` s later
    server = await start_greenlight(
        fake, tmp_path, clock=lambda: time.time() + down_for, **ONE_PASS_AT_START
    )
    second = Greenlight(fake, server, tmp_path)
    try:
        await wait_until(lambda: recovery(second).completed_passes == 1, message="the pass")
        report = recovery(second).last_report
        assert report is not None
        assert (report.reconcile.checks_compared, report.reconcile.checks_completed) == (
            completed,
            completed,
        )
        checks = fake.check_runs(REPO, tip)
        assert sorted(check.name for check in checks) == ["greenlight", "test"]  # made once
        if not completed:
            assert all(check.status != "completed" for check in checks)
            return
        assert {(check.status, check.conclusion) for check in checks} == {("completed", "success")}
        assert sorted(completions.counted.values()) == [1, 1]  # each completed exactly once
        await second.settle()
        reconciled = second.context.metrics.registry.get_sample_value(
            "greenlight_reconciled_total", {"kind": "check_run"}
        )
        assert reconciled == 1
        # Read once more, seen to agree, and not read again while nothing else finishes.
        for compared in (1, 0):
            await recovery(second).run_pass()
            report = recovery(second).last_report
            assert report is not None
            assert (report.reconcile.checks_compared, report.reconcile.checks_completed) == (
                compared,
                0,
            )
        assert sorted(completions.counted.values()) == [1, 1]
        fake.assert_no_violations()
    finally:
        await fake.settle()
        await server.close()
