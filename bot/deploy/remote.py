"""Deploys on Celery workers, with `GREENLIGHT_EXECUTOR=celery`.

The service sends the deploy's ticket to the workers (task `greenlight.run_deploy`); the
worker that takes it runs `bot.deploy.runner.run_deploy` against the shared store, keeps a
heartbeat key alive in Redis, and writes the conclusion into the deployment's row. The
service waits for that conclusion, turns its own cancel event into the deploy's cancel
key, and gives up on a worker whose heartbeat stopped, as it does for build jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

from bot.deploy.runner import DeployTicket, ticket_to_json
from bot.executor.remote import (
    DEPLOY_TASK_NAME,
    HEARTBEAT_TTL_SECONDS,
    Liveness,
    cancel_key,
    heartbeat_key,
    sending_app,
)
from bot.store.deployments import Deployments

log = logging.getLogger("greenlight.deploy")
POLL_SECONDS = 0.2
CANCEL_WAIT_SECONDS = 10.0  # a cancelled deploy no worker answers for ends anyway
KIND = "deploy"
WORKER_LOST = (
    "\nThe Celery worker running this deploy stopped answering for {seconds} s; "
    "Greenlight gave up on it.\n"
)
CANCELLED_UNANSWERED = "\nCancelled; no worker answered within {seconds:.0f} s.\n"


@dataclass
class _Watch:
    """What the service has seen of one deploy on the workers."""

    deployment_id: int
    seen_alive: bool = False  # before a worker takes it, the task waits in the broker
    liveness: Liveness = field(default_factory=Liveness)
    cancelled_at: float | None = None


class CeleryDeployRunner:
    def __init__(self, store: Deployments, *, broker_url: str) -> None:
        self._store = store
        self._celery = sending_app("greenlight-deployer", broker_url)
        self._redis: Any = aioredis.from_url(broker_url)

    async def run_deploy(self, ticket: DeployTicket, cancel: asyncio.Event) -> str:
        deployment_id = ticket.deployment_id
        await asyncio.to_thread(  # kombu publishes synchronously
            self._celery.send_task,
            DEPLOY_TASK_NAME,
            args=[ticket_to_json(ticket)],
            task_id=f"greenlight-deploy-{deployment_id}-{uuid.uuid4().hex[:8]}",
        )
        watch = _Watch(deployment_id)
        while True:
            try:
                conclusion = await self._check(watch, cancel)
            except Exception:  # the store or Redis hiccuped; the worker goes on: look again
                log.exception("watching deploy %d on Celery failed", deployment_id)
                conclusion = None
            if conclusion is not None:
                return conclusion
            await asyncio.sleep(POLL_SECONDS)

    async def _check(self, watch: _Watch, cancel: asyncio.Event) -> str | None:
        """The deploy's conclusion once there is one (from the worker, or given up)."""
        record = await self._store.get(watch.deployment_id)
        if record is not None and record.conclusion:
            return record.conclusion
        now = time.monotonic()
        if cancel.is_set() and watch.cancelled_at is None:
            await self.abandon(watch.deployment_id)
            watch.cancelled_at = now
        if watch.cancelled_at is not None and now - watch.cancelled_at > CANCEL_WAIT_SECONDS:
            message = CANCELLED_UNANSWERED.format(seconds=CANCEL_WAIT_SECONDS)
            await self._store.append_log(watch.deployment_id, message)
            return "cancelled"
        beating = bool(await self._redis.exists(heartbeat_key(watch.deployment_id, KIND)))
        watch.seen_alive = watch.seen_alive or beating
        if watch.seen_alive and watch.liveness.lost(beating, now):
            message = WORKER_LOST.format(seconds=HEARTBEAT_TTL_SECONDS)
            await self._store.append_log(watch.deployment_id, message)
            return "failure"
        return None

    async def abandon(self, deployment_id: int) -> None:
        """Tell the worker running (or about to run) this deploy to stop."""
        await self._redis.set(cancel_key(deployment_id, KIND), "1", ex=86_400)

    async def close(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._redis.aclose(), CANCEL_WAIT_SECONDS)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.to_thread(self._celery.close), CANCEL_WAIT_SECONDS)
