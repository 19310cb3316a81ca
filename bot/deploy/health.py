"""A deploy's health check, run where steps run and judged here.

The probes must never come from the web process, which holds the app's keys: a
repository's config would otherwise make Greenlight fetch an address of its choosing from
inside the service's network. So the probe loop (`bot.executor.health_probe`) runs as one
more step of the deploy, on the executor and in the job's sandbox, and prints one line per
probe into the deployment log; here those lines become `Probe` values for
`bot.core.health.judge`.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from bot.core.config import Environment, Step
from bot.core.health import (
    Checking,
    GoodDeploy,
    HealthCheck,
    HealthVerdict,
    Healthy,
    Probe,
    Rollback,
    StayFailed,
    Unhealthy,
    after_unhealthy,
    command_probe,
    http_probe,
    judge,
)
from bot.deploy import messages
from bot.executor import health_probe
from bot.executor.base import Ticket
from bot.store.deployments import DeploymentRecord, Deployments, DeployState

PREFIX = health_probe.PREFIX
SCRIPT = Path(health_probe.__file__)
# Beyond the period: the last probe's own time, and starting python and the checkout.
SLACK_SECONDS = 30.0


def health_ticket(deploy: Ticket, check: HealthCheck, *, extra_ca: str = "") -> Ticket:
    """The deploy's ticket turned into its health check: the same checkout, environment and
    secrets (a check script may need them), one step running the probe loop; `extra_ca`:
    PEM certificates its https probes trust besides the system's (GREENLIGHT_HEALTH_CA_FILE),
    passed as text so that no file of the host needs mounting into the sandbox."""
    env = {
        **deploy.env,
        "GREENLIGHT_HEALTH_SCRIPT": SCRIPT.read_text(),
        "GREENLIGHT_HEALTH_HTTP": check.http or "",
        "GREENLIGHT_HEALTH_RUN": check.run or "",
        "GREENLIGHT_HEALTH_EXPECT": str(check.expect),
        "GREENLIGHT_HEALTH_EVERY": f"{check.every_seconds:g}",
        "GREENLIGHT_HEALTH_FOR": f"{check.for_seconds:g}",
        "GREENLIGHT_HEALTH_TIMEOUT": f"{check.probe_timeout_seconds:g}",
        "GREENLIGHT_HEALTH_CA": extra_ca,
    }
    step = Step(messages.health_step(), 'exec python3 -c "$GREENLIGHT_HEALTH_SCRIPT"')
    timeout = check.for_seconds + check.every_seconds + check.probe_timeout_seconds
    return replace(
        deploy, steps=(step,), env=env, timeout_seconds=timeout + SLACK_SECONDS, reports=()
    )


def verdict_from_log(check: HealthCheck, log: str) -> Healthy | Unhealthy:
    """What the probes in the deployment log say; a loop that stopped before the end of
    its period (killed, timed out, never started) is unhealthy, saying so."""
    started, probes = read_probes(check, log)
    if started is None:
        return Unhealthy(Probe(0.0, False, messages.health_never_started()))
    verdict: HealthVerdict = judge(check, started, probes)
    if isinstance(verdict, Checking):
        at = probes[-1].at if probes else started
        return Unhealthy(Probe(at, False, messages.health_cut_short(len(probes))))
    return verdict


def read_probes(check: HealthCheck, log: str) -> tuple[float | None, list[Probe]]:
    """When the loop started, and its probes, oldest first, from the log's probe lines."""
    started: float | None = None
    probes: list[Probe] = []
    for line in log.splitlines():
        if not line.startswith(PREFIX):
            continue
        try:
            seen = json.loads(line[len(PREFIX) :])
        except ValueError:
            continue
        if not isinstance(seen, dict):
            continue
        if "started" in seen:
            started = float(seen["started"])
        elif "at" in seen:
            probes.append(_probe(check, seen))
    return started, probes


def _probe(check: HealthCheck, seen: dict[str, object]) -> Probe:
    at = float(str(seen["at"]))
    if check.http is not None:
        status = seen.get("status")
        return http_probe(
            check,
            status if isinstance(status, int) else None,
            at=at,
            error=str(seen.get("error", "")),
        )
    code = seen.get("exit")
    return command_probe(
        code if isinstance(code, int) else None, at=at, timeout=check.probe_timeout_seconds
    )


async def after_failed_health(
    store: Deployments, record: DeploymentRecord, environment: Environment
) -> Rollback | StayFailed:
    """What follows `record`'s failed health check: the environment's earlier deploys
    decide whether to roll back, and to what."""
    history = await store.history(record.repo, record.environment)
    earlier = [
        GoodDeploy(past.sha, past.state == DeployState.SUCCESS, past.rollback)
        for past in history
        if past.id < record.id
    ]
    return after_unhealthy(
        record.sha,
        failed_was_rollback=record.rollback,
        automatic=environment.rollback_automatic,
        earlier=earlier,
    )
