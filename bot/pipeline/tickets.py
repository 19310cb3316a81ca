"""Job tickets: the environment, secrets and token a job runs with."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from bot import links, messages
from bot.core.trust import may_use_secrets
from bot.executor.base import JobTicket
from bot.github.errors import GitHubError
from bot.pipeline.jobspec import load_job
from bot.pipeline.secrets import secrets_for
from bot.store.records import Job, Run

if TYPE_CHECKING:
    from bot.context import Context


class CodeTokenUnavailable(Exception):
    """No token to fetch a run's code could be made; the message says why, for a log."""


class TicketMaker:
    def __init__(self, context: Context, secrets: Mapping[str, Mapping[str, str]]) -> None:
        self._context = context
        self._secrets = secrets

    async def clone_token(self, run: Run) -> str | None:
        """A token that can only read this repository's code; only needed over http(s).

        It goes to git, beside the build, so it is never the installation's own token,
        which could write check runs, merge, or read every repository of the installation.
        """
        if not run.clone_url.startswith(("http://", "https://")) or run.installation_id is None:
            return None
        if run.repo_id is None:
            raise CodeTokenUnavailable(messages.code_token_unknown_repository(run.repo))
        client = self._context.github.installation(run.installation_id)
        try:
            return await client.code_token(run.repo_id)
        except GitHubError as error:
            message = messages.code_token_refused(run.repo, error.status, str(error))
            raise CodeTokenUnavailable(message) from error

    def environment(self, run: Run, job: Job) -> dict[str, str]:
        """The job's variables over the service's pass-through ones (PATH, HOME…)."""
        spec = load_job(job.spec)
        settings = self._context.settings
        return {
            "CI": "true",
            "GREENLIGHT": "true",
            "GREENLIGHT_SHA": run.sha,
            "GREENLIGHT_REF": run.ref,
            "GREENLIGHT_BASE_REF": run.base_ref,
            "GREENLIGHT_EVENT": run.event,
            "GREENLIGHT_PR": str(run.pr_number or ""),
            "GREENLIGHT_REPOSITORY": run.repo,
            "GREENLIGHT_JOB": job.name,
            "GREENLIGHT_RUN_ID": str(run.id),
            "GREENLIGHT_RUN_URL": links.run_url(settings.public_url, run.id, settings.link_secret),
            **dict(spec.env),
        }

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
