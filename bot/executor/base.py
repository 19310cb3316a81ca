"""The executor seam: the pipeline submits jobs; an executor runs them and records results.

Job state and logs live in the store, so the pipeline learns what happened from there
whether the job ran in this process (`local`) or on a Celery worker (`celery`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class JobTicket:
    """Everything needed to run one job, independent of the process that runs it."""

    job_id: int
    clone_url: str
    sha: str
    env: Mapping[str, str]  # the job's full environment, GREENLIGHT_* included
    secrets: Mapping[str, str] = field(repr=False, default_factory=dict)
    token: str | None = field(repr=False, default=None)  # read-only use: fetching the code


JobEvent = Callable[[int], Awaitable[None]]


class Executor(Protocol):
    # True when running jobs outlive the service (Celery workers): after a restart they
    # are watched, not run again.
    owns_running_jobs: bool

    async def start(self, *, on_started: JobEvent, on_finished: JobEvent) -> None: ...

    async def stop(self) -> None: ...

    def submit(self, ticket: JobTicket) -> None: ...

    def watch(self, job_id: int) -> None:
        """Report on a job submitted by an earlier process of the service."""
        ...

    def cancel(self, job_id: int) -> bool:
        """Stop a queued or running job; False when it is not known here."""
        ...
