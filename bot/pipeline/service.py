"""The pipeline: turns a trigger into a run of jobs, schedules them, reports check runs.

Everything it needs to carry on lives in the store, so a restart resumes where the last
process stopped (`recover`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import assert_never

from bot import messages
from bot.context import Context
from bot.core.config import CONFIG_PATH, Config, ConfigError
from bot.core.plan import (
    PlannedJob,
    honours_skip_markers,
)
from bot.core.replan import RunJob, jobs_to_add, plan_key
from bot.core.schedule import JobState, failed_jobs, next_step, with_dependants
from bot.executor import messages as executor_messages
from bot.executor.base import Executor, Target, TargetKind
from bot.executor.local import LocalExecutor
from bot.executor.sandbox import Sandbox
from bot.executor.workspace import GitCache, GitError
from bot.github.backlog import is_worth_retrying
from bot.github.errors import GitHubError
from bot.pipeline import reports
from bot.pipeline.commits import CommitReader
from bot.pipeline.jobspec import dump_job, load_job
from bot.pipeline.planning import Planner
from bot.pipeline.requests import BuildRequest
from bot.pipeline.reuse import Reuser
from bot.pipeline.run_locks import RunLocks
from bot.pipeline.secrets import load_secrets
from bot.pipeline.tickets import CodeTokenUnavailable, TicketMaker
from bot.repo_config import ConfigErrors, NoConfig, RepoConfig, config_from_text, read_config
from bot.store import NewJob, NewRun
from bot.store.owners import Work
from bot.store.records import Job, Run, Status

log = logging.getLogger("greenlight.pipeline")
# How long a run a stopped replica recorded but never planned waits for its delivery to
# be handled again (a claim's lease, 30 s, and a restart fit well within it).
UNPLANNED_GRACE_SECONDS = 120.0
RunHook = Callable[[Run], Awaitable[None]]


class Pipeline:
    def __init__(self, context: Context, executor: Executor | None = None) -> None:
        self.context = context
        settings = context.settings
        self.cache = GitCache(settings.work_dir / "cache")
        self.sandbox = Sandbox(settings.sandbox)
        self.executor: Executor = executor or _make_executor(context, self.cache, self.sandbox)
        self.executor.listeners.add(
            TargetKind.JOB, started=self._job_started, finished=self._job_finished
        )
        secrets = load_secrets(settings.secrets_file)
        self.tickets = TicketMaker(context, secrets)
        self.commits = CommitReader(self.cache, self.tickets)
        self.reuse = Reuser(context, self.commits, secrets)
        self.planner = Planner(context.store, self.commits)
        self.reports = reports.Reports(context)
        self.on_run_completed: list[RunHook] = []
        self._started: set[int] = set()  # job ids handed to this replica's executor
        self._unplanned: set[asyncio.Task[None]] = set()  # runs waiting for their delivery
        # One planner or scheduler at a time per run, on any replica: a trigger that joins
        # a run sees its first plan, and a job is handed to one executor.
        self.run_locks = RunLocks(context.store)

    # Life cycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        await self.executor.start()
        if self.context.settings.executor == "local":  # Celery workers check their own
            await self.report_sandbox()

    async def report_sandbox(self) -> str:
        """Say in the log how builds are isolated here; the same words for the status page."""
        problem = await self.sandbox.problem()
        policy = self.sandbox.policy
        status = executor_messages.sandbox_status(policy.mode, policy.network, problem)
        if not self.sandbox.enabled:
            log.warning(executor_messages.sandbox_off())
        elif problem is not None:
            log.error(problem)
        else:
            log.info(status)
        return status

    async def stop(self) -> None:
        for task in list(self._unplanned):
            task.cancel()
        await self.executor.stop()
        await self.reports.progress.close()

    async def recover(self) -> None:
        """At start-up: take over what no live replica holds (a previous process's work)."""
        await self.take_over(await self.context.live_replicas())

    async def take_over(self, live: set[str]) -> None:
        """Carry on the jobs and runs of replicas that are not in `live` (they stopped).

        Their jobs in progress are run again here (the local executor's processes died
        with their replica) or watched (a Celery worker runs them still); their runs are
        scheduled from here on.
        """
        if self.context.settings.credentials is None:
            return
        owners, me = self.context.store.owners, self.context.replica_id
        runs: set[int] = set()
        for job_id, previous in await owners.abandoned(Work.JOB, live):
            if await owners.take(Work.JOB, job_id, owner=me, previous=previous):
                runs.add(await self._take_job(await self._job(job_id)))
        for run_id, previous in await owners.abandoned(Work.RUN, live):
            if await owners.take(Work.RUN, run_id, owner=me, previous=previous):
                runs.add(run_id)
        for run_id in sorted(runs):
            await self._resume(run_id)

    async def _take_job(self, job: Job) -> int:
        """Watch a taken-over job or queue it to run again; the id of its run."""
        if job.status == Status.IN_PROGRESS and self.executor.owns_running_jobs:
            self._started.add(job.id)
            self.executor.watch(Target.job(job.id))
        elif job.status == Status.IN_PROGRESS:
            await self.context.store.runs.append_log(job.id, messages.restarted_rerun())
            await self.context.store.runs.update_job(job.id, status=Status.QUEUED)
        return job.run_id

    async def _resume(self, run_id: int) -> None:
        store = self.context.store
        run = await store.runs.get(run_id)
        if run is None or run.status == Status.COMPLETED or not run.trusted:
            return  # over, or still waiting for /ok-to-test
        if await store.runs.jobs(run.id):
            await self.advance(run.id)
            return
        # The replica stopped between recording the run and planning it. The delivery
        # that started it was answered 202, so it is handled again (after a restart, or
        # once its claim runs out) and plans this run (`_join`); only a run that no
        # delivery comes back for is failed, saying why.
        wait = run.created_at + UNPLANNED_GRACE_SECONDS - self.context.clock()
        if wait > 0:
            task = asyncio.create_task(self._fail_if_unplanned(run.id, wait))
            self._unplanned.add(task)
            task.add_done_callback(self._unplanned.discard)
            return
        await self._fail_if_unplanned(run.id, 0)

    async def _fail_if_unplanned(self, run_id: int, wait: float) -> None:
        await asyncio.sleep(wait)
        store = self.context.store
        async with self.run_locks.hold(run_id):
            run = await store.runs.get(run_id)
            if run is None or run.plans or run.status == Status.COMPLETED:
                return
            if await store.runs.jobs(run_id):
                return
            await self.reports.internal_error(run, messages.stopped_before_planning())
            await self._finish_run(run.id, "failure", note="internal error")

    def is_live(self, job_id: int) -> bool:
        """True while a job is with the executor: handed over and not reported finished."""
        return job_id in self._started

    # Triggers --------------------------------------------------------------------------------

    async def build(self, request: BuildRequest) -> Run | None:
        """Build a commit once: a second trigger for the same SHA joins the first run."""
        store = self.context.store
        run, created = await store.runs.start(
            NewRun(
                repo=request.repo,
                repo_id=request.repo_id,
                sha=request.sha,
                installation_id=request.installation_id,
                clone_url=request.clone_url,
                event=request.event,
                ref=request.ref,
                base_ref=request.base_ref,
                before_sha=request.before_sha,
                pr_number=request.pr_number,
                fork=request.is_fork,
                owner=self.context.replica_id,
            ),
            now=self.context.clock(),
        )
        async with self.run_locks.hold(run.id):
            if not created:
                return await self._join(run, request)
            try:
                return await self._start_new_run(run, request)
            except Exception as error:
                if is_worth_retrying(error):
                    raise  # GitHub failed: the trigger is handled again later, and starts it
                # Never leave a commit pending forever: say on GitHub that the build broke.
                await self.reports.internal_error(run, f"{type(error).__name__}: {error}")
                await self._finish_run(run.id, "failure", note="internal error")
                raise

    async def _join(self, run: Run, request: BuildRequest) -> Run | None:
        """A second trigger for a built SHA: the run takes its facts and adds its plan.

        A commit built for a pull request and then pushed to a branch (a fast-forward
        merge) now stands for the push, so a default-branch deploy sees it; if the run is
        over and the push's plan adds nothing, the run-completed hooks hear of it again.
        """
        store = self.context.store
        if not run.plans and run.trusted and run.status != Status.COMPLETED:
            return await self._start_new_run(run, request)  # its start failed on GitHub
        became_a_push = request.event == "push" and run.event != "push"
        if became_a_push and run.fork and run.status == Status.COMPLETED:
            return await self._build_again_as_own(run, request)
        if became_a_push:
            await store.runs.update(run.id, now=self.context.clock(), event="push", ref=request.ref)
        elif request.pr_number is not None and run.pr_number is None:
            await store.runs.update(
                run.id,
                now=self.context.clock(),
                pr_number=request.pr_number,
                base_ref=request.base_ref,
            )
        run = await store.runs.get(run.id) or run
        key = plan_key(request.event, request.pr_number)
        # A run with no plan yet has no config, a broken one, or waits for /ok-to-test:
        # nothing to add to (approval plans it).
        added = False
        if run.plans and key not in run.plans and run.trusted:
            added = await self._add_plan(run, request, key)
        updated = await store.runs.get(run.id)
        if became_a_push and not added and updated and updated.status == Status.COMPLETED:
            await self.run_locks.after(run.id, functools.partial(self._announce, updated))
        return updated

    async def _build_again_as_own(self, run: Run, request: BuildRequest) -> Run | None:
        """A fork's commit pushed to a branch of the repository (its pull request
        fast-forwarded): the fork's build ran without secrets, from code its author
        controlled, so its result never stands for the repository's own build (nor
        deploys). The commit is built again, every job, as the repository's code.

        A fork's build still running when its commit is pushed keeps its fork mark: it is
        never deployed, and the branch's next push builds as usual.
        """
        store = self.context.store
        await store.runs.update(
            run.id,
            now=self.context.clock(),
            event="push",
            ref=request.ref,
            fork=False,
            trusted=True,
        )
        log.info(
            "%s@%s: a fork's commit is now on %s; building it again as the repository's own",
            run.repo,
            run.sha[:7],
            request.ref,
            extra={"repo": run.repo},
        )
        await self.rerun(run.id)
        adopted = await store.runs.get(run.id)
        key = plan_key(request.event, request.pr_number)
        if adopted is not None and adopted.plans and key not in adopted.plans:
            await self._add_plan(adopted, request, key)
        return await store.runs.get(run.id)

    async def _add_plan(self, run: Run, request: BuildRequest, key: str) -> bool:
        """Plan the run again with the joining trigger's facts; True when jobs were added."""
        store = self.context.store
        config = await self._read_config(run)
        if config is None:
            return False
        marker = await self.planner.skip_marker(run, config, request.commit_message)
        plan = await self.planner.plan_for(run, config, request, marker)
        if marker is not None and not honours_skip_markers(request.event):
            await store.runs.update(run.id, now=self.context.clock(), ignored_marker=marker)
        current = [_run_job(job) for job in await store.runs.jobs(run.id)]
        added = jobs_to_add(current, plan)
        await store.runs.add_plan(run.id, key, now=self.context.clock())
        if not added:
            return False
        order = {job.name: index for index, job in enumerate(plan)}
        digests = self.reuse.digests(run, config, added)
        await self._add_jobs(
            run.id, [_new_job(job, order[job.name], digests[job.name]) for job in added]
        )
        await self.advance(run.id)
        return True

    async def _add_jobs(self, run_id: int, new_jobs: Sequence[NewJob]) -> None:
        """Add jobs to a run, reopened if it was over, with their check runs."""
        store = self.context.store
        async with self.run_locks.hold(run_id):
            run = await store.runs.get(run_id)
            assert run is not None
            reopened = run.status == Status.COMPLETED
            added = await store.runs.add_jobs(run_id, new_jobs)
            await store.runs.update(
                run_id, now=self.context.clock(), status=Status.IN_PROGRESS, conclusion=None
            )
            run = await store.runs.get(run_id) or run
            jobs = await store.runs.jobs(run_id)
            await self.reports.create_job_checks(run, added, starting=self._starting(jobs))
            if reopened:  # the aggregate check completed: a new one runs till the end
                await self.reports.create_aggregate(run, jobs)

    async def _start_new_run(self, run: Run, request: BuildRequest) -> Run | None:
        store = self.context.store
        config = await self._read_config(run)
        if config is None:
            return run
        # A pull request's head never honours a skip marker; its message, which git takes
        # tens of milliseconds to read, only adds a note to the aggregate check: read it
        # after the jobs' check runs are out (`_note_ignored_marker`).
        honoured = honours_skip_markers(request.event)
        marker = None
        if honoured or request.commit_message is not None:
            marker = await self.planner.skip_marker(run, config, request.commit_message)
        if marker is not None and honoured:
            await self._skip_by_marker(run, config, request, marker)
            return await store.runs.get(run.id)
        if marker is not None:
            await store.runs.update(run.id, now=self.context.clock(), ignored_marker=marker)
        if request.pr_number is not None and not await self.planner.may_run(request, config):
            await store.runs.update(run.id, now=self.context.clock(), trusted=False)
            await self.reports.awaiting_approval(run, request.author)
            return await store.runs.get(run.id)
        plan = await self.planner.plan_for(run, config, request, marker)
        late = config if not honoured and request.commit_message is None else None
        await self._plan_and_start(
            run, config, plan, plan_key(request.event, request.pr_number), marker_config=late
        )
        return await store.runs.get(run.id)

    async def _skip_by_marker(
        self, run: Run, config: Config, request: BuildRequest, marker: str
    ) -> None:
        """A push that asks not to be built: every job's check run and the aggregate end
        `skipped`, so no required check waits forever."""
        store = self.context.store
        plan = await self.planner.plan_for(run, config, request, marker)
        await store.runs.add_jobs(run.id, [_new_job(job, order) for order, job in enumerate(plan)])
        await store.runs.add_plan(
            run.id, plan_key(request.event, request.pr_number), now=self.context.clock()
        )
        run = await store.runs.get(run.id) or run
        await self.reports.create_job_checks(run, await store.runs.jobs(run.id))
        await self.reports.skipped(run, marker)
        await self._finish_run(run.id, "skipped")

    async def approve(self, repo: str, sha: str) -> Run | None:
        """Build a run held for `/ok-to-test` (its head SHA was approved)."""
        run = await self.context.store.runs.for_sha(repo, sha)
        if run is None or run.trusted:
            return run
        await self.context.store.runs.update(run.id, now=self.context.clock(), trusted=True)
        run = await self.context.store.runs.get(run.id)
        assert run is not None
        config = await self._read_config(run)
        if config is not None:
            plan = await self.planner.plan(run, config, event=run.event, branch=run.ref, since=None)
            await self._plan_and_start(run, config, plan, plan_key(run.event, run.pr_number))
        return run

    async def cancel_run(self, run_id: int, reason: str) -> None:
        """Stop every unfinished job of a run; their check runs end `cancelled`."""
        store = self.context.store
        run = await store.runs.get(run_id)
        if run is None or run.status == Status.COMPLETED:
            return
        async with self.run_locks.hold(run_id):
            for job in await store.runs.jobs(run_id):
                if job.status == Status.COMPLETED:
                    continue
                if job.id in self._started and self.executor.cancel(Target.job(job.id)):
                    continue  # the executor records `cancelled` and calls back
                await store.runs.update_job(
                    job.id, status=Status.COMPLETED, conclusion="cancelled", skip_reason=reason
                )
                await self.reports.job_done(run, await self._job(job.id))
        if not run.trusted or run.aggregate_check_id is None:
            await self.reports.cancelled(run, reason)
            await self._finish_run(run.id, "cancelled")
            return
        await self.advance(run_id)

    async def cancel_pull_request(
        self, repo: str, number: int, *, keep_sha: str | None, reason: str
    ) -> None:
        """Cancel the PR's runs at other SHAs (superseded) or all of them (closed)."""
        for run in await self.context.store.runs.for_pull_request(repo, number):
            if run.sha != keep_sha and run.status != Status.COMPLETED:
                await self.cancel_run(run.id, reason)

    async def rerun(
        self, run_id: int, *, names: set[str] | None = None, failed_only: bool = False
    ) -> list[str]:
        """Run jobs again as new attempts (with what depends on them); return their names."""
        store = self.context.store
        run = await store.runs.get(run_id)
        if run is None or not run.trusted:
            return []
        async with self.run_locks.hold(run_id):
            jobs = await store.runs.jobs(run_id)
            if not jobs:
                return []
            states = [_state(job) for job in jobs]
            if failed_only:
                chosen = failed_jobs(states)
            elif names is not None:
                chosen = with_dependants(states, names & {job.name for job in jobs})
            else:
                chosen = {job.name for job in jobs}
            if not chosen or any(j.status != Status.COMPLETED for j in jobs if j.name in chosen):
                return []
            again = [
                NewJob(name=job.name, spec=job.spec, input_digest=job.input_digest)
                for job in jobs
                if job.name in chosen
            ]
            new_jobs = await store.runs.add_jobs(run_id, again)
            await store.runs.update(
                run_id, now=self.context.clock(), status=Status.IN_PROGRESS, conclusion=None
            )
            run = await store.runs.get(run_id)
            assert run is not None
            jobs = await store.runs.jobs(run_id)
            await self.reports.create_job_checks(run, new_jobs, starting=self._starting(jobs))
            await self.reports.create_aggregate(run, jobs)
        await self.advance(run_id)
        return sorted(chosen)

    # Scheduling ------------------------------------------------------------------------------

    async def advance(self, run_id: int) -> None:
        """Start what may start, skip what cannot run, and finish the run when all is done."""
        async with self.run_locks.hold(run_id):
            while await self._advance_once(run_id):
                pass  # a job failed before it started: what needs it can be decided now

    async def _advance_once(self, run_id: int) -> bool:
        """One scheduling pass; True when a job ended without starting (look again)."""
        store = self.context.store
        run = await store.runs.get(run_id)
        if run is None or run.status == Status.COMPLETED:
            return False
        jobs = await store.runs.jobs(run_id)
        by_name = {job.name: job for job in jobs}
        started = {job.name for job in jobs if self._is_started(job)}
        step = next_step([_state(job) for job in jobs], started=started)
        for skip in step.skip:
            job = by_name[skip.name]
            await store.runs.update_job(
                job.id,
                status=Status.COMPLETED,
                conclusion="skipped",
                skip_reason=messages.needs_failed(skip.need, skip.need_conclusion),
            )
            await self.reports.job_done(run, await self._job(job.id))
        ended_unstarted = False
        for name in step.start:
            job = by_name[name]
            try:
                ticket = await self.tickets.make(run, job)
            except CodeTokenUnavailable as error:
                await self._fail_unstarted(run, job, str(error))
                ended_unstarted = True
                continue
            self._started.add(job.id)
            await store.owners.own(Work.JOB, job.id, self.context.replica_id)
            self.executor.submit(ticket)
        if step.start:  # this replica schedules the run now
            await store.owners.own(Work.RUN, run_id, self.context.replica_id)
        # A job's row ends before its end is reported (a Celery worker writes it; two jobs
        # end at once): the run concludes only once every job's check run has.
        reported = not any(job.id in self._started for job in jobs)
        if step.finished and reported:
            conclusion = await self.reports.aggregate_done(run, await store.runs.jobs(run_id))
            await self._finish_run(run_id, conclusion)
        return ended_unstarted

    def _starting(self, jobs: Sequence[Job]) -> set[str]:
        """The jobs the next scheduling pass hands to the executor: their check runs are
        created `in_progress` (GitHub's `queued` then `in_progress` would be two writes)."""
        started = {job.name for job in jobs if self._is_started(job)}
        starting = next_step([_state(job) for job in jobs], started=started).start
        settings = self.context.settings
        if settings.executor == "local":  # beyond its free slots a job waits, `queued`
            starting = starting[: max(0, settings.concurrency - len(self._started))]
        return set(starting)

    def _is_started(self, job: Job) -> bool:
        """Handed to an executor: this replica's, or another's (its owner, if not this one;
        a replica that stops loses its jobs to the one that takes them over)."""
        return job.id in self._started or job.owner not in (None, self.context.replica_id)

    async def _fail_unstarted(self, run: Run, job: Job, reason: str) -> None:
        store = self.context.store
        await store.runs.append_log(job.id, reason + "\n")
        now = self.context.clock()
        await store.runs.update_job(
            job.id, status=Status.COMPLETED, conclusion="failure", finished_at=now
        )
        await self.reports.job_done(run, await self._job(job.id))

    async def _job_started(self, job_id: int) -> None:
        job = await self._job(job_id)
        run = await self.context.store.runs.get(job.run_id)
        if run is not None:
            await self.reports.job_started(run, job)

    async def _job_finished(self, job_id: int) -> None:
        try:
            run = await self._report_finished(job_id)
        finally:
            self._started.discard(job_id)  # reported: the run may conclude (`_advance_once`)
        if run is not None:
            await self.advance(run.id)

    async def _report_finished(self, job_id: int) -> Run | None:
        """Count the job in the metrics and complete its check run; its run."""
        job = await self._job(job_id)
        run = await self.context.store.runs.get(job.run_id)
        if run is None or job.status != Status.COMPLETED:
            return None  # submitted twice: the replica whose copy claimed it reports it
        self.context.metrics.jobs.labels(job.conclusion or "unknown").inc()
        if job.started_at is not None and job.finished_at is not None:
            self.context.metrics.job_seconds.observe(job.finished_at - job.started_at)
        await self.reports.job_done(run, job)
        return run

    # Steps of a build ------------------------------------------------------------------------

    async def config_at(self, run: Run) -> RepoConfig:
        """The config at the run's SHA: from the commit, which planning fetches anyway
        (its message, its changed files); from the contents API when git cannot read it."""
        try:
            return config_from_text(await self.commits.file_text(run, CONFIG_PATH))
        except (GitError, CodeTokenUnavailable) as error:
            log.info("reading the config of %s through the API: %s", run.sha[:7], error)
        client = self.context.github.installation(run.installation_id or 0)
        return await read_config(client, run.repo, run.sha)

    async def _read_config(self, run: Run) -> Config | None:
        """The config at the run's SHA; None when absent (silence) or invalid (reported)."""
        try:
            config = await self.config_at(run)
        except GitHubError as error:
            if is_worth_retrying(error):
                raise  # GitHub failing is no fault of the config: tried again later
            config = ConfigErrors((ConfigError("", 1, messages.config_unreadable(str(error))),))
        match config:
            case Config():
                return config
            case NoConfig():
                await self._finish_run(run.id, "neutral", note="no config file")
            case ConfigErrors(errors):
                await self.reports.config_errors(run, errors)
                await self._finish_run(run.id, "failure")
            case _:
                assert_never(config)
        return None

    async def _plan_and_start(
        self,
        run: Run,
        config: Config,
        plan: Sequence[PlannedJob],
        key: str,
        *,
        marker_config: Config | None = None,
    ) -> None:
        """Record the plan, show its check runs and start its jobs; with `marker_config`,
        look for a skip marker the head does not honour once the jobs' checks are out."""
        store = self.context.store
        digests = self.reuse.digests(run, config, plan)
        await store.runs.add_jobs(
            run.id, [_new_job(job, order, digests[job.name]) for order, job in enumerate(plan)]
        )
        await store.runs.add_plan(run.id, key, now=self.context.clock())
        tree = await self.reuse.tree(run)
        await store.runs.update(
            run.id, now=self.context.clock(), status=Status.IN_PROGRESS, tree=tree
        )
        run = await store.runs.get(run.id) or run
        await self.reuse.take_results(run, plan, await store.runs.jobs(run.id))
        jobs = await store.runs.jobs(run.id)
        await self.reports.create_job_checks(run, jobs, starting=self._starting(jobs))
        if marker_config is not None:
            run = await self._note_ignored_marker(run, marker_config)
        await self.reports.create_aggregate(run, jobs)
        await self.advance(run.id)

    async def _note_ignored_marker(self, run: Run, config: Config) -> Run:
        """The run, noting a skip marker in its commit's message that it does not honour."""
        marker = await self.planner.skip_marker(run, config, None)
        if marker is None:
            return run
        await self.context.store.runs.update(
            run.id, now=self.context.clock(), ignored_marker=marker
        )
        return await self.context.store.runs.get(run.id) or run

    async def _finish_run(self, run_id: int, conclusion: str, *, note: str | None = None) -> None:
        await self.context.store.runs.update(
            run_id,
            now=self.context.clock(),
            status=Status.COMPLETED,
            conclusion=conclusion,
            note=note,
        )
        run = await self.context.store.runs.get(run_id)
        if run is not None and note != "no config file":
            # Merging and deploying are slow: after the run's lock, if this task holds it.
            await self.run_locks.after(run_id, functools.partial(self._announce, run))

    async def _announce(self, run: Run) -> None:
        for hook in self.on_run_completed:
            try:
                await hook(run)
            except Exception as error:  # one hook's failure must not stop the others
                if is_worth_retrying(error):  # a merge or deploy GitHub failed: not lost
                    await self.context.github.backlog.again(
                        f"run-completed:{hook.__qualname__}:{run.id}",
                        "run-completed",
                        {"run_id": run.id, "hook": hook.__qualname__},
                        what=f"{hook.__qualname__} after run {run.id}",
                        error=error,
                    )
                    continue
                log.exception("run-completed hook %s failed", hook.__qualname__)

    async def announce_again(self, run_id: int, hook_name: str) -> None:
        """Tell the run-completed hook named `hook_name` (a merge, a deploy that GitHub
        failed) of the run again; it re-reads what it acts on."""
        run = await self.context.store.runs.get(run_id)
        if run is None:
            return  # pruned since
        for hook in self.on_run_completed:
            if hook.__qualname__ == hook_name:
                await hook(run)

    async def _job(self, job_id: int) -> Job:
        job = await self.context.store.runs.job(job_id)
        assert job is not None, f"job {job_id} vanished from the store"
        return job


def _make_executor(context: Context, cache: GitCache, sandbox: Sandbox) -> Executor:
    settings = context.settings
    if settings.executor == "celery":
        from bot.executor.celery import CeleryExecutor  # imported only when chosen

        assert settings.broker_url is not None
        assert settings.ticket_key is not None
        return CeleryExecutor(
            context.store, broker_url=settings.broker_url, ticket_key=settings.ticket_key
        )
    return LocalExecutor(
        context.store,
        work_dir=settings.work_dir,
        concurrency=settings.concurrency,
        sandbox=sandbox,
        cache=cache,
    )


def _state(job: Job) -> JobState:
    return JobState(
        name=job.name, needs=load_job(job.spec).needs, status=job.status, conclusion=job.conclusion
    )


def _run_job(job: Job) -> RunJob:
    planned = load_job(job.spec)
    return RunJob(
        name=job.name,
        skipped_at_planning=planned.skip_reason is not None,
        skipped_by_marker=planned.skipped_by_marker,
    )


def _new_job(job: PlannedJob, order: int, input_digest: str | None = None) -> NewJob:
    if job.skip_reason is not None:
        return NewJob(
            name=job.name,
            spec=dump_job(job, order=order),
            status=Status.COMPLETED,
            conclusion="skipped",
            skip_reason=job.skip_reason,
        )
    return NewJob(name=job.name, spec=dump_job(job, order=order), input_digest=input_digest)
