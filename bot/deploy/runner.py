"""Run one environment's steps for one deployment: a fresh workspace at the SHA, the job
variables plus GREENLIGHT_ENVIRONMENT and GREENLIGHT_DEPLOYMENT_ID, the environment's
secrets (masked in the log), the environment's timeout.

Deploys run here rather than as job rows of the build's run: a job row would join the
run's job list, which the pipeline schedules, re-runs and sums into the aggregate check;
a deploy has its own life (a queue per environment, supersession, GitHub Deployments).
The steps still run through the executor's own pieces (`GitCache.checkout`, `run_steps`).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot import links
from bot.core.config import Environment
from bot.core.masking import Masker
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
    return {
        **dict(settings.build_env),
        "CI": "true",
        "GREENLIGHT": "true",
        "GREENLIGHT_SHA": run.sha,
        "GREENLIGHT_REF": run.ref,
        "GREENLIGHT_EVENT": "deployment",
        "GREENLIGHT_PR": str(pr_number or ""),
        "GREENLIGHT_REPOSITORY": run.repo,
        "GREENLIGHT_JOB": f"deploy: {environment}",
        "GREENLIGHT_RUN_ID": str(run.id),
        "GREENLIGHT_RUN_URL": links.run_url(settings.public_url, run.id, settings.link_secret),
        "GREENLIGHT_ENVIRONMENT": environment,
        "GREENLIGHT_DEPLOYMENT_ID": str(deployment_id or ""),  # GitHub's id of the deployment
    }


@dataclass(frozen=True)
class DeployTicket:
    deployment_id: int  # our row
    clone_url: str
    sha: str
    environment: Environment
    env: Mapping[str, str]
    secrets: Mapping[str, str] = field(repr=False, default_factory=dict)
    token: str | None = field(repr=False, default=None)


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
