"""Reuse by tree: which jobs of a plan need not run, because the same tree and the same
inputs already passed (DESIGN.md section 9).

A commit whose git tree is one already built green (the merge commit of an up-to-date
pull request, a fast-forward, a rebase with no change) would run the very same steps on
the very same files. Each job of its plan carries a digest of what can change its result
besides the files; a job whose digest matches a job that passed on a run of the same tree
takes that job's result instead of running. The judgement calls:

- Only a job that passed, in a run that passed, is reused: a failure, a cancellation or a
  run that ended any other way is run again, so a flaky failure is never made permanent.
- A job is reused only when every job it needs is reused too: a job never ends before the
  jobs it depends on, so a need that runs again (and may fail) still decides it.
- A result never crosses from a fork's build to the repository's own (`may_reuse`): a
  fork's build ran without secrets and under the fork's control of its pull request.
- `reuse: false` in the config opts a job out; a job skipped at planning is not reused
  (its skip is its result).
- Among several matching earlier jobs the newest wins, and a job that was itself reused
  points at the job that really ran, so links never chain.
- The digest holds the config as parsed, the job's steps, env, matrix values, timeout,
  reports and needs, the names of the secrets it is given (never a value), and this
  module's `INPUTS_VERSION`, raised whenever the way Greenlight runs a job changes.
  Greenlight's own variables (`GREENLIGHT_SHA`, `GREENLIGHT_REF`, the event) are not
  inputs: they name the commit, and a step that branches on them is opted out with
  `reuse: false`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.core.config import Config
from bot.core.plan import PlannedJob
from bot.core.trust import may_reuse

# Raise when a job's run changes in a way that may change its result (a new variable,
# another shell), so nothing built before is reused after the upgrade.
INPUTS_VERSION = 1


@dataclass(frozen=True)
class JobInputs:
    """One job of the plan being started, as reuse sees it."""

    name: str
    digest: str
    needs: tuple[str, ...] = ()
    may_be_reused: bool = True  # False: `reuse: false`, or skipped at planning


@dataclass(frozen=True)
class EarlierJob:
    """A job of an earlier run of the same repository and tree, found in the store."""

    job_id: int
    name: str
    digest: str | None
    conclusion: str | None
    run_conclusion: str | None
    run_trusted: bool
    fork: bool
    reused_job_id: int | None = None  # it was itself reused from this job

    @property
    def origin_job_id(self) -> int:
        """The job that really ran: itself, or the one it was reused from."""
        return self.reused_job_id if self.reused_job_id is not None else self.job_id


@dataclass(frozen=True)
class Reuse:
    """The job `name` of the plan takes the result of job `origin_job_id`."""

    name: str
    origin_job_id: int
    conclusion: str


def config_digest(config: Config) -> str:
    """A digest of the parsed config: the frozen values' text is stable for equal configs."""
    return _digest(repr(config))


def input_digest(job: PlannedJob, *, config: str, secret_names: Iterable[str]) -> str:
    """What can change `job`'s result besides its files, as one digest (names, never values)."""
    return _digest(
        json.dumps(
            {
                "version": INPUTS_VERSION,
                "config": config,
                "name": job.name,
                "matrix": [list(pair) for pair in job.matrix],
                "steps": [[step.name, step.run] for step in job.steps],
                "env": [list(pair) for pair in job.env],
                "needs": list(job.needs),
                "timeout": job.timeout_seconds,
                "reports": list(job.reports),
                "secrets": sorted(set(secret_names)),
            },
            sort_keys=True,
        )
    )


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _is_reusable(earlier: EarlierJob, *, is_fork: bool) -> bool:
    return (
        earlier.conclusion == "success"
        and earlier.run_conclusion == "success"
        and earlier.run_trusted
        and may_reuse(source_is_fork=earlier.fork, target_is_fork=is_fork)
    )


def choose_reuse(
    plan: Sequence[JobInputs], earlier: Iterable[EarlierJob], *, is_fork: bool
) -> tuple[Reuse, ...]:
    """The jobs of `plan` (needs first) that take an earlier job's result, in plan order."""
    newest: dict[tuple[str, str], EarlierJob] = {}
    for found in earlier:
        if found.digest is None or not _is_reusable(found, is_fork=is_fork):
            continue
        key = (found.name, found.digest)
        if key not in newest or found.job_id > newest[key].job_id:
            newest[key] = found
    chosen: dict[str, Reuse] = {}
    for job in plan:
        found_job = newest.get((job.name, job.digest))
        if not job.may_be_reused or found_job is None:
            continue
        if all(need in chosen for need in job.needs):
            chosen[job.name] = Reuse(job.name, found_job.origin_job_id, "success")
    return tuple(chosen.values())
