"""GitHub work that still failed after its retries, done again later, a bounded number of
times: a check run left to complete, a merge or a deploy whose call GitHub kept failing.

Work put off is kept in the store, as one of its timers (`bot.store.timers`), so neither a
restart nor the death of the replica that put it off loses it: whichever replica holds the
timers' lease does it when it is due (`bot.timekeeper`). A closure cannot be stored, so a
piece of work is a kind (`merge-comment`, `checks`…), whose handler a service registers in
`bot.wiring`, and JSON-able data naming what to re-read (a run id, a pull request…).

Each piece of work is keyed (the timer is named `later:<key>`), so asking again for work
already waiting adds nothing; the handler re-reads the state it acts on (level-triggered),
so a later try does what is right then, not what was right when it first failed. It is
logged once when it is put off, and once more only if it is given up; the log carries the
delivery id of the task that put it off (`bot.logcontext`), kept with the work.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from bot.github.errors import GitHubError, RateLimited, Transient
from bot.logcontext import current_delivery
from bot.metrics import Metrics
from bot.store.timers import Timer
from bot.timekeeper import Timekeeper

log = logging.getLogger("greenlight.github")
# Seconds before each later try: past a few minutes of GitHub failing, an outage is likely
# long, and a quarter of an hour apart is gentle on a GitHub that is coming back.
LATER_DELAYS = (30.0, 120.0, 600.0, 900.0)
NAME_PREFIX = "later:"
KIND_PREFIX = "later "
Work = Callable[[Mapping[str, Any]], Awaitable[object]]


def is_worth_retrying(error: BaseException) -> bool:
    """Whether GitHub may succeed later where it failed now (an outage, a rate limit)."""
    return isinstance(error, Transient | RateLimited)


class Backlog:
    """Work to try again later, kept in the store's timers, one per key.

    Until `keep_in` gives it the timers (at start-up, `bot.wiring`), nothing can be put off:
    the failure is logged as lost.
    """

    def __init__(self, *, metrics: Metrics, delays: Sequence[float] = LATER_DELAYS) -> None:
        self._metrics = metrics
        self.delays = tuple(delays)
        self._works: dict[str, Work] = {}
        self._timekeeper: Timekeeper | None = None

    def keep_in(self, timekeeper: Timekeeper) -> None:
        """Keep the work put off in `timekeeper`'s timers, and do it when they fire."""
        self._timekeeper = timekeeper
        for kind in self._works:
            self._listen(kind)

    def handle(self, kind: str, work: Work) -> None:
        """Do work of `kind` with its data when its later try is due."""
        self._works[kind] = work
        if self._timekeeper is not None:
            self._listen(kind)

    async def again(
        self,
        key: str,
        kind: str,
        data: Mapping[str, Any],
        *,
        what: str,
        error: BaseException,
    ) -> None:
        """Do the work of `kind` on `data` later, unless work under `key` already waits."""
        if self._timekeeper is None or kind not in self._works:
            log.error("%s failed on GitHub's side (%s); it cannot be put off", what, error)
            return
        later = {"work": dict(data), "what": what, "attempt": 1, "delivery": current_delivery.get()}
        timer = Timer(
            NAME_PREFIX + key,
            KIND_PREFIX + kind,
            self._timekeeper.now() + self.delays[0],
            json.dumps(later),
        )
        try:
            added = await self._timekeeper.add(timer)
        except Exception:  # the store failing too: the caller's own work must go on
            log.exception("%s failed on GitHub's side (%s), and could not be put off", what, error)
            return
        if not added:
            return  # already waiting: one later try covers both
        self._metrics.work_put_off.labels(kind).inc()
        log.warning("%s failed on GitHub's side (%s); trying again later", what, error)

    async def pending(self) -> list[Timer]:
        """The work waiting for a later try, earliest first."""
        if self._timekeeper is None:
            return []
        return await self._timekeeper.named(NAME_PREFIX)

    def _listen(self, kind: str) -> None:
        assert self._timekeeper is not None

        async def fire(timer: Timer) -> None:
            await self._try(kind, timer)

        self._timekeeper.handle(KIND_PREFIX + kind, fire)

    async def _try(self, kind: str, timer: Timer) -> None:
        """One later try of the work in `timer`; set again, with the next delay, when
        GitHub fails again. Never raises for the work's own failure: the timer is done."""
        later = json.loads(timer.data)
        delivery = later.get("delivery")
        # Its log lines name the delivery that put the work off, as when it failed first.
        token = current_delivery.set(
            (str(delivery[0]), delivery[1], delivery[2]) if delivery else None
        )
        try:
            await self._try_once(kind, timer, later)
        finally:
            current_delivery.reset(token)

    async def _try_once(self, kind: str, timer: Timer, later: dict[str, Any]) -> None:
        what, attempt = str(later["what"]), int(later["attempt"])
        try:
            await self._works[kind](later["work"])
        except GitHubError as failure:
            if not is_worth_retrying(failure):
                self._give_up(kind)
                log.error("%s failed on a later try: %s", what, failure)
                return
            if attempt >= len(self.delays):
                self._give_up(kind)
                log.error("%s given up after %d later tries: %s", what, attempt, failure)
                return
            await self._next_try(timer, {**later, "attempt": attempt + 1}, attempt)
            return
        except Exception:  # the boundary of work put off: log it, never lose the task
            self._give_up(kind)
            log.exception("%s failed on a later try", what)
            return
        self._metrics.work_done_later.labels(kind).inc()
        log.info("%s done on a later try", what)

    async def _next_try(self, timer: Timer, later: Mapping[str, Any], attempt: int) -> None:
        assert self._timekeeper is not None
        due = self._timekeeper.now() + self.delays[attempt]
        await self._timekeeper.set(Timer(timer.name, timer.kind, due, json.dumps(later)))

    def _give_up(self, kind: str) -> None:
        self._metrics.work_given_up.labels(kind).inc()
