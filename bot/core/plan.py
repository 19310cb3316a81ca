"""From a validated Config and the facts of one build, the jobs to run: expanded and ordered.

Matrix jobs become one planned job per combination, named like GitHub Actions names them
("test (3.11, ubuntu)"). A job is planned even when it will not run: it carries a
`skip_reason`, because a required check that never reports blocks a merge forever.
A job whose need is skipped is skipped too, as in GitHub Actions, so a job never runs
without the jobs it depends on.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from bot.core.conditions import evaluate, parse_condition
from bot.core.config import Config, JobConfig, Mode, Step

# `${{ matrix.NAME }}` (and, to reject them with a clear message, any other `${{ … }}`).
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
MATRIX_REFERENCE = re.compile(r"matrix\.([A-Za-z_][A-Za-z0-9_-]*)")

MatrixValues = tuple[tuple[str, str], ...]
Matrix = tuple[tuple[str, tuple[str, ...]], ...]

# At most this many planned jobs (check runs) per commit, across all jobs, matrices
# expanded, as GitHub Actions caps a workflow run: "A matrix will generate a maximum of
# 256 jobs per workflow run."
# https://docs.github.com/en/actions/how-tos/write-workflows/choose-what-workflows-do/run-job-variations
# Each planned job is a check run written against the installation's rate limit, so the
# cap keeps one push from spending it for hours.
PLAN_LIMIT = 256


@dataclass(frozen=True)
class PlanContext:
    event: str  # "push" | "pull_request" | "merge_group" | "local"
    branch: str  # branch the commit is built for (push: pushed branch; PR: head branch)
    base: str = ""  # PR base branch, "" otherwise
    mode: Mode = Mode.INTEGRATION
    changed_files: tuple[str, ...] | None = None  # None = unknown: `paths` never skips


@dataclass(frozen=True)
class PlannedJob:
    name: str  # check-run name: "lint", "test (3.11)", "test (3.11, ubuntu)"
    base_name: str  # "test"
    matrix: MatrixValues
    steps: tuple[Step, ...]  # ${{ matrix.x }} substituted
    env: tuple[tuple[str, str], ...]
    needs: tuple[str, ...]  # planned-job names (a need on "test" means every "test (…)" job)
    timeout_seconds: float
    reports: tuple[str, ...]
    secrets: tuple[str, ...]
    skip_reason: str | None = None
    secret_files: tuple[str, ...] = ()  # set when `if` is false or no changed file matches `paths`
    skipped_by_marker: bool = False  # skipped because the commit message asks: never a pass
    reuse: bool = True  # may take the result of the same tree and inputs (`bot.core.reuse`)


# --- messages -----------------------------------------------------------------------


def _msg_condition_false(condition: str) -> str:
    return f"`if: {condition}` is false for this build"


def _msg_no_matching_path(patterns: Iterable[str]) -> str:
    return f"no changed file matches `paths` ({', '.join(patterns)})"


def _msg_need_skipped(need: str) -> str:
    return f"it needs `{need}`, which is skipped"


# --- matrix -------------------------------------------------------------------------


def matrix_combinations(job: JobConfig) -> tuple[MatrixValues, ...]:
    """Every combination of the job's matrix, first axis slowest; `((),)` without a matrix."""
    axes = [[(axis, value) for value in values] for axis, values in job.matrix]
    return tuple(tuple(combination) for combination in itertools.product(*axes))


def matrix_size(matrix: Matrix) -> int:
    """How many planned jobs a job with this matrix makes: 1 without a matrix."""
    return math.prod(len(values) for _, values in matrix)


def check_run_name(base_name: str, matrix: MatrixValues) -> str:
    """The check-run name of one matrix combination: "test (3.11, ubuntu)"."""
    if not matrix:
        return base_name
    return f"{base_name} ({', '.join(value for _, value in matrix)})"


def check_run_names(job: JobConfig) -> tuple[str, ...]:
    """The check-run names a job expands to, in matrix order."""
    return tuple(check_run_name(job.name, values) for values in matrix_combinations(job))


def substitute_matrix(text: str, matrix: MatrixValues) -> str:
    """`text` with each `${{ matrix.NAME }}` replaced by the combination's value."""
    values = dict(matrix)

    def replace(match: re.Match[str]) -> str:
        reference = MATRIX_REFERENCE.fullmatch(match.group(1))
        if reference is None or reference.group(1) not in values:
            return match.group()  # the parser rejects these; leave them visible
        return values[reference.group(1)]

    return EXPRESSION.sub(replace, text)


# --- paths --------------------------------------------------------------------------


@functools.lru_cache(maxsize=512)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    parts: list[str] = []
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            parts.append("(?:.*/)?")  # any directories, or none: "**/a.py" matches "a.py"
            index += 3
        elif pattern.startswith("**", index):
            parts.append(".*")
            index += 2
        else:
            character = pattern[index]
            parts.append({"*": "[^/]*", "?": "[^/]"}.get(character, re.escape(character)))
            index += 1
    return re.compile("".join(parts), re.DOTALL)


