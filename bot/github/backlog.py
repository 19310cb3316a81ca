"""GitHub work that still failed after its retries, done again later, a bounded number of
times: a check run left to complete, a merge or a deploy whose call GitHub kept failing.

Each piece of work is keyed, so asking again for work already waiting adds nothing; the
work itself re-reads the state it acts on (level-triggered), so a later try does what is
right then, not what was right when it first failed. It is logged once when it is put
off, and once more only if it is given up; the log carries the delivery id of the task
that put it off (`bot.logcontext`). Work put off is lost with the process: the start-up
recovery and the reconciliation pass pick up what it leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Hashable, Sequence

from bot.github.errors import GitHubError, RateLimited, Transient

log = logging.getLogger("greenlight.github")
# Seconds before each later try: past a few minutes of GitHub failing, an outage is likely
# long, and a quarter of an hour apart is gentle on a GitHub that is coming back.
LATER_DELAYS = (30.0, 120.0, 600.0, 900.0)
Work = Callable[[], Awaitable[object]]


def is_worth_retrying(error: BaseException) -> bool:
    """Whether GitHub may succeed later where it failed now (an outage, a rate limit)."""
    return isinstance(error, Transient | RateLimited)


class Backlog:
    """Work to try again later, one task per key."""

    def __init__(
        self,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        delays: Sequence[float] = LATER_DELAYS,
    ) -> None:
        self._sleep = sleep
        self.delays = tuple(delays)
        self._tasks: dict[Hashable, asyncio.Task[None]] = {}

    def again(self, key: Hashable, work: Work, *, what: str, error: BaseException) -> None:
        """Do `work` again later, unless work under `key` is already waiting."""
        if key in self._tasks:
            return
        log.warning("%s failed on GitHub's side (%s); trying again later", what, error)
        task = asyncio.create_task(self._retry(work, what), name=f"later: {what}")
        self._tasks[key] = task
        task.add_done_callback(lambda _: self._tasks.pop(key, None))

    def pending(self) -> int:
        """How many pieces of work wait for a later try."""
        return len(self._tasks)

    async def wait_idle(self) -> None:
        """Until no work waits (for tests)."""
        while self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def close(self) -> None:
        """Drop the work still waiting (the process is stopping)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _retry(self, work: Work, what: str) -> None:
        error: BaseException | None = None
        for delay in self.delays:
            await self._sleep(delay)
            try:
                await work()
                log.info("%s done on a later try", what)
                return
            except GitHubError as failure:
                if not is_worth_retrying(failure):
                    log.error("%s failed on a later try: %s", what, failure)
                    return
                error = failure
            except Exception:  # the boundary of work put off: log it, never lose the task
                log.exception("%s failed on a later try", what)
                return
        log.error("%s given up after %d later tries: %s", what, len(self.delays), error)
