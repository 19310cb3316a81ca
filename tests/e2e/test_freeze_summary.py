"""Freeze windows on the aggregate `greenlight` check, as people see it on a commit: the
window in force and the next one within a week, read from the default branch's tip, with
the check's conclusion untouched; nothing added where no window is near."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import pytest

from bot.core.check_messages import FREEZE_MARKER
from tests.e2e.conftest import Greenlight
from tests.e2e.test_github_outages import OUTAGE, outage, quiet
from tests.helpers import wait_until

REPO = "octo/hello"
CONFIG = ".github/greenlight.yml"
__all__ = ["outage"]  # the fixture: GitHub's waits on a virtual clock
JOBS = """jobs:
  test:
    run: echo tested
deploy:
  environments:
    production:
      run: echo deployed
"""
DAY = 86_400


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def windows(now: float) -> str:
    return f"""freeze:
  - name: release-freeze
    from: 2020-01-01T00:00:00Z
    until: 2099-01-01T00:00:00Z
    applies_to: [merge]
  - name: maintenance
    from: {iso(now + 2 * DAY)}
    until: {iso(now + 3 * DAY)}
    applies_to: [production]
  - name: far-off
    from: {iso(now + 30 * DAY)}
    until: {iso(now + 31 * DAY)}
"""


@pytest.mark.one_executor("what the aggregate check says, after any build")
async def test_the_aggregate_check_shows_the_windows_of_the_default_branch(
    greenlight: Greenlight,
) -> None:
    fake = greenlight.fake
    now = time.time()
    fake.create_repo(REPO, {CONFIG: JOBS + windows(now)})
    # The pull request drops the windows on its branch: what is shown is the tip's.
    sha = fake.commit(REPO, "feature", {CONFIG: JOBS, "a.txt": "a\n"})
    pr = fake.open_pull_request(REPO, "feature")
    await fake.send("pull_request", fake.pull_request_event("opened", REPO, pr.number))

    def shown() -> bool:
        return FREEZE_MARKER in str(greenlight.checks(REPO, sha)["greenlight"].output["summary"])

    await greenlight.run_for(REPO, sha)
    await wait_until(shown, message="the windows on the aggregate check")
    check = greenlight.checks(REPO, sha)["greenlight"]
    summary = str(check.output["summary"])
    assert check.conclusion == "success"  # a freeze holds merges, not the commit's checks
    assert check.output["title"] == "1 passed"
    assert "test" in summary.split(FREEZE_MARKER)[0]  # the jobs' table is kept
    assert "- 🧊 now: `release-freeze` holds merges until 2099-01-01 00:00 UTC" in summary
    assert (
        f"- 📅 next: `maintenance` holds deploys to `production` from {iso(now + 2 * DAY)[:10]}"
        in (summary)
    )
    assert "far-off" not in summary  # a month away
    assert summary.count(FREEZE_MARKER) == 1


@pytest.mark.one_executor("what the aggregate check says, after any build")
async def test_no_window_near_adds_nothing(
    greenlight: Greenlight, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="greenlight.pipeline")
    fake = greenlight.fake
    now = time.time()
    far = f"freeze:\n  - name: far-off\n    from: {iso(now + 30 * DAY)}\n"
    far += f"    until: {iso(now + 31 * DAY)}\n"
    fake.create_repo(REPO, {CONFIG: JOBS + far})
    sha = await fake.push(REPO, "main", {"b.txt": "b\n"})
    await greenlight.run_for(REPO, sha)
    await wait_until(
        lambda: any("no freeze window in force or near" in r.getMessage() for r in caplog.records),
        message="the windows looked at",
    )
    check = greenlight.checks(REPO, sha)["greenlight"]
    assert FREEZE_MARKER not in str(check.output["summary"])
    assert check.conclusion == "success"


@pytest.mark.one_executor("what the aggregate check says, after any build")
async def test_windows_github_failed_to_show_are_shown_later(outage: Greenlight) -> None:
    """GitHub failing the read of the aggregate check: put off, then shown once, the
    conclusion never touched."""
    fake = outage.fake
    fake.create_repo(REPO, {CONFIG: JOBS + windows(time.time())})
    fake.fail_next("GET", "/repos/{owner}/{repo}/check-runs/{check_run_id}", times=OUTAGE)
    sha = await fake.push(REPO, "main", {"c.txt": "c\n"})
    await outage.run_for(REPO, sha)

    async def shown() -> bool:
        # The later try is a timer: the virtual clock is moved on to it once it is set.
        await quiet(outage)
        return FREEZE_MARKER in str(outage.checks(REPO, sha)["greenlight"].output["summary"])

    await wait_until(shown, deadline=30, message="the windows shown once GitHub answers again")
    check = outage.checks(REPO, sha)["greenlight"]
    assert str(check.output["summary"]).count(FREEZE_MARKER) == 1
    assert check.conclusion == "success"
