"""Reconciliation, level-triggered: what should exist is compared with what does.

For each repository Greenlight knows (from installation events, or from its runs):
- the default branch's tip with no run (or built only for a pull request) is built as a
  push, so it deploys as a push would;
- an open pull request whose head has no run, or a run without its plan, is built;
- a green pull request changed since the previous pass is evaluated for merging again;
- a check run of ours that GitHub still shows `queued` or `in_progress` on one of those
  heads while the store says its job (or its run, for the aggregate) completed — its final
  update lost to a GitHub failure and a restart — is brought up to what the store says;
and across repositories, a job the store says runs while nothing runs it is run again.
A repository whose tip was built without a config file is left alone after the tip.

The cost is bounded: three conditional reads a repository (GitHub answers `304` to an
unchanged one, free of rate limit), one page of open pull requests (the 100 most recently
updated), at most `MAX_REPOSITORIES` repositories a pass; and one conditional read of our
check runs per head whose run has a job finished since GitHub was last seen to agree, at
most `MAX_CHECK_RUN_READS` a pass.
Made-up deliveries go through the store's dedupe (see `synthetic`), so a pass repeated, or
run by two replicas, builds nothing twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from cachetools import LRUCache

from bot import messages
from bot.core.lenient import Json, number_at, object_at, text_at
from bot.core.recovery import parse_time
from bot.core.replan import plan_key
from bot.dispatch.queue import Dispatcher
from bot.github.conditional import RepositoryReads
from bot.github.errors import GitHubError, NotFound
from bot.metrics import Metrics
from bot.recovery.synthetic import pull_request_delivery, push_delivery
from bot.replica import REPLICA_TTL_SECONDS
from bot.store.records import Delivery, Run, Status
from bot.wiring import Services

log = logging.getLogger("greenlight.recovery")
MAX_REPOSITORIES = 500
MAX_OPEN_PULLS = 100
MAX_CHECK_RUN_READS = 200  # heads whose check runs are compared with the store, a pass
UNFINISHED = frozenset({"queued", "in_progress"})
AGREED_RUNS = 10_000  # runs remembered as agreeing with GitHub (a few hundred KB)
SETTLE_SECONDS = 60.0  # how long after a job finished its check run may still be on its way
NO_CONFIG = "no config file"


@dataclass
class ReconcileReport:
    """What one reconciliation did."""

    repositories: int = 0
    built: list[str] = field(default_factory=list)  # ids of the made-up deliveries handled
    evaluated: int = 0
    restarted_jobs: int = 0
    checks_compared: int = 0  # heads whose check runs were read from GitHub
    checks_completed: int = 0  # runs whose check runs GitHub showed unfinished, brought up
    failed: int = 0  # repositories that could not be read (logged)


class Reconciler:
    def __init__(
        self, services: Services, dispatcher: Dispatcher[Any], reads: RepositoryReads
    ) -> None:
        self._services = services
        self._store = services.context.store
        self._metrics: Metrics = services.context.metrics
        self._dispatcher = dispatcher
        self._reads = reads
        self._previous_pass: float | None = None  # green PRs changed since are evaluated
        self._compared: set[int] = set()  # runs whose check runs this pass compared
        # Runs whose finished check runs GitHub showed finished: not read again until another
        # of their jobs finishes (a re-run), so a quiet repository costs no more each pass.
        self._agreed: LRUCache[tuple[int, frozenset[int]], bool] = LRUCache(AGREED_RUNS)

    async def run(self, *, now: float) -> ReconcileReport:
        """One reconciliation of every known repository, then of stalled jobs."""
        report = ReconcileReport()
        self._compared.clear()
        repositories = await self._store.recovery_points.repositories()
        for repo, installation_id in repositories[:MAX_REPOSITORIES]:
            report.repositories += 1
            try:
                await self._repository(repo, installation_id, report, now=now)
            except GitHubError as error:
                report.failed += 1
                log.warning("could not reconcile %s: %s", repo, error, extra={"repo": repo})
        await self._restart_stalled_jobs(report, now=now)
        self._previous_pass = now
        return report

    async def _repository(
        self, repo: str, installation_id: int, report: ReconcileReport, *, now: float
    ) -> None:
        try:
            repository = await self._reads.repository(installation_id, repo)
        except NotFound:
            return  # deleted, renamed, or the app lost access: its events say what next
        branch = text_at(repository, "default_branch")
        tip = await self._reads.branch_tip(installation_id, repo, branch)
        tip_run = await self._store.runs.for_sha(repo, tip) if tip else None
        if tip and (tip_run is None or plan_key("push", None) not in tip_run.plans):
            await self._submit(push_delivery(repository, tip, installation_id, now=now), report)
        if tip_run is not None and tip_run.note == NO_CONFIG:
            return
        if tip_run is not None:
            await self._compare_check_runs(tip_run, report, now=now)
        pulls = await self._reads.open_pull_requests(installation_id, repo, limit=MAX_OPEN_PULLS)
        for pull in pulls if isinstance(pulls, list) else []:
            await self._pull_request(repository, pull, installation_id, report, now=now)

    async def _pull_request(
        self,
        repository: Json,
        pull: Json,
        installation_id: int,
        report: ReconcileReport,
        *,
        now: float,
    ) -> None:
        repo = text_at(repository, "full_name")
        number = number_at(pull, "number")
        head = text_at(object_at(pull, "head"), "sha")
        run = await self._store.runs.for_sha(repo, head)
        if run is None or _lacks_plan(run, number):
            await self._submit(
                pull_request_delivery(repository, pull, installation_id, now=now), report
            )
            return
        await self._compare_check_runs(run, report, now=now)
        if self._should_evaluate(run, pull):
            report.evaluated += 1
            self._metrics.reconciled.labels("merge_evaluated").inc()
            await self._services.merging.evaluate(installation_id, repo, number)

    async def _compare_check_runs(self, run: Run, report: ReconcileReport, *, now: float) -> None:
        """Bring the run's check runs up to the store when GitHub shows one unfinished whose
        job (or run, for the aggregate) the store has completed: its final update was lost."""
        app_id = self._services.own_app_id
        if app_id is None or run.id in self._compared or run.installation_id is None:
            return
        jobs = await self._store.runs.jobs(run.id)
        # Finished a while ago: a report still on its way (retried, paced) is not raced.
        settled = [
            job
            for job in jobs
            if job.status == Status.COMPLETED and (job.finished_at or 0.0) <= now - SETTLE_SECONDS
        ]
        finished = {job.check_run_id for job in settled}
        if run.status == Status.COMPLETED and len(settled) == len(jobs):
            finished.add(run.aggregate_check_id)
        finished.discard(None)
        agreed = (run.id, frozenset(check for check in finished if check is not None))
        if not finished or agreed in self._agreed:
            return
        if report.checks_compared >= MAX_CHECK_RUN_READS:
            return
        self._compared.add(run.id)
        report.checks_compared += 1
        shown = await self._reads.check_runs(run.installation_id, run.repo, run.sha, app_id=app_id)
        behind = [
            check
            for check in (shown or {}).get("check_runs") or []
            if check.get("id") in finished and check.get("status") in UNFINISHED
        ]
        if not behind:
            self._agreed[agreed] = True
            return
        report.checks_completed += 1
        self._metrics.reconciled.labels("check_run").inc()
        log.warning(
            "reconciling: %d check runs of %s@%s left unfinished on GitHub; completing them",
            len(behind),
            run.repo,
            run.sha[:7],
            extra={"repo": run.repo},
        )
        await self._services.pipeline.reports.resync(run.id)

    def _should_evaluate(self, run: Run, pull: Json) -> bool:
        """A green pull request that changed (review, label) since the previous pass."""
        if run.status != Status.COMPLETED or run.conclusion != "success" or pull.get("draft"):
            return False
        updated = parse_time(text_at(pull, "updated_at"))
        return self._previous_pass is None or updated >= self._previous_pass - 60

    async def _submit(self, delivery: Delivery, report: ReconcileReport) -> None:
        claim = self._dispatcher.new_claim()  # recorded ours: no other replica takes it
        if not await self._store.deliveries.record(delivery, claim=claim):
            return  # made, and handled, before
        self._dispatcher.submit(delivery, claim=claim)
        report.built.append(delivery.id)
        self._metrics.reconciled.labels(delivery.event).inc()
        log.info("reconciling: %s", delivery.id, extra={"delivery": delivery.id})

    async def _restart_stalled_jobs(self, report: ReconcileReport, *, now: float) -> None:
        """A job the store says runs, with nothing running it, runs again; a run with
        queued jobs and nothing running is moved on. Only while this replica is alone: it
        cannot tell another's running jobs from stalled ones (start-up recovery can)."""
        context = self._services.context
        live = await self._store.replicas.live(now=now, ttl=REPLICA_TTL_SECONDS)
        if live - {context.replica_id}:
            return
        pipeline = self._services.pipeline
        for run in await self._store.runs.unfinished():
            if not run.trusted or run.aggregate_check_id is None:
                continue  # waiting for /ok-to-test, or still being planned
            jobs = await self._store.runs.jobs(run.id)
            if any(pipeline.is_live(job.id) for job in jobs):
                continue
            stalled = [job for job in jobs if job.status == Status.IN_PROGRESS]
            for job in stalled:
                await self._store.runs.append_log(job.id, messages.stalled_rerun())
                await self._store.runs.update_job(job.id, status=Status.QUEUED)
            if stalled or any(job.status == Status.QUEUED for job in jobs):
                report.restarted_jobs += len(stalled)
                self._metrics.reconciled.labels("stalled_run").inc()
                log.warning("run %d of %s had nothing running: moving it on", run.id, run.repo)
                await pipeline.advance(run.id)


def _lacks_plan(run: Run, number: int) -> bool:
    return bool(run.plans) and plan_key("pull_request", number) not in run.plans
