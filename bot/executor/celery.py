"""The Celery executor: jobs and deploys go to Celery workers over the broker; the store
says how they end.

The service only sends tickets and watches the targets' rows (and each running target's
heartbeat), so builds scale past one machine while the web tier stays small. Workers need
the same DATABASE_URL (PostgreSQL, or SQLite on one machine) and a Redis broker.

A job's row says when a worker took it (the worker claims it); a deployment's row cannot,
as the deployer marks it in progress before it is sent, so a deploy counts as started once
its worker's heartbeat is seen. A cancelled deploy that no worker answers within
CANCEL_WAIT_SECONDS ends anyway: the deployer's queue, and the service's stop, wait on it.
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

from bot.executor import messages
from bot.executor.base import Listeners, Target, TargetKind, Ticket
from bot.executor.remote import (
    HEARTBEAT_TTL_SECONDS,
    TASK_NAMES,
    Liveness,
    cancel_key,
    heartbeat_key,
    sending_app,
)
from bot.executor.sealing import seal
from bot.executor.targets import RowState, give_up, read_states
from bot.store import Store

log = logging.getLogger("greenlight.executor")
POLL_SECONDS = 0.2
STOP_SECONDS = 10.0
CANCEL_WAIT_SECONDS = 10.0  # a cancelled deploy no worker answers for ends anyway
CANCEL_KEY_SECONDS = 86_400


@dataclass
class _Watch:
    """What the service has seen of one target on the workers."""

    target: Target
    started: bool = False
    liveness: Liveness = field(default_factory=Liveness)
    cancelled_at: float | None = None  # deploys only: when the service asked it to stop

    def has_started(self, state: RowState, beating: bool) -> bool:
        return state.taken if state.taken is not None else self.started or beating


class CeleryExecutor:
    owns_running_jobs = True  # jobs survive a restart of the service: watch, don't re-run

    def __init__(
        self,
        store: Store,
        *,
        broker_url: str,
        ticket_key: str,
        cancel_wait_seconds: float = CANCEL_WAIT_SECONDS,
    ) -> None:
        self._store = store
        self._ticket_key = ticket_key
        self._cancel_wait = cancel_wait_seconds
        self._celery = sending_app("greenlight-service", broker_url)
        self._redis: Any = aioredis.from_url(broker_url)
        self.listeners = Listeners()
        self._watching: dict[Target, _Watch] = {}
        self._poller: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._sending: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
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

    def submit(self, ticket: Ticket) -> None:
        self.watch(ticket.target)
        self._in_background(self._send(ticket))

    def watch(self, target: Target) -> None:
        """Follow a target a worker has (or will have) until it ends."""
        self._watching.setdefault(target, _Watch(target))

    def cancel(self, target: Target) -> bool:
        watch = self._watching.get(target)
        if watch is None:
            return False
        if target.kind == TargetKind.DEPLOY and watch.cancelled_at is None:
            watch.cancelled_at = time.monotonic()
        self._in_background(self._redis.set(cancel_key(target), "1", ex=CANCEL_KEY_SECONDS))
        return True

    async def abandon(self, target: Target) -> None:
        """Tell the worker running (or about to run) this target to stop."""
        await self._redis.set(cancel_key(target), "1", ex=CANCEL_KEY_SECONDS)

    async def _send(self, ticket: Ticket) -> None:
        target = ticket.target
        try:
            # kombu publishes synchronously; keep the event loop free.
            await asyncio.to_thread(
                self._celery.send_task,
                TASK_NAMES[target.kind],
                args=[seal(ticket, self._ticket_key)],
                task_id=f"greenlight-{target.kind}-{target.id}-{uuid.uuid4().hex[:8]}",
            )
        except Exception as error:  # kombu's errors have no common base: say so, don't hang
            log.exception("sending %s to the Celery workers failed", target)
            await give_up(
                target, self._store, messages.not_sent(target.kind, str(error)), "failure"
            )

    def _in_background(self, work: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(work)
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _poll(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._check()
            except Exception:  # the store or Redis hiccuped: try again on the next tick
                log.exception("watching Celery work failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), POLL_SECONDS)

    async def _check(self) -> None:
        if not self._watching:
            return
        targets = list(self._watching)
        states = await read_states(self._store, targets)
        beats = await self._redis.mget([heartbeat_key(target) for target in targets])
        now = time.monotonic()
        for target, beat in zip(targets, beats, strict=True):
            state = states.get(target)
            if state is not None:
                await self._check_one(self._watching[target], state, beat is not None, now)

    async def _check_one(self, watch: _Watch, state: RowState, beating: bool, now: float) -> None:
        target = watch.target
        if state.finished:
            self._watching.pop(target, None)
            await self.listeners.finished(target)
            return
        if not watch.started and watch.has_started(state, beating):
            watch.started = True
            await self.listeners.started(target)
        if watch.started and watch.liveness.lost(beating, now):
            message = messages.worker_lost(target.kind, HEARTBEAT_TTL_SECONDS)
            await give_up(target, self._store, message, "failure")
        elif watch.cancelled_at is not None and now - watch.cancelled_at > self._cancel_wait:
            message = messages.cancelled_unanswered(self._cancel_wait)
            await give_up(target, self._store, message, "cancelled")
