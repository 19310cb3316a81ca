"""The Celery worker: `celery -A bot.worker worker`.

Each task runs one build job with the same code as the local executor (`execute_job`), or
one deploy's steps with the same code as the service uses locally (`run_deploy`), against
the service's store (DATABASE_URL) and a git cache of the worker's own (GREENLIGHT_WORK_DIR).
Settings are read once, when Celery first configures the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis
from celery import Celery
from celery.exceptions import WorkerShutdown
from celery.signals import worker_init

from bot import messages
from bot.deploy.runner import run_deploy
from bot.deploy.runner import ticket_from_json as deploy_ticket_from_json
from bot.executor.job import execute_job
from bot.executor.remote import (
    DEPLOY_TASK_NAME,
    HEARTBEAT_SECONDS,
    HEARTBEAT_TTL_SECONDS,
    TASK_NAME,
    cancel_key,
    heartbeat_key,
    ticket_from_json,
)
from bot.executor.sandbox import Sandbox
from bot.executor.workspace import GitCache
from bot.settings import Settings, load_settings
from bot.store import Store, open_store
from bot.store.deployments import Deployments

app = Celery("greenlight", set_as_current=False)
GUARD_TICK_SECONDS = 0.5
log = logging.getLogger("greenlight.worker")
_settings: list[Settings] = []
_sandbox: list[Sandbox] = []


@app.on_configure.connect  # type: ignore[untyped-decorator]
def _configure(sender: Celery, **_: Any) -> None:
    settings = load_settings()
    _settings.append(settings)
    _sandbox.append(Sandbox(settings.sandbox))
    sender.conf.update(
        broker_url=settings.broker_url,
        task_serializer="json",
        accept_content=["json"],
        task_acks_late=True,  # a job whose worker dies goes back to the queue
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # jobs are long: take one at a time
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )


@worker_init.connect  # type: ignore[untyped-decorator]
def _refuse_without_sandbox(**_: Any) -> None:
    """A worker that cannot sandbox builds refuses to start rather than fail every job."""
    app.conf  # noqa: B018 (make sure the app is configured before reading settings)
    sandbox = _sandbox[0]
    if not sandbox.enabled:
        log.warning(messages.sandbox_off())
        return
    if (problem := asyncio.run(sandbox.problem())) is not None:
        raise WorkerShutdown(messages.worker_refuses(problem))


@app.task(name=TASK_NAME)  # type: ignore[untyped-decorator]
def run_job(ticket: dict[str, Any]) -> str:
    """Run one job; its status, log and report go to the store."""
    app.conf  # noqa: B018 (make sure the app is configured before reading settings)
    return asyncio.run(_run_job(ticket, _settings[0]))


# Unlike a build job, a deploy is never handed to another worker when its worker dies: the
# service has reported it failed by then, and a deploy must not go out behind its back.
@app.task(name=DEPLOY_TASK_NAME, acks_late=False, reject_on_worker_lost=False)  # type: ignore[untyped-decorator]
def run_deploy_task(ticket: dict[str, Any]) -> str:
    """Run one deploy's steps; the log and the conclusion go to the deployment's row."""
    app.conf  # noqa: B018 (make sure the app is configured before reading settings)
    return asyncio.run(_run_deploy(ticket, _settings[0]))


async def _run_job(data: dict[str, Any], settings: Settings) -> str:
    ticket = ticket_from_json(data)
    async with _watched(settings, ticket.job_id, "job") as (store, cancel):
        return await execute_job(
            ticket,
            store=store,
            cache=GitCache(settings.work_dir / "cache"),
            work_dir=settings.work_dir,
            cancel=cancel,
            on_started=_ignore,
            sandbox=_sandbox[0],
        )


async def _run_deploy(data: dict[str, Any], settings: Settings) -> str:
    ticket = deploy_ticket_from_json(data)
    async with _watched(settings, ticket.deployment_id, "deploy") as (store, cancel):
        deployments = Deployments(store.engine)
        record = await deployments.get(ticket.deployment_id)
        if record is None or record.state.is_finished:
            return "skipped"  # the service gave up on it (or it ran) already
        conclusion = await run_deploy(
            ticket,
            store=deployments,
            cache=GitCache(settings.work_dir / "cache"),
            work_dir=settings.work_dir,
            cancel=cancel,
            sandbox=_sandbox[0],
        )
        await deployments.update(ticket.deployment_id, conclusion=conclusion)
        return conclusion


@contextlib.asynccontextmanager
async def _watched(
    settings: Settings, ident: int, kind: str
) -> AsyncIterator[tuple[Store, asyncio.Event]]:
    """The store, and a cancel event the service can set, while a heartbeat says we run."""
    redis: Any = aioredis.from_url(settings.broker_url or "")
    store = await open_store(settings.database_url)
    cancel, done = asyncio.Event(), asyncio.Event()
    guard = asyncio.create_task(_guard(redis, ident, cancel, done, kind=kind))
    try:
        yield store, cancel
    finally:
        # Told to stop rather than cancelled: redis-py can swallow a cancellation that
        # lands inside one of its calls, and the guard would then beat forever.
        done.set()
        await guard
        await redis.delete(heartbeat_key(ident, kind))
        await redis.aclose()
        await store.close()


async def _guard(
    redis: Any, ident: int, cancel: asyncio.Event, done: asyncio.Event, *, kind: str
) -> None:
    """Until `done`: beat the heartbeat; turn the service's cancel request into `cancel`."""
    ticks = 0
    while not done.is_set():
        if ticks % int(HEARTBEAT_SECONDS / GUARD_TICK_SECONDS) == 0:
            await redis.set(heartbeat_key(ident, kind), "1", ex=HEARTBEAT_TTL_SECONDS)
        if await redis.exists(cancel_key(ident, kind)):
            cancel.set()
        ticks += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), GUARD_TICK_SECONDS)


async def _ignore(_job_id: int) -> None:
    return None
