"""Prometheus metrics, in a registry of the app's own (so two apps in one test don't mix)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.webhooks = Counter(
            "greenlight_webhooks",
            "Webhook deliveries received, by event and outcome.",
            ["event", "outcome"],
            registry=self.registry,
        )
        self.handler_errors = Counter(
            "greenlight_handler_errors",
            "Handlers that raised while handling a delivery, by event.",
            ["event"],
            registry=self.registry,
        )
        self.github_requests = Counter(
            "greenlight_github_requests",
            "Requests made to GitHub's REST API, by method and HTTP status.",
            ["method", "status"],
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "greenlight_queue_depth",
            "Deliveries recorded and waiting to be handled.",
            registry=self.registry,
        )
        self.jobs = Counter(
            "greenlight_jobs",
            "Jobs finished, by conclusion.",
            ["conclusion"],
            registry=self.registry,
        )
        self.jobs_reused = Counter(
            "greenlight_jobs_reused",
            "Jobs not run because the same tree and inputs had passed (reuse by tree).",
            registry=self.registry,
        )
        self.job_seconds = Histogram(
            "greenlight_job_seconds",
            "How long jobs ran.",
            buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600),
            registry=self.registry,
        )
        self.github_retries = Counter(
            "greenlight_github_retries",
            "GitHub requests tried again after a failure, by reason "
            "(5xx, reset, secondary limit, primary limit).",
            ["reason"],
            registry=self.registry,
        )
        self.work_put_off = Counter(
            "greenlight_work_put_off",
            "Work GitHub kept failing, put off to a later try, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.work_done_later = Counter(
            "greenlight_work_done_later",
            "Work put off, then done on a later try, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.work_given_up = Counter(
            "greenlight_work_given_up",
            "Work put off, then given up (GitHub still failing, or failing for good), by kind.",
            ["kind"],
            registry=self.registry,
        )

        self.recovered = Counter(
            "greenlight_recovered_deliveries",
            "Deliveries missed, then fetched from GitHub's delivery log, by event.",
            ["event"],
            registry=self.registry,
        )
        self.recovery_skipped = Counter(
            "greenlight_recovery_skipped_deliveries",
            "Missed deliveries the recovery pass could not hand on, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.reconciled = Counter(
            "greenlight_reconciled",
            "What reconciliation found missing and did, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.recovery_passes = Counter(
            "greenlight_recovery_passes",
            "Recovery and reconciliation passes, by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.recovery_requests = Histogram(
            "greenlight_recovery_pass_requests",
            "GitHub API requests one recovery and reconciliation pass made.",
            buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500),
            registry=self.registry,
        )
        self.recovery_not_modified = Counter(
            "greenlight_recovery_not_modified",
            "Recovery requests GitHub answered 304 Not Modified (free of rate limit).",
            registry=self.registry,
        )

    def render(self) -> bytes:
        """The metrics in Prometheus text format."""
        return generate_latest(self.registry)
