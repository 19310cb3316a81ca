"""Work put off after GitHub kept failing: tried later at set delays, a bounded number of
times, once per key, and logged once when put off and once when given up."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.github.backlog import Backlog, is_worth_retrying
from bot.github.errors import GitHubError, NotFound, RateLimited, Transient
from tests.virtual_time import VirtualTime

OUTAGE = Transient("502 Server Error", status=502)


@pytest.mark.parametrize(
    ("error", "worth"),
    [
        (OUTAGE, True),
        (RateLimited("limit", status=403, reset_at=0), True),
        (NotFound("gone", status=404), False),
        (GitHubError("422", status=422), False),
        (ValueError("a bug"), False),
    ],
)
def test_what_is_worth_trying_later(error: Exception, worth: bool) -> None:
    assert is_worth_retrying(error) is worth


class Flaky:
    """Work that fails `failures` times with `error`, then succeeds."""

    def __init__(self, failures: int, error: Exception = OUTAGE) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0

    async def __call__(self) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error


async def test_work_is_done_at_the_later_delays(caplog: pytest.LogCaptureFixture) -> None:
    time = VirtualTime()
    backlog = Backlog(sleep=time.sleep, delays=(30, 120, 600))
    work = Flaky(failures=1)
    caplog.set_level(logging.INFO, logger="greenlight")
    backlog.again("key", work, what="the merge of #1", error=OUTAGE)
    backlog.again("key", work, what="the merge of #1", error=OUTAGE)  # already waiting
    assert backlog.pending() == 1
    await backlog.wait_idle()
    assert (work.calls, time.waits) == (2, [30, 120])
    messages = [r.getMessage() for r in caplog.records]
    assert sum("trying again later" in m for m in messages) == 1
    assert any("done on a later try" in m for m in messages)


async def test_work_is_given_up_after_the_bound(caplog: pytest.LogCaptureFixture) -> None:
    time = VirtualTime()
    backlog = Backlog(sleep=time.sleep, delays=(1, 2))
    work = Flaky(failures=10)
    backlog.again("key", work, what="the merge of #1", error=OUTAGE)
    await backlog.wait_idle()
    assert work.calls == 2
    (given_up,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "given up after 2 later tries" in given_up.getMessage()
    backlog.again("key", work, what="the merge of #1", error=OUTAGE)  # a new failure: again
    assert backlog.pending() == 1
    await backlog.close()


@pytest.mark.parametrize("error", [NotFound("gone", status=404), ValueError("a bug")])
async def test_work_that_cannot_succeed_stops(
    error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    time = VirtualTime()
    backlog = Backlog(sleep=time.sleep, delays=(1, 2, 3))
    work = Flaky(failures=10, error=error)
    backlog.again("key", work, what="a check run", error=OUTAGE)
    await backlog.wait_idle()
    assert work.calls == 1
    assert [r.levelno for r in caplog.records if r.levelno >= logging.ERROR] == [logging.ERROR]


async def test_closing_drops_the_waiting_work() -> None:
    backlog = Backlog(delays=(3600,))
    work = Flaky(failures=0)
    backlog.again("key", work, what="a deployment status", error=OUTAGE)
    await asyncio.sleep(0)
    await backlog.close()
    assert work.calls == 0
    assert backlog.pending() == 0
