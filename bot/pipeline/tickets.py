"""Tickets for the executor: the steps, environment, secrets and token a job or deploy runs with."""

from __future__ import annotations

from collections.abc import Mapping

from bot import links, messages
from bot.context import Context
from bot.core.config import Environment
from bot.core.trust import may_use_secrets
from bot.core.variables import BuildInfo, greenlight_variables
from bot.executor.base import Target, Ticket
from bot.github.errors import GitHubError
from bot.pipeline.jobspec import load_job
from bot.pipeline.secrets import secrets_for
from bot.store.deployments import DeploymentRecord, Deployments
from bot.store.records import Job, Run


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
        """The job's variables: Greenlight's, then the job's own `env`. The executor puts
        them over its base (the sandbox's clean PATH, or the service's own unsandboxed)."""
        build = BuildInfo(
            sha=run.sha,
            ref=run.ref,
            event=run.event,
            job=job.name,
            base_ref=run.base_ref,
            pr_number=run.pr_number,
            repository=run.repo,
            run_id=run.id,
            run_url=self._run_url(run),
        )
        return self._variables(build, env=dict(load_job(job.spec).env))

    async def make(self, run: Run, job: Job) -> Ticket:
        """A job of `run`, with the secrets it names unless the code comes from a fork."""
        spec = load_job(job.spec)
        secrets: dict[str, str] = {}
        files: dict[str, str] = {}
        if may_use_secrets(is_fork=run.fork, trusted=run.trusted):
            secrets, missing = secrets_for(self._secrets, run.repo, spec.secrets)
            files, missing_files = secrets_for(self._secrets, run.repo, spec.secret_files)
            if missing or missing_files:
                await self._context.store.runs.append_log(
                    job.id, messages.secrets_missing([*missing, *missing_files])
                )
        elif spec.secrets or spec.secret_files:
            await self._context.store.runs.append_log(job.id, messages.secrets_withheld())
        return Ticket(
            target=Target.job(job.id),
            clone_url=run.clone_url,
            sha=run.sha,
            steps=spec.steps,
            env=self.environment(run, job),
            timeout_seconds=spec.timeout_seconds,
            secrets=secrets,
            secret_files=files,
            token=await self.clone_token(run),
            reports=spec.reports,
        )

    async def make_deploy(
        self,
        record: DeploymentRecord,
        run: Run,
        environment: Environment,
        *,
        pr_number: int | None,
    ) -> Ticket:
        """A deploy of `run`'s SHA to `environment`: its steps, with the secrets it names."""
        secrets, missing = secrets_for(self._secrets, run.repo, environment.secrets)
        files, missing_files = secrets_for(self._secrets, run.repo, environment.secret_files)
        if missing or missing_files:
            await Deployments(self._context.store.engine).append_log(
                record.id, messages.secrets_missing([*missing, *missing_files])
            )
        build = BuildInfo(
            sha=run.sha,
            ref=run.ref,
            event="deployment",
            job=f"deploy: {environment.name}",
            pr_number=pr_number,
            repository=run.repo,
            run_id=run.id,
            run_url=self._run_url(run),
            environment=environment.name,
            deployment_id=record.github_id,
        )
        return Ticket(
            target=Target.deploy(record.id),
            clone_url=run.clone_url,
            sha=run.sha,
            steps=environment.steps,
            env=self._variables(build, env={}),
            timeout_seconds=environment.timeout_seconds,
            secrets=secrets,
            secret_files=files,
            token=await self.clone_token(run),
        )

    def _variables(self, build: BuildInfo, *, env: Mapping[str, str]) -> dict[str, str]:
        return greenlight_variables(build, env=env)

    def _run_url(self, run: Run) -> str:
        settings = self._context.settings
        return links.run_url(settings.public_url, run.id, settings.link_secret)
