"""Which jobs of a run may start now, which must be skipped, and whether the run is over."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

FAILED = frozenset({"failure", "timed_out", "cancelled", "action_required", "startup_failure"})


@dataclass(frozen=True)
class JobState:
    name: str
    needs: tuple[str, ...]
    status: str  # queued | in_progress | completed
    conclusion: str | None


@dataclass(frozen=True)
class Skip:
    name: str
    need: str
    need_conclusion: str


@dataclass(frozen=True)
class Step:
    start: tuple[str, ...]
    skip: tuple[Skip, ...]
    finished: bool


def next_step(jobs: Sequence[JobState], *, started: Iterable[str] = ()) -> Step:
    """Start every queued job whose needs all succeeded; skip those with a need that did not.

    Skips cascade, as in GitHub Actions: a job needing a skipped job is skipped too.
    """
    already = set(started)
    by_name = {job.name: job for job in jobs}
    conclusions = {job.name: job.conclusion for job in jobs if job.status == "completed"}
    start: list[str] = []
    skip: list[Skip] = []
    changed = True
    while changed:
        changed = False
        for job in jobs:
            if job.status != "queued" or job.name in already or job.name in conclusions:
                continue
            needs = [by_name[n] for n in job.needs if n in by_name]
            if any(n.name not in conclusions for n in needs):
                continue
            blocking = next((n for n in needs if conclusions[n.name] != "success"), None)
            if blocking is None:
                start.append(job.name)
                already.add(job.name)
            else:
                reason = conclusions[blocking.name] or "skipped"
                skip.append(Skip(job.name, blocking.name, reason))
                conclusions[job.name] = "skipped"
                changed = True
    finished = all(job.name in conclusions for job in jobs)
    return Step(start=tuple(start), skip=tuple(skip), finished=finished)


def with_dependants(jobs: Sequence[JobState], names: Iterable[str]) -> set[str]:
    """The named jobs and every job that needs them, directly or not."""
    chosen = set(names)
    changed = True
    while changed:
        changed = False
        for job in jobs:
            if job.name not in chosen and chosen.intersection(job.needs):
                chosen.add(job.name)
                changed = True
    return chosen


def failed_jobs(jobs: Sequence[JobState]) -> set[str]:
    """Jobs to run again for "Re-run failed": those that failed and what they held back."""
    failed = {job.name for job in jobs if job.conclusion in FAILED}
    return with_dependants(jobs, failed)
