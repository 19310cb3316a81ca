"""The executors the end-to-end tests run on (DESIGN section 9: both pass the same suite).

A test that takes the `executor` fixture (every test using `greenlight` or `deploying`
does) runs twice: on the local executor, as the service runs by default (SQLite, jobs in
the service's process tree), and on the Celery executor, against the real Redis (db
GREENLIGHT_TEST_REDIS_DB, default 15) and PostgreSQL, its jobs and deploys run by a real
Celery worker. A test of something no executor touches (config parsing, permissions,
replies) says so with `@pytest.mark.one_executor("why")` and runs on the local one only.

Starting a worker costs seconds, so one worker serves the whole session, on one
database: before each test the database is emptied (its ids go on rising, so a ticket of
an earlier test finds no row), and after it whatever the worker still runs is told to
stop, and the broker is emptied. A test that needs a worker of its own (another key, a
sandbox, none at all) calls `SharedWorker.stop` first, or the shared one would take its
tickets; the next test that needs the shared worker starts it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis
from cryptography.fernet import Fernet

from bot.store import open_store
from tests.helpers import wait_until
from tests.services import (
    REDIS_HOST,
    REDIS_PORT,
    create_database,
    drop_database,
    empty_database,
    require_service,
)

LOCAL, CELERY = "local", "celery"
EXECUTORS = (LOCAL, CELERY)
# A database of its own, emptied per test; another number lets two suites share one Redis.
REDIS_DB = int(os.environ.get("GREENLIGHT_TEST_REDIS_DB", "15"))
BROKER = f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}"
TICKET_KEY = Fernet.generate_key().decode()  # shared by the service and the workers
WORKER_CONCURRENCY = 4  # as GREENLIGHT_CONCURRENCY in tests.helpers.make_settings
DRAIN_SECONDS = 30.0


@dataclass(frozen=True)
class ExecutorUnderTest:
    """What a test's service is told about its executor, and where its steps run."""

    name: str
    settings: dict[str, str] = field(default_factory=dict)  # over tests.helpers.make_settings
    worker_dir: Path | None = None  # a Celery worker's GREENLIGHT_WORK_DIR

    @property
    def is_celery(self) -> bool:
        return self.name == CELERY


LOCAL_EXECUTOR = ExecutorUnderTest(LOCAL)


def worker_command(concurrency: int) -> list[str]:
    """`celery -A bot.worker worker`, as the Procfile runs it, with the given pool size."""
    return [
        sys.executable, "-m", "celery", "-A", "bot.worker", "worker",
        f"--concurrency={concurrency}", "--loglevel=INFO", "--without-gossip", "--without-mingle",
    ]  # fmt: skip


