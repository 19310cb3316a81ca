"""Versioned schema migrations, applied in order at start-up; an upgrade never drops data.

Each migration is a list of SQL statements written once for both SQLite and PostgreSQL.
`{pk}` stands for an auto-numbered primary key, the one spelling that differs.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # 1: deliveries, installations, runs, jobs, logs, pull-request state
        """CREATE TABLE deliveries (
            id TEXT PRIMARY KEY,
            event TEXT NOT NULL,
            action TEXT,
            installation_id BIGINT,
            repo TEXT,
            payload TEXT NOT NULL,
            received_at DOUBLE PRECISION NOT NULL,
            status TEXT NOT NULL,
            error TEXT,
            handled_at DOUBLE PRECISION)""",
        "CREATE INDEX deliveries_status ON deliveries (status, received_at)",
        """CREATE TABLE installations (
            id BIGINT PRIMARY KEY,
            account TEXT NOT NULL,
            suspended BOOLEAN NOT NULL DEFAULT FALSE,
            created_at DOUBLE PRECISION NOT NULL)""",
        """CREATE TABLE repositories (
            full_name TEXT PRIMARY KEY,
            id BIGINT NOT NULL,
            installation_id BIGINT NOT NULL,
            private BOOLEAN NOT NULL DEFAULT FALSE)""",
        """CREATE TABLE runs (
            id {pk},
            repo TEXT NOT NULL,
            sha TEXT NOT NULL,
            installation_id BIGINT,
            clone_url TEXT NOT NULL,
            event TEXT NOT NULL,
            ref TEXT NOT NULL,
            base_ref TEXT NOT NULL DEFAULT '',
            before_sha TEXT NOT NULL DEFAULT '',
            pr_number INTEGER,
            status TEXT NOT NULL,
            conclusion TEXT,
            note TEXT,
            aggregate_check_id BIGINT,
            trusted BOOLEAN NOT NULL DEFAULT TRUE,
            fork BOOLEAN NOT NULL DEFAULT FALSE,
            created_at DOUBLE PRECISION NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL,
            UNIQUE (repo, sha))""",
        "CREATE INDEX runs_pr ON runs (repo, pr_number)",
        """CREATE TABLE jobs (
            id {pk},
            run_id BIGINT NOT NULL REFERENCES runs (id),
            name TEXT NOT NULL,
            attempt INTEGER NOT NULL,
            spec TEXT NOT NULL,
            status TEXT NOT NULL,
            conclusion TEXT,
            check_run_id BIGINT,
            steps TEXT NOT NULL DEFAULT '[]',
            report TEXT,
            skip_reason TEXT,
            started_at DOUBLE PRECISION,
            finished_at DOUBLE PRECISION,
            UNIQUE (run_id, name, attempt))""",
        "CREATE INDEX jobs_status ON jobs (status)",
        """CREATE TABLE log_chunks (
            job_id BIGINT NOT NULL REFERENCES jobs (id),
            seq INTEGER NOT NULL,
            text TEXT NOT NULL,
            PRIMARY KEY (job_id, seq))""",
        """CREATE TABLE pull_requests (
            repo TEXT NOT NULL,
            number INTEGER NOT NULL,
            held_by TEXT,
            merge_requested_by TEXT,
            merge_method TEXT,
            trusted_sha TEXT,
            merge_refused_sha TEXT,
            merged_by_app BOOLEAN NOT NULL DEFAULT FALSE,
            PRIMARY KEY (repo, number))""",
    ),
    (  # 2: deployments, their logs, and the comment on each PR telling where its change is
        """CREATE TABLE deployments (
            id {pk},
            repo TEXT NOT NULL,
            environment TEXT NOT NULL,
            sha TEXT NOT NULL,
            github_id BIGINT,
            installation_id BIGINT,
            run_id BIGINT,
            state TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            requested_by TEXT,
            rollback BOOLEAN NOT NULL DEFAULT FALSE,
            created_at DOUBLE PRECISION NOT NULL,
            started_at DOUBLE PRECISION,
            finished_at DOUBLE PRECISION)""",
        "CREATE INDEX deployments_env ON deployments (repo, environment, id)",
        """CREATE TABLE deployment_logs (
            deployment_id BIGINT NOT NULL REFERENCES deployments (id),
            seq INTEGER NOT NULL,
            text TEXT NOT NULL,
            PRIMARY KEY (deployment_id, seq))""",
        """CREATE TABLE deploy_notices (
            repo TEXT NOT NULL,
            pr_number INTEGER NOT NULL,
            comment_id BIGINT,
            lines TEXT NOT NULL DEFAULT '{}',
            PRIMARY KEY (repo, pr_number))""",
    ),
    (  # 3: how a deploy ended, written by whoever ran it (this process or a Celery worker)
        "ALTER TABLE deployments ADD COLUMN conclusion TEXT",
    ),
    (  # 4: GitHub's id of the repository a run builds: its code token is scoped to that id
        "ALTER TABLE runs ADD COLUMN repo_id BIGINT",
        # Runs recorded before: the id from the installations' repository lists, where known.
        """UPDATE runs SET repo_id = (
            SELECT repositories.id FROM repositories WHERE repositories.full_name = runs.repo)""",
    ),
    (  # 5: which triggers a run's jobs were planned for, and a skip marker it did not honour
        "ALTER TABLE runs ADD COLUMN plans TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE runs ADD COLUMN ignored_marker TEXT",
    ),
    (  # 6: several replicas on one database: who is alive, and named leases with an expiry
        """CREATE TABLE replicas (
            id TEXT PRIMARY KEY,
            started_at DOUBLE PRECISION NOT NULL,
            beat_at DOUBLE PRECISION NOT NULL)""",
        """CREATE TABLE leases (
            name TEXT PRIMARY KEY,
            holder TEXT NOT NULL,
            expires_at DOUBLE PRECISION NOT NULL)""",
    ),
    (  # 7: timers that fire whichever replica is up (a freeze window's end)
        """CREATE TABLE timers (
            name TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            due_at DOUBLE PRECISION NOT NULL,
            data TEXT NOT NULL DEFAULT '')""",
        "CREATE INDEX timers_due ON timers (due_at)",
    ),
    (  # 8: recovery from GitHub's delivery log: what was recovered, and how far back it is done
        "ALTER TABLE deliveries ADD COLUMN recovered BOOLEAN NOT NULL DEFAULT FALSE",
        """CREATE TABLE recovery_points (
            name TEXT PRIMARY KEY,
            newest_id BIGINT NOT NULL,
            resume_cursor TEXT,
            resume_top BIGINT,
            updated_at DOUBLE PRECISION NOT NULL)""",
    ),
    (  # 9: the replica that owns each run, job and deploy (NULL: nobody; see bot.store.owners)
        "ALTER TABLE runs ADD COLUMN owner TEXT",
        "ALTER TABLE jobs ADD COLUMN owner TEXT",
        "ALTER TABLE deployments ADD COLUMN owner TEXT",
    ),
    (  # 10: a pending delivery is handled by the replica that claims it, until the claim runs out
        "ALTER TABLE deliveries ADD COLUMN claimed_by TEXT",
        "ALTER TABLE deliveries ADD COLUMN claim_expires DOUBLE PRECISION",
    ),
    (  # 11: GitHub's write budget per installation, shared by every replica on one database
        """CREATE TABLE github_writes (
            installation_id BIGINT NOT NULL,
            sent_at DOUBLE PRECISION NOT NULL)""",
        "CREATE INDEX github_writes_installation ON github_writes (installation_id, sent_at)",
        """CREATE TABLE github_pauses (
            installation_id BIGINT PRIMARY KEY,
            until_at DOUBLE PRECISION NOT NULL)""",
    ),
    (  # 12: reuse by tree: the tree a run built, what each job's result depends on besides it
        "ALTER TABLE runs ADD COLUMN tree TEXT",
        "ALTER TABLE jobs ADD COLUMN input_digest TEXT",
        "ALTER TABLE jobs ADD COLUMN reused_job_id BIGINT",
        "ALTER TABLE jobs ADD COLUMN note TEXT",
        "CREATE INDEX runs_repo_tree ON runs (repo, tree)",
    ),
    (  # 13: where a deploy's health check began in its log, so a replica that takes the
        # deploy over can resume the check (NULL: not checking health)
        "ALTER TABLE deployments ADD COLUMN health_from INTEGER",
    ),
)


def _dialect_sql(statement: str, dialect: str) -> str:
    pk = (
        "INTEGER PRIMARY KEY AUTOINCREMENT"
        if dialect == "sqlite"
        else "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
    )
    return statement.replace("{pk}", pk)


# Any fixed number: every replica takes the same advisory lock around its migrations.
_MIGRATION_LOCK = 0x67726E6C  # "grnl"


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer Greenlight than this one."""

    def __init__(self, found: int, known: int) -> None:
        super().__init__(
            f"the database's schema is at version {found}, but this Greenlight knows only "
            f"{known}: a newer Greenlight has upgraded it. Start this replica (or worker) "
            "from the same release as the others."
        )


async def migrate(connection: AsyncConnection, *, target: int = len(MIGRATIONS)) -> int:
    """Apply the migrations newer than the stored version, up to `target` (all of them
    unless a test stops earlier to check an upgrade); return the version reached.

    On PostgreSQL the migrations run under an advisory lock held until the transaction
    ends, so replicas starting together apply each migration once. A schema newer than
    this code raises `SchemaTooNew`: old code must not write to tables it does not know.
    """
    if connection.dialect.name == "postgresql":
        await connection.execute(
            sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK}
        )
    await connection.execute(
        sa.text("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    )
    current = await connection.execute(sa.text("SELECT MAX(version) FROM schema_version"))
    version = current.scalar() or 0
    if version > len(MIGRATIONS):
        raise SchemaTooNew(version, len(MIGRATIONS))
    dialect = connection.dialect.name
    for number, statements in enumerate(MIGRATIONS[:target], start=1):
        if number <= version:
            continue
        for statement in statements:
            await connection.execute(sa.text(_dialect_sql(statement, dialect)))
        await connection.execute(
            sa.text("INSERT INTO schema_version (version) VALUES (:v)"), {"v": number}
        )
        version = number
    return version
