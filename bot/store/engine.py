"""One async SQLAlchemy engine for SQLite (embedded default) or PostgreSQL."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def async_url(database_url: str) -> str:
    """Map the DATABASE_URL people write to the async driver SQLAlchemy needs."""
    if database_url.startswith("sqlite:"):
        return "sqlite+aiosqlite:" + database_url.removeprefix("sqlite:")
    if database_url.startswith("postgres://"):
        database_url = "postgresql://" + database_url.removeprefix("postgres://")
    if database_url.startswith("postgresql://"):
        return "postgresql+asyncpg://" + database_url.removeprefix("postgresql://")
    return database_url


def make_engine(database_url: str) -> AsyncEngine:
    """An engine tuned for the dialect: WAL and a busy timeout for SQLite."""
    url = async_url(database_url)
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})
        sa.event.listen(engine.sync_engine, "connect", _tune_sqlite)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


def sync_sqlite_engine(engine: AsyncEngine) -> sa.Engine | None:
    """A plain (pysqlite) engine on the same SQLite file, for work done in one thread call."""
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return None  # an in-memory database exists only inside its own connection
    url = engine.url.set(drivername="sqlite")
    sync = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
    sa.event.listen(sync, "connect", _tune_sqlite)
    return sync


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the web pages read while builds write; NORMAL sync in WAL mode survives a
    # crash of the service (only an OS crash can lose the last commits).
    # https://www.sqlite.org/wal.html
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
