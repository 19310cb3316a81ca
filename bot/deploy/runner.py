"""Run one environment's steps for one deployment: a fresh workspace at the SHA, the job
variables plus GREENLIGHT_ENVIRONMENT and GREENLIGHT_DEPLOYMENT_ID, the environment's
secrets (masked in the log), the environment's timeout.

Deploys run here rather than as job rows of the build's run: a job row would join the
run's job list, which the pipeline schedules, re-runs and sums into the aggregate check;
a deploy has its own life (a queue per environment, supersession, GitHub Deployments).
The steps still run through the executor's own pieces (`GitCache.checkout`, `run_steps`):
here with `LocalDeployRunner`, or on a Celery worker (`bot.executor.celery`), which runs
this same `run_deploy` and writes the conclusion into the deployment's row.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bot import links
from bot.core.config import Environment, Step
from bot.core.masking import Masker
from bot.core.variables import BuildInfo, greenlight_variables
from bot.executor.logs import LogWriter
from bot.executor.process import run_steps
from bot.executor.workspace import GitCache, GitError, remove_workspace
from bot.settings import Settings
from bot.store.deployments import Deployments
from bot.store.records import Run


def deploy_variables(
    settings: Settings,
    run: Run,
    environment: str,
    *,
    deployment_id: int | None,
    pr_number: int | None,
) -> dict[str, str]:
    """The job variables of DESIGN.md section 9 plus the deployment's own."""
    build = BuildInfo(
        sha=run.sha,
        ref=run.ref,
        event="deployment",
        job=f"deploy: {environment}",
        pr_number=pr_number,
        repository=run.repo,
        run_id=run.id,
        run_url=links.run_url(settings.public_url, run.id, settings.link_secret),
        environment=environment,
        deployment_id=deployment_id,
    )
    return greenlight_variables(build, passthrough=dict(settings.build_env), env={})


@dataclass(frozen=True)
class DeployTicket:
    deployment_id: int  # our row
    clone_url: str
    sha: str
    environment: Environment
    env: Mapping[str, str]
    secrets: Mapping[str, str] = field(repr=False, default_factory=dict)
    token: str | None = field(repr=False, default=None)


def ticket_to_json(ticket: DeployTicket) -> dict[str, Any]:
    """The ticket as JSON for a Celery worker (secrets and token included: the broker is
    as trusted as the store, as for build jobs)."""
    env = ticket.environment
    return {
        "deployment_id": ticket.deployment_id,
        "clone_url": ticket.clone_url,
        "sha": ticket.sha,
        "environment": {
            "name": env.name,
            "steps": [{"name": step.name, "run": step.run} for step in env.steps],
            "url": env.url,
            "secrets": list(env.secrets),
            "protected": env.protected,
            "timeout_seconds": env.timeout_seconds,
        },
        "env": dict(ticket.env),
        "secrets": dict(ticket.secrets),
        "token": ticket.token,
    }


def ticket_from_json(data: dict[str, Any]) -> DeployTicket:
    env = data["environment"]
    return DeployTicket(
        deployment_id=int(data["deployment_id"]),
        clone_url=data["clone_url"],
        sha=data["sha"],
        environment=Environment(
            name=env["name"],
            steps=tuple(Step(name=step["name"], run=step["run"]) for step in env["steps"]),
            url=env["url"],
            secrets=tuple(env["secrets"]),
            protected=bool(env["protected"]),
            timeout_seconds=float(env["timeout_seconds"]),
        ),
        env=dict(data["env"]),
        secrets=dict(data["secrets"]),
        token=data["token"],
    )


class DeployRunner(Protocol):
    """Runs one deploy's steps somewhere and says how they ended."""

    async def run_deploy(self, ticket: DeployTicket, cancel: asyncio.Event) -> str: ...

    async def abandon(self, deployment_id: int) -> None:
        """A previous process of the service started this deploy: stop it if it still runs."""
        ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class LocalDeployRunner:
    """Deploys in this process tree, with the local executor's git cache and rules."""

    store: Deployments
    cache: GitCache
    work_dir: Path

    async def run_deploy(self, ticket: DeployTicket, cancel: asyncio.Event) -> str:
        return await run_deploy(
            ticket, store=self.store, cache=self.cache, work_dir=self.work_dir, cancel=cancel
        )

    async def abandon(self, deployment_id: int) -> None:
        return None  # its processes ended with the process that started them

    async def close(self) -> None:
        return None


async def run_deploy(
    ticket: DeployTicket,
    *,
    store: Deployments,
    cache: GitCache,
    work_dir: Path,
    cancel: asyncio.Event,
) -> str:
    """Run the environment's steps; return the conclusion (success, failure, timed_out…)."""
    masker = Masker(ticket.secrets.values())
    log = LogWriter(functools.partial(store.append_log, ticket.deployment_id))
    workspace = work_dir / "workspaces" / f"deploy-{ticket.deployment_id}"
    try:
        try:
            await cache.checkout(ticket.clone_url, ticket.sha, workspace, token=ticket.token)
        except GitError as error:
            await log.write(f"Could not check out {ticket.sha}: {masker.mask(str(error))}\n")
            return "failure"
        outcome = await run_steps(
            ticket.environment.steps,
            workdir=workspace,
            env={**ticket.env, **ticket.secrets},
            timeout_seconds=ticket.environment.timeout_seconds,
            on_output=log.write,
            cancel=cancel,
            masker=masker,
        )
        return outcome.conclusion
    finally:
        await log.close()
        await remove_workspace(workspace)
