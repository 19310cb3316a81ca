"""Real PostgreSQL and Redis for the tests that need them.

Where a service is absent the test skips with a reason, unless
GREENLIGHT_REQUIRE_SERVICES=1 (as `.ci/run` sets), where it fails instead.
"""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import uuid4

import pytest

POSTGRES_HOST, POSTGRES_PORT = "127.0.0.1", 5432
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


def is_listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip (or, when services are required, fail) unless the service listens."""
    if is_listening(host, port):
        return
    message = f"{name} is not listening on {host}:{port}"
    if os.environ.get("GREENLIGHT_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message}, and GREENLIGHT_REQUIRE_SERVICES=1")
    pytest.skip(message)


@asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    """A fresh, empty database on the local server, dropped afterwards; yields its URL."""
    url = await create_database()
    try:
        yield url
    finally:
        await drop_database(url)


async def create_database() -> str:
    """A fresh, empty database on the local server (drop it with `drop_database`): its URL."""
    import asyncpg

    require_service("PostgreSQL", POSTGRES_HOST, POSTGRES_PORT)
    user = os.environ.get("GREENLIGHT_TEST_PGUSER", "postgres")
    admin = await asyncpg.connect(
        host=POSTGRES_HOST, port=POSTGRES_PORT, user=user, database="test"
    )
    name = f"greenlight_{uuid4().hex[:12]}"
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return f"postgresql://{user}@{POSTGRES_HOST}:{POSTGRES_PORT}/{name}"


async def empty_database(url: str) -> None:
    """Delete every row but the schema's version, keeping the tables and their sequences
    (ids go on rising, so a straggler naming an old row finds none). DELETE, referencing
    tables first: on tables this small it takes milliseconds where TRUNCATE takes tenths."""
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        tables = {
            row["tablename"]
            for row in await connection.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                " AND tablename <> 'schema_version'"
            )
        }
        references = await connection.fetch(
            "SELECT conrelid::regclass::text AS child, confrelid::regclass::text AS parent"
            " FROM pg_constraint WHERE contype = 'f'"
        )
        async with connection.transaction():
            while tables:
                parents = {r["parent"] for r in references if r["child"] in tables}
                leaves = tables - parents or tables  # a cycle would stop here: delete anyway
                for table in sorted(leaves):
                    await connection.execute(f'DELETE FROM "{table}"')  # noqa: S608 (the catalog's)
                tables -= leaves
    finally:
        await connection.close()


async def drop_database(url: str) -> None:
    """Take a test database away from under its users, as an outage would."""
    import asyncpg

    name = url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(
        host=POSTGRES_HOST,
        port=POSTGRES_PORT,
        user=url.split("//")[1].split("@")[0],
        database="test",
    )
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def require_sandbox() -> None:
    """Skip (or fail, when services are required) unless bubblewrap, its network tools and
    a python3 in /usr are installed; skip where the test process is not root (CI is)."""
    import shutil

    from bot.executor.sandbox import CLEAN_PATH

    missing = [t for t in ("bwrap", "slirp4netns", "nsenter", "ip") if not shutil.which(t)]
    if not shutil.which("python3", path=CLEAN_PATH):  # for the sandbox's init, in its /usr
        missing.append("python3")
    if missing:
        message = f"the build sandbox needs {', '.join(missing)}"
        if os.environ.get("GREENLIGHT_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{message}, and GREENLIGHT_REQUIRE_SERVICES=1")
        pytest.skip(message)
    if os.geteuid() != 0:
        pytest.skip("runs steps as a separate build user, which needs root")