def worker_environment(
    home: Path, database: str, broker: str, work_dir: Path, **more: str
) -> dict[str, str]:
    """A worker's variables as an operator sets them: the store, the broker, the ticket
    key, a work dir and a shell's basics; never the app's id, private key or secret."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "DATABASE_URL": database,
        "CELERY_BROKER_URL": broker,
        "GREENLIGHT_TICKET_KEY": TICKET_KEY,
        "GREENLIGHT_WORK_DIR": str(work_dir),
        # As the service's in tests/helpers.make_settings, unless a test sandboxes.
        "GREENLIGHT_SANDBOX": "none",
        # The service's own code, when a checkout is put first on the path.
        **{name: os.environ[name] for name in ("PYTHONPATH",) if name in os.environ},
        **more,
    }


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (Celery's warm shutdown), then SIGKILL if it will not go."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class SharedWorker:
    """One Celery worker, and its PostgreSQL database, for every test of the session."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.database: str | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def work_dir(self) -> Path:
        return self.root / "worker"

    @property
    def log_path(self) -> Path:
        return self.root / "worker.log"

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[ExecutorUnderTest]:
        """The Celery executor for one test: `ready` before, `drain` after."""
        under_test = await self.ready()
        try:
            yield under_test
        finally:
            await self.drain()

    async def ready(self) -> ExecutorUnderTest:
        """The worker running and idle, its database empty: the executor for one test."""
        require_service("Redis", REDIS_HOST, REDIS_PORT)
        if self.database is None:
            self.database = await create_database()
            await (await open_store(self.database)).close()  # migrated before truncating
        await empty_database(self.database)
        if self.process is None or self.process.poll() is not None:
            client: Any = aioredis.from_url(BROKER)
            await client.flushdb()  # whatever an earlier test or run left
            await client.aclose()
            self._start()
        settings = {
            "DATABASE_URL": self.database,
            "GREENLIGHT_EXECUTOR": "celery",
            "CELERY_BROKER_URL": BROKER,
            "GREENLIGHT_TICKET_KEY": TICKET_KEY,
        }
        return ExecutorUnderTest(CELERY, settings, self.work_dir)

    def _start(self) -> None:
        env = worker_environment(self.root, self.database or "", BROKER, self.work_dir)
        with self.log_path.open("ab") as log:  # the worker keeps its own copy
            self.process = subprocess.Popen(
                worker_command(WORKER_CONCURRENCY),
                cwd=self.root, env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip

    async def drain(self) -> None:
        """After a test: stop what the worker still runs for it; fail if the worker died."""
        client: Any = aioredis.from_url(BROKER)
        try:
            await _delete_keys(client, keep=(b"_kombu.binding.", b"greenlight:"))  # the queue
            for target in await self._unfinished_targets(client):
                await client.set(f"greenlight:{target}:cancel", "1", ex=600)

            async def idle() -> bool:
                return not [key async for key in client.scan_iter("greenlight:*:alive")]

            await wait_until(idle, deadline=DRAIN_SECONDS, message="the worker to stop its work")
            # A cancel key stays: ids never come back, and a straggler will read it.
            await _delete_keys(client, keep=(b"_kombu.binding.", b"greenlight:"), but=b":alive")
        finally:
            await client.aclose()
        if self.process is not None and self.process.poll() is not None:
            self.process = None
            tail = self.log_path.read_text(errors="replace")[-3000:]
            raise AssertionError(f"the Celery worker died during the test:\n{tail}")

    async def _unfinished_targets(self, client: Any) -> set[str]:
        """`job:N` / `deploy:N` of all the worker runs, and all the store has not ended."""
        running = {
            key.decode().removeprefix("greenlight:").removesuffix(":alive")
            async for key in client.scan_iter("greenlight:*:alive")
        }
        assert self.database is not None
        connection = await asyncpg.connect(self.database)
        try:
            jobs = await connection.fetch("SELECT id FROM jobs WHERE status <> 'completed'")
            deploys = await connection.fetch("SELECT id FROM deployments WHERE conclusion IS NULL")
        finally:
            await connection.close()
        return (
            running
            | {f"job:{row['id']}" for row in jobs}
            | {f"deploy:{row['id']}" for row in deploys}
        )

    def stop(self) -> None:
        """Stop the worker (a test needs the queue to itself); `ready` starts it again."""
        if self.process is not None:
            stop_process(self.process)
            self.process = None

    def close(self) -> None:
        self.stop()
        if self.database is not None:
            asyncio.run(drop_database(self.database))


async def _delete_keys(client: Any, *, keep: tuple[bytes, ...], but: bytes = b"\0") -> None:
    """Delete every key of the broker's database that starts with none of `keep`, and
    those that do but end with `but`."""
    keys = [
        key async for key in client.scan_iter("*") if not key.startswith(keep) or key.endswith(but)
    ]
    if keys:
        await client.delete(*keys)


@pytest.fixture(scope="session")
def shared_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedWorker]:
    """The session's Celery worker; nothing starts until a test on Celery needs it."""
    worker = SharedWorker(tmp_path_factory.mktemp("celery"))
    try:
        yield worker
    finally:
        worker.close()


@pytest.fixture
async def executor(
    request: pytest.FixtureRequest, shared_worker: SharedWorker
) -> AsyncIterator[ExecutorUnderTest]:
    """The executor this run of the test is on (parametrized by `pytest_generate_tests`)."""
    if request.param == LOCAL:
        yield LOCAL_EXECUTOR
        return
    async with shared_worker.serving() as under_test:
        yield under_test


def parametrize_executors(metafunc: pytest.Metafunc) -> None:
    """Run a test that takes `executor` on each executor, or on the local one when marked
    `one_executor`."""
    if "executor" not in metafunc.fixturenames:
        return
    only_one = metafunc.definition.get_closest_marker("one_executor") is not None
    celery = pytest.param(CELERY, marks=[pytest.mark.postgres, pytest.mark.redis])
    params = [LOCAL] if only_one else [LOCAL, celery]
    metafunc.parametrize("executor", params, indirect=True)
