"""Recovery: at start-up and every `GREENLIGHT_RECOVERY_INTERVAL`, GitHub's delivery log is
read back (`delivery_log`) and every known repository reconciled (`reconcile`).

With several replicas on one database, the pass runs under the store's lease `recovery`,
so one replica recovers at a time; the others skip that interval. The lease is released
after each pass, so a restarted replica does not wait for it (one killed mid-pass holds it
until `LEASE_SECONDS` run out). Each pass logs what it recovered and what it cost in API
requests, and counts both in /metrics.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from bot.dispatch.queue import Dispatcher
from bot.github.conditional import AppReads, ConditionalGitHubAPI, RepositoryReads
from bot.github.errors import GitHubError
from bot.periodic import Periodic
from bot.recovery.delivery_log import DeliveryLogPass, LogReport
from bot.recovery.reconcile import Reconciler, ReconcileReport
from bot.wiring import Services

log = logging.getLogger("greenlight.recovery")
LEASE_NAME = "recovery"
LEASE_SECONDS = 300.0
SETTLE_SECONDS = 60.0


@dataclass(frozen=True)
class PassReport:
    """One pass: the log's part (None when it failed), reconciliation's, and the cost."""

    log: LogReport | None
    reconcile: ReconcileReport
    requests: int
    not_modified: int


class Recovery:
    def __init__(
        self, services: Services, dispatcher: Dispatcher[Any], api: ConditionalGitHubAPI
    ) -> None:
        self._services = services
        self._context = services.context
        self._api = api
        github = self._context.github
        self._log_pass = DeliveryLogPass(
            self._context.store, AppReads(github, api), dispatcher, self._context.metrics
        )
        self._reconciler = Reconciler(services, dispatcher, RepositoryReads(github, api))
        self._dispatcher = dispatcher
        self._one_at_a_time = asyncio.Lock()
        self.completed_passes = 0
        self.last_report: PassReport | None = None

    async def run_pass(self) -> PassReport | None:
        """One recovery and reconciliation pass; None when the app has no credentials yet
        or another replica holds the lease."""
        context = self._context
        if context.github.credentials is None:
            return None
        store, holder = context.store, context.replica_id
        async with self._one_at_a_time:  # the lease tells replicas apart, not passes
            if not await store.leases.acquire(
                LEASE_NAME, holder, ttl=LEASE_SECONDS, now=context.clock()
            ):
                return None
            try:
                report = await self._pass()
            finally:
                await store.leases.release(LEASE_NAME, holder)
        self.completed_passes += 1
        self.last_report = report
        return report

    async def _pass(self) -> PassReport:
        metrics = self._context.metrics
        count = self._api.counting()
        log_report = await self._read_log()
        if log_report is not None and log_report.recovered:
            await self._let_recovered_settle()
        reconcile_report = await self._reconciler.run(now=self._context.clock())
        report = PassReport(log_report, reconcile_report, count.requests, count.not_modified)
        metrics.recovery_requests.observe(count.requests)
        metrics.recovery_not_modified.inc(count.not_modified)
        metrics.recovery_passes.labels("ok" if log_report is not None else "log_failed").inc()
        _log_report(report)
        return report

    async def _read_log(self) -> LogReport | None:
        """The pass over the delivery log; a failure is logged and tried again next pass."""
        try:
            return await self._log_pass.run(now=self._context.clock())
        except GitHubError as error:
            log.warning("could not read GitHub's delivery log; trying next pass: %s", error)
            return None

    async def _let_recovered_settle(self) -> None:
        """Let the recovered deliveries be handled before reconciling, so reconciliation
        finds their runs instead of starting them a second way (which would only join)."""
        try:
            await asyncio.wait_for(self._dispatcher.wait_idle(), timeout=SETTLE_SECONDS)
        except TimeoutError:
            log.info("recovered deliveries still being handled; reconciling meanwhile")

    def periodic(self, interval: float) -> Periodic:
        """A pass at start-up, then every `interval` seconds, until stopped."""
        return Periodic(
            "recovery",
            self._pass_or_count_failure,
            interval=interval,
            failure=f"the recovery pass failed; trying again in {interval:.0f} s",
        )

    async def _pass_or_count_failure(self) -> None:
        try:
            await self.run_pass()
        except Exception:  # the store or GitHub may be down for a while: counted, then logged
            self._context.metrics.recovery_passes.labels("failed").inc()
            raise


def _log_report(report: PassReport) -> None:
    missed = report.log
    log.info(
        "recovery pass: %s; reconciled %d repositories (%d builds, %d merge evaluations, "
        "%d stalled jobs, check runs of %d heads compared and of %d runs completed, "
        "%d unreadable); %d API requests (%d not modified)",
        (
            f"{len(missed.recovered)} missed deliveries recovered, {missed.skipped} skipped, "
            f"{missed.pages} log pages"
            if missed is not None
            else "delivery log unreadable"
        ),
        report.reconcile.repositories,
        len(report.reconcile.built),
        report.reconcile.evaluated,
        report.reconcile.restarted_jobs,
        report.reconcile.checks_compared,
        report.reconcile.checks_completed,
        report.reconcile.failed,
        report.requests,
        report.not_modified,
    )