def matches_glob(pattern: str, path: str) -> bool:
    """GitHub Actions path filters: `**` crosses directories, `*` and `?` stay in one."""
    return _glob_regex(pattern).fullmatch(path) is not None


def matches_paths(patterns: Iterable[str], path: str) -> bool:
    """Whether `path` is selected: the last pattern that matches decides; `!` excludes."""
    selected = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        if matches_glob(pattern[1:] if negated else pattern, path):
            selected = not negated
    return selected


# --- planning -----------------------------------------------------------------------


def condition_facts(context: PlanContext) -> dict[str, str | bool]:
    """The names an `if:` condition can use, for this build."""
    return {
        "branch": context.branch,
        "event": context.event,
        "mode": context.mode.value,
        "base": context.base,
        "pr": context.event == "pull_request",
    }


def job_order(jobs: Iterable[JobConfig]) -> tuple[JobConfig, ...]:
    """Jobs with every job after its needs; file order among jobs that are free to go."""
    waiting = list(jobs)
    placed: list[JobConfig] = []
    names: set[str] = set()
    while waiting:
        ready = next((job for job in waiting if names.issuperset(job.needs)), None)
        if ready is None:
            raise ValueError(f"needs form a cycle or name no job: {[j.name for j in waiting]}")
        waiting.remove(ready)
        placed.append(ready)
        names.add(ready.name)
    return tuple(placed)


def _own_skip_reason(job: JobConfig, context: PlanContext) -> str | None:
    facts = condition_facts(context)
    if job.condition is not None and not evaluate(parse_condition(job.condition), facts):
        return _msg_condition_false(job.condition)
    changed = context.changed_files
    if job.paths and changed is not None and not any(matches_paths(job.paths, p) for p in changed):
        return _msg_no_matching_path(job.paths)
    return None


def _skip_reason(
    job: JobConfig, context: PlanContext, skipped: Mapping[str, str | None]
) -> str | None:
    own = _own_skip_reason(job, context)
    if own is not None:
        return own
    need = next((need for need in job.needs if skipped[need] is not None), None)
    return None if need is None else _msg_need_skipped(need)


def _planned(
    job: JobConfig, matrix: MatrixValues, needs: tuple[str, ...], skip_reason: str | None
) -> PlannedJob:
    steps = tuple(
        Step(substitute_matrix(step.name, matrix), substitute_matrix(step.run, matrix))
        for step in job.steps
    )
    return PlannedJob(
        name=check_run_name(job.name, matrix),
        base_name=job.name,
        matrix=matrix,
        steps=steps,
        env=tuple((key, substitute_matrix(value, matrix)) for key, value in job.env),
        needs=needs,
        timeout_seconds=job.timeout_seconds,
        reports=job.reports,
        secrets=job.secrets,
        secret_files=job.secret_files,
        skip_reason=skip_reason,
        reuse=job.reuse,
    )


def plan_jobs(config: Config, context: PlanContext) -> tuple[PlannedJob, ...]:
    """Every check run of this build, needs first, each with its skip reason if skipped."""
    expanded: dict[str, tuple[str, ...]] = {}
    skipped: dict[str, str | None] = {}
    plan: list[PlannedJob] = []
    for job in job_order(config.jobs):
        skipped[job.name] = _skip_reason(job, context, skipped)
        needs = tuple(name for need in job.needs for name in expanded[need])
        jobs = [_planned(job, m, needs, skipped[job.name]) for m in matrix_combinations(job)]
        expanded[job.name] = tuple(planned.name for planned in jobs)
        plan.extend(jobs)
    return tuple(plan)


def dependants(plan: Iterable[PlannedJob], name: str) -> tuple[str, ...]:
    """Names of the planned jobs that need `name`, directly or through others, in plan order."""
    affected = {name}
    found: list[str] = []
    for job in plan:  # a plan is in topological order, so one pass sees every chain
        if affected.intersection(job.needs):
            affected.add(job.name)
            found.append(job.name)
    return tuple(found)


def skip_marker(markers: Iterable[str], message: str) -> str | None:
    """The first of `markers` found in a commit message (any case); None when none is."""
    lowered = message.lower()
    return next((marker for marker in markers if marker.lower() in lowered), None)


def honours_skip_markers(event: str) -> bool:
    """Only a push may be skipped by its message: a pull request head or a merge-queue
    commit is what a gate (auto-merge, branch protection, the queue) decides on, and a
    marker must never open a gate. `paths` is the way to skip work on such changes."""
    return event == "push"


def skip_all(plan: Iterable[PlannedJob], reason: str) -> tuple[PlannedJob, ...]:
    """The plan with every job skipped by a skip marker (each still reports a check run)."""
    return tuple(replace(job, skip_reason=reason, skipped_by_marker=True) for job in plan)
