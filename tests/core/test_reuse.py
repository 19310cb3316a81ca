"""Reuse by tree: which jobs of a plan take an earlier job's result (bot.core.reuse)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.config_parser import parse_config
from bot.core.plan import PlanContext, PlannedJob, plan_jobs
from bot.core.reuse import (
    EarlierJob,
    JobInputs,
    Reuse,
    choose_reuse,
    config_digest,
    input_digest,
)
from bot.core.trust import may_reuse

LINT = JobInputs("lint", "d-lint")
TEST = JobInputs("test", "d-test", needs=("lint",))


def earlier(name: str, digest: str, job_id: int, **changes: object) -> EarlierJob:
    found = EarlierJob(
        job_id=job_id,
        name=name,
        digest=digest,
        conclusion="success",
        run_conclusion="success",
        run_trusted=True,
        fork=False,
    )
    return replace(found, **changes)  # type: ignore[arg-type]


def chosen(reuses: tuple[Reuse, ...]) -> dict[str, int]:
    return {reuse.name: reuse.origin_job_id for reuse in reuses}


def test_every_job_that_passed_with_the_same_inputs_is_reused() -> None:
    found = [earlier("lint", "d-lint", 1), earlier("test", "d-test", 2)]
    reuses = choose_reuse([LINT, TEST], found, is_fork=False)
    assert reuses == (Reuse("lint", 1, "success"), Reuse("test", 2, "success"))


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"conclusion": "failure"}, "the job failed"),
        ({"conclusion": "cancelled"}, "the job was cancelled"),
        ({"conclusion": "skipped"}, "the job was skipped"),
        ({"run_conclusion": "failure"}, "another job of its run failed"),
        ({"run_conclusion": None}, "its run is not over"),
        ({"run_trusted": False}, "its run waits for /ok-to-test"),
        ({"fork": True}, "it ran on a fork's build"),
        ({"digest": "d-other"}, "its inputs differ"),
        ({"digest": None}, "it predates input digests"),
        ({"name": "other"}, "it is another job"),
    ],
)
def test_a_job_that_cannot_vouch_is_not_reused(changes: dict[str, object], why: str) -> None:
    found = [replace(earlier("lint", "d-lint", 1), **changes)]  # type: ignore[arg-type]
    assert choose_reuse([LINT], found, is_fork=False) == (), why


def test_reuse_false_runs_the_job_and_what_needs_it() -> None:
    found = [earlier("lint", "d-lint", 1), earlier("test", "d-test", 2)]
    plan = [replace(LINT, may_be_reused=False), TEST]
    assert choose_reuse(plan, found, is_fork=False) == ()


def test_a_job_whose_need_runs_again_runs_too() -> None:
    found = [earlier("test", "d-test", 2)]  # lint changed: not found
    assert choose_reuse([LINT, TEST], found, is_fork=False) == ()


def test_a_need_reused_does_not_drag_the_job_that_changed() -> None:
    found = [earlier("lint", "d-lint", 1), earlier("test", "d-old", 2)]
    assert chosen(choose_reuse([LINT, TEST], found, is_fork=False)) == {"lint": 1}


def test_the_newest_match_wins_and_a_reused_one_points_at_the_job_that_ran() -> None:
    found = [
        earlier("lint", "d-lint", 1),
        earlier("lint", "d-lint", 7, reused_job_id=3),
        earlier("lint", "d-lint", 5),
    ]
    assert chosen(choose_reuse([LINT], found, is_fork=False)) == {"lint": 3}


def test_a_fork_may_take_the_repositorys_result_and_its_own() -> None:
    found = [earlier("lint", "d-lint", 1), earlier("test", "d-test", 2, fork=True)]
    assert chosen(choose_reuse([LINT, TEST], found, is_fork=True)) == {"lint": 1, "test": 2}
    assert chosen(choose_reuse([LINT, TEST], found, is_fork=False)) == {"lint": 1}


@pytest.mark.parametrize(
    ("source_is_fork", "target_is_fork", "allowed"),
    [(False, False, True), (False, True, True), (True, True, True), (True, False, False)],
)
def test_results_never_cross_from_a_fork_to_the_repository(
    source_is_fork: bool, target_is_fork: bool, allowed: bool
) -> None:
    assert may_reuse(source_is_fork=source_is_fork, target_is_fork=target_is_fork) is allowed


# --- digests -------------------------------------------------------------------------------

CONFIG = """
jobs:
  lint:
    run: ruff check .
  test:
    needs: [lint]
    matrix: {python: ["3.11", "3.12"]}
    env: {PY: "${{ matrix.python }}"}
    secrets: [TOKEN]
    run: pytest
