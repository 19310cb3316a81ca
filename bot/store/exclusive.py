"""SQLite serves one web process: a second one on the same file is refused at start.

The web process holds an exclusive `flock` on a file beside the database for as long as it
runs; the kernel drops the lock when the process ends, however it ends (kill -9 too), so a
stale lock never stops a restart. Celery workers open the same database without it: they
share the file with the one web process, as they always have. PostgreSQL takes any number
of replicas, coordinated in the database itself (bot.store.claims, bot.store.leases).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator

import sqlalchemy as sa

from bot.store.engine import async_url


class DatabaseInUse(RuntimeError):
    """Another web process serves this SQLite database."""

    def __init__(self, database: str, owner: str) -> None:
        by = f" (pid {owner})" if owner else ""
        super().__init__(
            f"another Greenlight web process{by} is serving the SQLite database {database}, "
            "and SQLite serves one process. Stop that one, or use PostgreSQL "
            "(DATABASE_URL=postgresql://...) to run several replicas on one database."
        )


def sqlite_file(database_url: str) -> str | None:
    """The path of a SQLite database file; None for PostgreSQL or an in-memory database."""
    url = sa.make_url(async_url(database_url))
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return os.path.abspath(url.database)


@contextlib.contextmanager
def only_web_process(database_url: str) -> Iterator[None]:
    """Hold this SQLite database for this process while the body runs, or raise
    `DatabaseInUse` when another process holds it; nothing to hold on PostgreSQL."""
    database = sqlite_file(database_url)
    if database is None:
        yield
        return
    descriptor = os.open(f"{database}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DatabaseInUse(database, os.pread(descriptor, 32, 0).decode().strip()) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)  # who holds it, for the message
        yield
    finally:
        os.close(descriptor)  # releases the lock; the file stays, reused by the next start
