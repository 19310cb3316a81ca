"""Which of GitHub's failures are tried again, how often, and how long to wait between.

Only two kinds are worth another try: a `Transient` one (a 5xx, a reset connection, a
timeout) after an exponential back-off, and a `RateLimited` one after at least the wait
GitHub asked for (`Retry-After`, or the primary limit's reset); retrying earlier makes a
secondary limit last longer. Both are bounded: a number of attempts, and a longest wait
taken inline; past either the error goes to the caller, who leaves the work to be picked
up again.
https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api#handle-rate-limit-errors-appropriately

A write whose answer was a `Transient` error may have been applied all the same; the
client looks it up before sending it again (`bot.github.client`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from bot.github.errors import GitHubError, RateLimited, Transient

log = logging.getLogger("greenlight.github")
Result = TypeVar("Result")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5  # tries of one request, the first included
    backoff_base: float = 1.0  # seconds before the second try after a transient failure
    backoff_cap: float = 30.0  # the longest back-off between two tries
    longest_wait: float = 300.0  # a rate limit asking for longer is not waited for inline

    def delay(self, error: GitHubError, *, attempt: int, now: float) -> float | None:
        """Seconds to wait before trying again after failed try number `attempt`, or None
        when trying again cannot help (or the bound is reached)."""
        if attempt >= self.attempts:
            return None
        if isinstance(error, RateLimited):
            wait = max(error.retry_after or 0.0, error.reset_at - now)
            return wait if wait <= self.longest_wait else None
        if isinstance(error, Transient):
            return float(min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1)))
        return None


@dataclass(frozen=True)
class Attempts(Generic[Result]):
    """How one request is tried: what it is, and what to do between tries."""

    describe: str  # e.g. "POST /repos/{owner}/{repo}/check-runs", for the log
    policy: RetryPolicy
    clock: Callable[[], float]
    sleep: Callable[[float], Awaitable[None]]
    # Whether a try answered by a transient error may be sent again as it is. False for a
    # write that may have been applied: `look_up` is asked first, and without one the
    # error goes to the caller.
    repeatable: bool = True
    look_up: Callable[[], Awaitable[Result | None]] | None = None
    on_rate_limited: Callable[[float], Awaitable[None]] | None = None
    on_retry: Callable[[str], None] | None = None  # hears `retry_reason` before each new try


def retry_reason(error: GitHubError) -> str:
    """Why a request is tried again, in a word for the metrics: `5xx`, `reset` (no answer:
    a dropped connection, a timeout), `secondary limit` or `primary limit`."""
    if isinstance(error, RateLimited):
        return "primary limit" if error.primary else "secondary limit"
    return "5xx" if error.status >= 500 else "reset"


async def with_retries(send: Callable[[], Awaitable[Result]], how: Attempts[Result]) -> Result:
    """`send()`'s answer, trying again as `how.policy` allows; the last error otherwise."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return await send()
        except GitHubError as error:
            if isinstance(error, RateLimited) and how.on_rate_limited is not None:
                await how.on_rate_limited(error.reset_at)  # even when giving up: writes wait
            may_have_landed = isinstance(error, Transient) and not how.repeatable
            delay = how.policy.delay(error, attempt=attempt, now=how.clock())
            if delay is None or (may_have_landed and how.look_up is None):
                raise
            log.info("%s failed (%s); try %d in %.1f s", how.describe, error, attempt + 1, delay)
            if how.on_retry is not None:
                how.on_retry(retry_reason(error))
            await how.sleep(delay)
            if may_have_landed and how.look_up is not None:
                found = await how.look_up()
                if found is not None:
                    log.info("%s had been applied; not sent again", how.describe)
                    return found