"""


def planned(text: str = CONFIG, event: str = "push") -> dict[str, PlannedJob]:
    config = parse_config(text)
    assert not isinstance(config, tuple), config
    return {job.name: job for job in plan_jobs(config, PlanContext(event=event, branch="main"))}


def digests(text: str = CONFIG, *, secrets: tuple[str, ...] = ("TOKEN",)) -> dict[str, str]:
    config = parse_config(text)
    assert not isinstance(config, tuple), config
    of_config = config_digest(config)
    return {
        name: input_digest(job, config=of_config, secret_names=secrets if job.secrets else ())
        for name, job in planned(text).items()
    }


def test_the_same_config_gives_the_same_digests_and_each_job_its_own() -> None:
    first, second = digests(), digests()
    assert first == second
    assert len(set(first.values())) == len(first) == 3  # matrix values make jobs differ


def test_the_event_alone_does_not_change_a_digest() -> None:
    """A pull request's result serves its merge commit's push: the same inputs."""
    config = parse_config(CONFIG)
    assert not isinstance(config, tuple)
    of_config = config_digest(config)
    push, pull = planned(event="push")["lint"], planned(event="pull_request")["lint"]
    assert input_digest(push, config=of_config, secret_names=()) == input_digest(
        pull, config=of_config, secret_names=()
    )


@pytest.mark.parametrize(
    "changed",
    [
        CONFIG.replace("ruff check .", "ruff check src"),  # a step
        CONFIG.replace("lint:\n    run:", "lint:\n    env: {A: b}\n    run:"),  # env
        CONFIG.replace('"3.12"', '"3.13"'),  # matrix values
        CONFIG.replace("lint:\n    run:", "lint:\n    timeout: 5m\n    run:"),
        CONFIG + "merge: {auto: true}\n",  # the config as a whole
    ],
)
def test_a_changed_input_changes_the_digest(changed: str) -> None:
    before, after = digests(), digests(changed)
    assert before.keys() & after.keys()
    assert any(before[name] != after[name] for name in before.keys() & after.keys())


def test_the_secrets_a_job_is_given_are_inputs_by_name() -> None:
    assert digests(secrets=("TOKEN",))["test (3.11)"] != digests(secrets=())["test (3.11)"]
    assert digests(secrets=("TOKEN",))["lint"] == digests(secrets=())["lint"]


# --- properties ----------------------------------------------------------------------------

NAMES = ["a", "b", "c", "d", "e"]


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[JobInputs], list[EarlierJob], bool]:
    plan: list[JobInputs] = []
    for index, name in enumerate(NAMES[: draw(st.integers(1, len(NAMES)))]):
        needs = tuple(draw(st.sets(st.sampled_from(NAMES[:index]))) if index else ())
        plan.append(JobInputs(name, f"d-{name}", tuple(sorted(needs)), draw(st.booleans())))
    found = draw(
        st.lists(
            st.builds(
                EarlierJob,
                job_id=st.integers(1, 50),
                name=st.sampled_from(NAMES),
                digest=st.sampled_from([*(f"d-{n}" for n in NAMES), "d-x", None]),
                conclusion=st.sampled_from(["success", "failure", "skipped", None]),
                run_conclusion=st.sampled_from(["success", "failure", None]),
                run_trusted=st.booleans(),
                fork=st.booleans(),
                reused_job_id=st.none() | st.integers(1, 50),
            ),
            max_size=12,
        )
    )
    return plan, found, draw(st.booleans())


@given(scenarios())
def test_what_is_reused_passed_matches_and_keeps_its_needs(
    scenario: tuple[list[JobInputs], list[EarlierJob], bool],
) -> None:
    plan, found, is_fork = scenario
    reuses = choose_reuse(plan, found, is_fork=is_fork)
    by_name = {job.name: job for job in plan}
    names = [reuse.name for reuse in reuses]
    assert names == [job.name for job in plan if job.name in names]  # plan order, once each
    for reuse in reuses:
        job = by_name[reuse.name]
        assert job.may_be_reused
        assert set(job.needs) <= set(names)
        sources = [
            e
            for e in found
            if e.origin_job_id == reuse.origin_job_id
            and (e.name, e.digest) == (job.name, job.digest)
            and e.conclusion == e.run_conclusion == "success"
            and e.run_trusted
            and (is_fork or not e.fork)
        ]
        assert sources, reuse
        assert reuse.conclusion == "success"


@given(scenarios())
def test_a_job_with_a_passing_match_and_reused_needs_is_always_reused(
    scenario: tuple[list[JobInputs], list[EarlierJob], bool],
) -> None:
    plan, found, is_fork = scenario
    names = {reuse.name for reuse in choose_reuse(plan, found, is_fork=is_fork)}
    for job in plan:
        vouches = any(
            (e.name, e.digest) == (job.name, job.digest)
            and e.conclusion == e.run_conclusion == "success"
            and e.run_trusted
            and (is_fork or not e.fork)
            for e in found
        )
        expected = job.may_be_reused and vouches and set(job.needs) <= names
        assert (job.name in names) is expected, job
