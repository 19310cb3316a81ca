"""Which jobs a joining trigger's plan adds to a run: the union of plans, results kept."""

from __future__ import annotations

import textwrap

import pytest

from bot.core.config import Config
from bot.core.config_parser import parse_config
from bot.core.plan import PlanContext, PlannedJob, plan_jobs, skip_all
from bot.core.replan import RunJob, jobs_to_add, lacks_plan, plan_key

CONFIG = """
jobs:
  build:
    run: make
  pr-only:
    if: event == 'pull_request'
    run: make check
  after-pr:
    needs: [pr-only]
    run: make more
  code:
    paths: ["src/**"]
    run: make test
"""


def config() -> Config:
    parsed = parse_config(textwrap.dedent(CONFIG))
    assert isinstance(parsed, Config)
    return parsed


PUSH = PlanContext(event="push", branch="feature", changed_files=("README.md",))
PULL = PlanContext(event="pull_request", branch="feature", base="main", changed_files=("src/a",))


def plan(context: PlanContext) -> tuple[PlannedJob, ...]:
    return plan_jobs(config(), context)


def held(planned: tuple[PlannedJob, ...], **ran: bool) -> list[RunJob]:
    """The run's rows after `planned`; `ran[name]` marks a job that ran (or was scheduled)."""
    return [
        RunJob(
            name=job.name,
            skipped_at_planning=job.skip_reason is not None and not ran.get(job.name, False),
            skipped_by_marker=job.skipped_by_marker,
        )
        for job in planned
    ]


def added(run_jobs: list[RunJob], planned: tuple[PlannedJob, ...]) -> list[str]:
    return [job.name for job in jobs_to_add(run_jobs, planned)]


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        pytest.param(PUSH, PULL, ["pr-only", "after-pr", "code"], id="push-then-pr"),
        pytest.param(PULL, PUSH, [], id="pr-then-push-adds-nothing"),
        pytest.param(PUSH, PUSH, [], id="same-facts"),
    ],
)
def test_jobs_the_second_plan_runs_are_added(
    first: PlanContext, second: PlanContext, expected: list[str]
) -> None:
    assert added(held(plan(first)), plan(second)) == expected


def test_finished_or_running_jobs_keep_their_rows() -> None:
    rows = held(plan(PUSH))
    rows = [RunJob(row.name, skipped_at_planning=False) for row in rows]  # all ran
    assert added(rows, plan(PULL)) == []


def test_a_job_skipped_because_its_need_failed_keeps_its_result() -> None:
    rows = [RunJob(job.name, skipped_at_planning=False) for job in plan(PULL)]
    assert added(rows, plan(PULL)) == []


def test_jobs_missing_from_the_run_are_added_even_when_skipped() -> None:
    assert added([], plan(PUSH)) == ["build", "pr-only", "after-pr", "code"]


def test_a_marker_skip_is_replaced_by_the_pull_requests_plan_even_a_skip() -> None:
    marker_rows = held(skip_all(plan(PUSH), "the commit message contains [skip ci]"))
    pull = plan(PlanContext(event="pull_request", branch="feature", changed_files=("README",)))
    assert added(marker_rows, pull) == ["build", "pr-only", "after-pr", "code"]
    assert by_name(jobs_to_add(marker_rows, pull), "code").skip_reason is not None


def test_a_second_marker_skip_adds_nothing() -> None:
    marker_plan = skip_all(plan(PUSH), "marker")
    assert added(held(marker_plan), marker_plan) == []


def by_name(planned: tuple[PlannedJob, ...], name: str) -> PlannedJob:
    return next(job for job in planned if job.name == name)


@pytest.mark.parametrize(
    ("event", "number", "key"),
    [
        ("push", None, "push"),
        ("pull_request", 12, "pull_request:12"),
        ("merge_group", None, "merge_group"),
    ],
)
def test_plan_keys(event: str, number: int | None, key: str) -> None:
    assert plan_key(event, number) == key


@pytest.mark.parametrize(
    ("plans", "number", "lacks"),
    [
        ((), 7, False),  # never planned (an older run): nothing to wait for
        (("push",), 7, True),  # its push planned it; the pull request's event is on its way
        (("push", "pull_request:7"), 7, False),
        (("pull_request:8",), 7, True),  # another pull request sharing the head
    ],
)
def test_a_run_lacks_a_pull_requests_plan_until_it_is_planned(
    plans: tuple[str, ...], number: int, lacks: bool
) -> None:
    assert lacks_plan(plans, number) is lacks
