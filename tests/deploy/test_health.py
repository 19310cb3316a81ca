"""Reading the probe loop's lines from a deployment log, and the ticket that runs it."""

from __future__ import annotations

import json

import pytest

from bot.core.config import Step
from bot.core.health import HealthCheck, Healthy, Unhealthy
from bot.deploy.health import PREFIX, health_ticket, read_probes, verdict_from_log
from bot.executor.base import Target, Ticket

HTTP = HealthCheck(http="https://example.com/healthz", every_seconds=0.5, for_seconds=1.0)
RUN = HealthCheck(run="./check.sh", every_seconds=20.0, for_seconds=60.0)


def line(**seen: object) -> str:
    return PREFIX + json.dumps(seen)


def test_probes_are_read_from_their_lines_only() -> None:
    log = "\n".join(
        [
            "deploying…",
            line(started=100.0),
            line(n=1, at=100.0, status=200),
            "    " + line(n=2, at=100.1, status=500),  # a check's output, indented
            PREFIX + "{not json",
            PREFIX + "[1, 2]",
            line(n=2, at=100.5, error="no answer within 0.5s"),
        ]
    )
    started, probes = read_probes(HTTP, log)
    assert started == 100.0
    assert [(p.ok, p.detail) for p in probes] == [
        (True, "HTTP 200"),
        (False, "no answer within 0.5s, expected HTTP 200"),
    ]


@pytest.mark.parametrize(
    ("lines", "verdict"),
    [
        ([line(started=0.0), line(at=0.0, status=200), line(at=1.0, status=200)], Healthy(2)),
        ([line(started=0.0), line(at=0.0, status=301)], "HTTP 301, expected HTTP 200"),
        ([line(started=0.0), line(at=0.0, status=200)], "before its period was over"),
        (["killed before python started"], "did not start"),
    ],
)
def test_the_verdict_of_an_http_check(lines: list[str], verdict: Healthy | str) -> None:
    found = verdict_from_log(HTTP, "\n".join(lines))
    if isinstance(verdict, Healthy):
        assert found == verdict
    else:
        assert isinstance(found, Unhealthy)
        assert verdict in found.probe.detail


def test_a_command_check_that_timed_out_says_so() -> None:
    found = verdict_from_log(RUN, "\n".join([line(started=0.0), line(at=0.0, exit=None)]))
    assert isinstance(found, Unhealthy)
    assert found.probe.detail == "the check did not finish within 10s"


def test_the_health_ticket_runs_the_probe_loop_on_the_deploys_checkout() -> None:
    deploy = Ticket(
        target=Target.deploy(7),
        clone_url="/repo",
        sha="abc",
        steps=(Step("deploy", "./deploy.sh"),),
        env={"GREENLIGHT_ENVIRONMENT": "production"},
        timeout_seconds=1800,
        secrets={"KEY": "secret"},
    )
    ticket = health_ticket(deploy, RUN)
    assert (ticket.target, ticket.sha, ticket.secrets) == (deploy.target, "abc", {"KEY": "secret"})
    assert [step.run for step in ticket.steps] == ['exec python3 -c "$GREENLIGHT_HEALTH_SCRIPT"']
    assert ticket.env["GREENLIGHT_HEALTH_RUN"] == "./check.sh"
    assert ticket.env["GREENLIGHT_HEALTH_TIMEOUT"] == "10"
    assert ticket.env["GREENLIGHT_ENVIRONMENT"] == "production"
    assert ticket.timeout_seconds == 60 + 20 + 10 + 30  # never a stuck deployment
