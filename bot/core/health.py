"""Health checks after a deploy, and what follows when one fails: pure decisions.

After a deploy's steps succeed, its environment is probed every `every` seconds for `for`
seconds; the deploy succeeds only if every probe passed. One failed probe fails it (a
service that answers 200 most of the time is not healthy), and an environment that
replaced a good release rolls back to it, unless the failed deploy was itself a rollback
(no loop) or the environment turned automatic rollback off.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

PROBE_TIMEOUT_SECONDS = 10.0  # the most one probe may take, however long `every` is


@dataclass(frozen=True)
class HealthCheck:
    http: str | None = None  # an address to GET, expecting `expect`
    run: str | None = None  # or a command, healthy when it exits 0
    expect: int = 200
    every_seconds: float = 10.0
    for_seconds: float = 120.0
    line: int = 0

    @property
    def probe_timeout_seconds(self) -> float:
        """How long one probe may take: within its interval, and never long."""
        return min(self.every_seconds, PROBE_TIMEOUT_SECONDS)


@dataclass(frozen=True)
class Probe:
    at: float  # when it was made
    ok: bool
    detail: str  # what it saw, for people: "HTTP 503", "timed out after 10s", "exit 1"


@dataclass(frozen=True)
class Checking:
    next_at: float  # when to probe next


@dataclass(frozen=True)
class Healthy:
    probes: int


@dataclass(frozen=True)
class Unhealthy:
    probe: Probe  # the failed one


HealthVerdict = Checking | Healthy | Unhealthy


def judge(check: HealthCheck, started_at: float, probes: Sequence[Probe]) -> HealthVerdict:
    """Where a health check stands after `probes` (oldest first), begun at `started_at`."""
    failed = next((probe for probe in probes if not probe.ok), None)
    if failed is not None:
        return Unhealthy(failed)
    last = probes[-1].at if probes else None
    if last is not None and last - started_at >= check.for_seconds:
        return Healthy(len(probes))
    return Checking(started_at if last is None else last + check.every_seconds)


def http_probe(check: HealthCheck, status: int | None, *, at: float, error: str = "") -> Probe:
    """The probe of an HTTP check that got `status` (None: no answer, `error` says why)."""
    if status == check.expect:
        return Probe(at, True, f"HTTP {status}")
    seen = f"HTTP {status}" if status is not None else (error or "no answer")
    return Probe(at, False, f"{seen}, expected HTTP {check.expect}")


def command_probe(exit_code: int | None, *, at: float, timeout: float) -> Probe:
    """The probe of a `run:` check that exited with `exit_code` (None: it timed out)."""
    if exit_code is None:
        return Probe(at, False, f"the check did not finish within {timeout:g}s")
    return Probe(at, exit_code == 0, f"exit {exit_code}")


@dataclass(frozen=True)
class Rollback:
    to_sha: str
    because: str  # the failed probe's detail


@dataclass(frozen=True)
class StayFailed:
    because: str  # why no rollback follows


@dataclass(frozen=True)
class GoodDeploy:
    sha: str
    succeeded: bool
    rollback: bool = False


def after_unhealthy(
    failed_sha: str,
    *,
    failed_was_rollback: bool,
    automatic: bool,
    earlier: Sequence[GoodDeploy],
) -> Rollback | StayFailed:
    """What follows a failed health check; `earlier` are the environment's deploys before
    the failed one, newest first."""
    if failed_was_rollback:
        return StayFailed("the rollback's own health check failed; not rolling back again")
    if not automatic:
        return StayFailed("automatic rollback is off for this environment")
    for past in earlier:
        if past.succeeded and past.sha != failed_sha:
            return Rollback(past.sha, "health check failed")
    return StayFailed("no earlier successful deploy to roll back to")


@dataclass(frozen=True)
class Resume:
    """Probe again for `for_seconds` (0: one probe), what the passed probes left to prove."""

    for_seconds: float


def resume(
    check: HealthCheck, started_at: float | None, probes: Sequence[Probe]
) -> Resume | Unhealthy:
    """Where a health check stands when the replica running it stopped before it ended.

    A probe that failed already decides: the deploy is unhealthy, as if the check had
    ended there. Otherwise the check goes on for what the passed probes have not covered
    yet: the time the check went unwatched (the replica down, the take-over) counts for
    nothing, so an environment is still seen healthy for the whole `for` before it passes.
    """
    failed = next((probe for probe in probes if not probe.ok), None)
    if failed is not None:
        return Unhealthy(failed)
    if started_at is None or not probes:
        return Resume(check.for_seconds)
    covered = probes[-1].at - started_at
    return Resume(max(check.for_seconds - covered, 0.0))
