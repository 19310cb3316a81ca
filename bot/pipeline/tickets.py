"""Job tickets: the environment, secrets and token a job runs with."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from bot import links
from bot.core.trust import may_use_secrets
from bot.core.variables import BuildInfo, greenlight_variables
from bot.executor.base import JobTicket
from bot.pipeline.jobspec import load_job
from bot.pipeline.secrets import secrets_for
from bot.store.records import Job, Run

if TYPE_CHECKING:
    from bot.context import Context


class TicketMaker:
    def __init__(self, context: Context, secrets: Mapping[str, Mapping[str, str]]) -> None:
        self._context = context
        self._secrets = secrets

    async def clone_token(self, run: Run) -> str | None:
        """An installation token, only needed to fetch over http(s)."""
        if not run.clone_url.startswith(("http://", "https://")) or run.installation_id is None:
            return None
        return await self._context.github.installation(run.installation_id).token()

    def environment(self, run: Run, job: Job) -> dict[str, str]:
        """The job's variables over the service's pass-through ones (PATH, HOME…)."""
        settings = self._context.settings
        build = BuildInfo(
            sha=run.sha,
            ref=run.ref,
            event=run.event,
            job=job.name,
            base_ref=run.base_ref,
            pr_number=run.pr_number,
            repository=run.repo,
            run_id=run.id,
            run_url=links.run_url(settings.public_url, run.id, settings.link_secret),
        )
        env = dict(load_job(job.spec).env)
        return greenlight_variables(build, passthrough=dict(settings.build_env), env=env)

    async def make(self, run: Run, job: Job) -> JobTicket:
        spec = load_job(job.spec)
        secrets: dict[str, str] = {}
        if may_use_secrets(is_fork=run.fork, trusted=run.trusted):
            secrets, missing = secrets_for(self._secrets, run.repo, spec.secrets)
            if missing:
                await self._context.store.runs.append_log(
                    job.id, f"Secrets not defined on the server: {', '.join(missing)}\n"
                )
        elif spec.secrets:
            await self._context.store.runs.append_log(
                job.id, "Secrets are withheld: this build runs code from a fork.\n"
            )
        return JobTicket(
            job_id=job.id,
            clone_url=run.clone_url,
            sha=run.sha,
            env=self.environment(run, job),
            secrets=secrets,
            token=await self.clone_token(run),
        )
