"""A second trigger for a commit already built: which jobs its plan adds to the run.

A run is keyed by repository and SHA, so a `push` and the `pull_request` whose head it is
(or two pull requests sharing a head) share one run and one set of check runs: check runs
belong to a commit. Each trigger plans with its own facts (event, branch, base, changed
files, skip markers); the run holds the union, so a job runs when any trigger's plan runs
it. The judgement calls:

- A job that was queued, is running or ran keeps its row: finished jobs keep their results.
- A job skipped at planning (by `if`, `paths` or a need skipped at planning) that the new
  plan runs is added as a new attempt, with a check run of its own.
- A job skipped by a skip marker is replaced by the new plan's job even when that plan
  skips it too, for its own reason: a marker's skip must never stand as a pull request's
  result.
- A job skipped while running the run (a need failed) is a result: kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.core.plan import PlannedJob


@dataclass(frozen=True)
class RunJob:
    """What a run holds for one job name (its latest attempt)."""

    name: str
    skipped_at_planning: bool  # it never ran because the plan skipped it
    skipped_by_marker: bool = False


def plan_key(event: str, pr_number: int | None) -> str:
    """How a run remembers which triggers' plans its jobs include: "push", "pull_request:12"."""
    return f"{event}:{pr_number}" if pr_number is not None else event


def lacks_plan(plans: Iterable[str], pr_number: int) -> bool:
    """Whether a run planned for `plans` lacks pull request `pr_number`'s own plan (a push
    of its head planned it first, and the pull request's event is still on its way)."""
    planned = set(plans)
    return bool(planned) and plan_key("pull_request", pr_number) not in planned


def jobs_to_add(run_jobs: Iterable[RunJob], plan: Sequence[PlannedJob]) -> tuple[PlannedJob, ...]:
    """The jobs of `plan` to add to a run holding `run_jobs`, in plan order."""
    current = {job.name: job for job in run_jobs}
    return tuple(job for job in plan if _adds(current.get(job.name), job))


def _adds(current: RunJob | None, planned: PlannedJob) -> bool:
    if current is None:
        return True  # every planned job reports a check run, skipped ones too
    if current.skipped_by_marker:
        return not planned.skipped_by_marker
    return current.skipped_at_planning and planned.skip_reason is None
