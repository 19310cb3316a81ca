"""Reconciliation, level-triggered: what should exist is compared with what does.

For each repository Greenlight knows (from installation events, or from its runs):
- the default branch's tip with no run (or built only for a pull request) is built as a
  push, so it deploys as a push would;
- an open pull request whose head has no run, or a run without its plan, is built;
- a green pull request changed since the previous pass is evaluated for merging again;
and across repositories, a job the store says runs while nothing runs it is run again.
A repository whose tip was built without a config file is left alone after the tip.

The cost is bounded: three conditional reads a repository (GitHub answers `304` to an
unchanged one, free of rate limit), one page of open pull requests (the 100 most recently
updated), at most `MAX_REPOSITORIES` repositories a pass. Made-up deliveries go through
the store's dedupe (see `synthetic`), so a pass repeated, or run by two replicas, builds
nothing twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

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
NO_CONFIG = "no config file"


@dataclass
class ReconcileReport:
    """What one reconciliation did."""

    repositories: int = 0
    built: list[str] = field(default_factory=list)  # ids of the made-up deliveries handled
    evaluated: int = 0
    restarted_jobs: int = 0
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

    async def run(self, *, now: float) -> ReconcileReport:
        """One reconciliation of every known repository, then of stalled jobs."""
        report = ReconcileReport()
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
        elif self._should_evaluate(run, pull):
            report.evaluated += 1
            self._metrics.reconciled.labels("merge_evaluated").inc()
            await self._services.merging.evaluate(installation_id, repo, number)

    def _should_evaluate(self, run: Run, pull: Json) -> bool:
        """A green pull request that changed (review, label) since the previous pass."""
        if run.status != Status.COMPLETED or run.conclusion != "success" or pull.get("draft"):
            return False
        updated = parse_time(text_at(pull, "updated_at"))
        return self._previous_pass is None or updated >= self._previous_pass - 60

    async def _submit(self, delivery: Delivery, report: ReconcileReport) -> None:
        if not await self._store.deliveries.record(delivery):
            return  # made, and handled, before
        self._dispatcher.submit(delivery)
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
