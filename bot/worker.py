"""The Celery worker: `celery -A bot.worker worker`.

Each task runs one ticket, a build job or a deploy, with the same code as the local
executor (`run_ticket`), against the service's store (DATABASE_URL) and a git cache of the
worker's own (GREENLIGHT_WORK_DIR). Tickets arrive sealed with GREENLIGHT_TICKET_KEY
(`bot.executor.sealing`). A worker reads only those variables and CELERY_BROKER_URL
(`bot.settings.WORKER_VARIABLES`), once, when Celery first configures the app: it never
holds the app's private key, the webhook secret or the secrets file.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis
from celery import Celery
from celery.exceptions import WorkerShutdown
from celery.signals import worker_init

from bot.executor import messages
from bot.executor.base import Target, TargetKind
from bot.executor.remote import (
    HEARTBEAT_SECONDS,
    HEARTBEAT_TTL_SECONDS,
    TASK_NAMES,
    cancel_key,
    heartbeat_key,
)
from bot.executor.runner import refuse_ticket, run_ticket
from bot.executor.sandbox import Sandbox
from bot.executor.sandbox_policy import SandboxPolicy
from bot.executor.sealing import Unreadable, unseal
from bot.executor.workspace import GitCache
from bot.settings import SettingsError, WorkerSettings, load_worker_settings
from bot.store import Store, open_store

app = Celery("greenlight", set_as_current=False)
GUARD_TICK_SECONDS = 0.5
log = logging.getLogger("greenlight.worker")
_settings: list[WorkerSettings] = []


@app.on_configure.connect  # type: ignore[untyped-decorator]
def _configure(sender: Celery, **_: Any) -> None:
    try:
        settings = load_worker_settings()
    except SettingsError as error:
        # Refuse to start, saying what to set, rather than take tickets it cannot open.
        raise SystemExit(f"greenlight worker: cannot start:\n{error}") from None
    _settings.append(settings)
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
    sandbox = sandbox_for(_settings[0].sandbox)
    if not sandbox.enabled:
        log.warning(messages.sandbox_off())
        return
    if (problem := asyncio.run(sandbox.problem())) is not None:
        raise WorkerShutdown(messages.worker_refuses(problem))


@app.task(name=TASK_NAMES[TargetKind.JOB])  # type: ignore[untyped-decorator]
def run_job(message: dict[str, Any]) -> str:
    """Run one job; its status, log and report go to the store."""
    app.conf  # noqa: B018 (make sure the app is configured before reading settings)
    return asyncio.run(run(message, _settings[0]))


# Unlike a build job, a deploy is never handed to another worker when its worker dies: the
# service has reported it failed by then, and a deploy must not go out behind its back.
@app.task(name=TASK_NAMES[TargetKind.DEPLOY], acks_late=False, reject_on_worker_lost=False)  # type: ignore[untyped-decorator]
def run_deploy(message: dict[str, Any]) -> str:
    """Run one deploy's steps; the log and the conclusion go to the deployment's row."""
    app.conf  # noqa: B018 (make sure the app is configured before reading settings)
    return asyncio.run(run(message, _settings[0]))


async def run(message: dict[str, Any], settings: WorkerSettings) -> str:
    """Run one ticket from the broker while a heartbeat says so; return its conclusion."""
    ticket = unseal(message, settings.ticket_key)
    async with _watched(settings, ticket.target) as (store, cancel):
        if isinstance(ticket, Unreadable):
            return await refuse_ticket(ticket.target, store, ticket.reason)
        return await run_ticket(
            ticket,
            store=store,
            cache=GitCache(settings.work_dir / "cache"),
            work_dir=settings.work_dir,
            cancel=cancel,
            on_started=_ignore,
            sandbox=sandbox_for(settings.sandbox),
        )


@contextlib.asynccontextmanager
async def _watched(
    settings: WorkerSettings, target: Target
) -> AsyncIterator[tuple[Store, asyncio.Event]]:
    """The store, and a cancel event the service can set, while a heartbeat says we run."""
    redis: Any = aioredis.from_url(settings.broker_url)
    store = await open_store(settings.database_url)
    cancel, done = asyncio.Event(), asyncio.Event()
    guard = asyncio.create_task(_guard(redis, target, cancel, done))
    try:
        yield store, cancel
    finally:
        # Told to stop rather than cancelled: redis-py can swallow a cancellation that
        # lands inside one of its calls, and the guard would then beat forever.
        done.set()
        await guard
        await redis.delete(heartbeat_key(target))
        await redis.aclose()
        await store.close()


async def _guard(redis: Any, target: Target, cancel: asyncio.Event, done: asyncio.Event) -> None:
    """Until `done`: beat the heartbeat; turn the service's cancel request into `cancel`."""
    ticks = 0
    while not done.is_set():
        if ticks % int(HEARTBEAT_SECONDS / GUARD_TICK_SECONDS) == 0:
            await redis.set(heartbeat_key(target), "1", ex=HEARTBEAT_TTL_SECONDS)
        if await redis.exists(cancel_key(target)):
            cancel.set()
        ticks += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), GUARD_TICK_SECONDS)


@functools.cache
def sandbox_for(policy: SandboxPolicy) -> Sandbox:
    """One sandbox per policy in this worker process, so the machine is probed once."""
    return Sandbox(policy)


async def _ignore(_target: Target) -> None:
    return None
