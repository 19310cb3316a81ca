"""Health checks after a deploy and the rollback that follows a failed one: pure decisions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.health import (
    Checking,
    GoodDeploy,
    HealthCheck,
    Healthy,
    Probe,
    Resume,
    Rollback,
    StayFailed,
    Unhealthy,
    after_unhealthy,
    command_probe,
    http_probe,
    judge,
    resume,
)
from tests.core.test_config_parser import parse_errors, parse_ok

CHECK = HealthCheck(http="https://example.com/healthz", every_seconds=10, for_seconds=30)


def test_a_check_probes_at_once_then_every_interval_until_the_period_is_covered() -> None:
    assert judge(CHECK, 100.0, []) == Checking(100.0)
    probes = [Probe(100.0 + 10 * n, True, "HTTP 200") for n in range(3)]
    assert judge(CHECK, 100.0, probes) == Checking(130.0)
    probes.append(Probe(130.0, True, "HTTP 200"))
    assert judge(CHECK, 100.0, probes) == Healthy(4)


def test_one_failed_probe_fails_the_check() -> None:
    bad = Probe(110.0, False, "HTTP 503, expected HTTP 200")
    probes = [Probe(100.0, True, "HTTP 200"), bad, Probe(120.0, True, "HTTP 200")]
    assert judge(CHECK, 100.0, probes) == Unhealthy(bad)


@pytest.mark.parametrize(
    ("status", "error", "ok", "detail"),
    [
        (200, "", True, "HTTP 200"),
        (503, "", False, "HTTP 503, expected HTTP 200"),
        (301, "", False, "HTTP 301, expected HTTP 200"),  # redirects are not followed
        (None, "timed out after 10s", False, "timed out after 10s, expected HTTP 200"),
        (None, "", False, "no answer, expected HTTP 200"),
    ],
)
def test_http_probes(status: int | None, error: str, ok: bool, detail: str) -> None:
    assert http_probe(CHECK, status, at=5.0, error=error) == Probe(5.0, ok, detail)


def test_command_probes() -> None:
    assert command_probe(0, at=1.0, timeout=10) == Probe(1.0, True, "exit 0")
    assert command_probe(2, at=1.0, timeout=10) == Probe(1.0, False, "exit 2")
    assert command_probe(None, at=1.0, timeout=10) == Probe(
        1.0, False, "the check did not finish within 10s"
    )


def test_a_probe_never_takes_longer_than_its_interval_or_ten_seconds() -> None:
    assert HealthCheck(http="https://x", every_seconds=3).probe_timeout_seconds == 3
    assert HealthCheck(http="https://x", every_seconds=60).probe_timeout_seconds == 10


GOOD, BAD = "a" * 40, "b" * 40
NO_LOOP = "the rollback's own health check failed; not rolling back again"
TURNED_OFF = "automatic rollback is off for this environment"


@pytest.mark.parametrize(
    ("was_rollback", "automatic", "earlier", "expected"),
    [
        (False, True, [GoodDeploy(GOOD, True)], Rollback(GOOD, "health check failed")),
        (
            False,
            True,
            [GoodDeploy(BAD, True), GoodDeploy("c" * 40, False), GoodDeploy(GOOD, True)],
            Rollback(GOOD, "health check failed"),
        ),
        (True, True, [GoodDeploy(GOOD, True)], StayFailed(NO_LOOP)),
        (False, False, [GoodDeploy(GOOD, True)], StayFailed(TURNED_OFF)),
        (False, True, [], StayFailed("no earlier successful deploy to roll back to")),
    ],
)
def test_what_follows_a_failed_health_check(
    was_rollback: bool,
    automatic: bool,
    earlier: list[GoodDeploy],
    expected: Rollback | StayFailed,
) -> None:
    decision = after_unhealthy(
        BAD, failed_was_rollback=was_rollback, automatic=automatic, earlier=earlier
    )
    assert decision == expected


@given(
    every=st.integers(1, 60),
    period=st.integers(1, 600),
    outcomes=st.lists(st.booleans(), max_size=80),
)
def test_a_check_ends_healthy_only_when_every_probe_passed_over_the_period(
    every: int, period: int, outcomes: list[bool]
) -> None:
    check = HealthCheck(run="./check", every_seconds=every, for_seconds=period)
    probes = [Probe(float(n * every), ok, "") for n, ok in enumerate(outcomes)]
    verdict = judge(check, 0.0, probes)
    if not all(outcomes):
        assert isinstance(verdict, Unhealthy)
    elif probes and probes[-1].at >= period:
        assert verdict == Healthy(len(probes))
    else:
        assert isinstance(verdict, Checking)


ENVIRONMENT = """\
jobs:
  test:
    run: make test
