"""Scheduling a run's jobs: start, skip, finish."""

from __future__ import annotations

import pytest

from bot.core.config import TrustConfig, TrustedAuthors
from bot.core.schedule import JobState, failed_jobs, next_step, with_dependants
from bot.core.trust import is_author_trusted, may_run, may_use_secrets


def job(name: str, *needs: str, status: str = "queued", conclusion: str | None = None) -> JobState:
    return JobState(name, needs, status, conclusion)


def done(name: str, conclusion: str, *needs: str) -> JobState:
    return job(name, *needs, status="completed", conclusion=conclusion)


@pytest.mark.parametrize(
    ("jobs", "started", "start", "skip", "finished"),
    [
        ([job("a"), job("b")], (), ("a", "b"), (), False),
        ([job("a"), job("b", "a")], (), ("a",), (), False),
        ([job("a"), job("b", "a")], ("a",), (), (), False),
        ([done("a", "success"), job("b", "a")], (), ("b",), (), False),
        ([done("a", "failure"), job("b", "a"), job("c", "b")], (), (), ("b", "c"), True),
        ([done("a", "skipped"), job("b", "a")], (), (), ("b",), True),
        ([done("a", "success"), done("b", "success", "a")], (), (), (), True),
        ([done("a", "success"), job("b", "a", status="in_progress")], (), (), (), False),
    ],
)
def test_next_step(
    jobs: list[JobState],
    started: tuple[str, ...],
    start: tuple[str, ...],
    skip: tuple[str, ...],
    finished: bool,
) -> None:
    step = next_step(jobs, started=started)
    assert step.start == start
    assert tuple(s.name for s in step.skip) == skip
    assert step.finished is finished


def test_a_skip_names_the_need_that_failed() -> None:
    (skip,) = next_step([done("lint", "timed_out"), job("test", "lint")]).skip
    assert (skip.need, skip.need_conclusion) == ("lint", "timed_out")


def test_rerun_takes_dependants_along() -> None:
    jobs = [
        done("a", "failure"),
        done("b", "skipped", "a"),
        done("c", "success"),
        done("d", "skipped", "b"),
    ]
    assert failed_jobs(jobs) == {"a", "b", "d"}
    assert with_dependants(jobs, {"c"}) == {"c"}


@pytest.mark.parametrize(
    ("authors", "association", "trusted"),
    [
        (TrustedAuthors.COLLABORATORS, "COLLABORATOR", True),
        (TrustedAuthors.COLLABORATORS, "OWNER", True),
        (TrustedAuthors.COLLABORATORS, "CONTRIBUTOR", False),
        (TrustedAuthors.COLLABORATORS, "FIRST_TIME_CONTRIBUTOR", False),
        (TrustedAuthors.MEMBERS, "COLLABORATOR", False),
        (TrustedAuthors.MEMBERS, "member", True),
        (TrustedAuthors.EVERYONE, "NONE", True),
    ],
)
def test_trusted_authors(authors: TrustedAuthors, association: str, trusted: bool) -> None:
    assert is_author_trusted(TrustConfig(authors), association) is trusted


def test_ok_to_test_approves_one_sha_only() -> None:
    trust = TrustConfig()
    assert may_run(trust, author_association="NONE", approved_sha="a" * 40, head_sha="a" * 40)
    assert not may_run(trust, author_association="NONE", approved_sha="a" * 40, head_sha="b" * 40)


@pytest.mark.parametrize(
    ("fork", "trusted", "allowed"),
    [(False, True, True), (True, True, False), (False, False, False), (True, False, False)],
)
def test_secrets_never_go_to_forks(fork: bool, trusted: bool, allowed: bool) -> None:
    assert may_use_secrets(is_fork=fork, trusted=trusted) is allowed
