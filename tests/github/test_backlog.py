"""Work put off after GitHub kept failing: kept in the store's timers, so a restart or the
death of the replica that put it off loses nothing; tried later at set delays, a bounded
number of times, once per key, by one replica; logged once when put off and once when
given up, with the delivery that put it off. Time passes on a virtual clock."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any

import pytest
import sqlalchemy as sa

from bot.github.backlog import Backlog, is_worth_retrying
from bot.github.errors import GitHubError, NotFound, RateLimited, Transient
from bot.logcontext import current_delivery
from bot.metrics import Metrics
from bot.store import Store
from bot.timekeeper import Timekeeper
from tests.virtual_time import VirtualTime

OUTAGE = Transient("502 Server Error", status=502)
DELIVERY = ("d-1", 7, "octo/hello")


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


class Comments:
    """A stand-in for GitHub's state: the merge comments posted, failing `failures` times
    with `error` first. The work re-reads it, as real work re-reads GitHub."""

    def __init__(self, failures: int = 0, error: Exception = OUTAGE) -> None:
        self.failures = failures
        self.error = error
        self.tries: list[tuple[str, tuple[str, int | None, str | None] | None]] = []
        self.posted: list[int] = []

    async def post(self, work: Mapping[str, Any]) -> None:
        self.tries.append((str(work["repo"]), current_delivery.get()))
        if len(self.tries) <= self.failures:
            raise self.error
        if work["number"] not in self.posted:  # level-triggered: posted once
            self.posted.append(work["number"])


class Replica:
    """One process's backlog on the shared store, its timers fired by its timekeeper."""

    def __init__(self, store: Store, name: str, time: VirtualTime, comments: Comments) -> None:
        self.metrics = Metrics()
        self.timekeeper = Timekeeper(store, name, clock=time.clock)
        self.backlog = Backlog(metrics=self.metrics, delays=(30, 120, 600))
        self.backlog.keep_in(self.timekeeper)
        self.backlog.handle("merge-comment", comments.post)

    async def put_off(self, number: int = 1) -> None:
        token = current_delivery.set(DELIVERY)
        try:
            await self.backlog.again(
                f"merge-comment:octo/hello#{number}",
                "merge-comment",
                {"repo": "octo/hello", "number": number},
                what=f"the merge comment on octo/hello#{number}",
                error=OUTAGE,
            )
        finally:
            current_delivery.reset(token)

    def count(self, metric: str) -> float:
        value = self.metrics.registry.get_sample_value(
            f"greenlight_{metric}_total", {"kind": "merge-comment"}
        )
        return value or 0.0


def put_off(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "trying again later" in r.getMessage()]


async def test_work_put_off_is_done_after_a_restart_exactly_once(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    time, comments = VirtualTime(), Comments()
    first = Replica(store, "first", time, comments)
    await first.put_off()
    await first.put_off()  # already waiting: nothing more
    assert len(await first.backlog.pending()) == 1
    assert len(put_off(caplog)) == 1
    assert first.count("work_put_off") == 1
    await first.timekeeper.stop()
    del first  # the process stops; nothing of the work is left in memory

    restarted = Replica(store, "restarted", time, comments)
    assert await restarted.timekeeper.fire_due() == 0  # not due yet
    time.offset += 30
    assert await restarted.timekeeper.fire_due() == 1
    assert comments.posted == [1]
    assert comments.tries == [("octo/hello", DELIVERY)]  # with the delivery that put it off
    assert await restarted.backlog.pending() == []
    time.offset += 3600
    assert await restarted.timekeeper.fire_due() == 0
    assert comments.posted == [1]
    assert restarted.count("work_done_later") == 1


async def test_with_two_replicas_one_does_the_work(store: Store) -> None:
    time, comments = VirtualTime(), Comments()
    replicas = [Replica(store, name, time, comments) for name in ("a", "b")]
    await replicas[0].put_off(1)
    await replicas[1].put_off(2)
    time.offset += 30
    fired = await asyncio.gather(*(replica.timekeeper.fire_due() for replica in replicas))
    assert sorted(fired) == [0, 2]
    assert sorted(comments.posted) == [1, 2]
    assert len(comments.tries) == 2


async def test_work_that_fails_again_is_set_for_the_next_delay(store: Store) -> None:
    time, comments = VirtualTime(), Comments(failures=1)
    replica = Replica(store, "a", time, comments)
    await replica.put_off()
    time.offset += 30
    await replica.timekeeper.fire_due()
    assert comments.posted == []
    (waiting,) = await replica.backlog.pending()
    assert waiting.due_at == pytest.approx(time.clock() + 120, abs=1)
    assert json.loads(waiting.data)["attempt"] == 2
    time.offset += 119
    assert await replica.timekeeper.fire_due() == 0
    time.offset += 1
    await replica.timekeeper.fire_due()
    assert comments.posted == [1]
    assert len(comments.tries) == 2
    assert await replica.backlog.pending() == []


async def test_work_is_given_up_after_the_last_delay(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    time, comments = VirtualTime(), Comments(failures=10)
    replica = Replica(store, "a", time, comments)
    await replica.put_off()
    for delay in (30, 120, 600, 900):
        time.offset += delay
        await replica.timekeeper.fire_due()
    assert len(comments.tries) == 3
    assert await replica.backlog.pending() == []
    (given_up,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "given up after 3 later tries" in given_up.getMessage()
    assert len(put_off(caplog)) == 1
    assert replica.count("work_given_up") == 1
    await replica.put_off()  # a new failure: put off again
    assert len(await replica.backlog.pending()) == 1


@pytest.mark.parametrize("error", [NotFound("gone", status=404), ValueError("a bug")])
async def test_work_that_cannot_succeed_stops(
    store: Store, error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    time, comments = VirtualTime(), Comments(failures=10, error=error)
    replica = Replica(store, "a", time, comments)
    await replica.put_off()
    for _ in range(3):
        time.offset += 900
        await replica.timekeeper.fire_due()
    assert len(comments.tries) == 1
    assert await replica.backlog.pending() == []
    assert [r.levelno for r in caplog.records if r.levelno >= logging.ERROR] == [logging.ERROR]


async def test_work_of_an_unknown_kind_or_without_timers_is_logged_as_lost(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    unbound = Backlog(metrics=Metrics())
    await unbound.again("k", "checks", {}, what="check runs of o/r@abc", error=OUTAGE)
    replica = Replica(store, "a", VirtualTime(), Comments())
    await replica.backlog.again("k", "checks", {}, what="check runs of o/r@abc", error=OUTAGE)
    assert await replica.backlog.pending() == []
    lost = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert (
        lost
        == [
            "check runs of o/r@abc failed on GitHub's side (502 Server Error); it cannot be put off"
        ]
        * 2
    )


async def test_work_that_cannot_be_kept_is_logged_and_the_caller_goes_on(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    replica = Replica(store, "a", VirtualTime(), Comments())
    async with store.engine.begin() as connection:  # the store fails as well as GitHub
        await connection.execute(sa.text("DROP TABLE timers"))
    await replica.put_off()  # does not raise into the caller
    (lost,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "could not be put off" in lost.getMessage()
    assert replica.count("work_put_off") == 0