deploy:
  environments:
    production:
      run: ./deploy.sh production
"""


def test_health_and_rollback_parse() -> None:
    config = parse_ok(
        ENVIRONMENT
        + "      health:\n        http: https://example.com/healthz\n        expect: 204\n"
        + "        every: 5s\n        for: 1m\n      rollback: {automatic: false}\n"
    )
    (production,) = config.deploy.environments
    assert production.health == HealthCheck(
        http="https://example.com/healthz", expect=204, every_seconds=5, for_seconds=60, line=9
    )
    assert not production.rollback_automatic
    assert parse_ok(ENVIRONMENT).deploy.environments[0].rollback_automatic


@pytest.mark.parametrize(
    ("health", "key", "words"),
    [
        ("{expect: 200}", "deploy.environments.production.health", "`http:"),
        ("{http: 'https://x', run: ./c}", "deploy.environments.production.health", "not both"),
        ("{http: ftp://x}", "deploy.environments.production.health.http", "web address"),
        ("{run: ./c, expect: 700}", "deploy.environments.production.health.expect", "100 to 599"),
        ("{run: ./c, every: 0s}", "deploy.environments.production.health.every", "no time"),
        ("{run: ./c, for: soon}", "deploy.environments.production.health.for", "not a duration"),
        ("{run: ./c, retries: 3}", "deploy.environments.production.health.retries", "not a key"),
        ("yes", "deploy.environments.production.health", "must be"),
    ],
)
def test_health_mistakes_are_reported_on_their_line(health: str, key: str, words: str) -> None:
    (error,) = parse_errors(ENVIRONMENT + f"      health: {health}\n")
    assert (error.key, error.line) == (key, 8)
    assert words in error.message


TWO_MINUTES = HealthCheck(http="https://x", every_seconds=10, for_seconds=120)
OK, FAIL = "HTTP 200", "HTTP 503, expected HTTP 200"


@pytest.mark.parametrize(
    ("started", "probes", "expected"),
    [
        # The replica stopped before the loop started, or before its first probe: all of it.
        (None, [], Resume(120)),
        (100.0, [], Resume(120)),
        # Probes passed for 50 s: 70 s remain, however long the take-over took.
        (100.0, [Probe(100, True, OK), Probe(150, True, OK)], Resume(70)),
        # The period was covered just before it stopped: one more probe settles it.
        (100.0, [Probe(100, True, OK), Probe(230, True, OK)], Resume(0)),
        # A failed probe was logged before it stopped: it decides, as in an ended check.
        (
            100.0,
            [Probe(100, True, OK), Probe(110, False, FAIL), Probe(120, True, OK)],
            Unhealthy(Probe(110, False, FAIL)),
        ),
    ],
)
def test_a_check_cut_short_by_a_stopped_replica_resumes_for_what_remains(
    started: float | None, probes: list[Probe], expected: Resume | Unhealthy
) -> None:
    assert resume(TWO_MINUTES, started, probes) == expected


@given(
    st.floats(0, 1000),
    st.lists(st.tuples(st.floats(0, 500), st.booleans()), max_size=8),
)
def test_a_resumed_check_never_asks_for_more_than_the_period_nor_less_than_nothing(
    started: float, seen: list[tuple[float, bool]]
) -> None:
    probes = [Probe(started + offset, ok, OK if ok else FAIL) for offset, ok in sorted(seen)]
    verdict = resume(TWO_MINUTES, started, probes)
    if all(probe.ok for probe in probes):
        assert isinstance(verdict, Resume)
        assert 0 <= verdict.for_seconds <= TWO_MINUTES.for_seconds
    else:
        assert isinstance(verdict, Unhealthy)
        assert not verdict.probe.ok
