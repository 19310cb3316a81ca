"""The Celery executor: jobs go to Celery workers over the broker; the store says how they end.

The service only sends tickets and watches job rows (and each running job's heartbeat), so
builds scale past one machine while the web tier stays small. Workers need the same
DATABASE_URL (PostgreSQL, or SQLite on one machine) and a Redis broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from typing import Any

import redis.asyncio as aioredis

from bot.executor.base import JobEvent, JobTicket
from bot.executor.remote import (
    HEARTBEAT_TTL_SECONDS,
    TASK_NAME,
    Liveness,
    cancel_key,
    heartbeat_key,
    sending_app,
    ticket_to_json,
)
from bot.store import Store
from bot.store.records import Status

log = logging.getLogger("greenlight.executor")
POLL_SECONDS = 0.2
STOP_SECONDS = 10.0
WORKER_LOST = (
    "\nThe Celery worker running this job stopped answering for {seconds} s; "
    "Greenlight gave up on it. Re-run it.\n"
)


async def _ignore(_job_id: int) -> None:
    return None


class CeleryExecutor:
    owns_running_jobs = True  # jobs survive a restart of the service: watch, don't re-run

    def __init__(self, store: Store, *, broker_url: str) -> None:
        self._store = store
        self._celery = sending_app("greenlight-service", broker_url)
        self._redis: Any = aioredis.from_url(broker_url)
        self._watching: dict[int, bool] = {}  # job id → seen running
        self._liveness: dict[int, Liveness] = {}
        self._on_started: JobEvent = _ignore
        self._on_finished: JobEvent = _ignore
        self._poller: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._sending: set[asyncio.Task[None]] = set()

    async def start(self, *, on_started: JobEvent, on_finished: JobEvent) -> None:
        self._on_started, self._on_finished = on_started, on_finished
        self._poller = asyncio.create_task(self._poll(), name="celery-executor-poll")

    async def stop(self) -> None:
        if self._poller is not None:
            # Told to stop rather than cancelled: redis-py can swallow a cancellation that
            # lands inside one of its calls, and the poller would then never end.
            self._stopping.set()
            try:
                await asyncio.wait_for(asyncio.shield(self._poller), STOP_SECONDS)
            except TimeoutError:
                self._poller.cancel()
        # Bounded: a broker that stopped answering must not keep the service from stopping.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(*self._sending, return_exceptions=True), STOP_SECONDS
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._redis.aclose(), STOP_SECONDS)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.to_thread(self._celery.close), STOP_SECONDS)

    def submit(self, ticket: JobTicket) -> None:
        self.watch(ticket.job_id)
        task = asyncio.create_task(self._send(ticket))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    def watch(self, job_id: int) -> None:
        """Follow a job a worker has (or will have) until it completes."""
        self._watching.setdefault(job_id, False)

    def cancel(self, job_id: int) -> bool:
        if job_id not in self._watching:
            return False
        task = asyncio.create_task(self._redis.set(cancel_key(job_id), "1", ex=86_400))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)
        return True

    async def _send(self, ticket: JobTicket) -> None:
        # kombu publishes synchronously; keep the event loop free.
        await asyncio.to_thread(
            self._celery.send_task,
            TASK_NAME,
            args=[ticket_to_json(ticket)],
            task_id=f"greenlight-job-{ticket.job_id}-{uuid.uuid4().hex[:8]}",
        )

    async def _poll(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._check_jobs()
            except Exception:  # the store or Redis hiccuped: try again on the next tick
                log.exception("watching Celery jobs failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), POLL_SECONDS)

    async def _check_jobs(self) -> None:
        if not self._watching:
            return
        jobs = await self._store.runs.jobs_by_id(list(self._watching))
        running = [job.id for job in jobs if job.status == Status.IN_PROGRESS]
        alive = await self._redis.mget([heartbeat_key(i) for i in running]) if running else []
        for job_id, beat in zip(running, alive, strict=True):
            await self._check_liveness(job_id, beat is not None)
        for job in jobs:
            if job.status == Status.IN_PROGRESS and not self._watching.get(job.id):
                self._watching[job.id] = True
                await self._on_started(job.id)
            elif job.status == Status.COMPLETED:
                self._watching.pop(job.id, None)
                self._liveness.pop(job.id, None)
                await self._on_finished(job.id)

    async def _check_liveness(self, job_id: int, beating: bool) -> None:
        if not self._liveness.setdefault(job_id, Liveness()).lost(beating, time.monotonic()):
            return
        await self._store.runs.append_log(job_id, WORKER_LOST.format(seconds=HEARTBEAT_TTL_SECONDS))
        await self._store.runs.update_job(
            job_id, status=Status.COMPLETED, conclusion="failure", finished_at=time.time()
        )
