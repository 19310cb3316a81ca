"""The tables as the queries see them, at the latest migration."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("event", sa.Text, nullable=False),
    sa.Column("action", sa.Text),
    sa.Column("installation_id", sa.BigInteger),
    sa.Column("repo", sa.Text),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("received_at", sa.Float, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("handled_at", sa.Float),
    # Fetched from GitHub's delivery log by the recovery pass (bot.recovery), not received.
    sa.Column("recovered", sa.Boolean, nullable=False, server_default=sa.false()),
    # The replica handling it, while `claim_expires` has not passed (see bot.store.claims).
    sa.Column("claimed_by", sa.Text),
    sa.Column("claim_expires", sa.Float),
)

installations = sa.Table(
    "installations",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("account", sa.Text, nullable=False),
    sa.Column("suspended", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

repositories = sa.Table(
    "repositories",
    metadata,
    sa.Column("full_name", sa.Text, primary_key=True),
    sa.Column("id", sa.BigInteger, nullable=False),
    sa.Column("installation_id", sa.BigInteger, nullable=False),
    sa.Column("private", sa.Boolean, nullable=False),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("repo", sa.Text, nullable=False),
    sa.Column("sha", sa.Text, nullable=False),
    sa.Column("installation_id", sa.BigInteger),
    sa.Column("clone_url", sa.Text, nullable=False),
    sa.Column("event", sa.Text, nullable=False),
    sa.Column("ref", sa.Text, nullable=False),
    sa.Column("base_ref", sa.Text, nullable=False),
    sa.Column("before_sha", sa.Text, nullable=False),
    sa.Column("pr_number", sa.Integer),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("conclusion", sa.Text),
    sa.Column("note", sa.Text),
    sa.Column("aggregate_check_id", sa.BigInteger),
    sa.Column("trusted", sa.Boolean, nullable=False),
    sa.Column("fork", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("repo_id", sa.BigInteger),
    sa.Column("plans", sa.Text, nullable=False, server_default=""),
    sa.Column("ignored_marker", sa.Text),
    sa.Column("owner", sa.Text),  # the replica that last scheduled its jobs
    sa.Column("tree", sa.Text),  # the git tree built (`SHA^{tree}`), for reuse by tree
)

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("run_id", sa.BigInteger, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("spec", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("conclusion", sa.Text),
    sa.Column("check_run_id", sa.BigInteger),
    sa.Column("steps", sa.Text, nullable=False),
    sa.Column("report", sa.Text),
    sa.Column("skip_reason", sa.Text),
    sa.Column("started_at", sa.Float),
    sa.Column("finished_at", sa.Float),
    sa.Column("owner", sa.Text),  # the replica that handed it to its executor
    sa.Column("input_digest", sa.Text),  # what can change its result besides the tree
    sa.Column("reused_job_id", sa.BigInteger),  # it took this job's result instead of running
    sa.Column("note", sa.Text),  # Markdown its check run's summary opens with
)

log_chunks = sa.Table(
    "log_chunks",
    metadata,
    sa.Column("job_id", sa.BigInteger, primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("text", sa.Text, nullable=False),
)

pull_requests = sa.Table(
    "pull_requests",
    metadata,
    sa.Column("repo", sa.Text, primary_key=True),
    sa.Column("number", sa.Integer, primary_key=True),
    sa.Column("held_by", sa.Text),
    sa.Column("merge_requested_by", sa.Text),
    sa.Column("merge_method", sa.Text),
    sa.Column("trusted_sha", sa.Text),
    sa.Column("merge_refused_sha", sa.Text),
    sa.Column("merged_by_app", sa.Boolean, nullable=False),
)

deployments = sa.Table(
    "deployments",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("repo", sa.Text, nullable=False),
    sa.Column("environment", sa.Text, nullable=False),
    sa.Column("sha", sa.Text, nullable=False),
    sa.Column("github_id", sa.BigInteger),
    sa.Column("installation_id", sa.BigInteger),
    sa.Column("run_id", sa.BigInteger),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("requested_by", sa.Text),
    sa.Column("rollback", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("started_at", sa.Float),
    sa.Column("finished_at", sa.Float),
    sa.Column("conclusion", sa.Text),  # success, failure, timed_out, cancelled
    sa.Column("owner", sa.Text),  # the replica that queued or runs it
    # The deployment log's length when its health check began: the probe lines follow it.
    sa.Column("health_from", sa.Integer),
)

deployment_logs = sa.Table(
    "deployment_logs",
    metadata,
    sa.Column("deployment_id", sa.BigInteger, primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("text", sa.Text, nullable=False),
)

deploy_notices = sa.Table(
    "deploy_notices",
    metadata,
    sa.Column("repo", sa.Text, primary_key=True),
    sa.Column("pr_number", sa.Integer, primary_key=True),
    sa.Column("comment_id", sa.BigInteger),
    sa.Column("lines", sa.Text, nullable=False),
)

replicas = sa.Table(
    "replicas",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("beat_at", sa.Float, nullable=False),
)

leases = sa.Table(
    "leases",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("holder", sa.Text, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)

timers = sa.Table(
    "timers",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("due_at", sa.Float, nullable=False),
    sa.Column("data", sa.Text, nullable=False),
)

recovery_points = sa.Table(
    "recovery_points",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("newest_id", sa.BigInteger, nullable=False),
    sa.Column("resume_cursor", sa.Text),
    sa.Column("resume_top", sa.BigInteger),
    sa.Column("updated_at", sa.Float, nullable=False),
)

github_writes = sa.Table(
    "github_writes",
    metadata,
    sa.Column("installation_id", sa.BigInteger, nullable=False),
    sa.Column("sent_at", sa.Float, nullable=False),
)

github_pauses = sa.Table(
    "github_pauses",
    metadata,
    sa.Column("installation_id", sa.BigInteger, primary_key=True),
    sa.Column("until_at", sa.Float, nullable=False),
)
