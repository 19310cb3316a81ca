"""Reuse by tree, as the pipeline does it: record the tree a run builds and each job's input
digest, look up earlier jobs of the same tree in the store, and finish the jobs that
`bot.core.reuse.choose_reuse` says need not run, pointing at the job they reuse.

A reused job is a job like any other in the store (completed, its conclusion, steps and
test report copied), so pages, merging and deploys see it as a finished job; its check run
is created once, already completed, by the pipeline's usual reporting.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from bot import links, messages
from bot.context import Context
from bot.core.config import Config
from bot.core.plan import PlannedJob
from bot.core.reuse import EarlierJob, JobInputs, Reuse, choose_reuse, config_digest, input_digest
from bot.core.trust import may_use_secrets
from bot.pipeline.commits import CommitReader
from bot.store.records import Job, Run, Status

log = logging.getLogger("greenlight.pipeline")


class Reuser:
    def __init__(
        self,
        context: Context,
        commits: CommitReader,
        secrets: Mapping[str, Mapping[str, str]],
    ) -> None:
        self._context = context
        self._commits = commits
        self._secrets = secrets

    async def tree(self, run: Run) -> str | None:
        """The tree of the run's commit, for the run to record (None if git cannot tell)."""
        return run.tree if run.tree is not None else await self._commits.tree(run)

    def digests(self, run: Run, config: Config, plan: Sequence[PlannedJob]) -> dict[str, str]:
        """Each planned job's input digest, by name."""
        of_config = config_digest(config)
        return {
            job.name: input_digest(job, config=of_config, secret_names=self._given(run, job))
            for job in plan
        }

    def _given(self, run: Run, job: PlannedJob) -> tuple[str, ...]:
        """The names of the secrets the job's steps get (none for a fork's build)."""
        if not may_use_secrets(is_fork=run.fork, trusted=run.trusted):
            return ()
        defined = self._secrets.get(run.repo, {})
        return tuple(name for name in (*job.secrets, *job.secret_files) if name in defined)

    async def take_results(self, run: Run, plan: Sequence[PlannedJob], jobs: Sequence[Job]) -> int:
        """Finish the run's queued jobs whose tree and inputs already passed; how many."""
        if run.tree is None:
            return 0
        queued = {job.name: job for job in jobs if job.status == Status.QUEUED}
        inputs = [
            JobInputs(
                name=planned.name,
                digest=queued[planned.name].input_digest or "",
                needs=planned.needs,
                may_be_reused=planned.reuse,
            )
            for planned in plan
            if planned.name in queued and queued[planned.name].input_digest
        ]
        digests = sorted({job.digest for job in inputs})
        found = await self._context.store.runs.of_tree(run.repo, run.tree, digests)
        earlier = [_earlier(other_run, job) for other_run, job in found if other_run.id != run.id]
        reuses = choose_reuse(inputs, earlier, is_fork=run.fork)
        for reuse in reuses:
            await self._take(run, queued[reuse.name], reuse)
        if reuses:
            self._context.metrics.jobs_reused.inc(len(reuses))
            log.info(
                "%s@%s: %d of %d jobs reused from the same tree",
                run.repo,
                run.sha[:7],
                len(reuses),
                len(jobs),
                extra={"repo": run.repo},
            )
        return len(reuses)

    async def _take(self, run: Run, job: Job, reuse: Reuse) -> None:
        """Complete `job` with the result of the job it reuses, pointing at it."""
        store = self._context.store
        origin = await store.runs.job(reuse.origin_job_id)
        assert origin is not None, "jobs are never deleted"
        origin_run = await store.runs.get(origin.run_id)
        assert origin_run is not None, "runs are never deleted"
        settings = self._context.settings
        note = messages.reused_note(
            job=origin.name,
            run_id=origin_run.id,
            run_url=links.run_url(settings.public_url, origin_run.id, settings.link_secret),
            sha=origin_run.sha,
            commit_url=f"{settings.web_url}/{origin_run.repo}/commit/{origin_run.sha}",
        )
        await store.runs.append_log(
            job.id,
            messages.reused_log(
                job=origin.name,
                run_id=origin_run.id,
                sha=origin_run.sha,
                log_url=links.job_log_url(settings.public_url, origin.id, settings.link_secret),
            ),
        )
        await store.runs.update_job(
            job.id,
            status=Status.COMPLETED,
            conclusion=reuse.conclusion,
            reused_job_id=origin.id,
            note=note,
            steps=origin.steps,
            report=origin.report,
            started_at=origin.started_at,
            finished_at=origin.finished_at,
        )


def _earlier(run: Run, job: Job) -> EarlierJob:
    return EarlierJob(
        job_id=job.id,
        name=job.name,
        digest=job.input_digest,
        conclusion=job.conclusion,
        run_conclusion=run.conclusion,
        run_trusted=run.trusted,
        fork=run.fork,
        reused_job_id=job.reused_job_id,
    )
