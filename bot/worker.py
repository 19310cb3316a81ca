"""The Celery worker: `celery -A bot.worker worker`.

Each task runs one job with the same code as the local executor (`execute_job`), against
the service's store (DATABASE_URL) and a git cache of the worker's own
(GREENLIGHT_WORK_DIR). Settings are read once, when Celery first configures the app.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import redis.asyncio as aioredis
from celery import Celery

from bot.executor.job import execute_job
from bot.executor.remote import (
    HEARTBEAT_SECONDS,
    HEARTBEAT_TTL_SECONDS,
    TASK_NAME,
    cancel_key,
    heartbeat_key,
    ticket_from_json,
)
from bot.executor.workspace import GitCache
from bot.settings import Settings, load_settings
from bot.store import open_store

app = Celery("greenlight", set_as_current=False)
_settings: list[Settings] = []


@app.on_configure.connect  # type: ignore[untyped-decorator]
def _configure(sender: Celery, **_: Any) -> None:
    settings = load_settings()
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


@app.task(name=TASK_NAME)  # type: ignore[untyped-decorator]
def run_job(ticket: dict[str, Any]) -> str:
    """Run one job; its status, log and report go to the store."""
    app.conf  # noqa: B018 (make sure the app is configured before reading settings)
    return asyncio.run(_run_job(ticket, _settings[0]))


async def _run_job(data: dict[str, Any], settings: Settings) -> str:
    ticket = ticket_from_json(data)
    redis: Any = aioredis.from_url(settings.broker_url or "")
    store = await open_store(settings.database_url)
    cancel = asyncio.Event()
    guard = asyncio.create_task(_guard(redis, ticket.job_id, cancel))
    try:
        return await execute_job(
            ticket,
            store=store,
            cache=GitCache(settings.work_dir / "cache"),
            work_dir=settings.work_dir,
            cancel=cancel,
            on_started=_ignore,
        )
    finally:
        guard.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await guard
        await redis.delete(heartbeat_key(ticket.job_id))
        await redis.aclose()
        await store.close()


async def _guard(redis: Any, job_id: int, cancel: asyncio.Event) -> None:
    """Beat the job's heartbeat; turn the service's cancel request into the cancel event."""
    ticks = 0
    while True:
        if ticks % int(HEARTBEAT_SECONDS / 0.5) == 0:
            await redis.set(heartbeat_key(job_id), "1", ex=HEARTBEAT_TTL_SECONDS)
        if await redis.exists(cancel_key(job_id)):
            cancel.set()
        ticks += 1
        await asyncio.sleep(0.5)


async def _ignore(_job_id: int) -> None:
    return None
