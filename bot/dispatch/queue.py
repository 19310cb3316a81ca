"""Drains recorded deliveries in the background, in order per repository.

A delivery is already in the store (status `pending`) when it reaches this queue, so a
restart loses nothing: `start` re-queues whatever was not handled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from bot.dispatch.events import WebhookEvent, from_delivery
from bot.dispatch.router import Router
from bot.logcontext import current_delivery
from bot.metrics import Metrics
from bot.store import Store
from bot.store.records import Delivery, DeliveryStatus

log = logging.getLogger("greenlight.dispatch")
ContextT = TypeVar("ContextT")


class Dispatcher(Generic[ContextT]):
    def __init__(
        self,
        store: Store,
        router: Router[ContextT],
        context: ContextT,
        metrics: Metrics,
        *,
        workers: int = 4,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._router = router
        self._context = context
        self._metrics = metrics
        self._clock = clock
        self._queue: asyncio.Queue[tuple[Delivery, dict[str, Any] | None]] = asyncio.Queue()
        self._worker_count = workers
        self._workers: list[asyncio.Task[None]] = []
        self._repo_locks: dict[str, asyncio.Lock] = {}

    async def start(self) -> None:
        """Re-queue deliveries a previous process recorded but did not handle; start workers."""
        for delivery in await self._store.deliveries.pending():
            self.submit(delivery)
        self._workers = [
            asyncio.create_task(self._work(), name=f"dispatch-{n}")
            for n in range(self._worker_count)
        ]

    async def stop(self) -> None:
        for worker in self._workers:
            worker.cancel()
        for worker in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker

    def handles(self, event: str) -> bool:
        """True when some handler listens to this event."""
        return event in self._router.events()

    def submit(self, delivery: Delivery, payload: dict[str, Any] | None = None) -> None:
        """Queue a recorded delivery; `payload`: its body already parsed (else parsed later)."""
        self._queue.put_nowait((delivery, payload))
        self._metrics.queue_depth.set(self._queue.qsize())

    async def wait_idle(self) -> None:
        """Until every submitted delivery has been handled and marked (tests, shutdown)."""
        await self._queue.join()
        await self._store.deliveries.flush()

    async def _work(self) -> None:
        while True:
            delivery, payload = await self._queue.get()
            self._metrics.queue_depth.set(self._queue.qsize())
            try:
                lock = self._repo_locks.setdefault(delivery.repo or "", asyncio.Lock())
                async with lock:
                    await self._handle(delivery, payload)
            finally:
                self._queue.task_done()

    async def _handle(self, delivery: Delivery, payload: dict[str, Any] | None) -> None:
        current_delivery.set((delivery.id, delivery.installation_id, delivery.repo))
        extra = {
            "delivery": delivery.id,
            "installation": delivery.installation_id,
            "repo": delivery.repo,
        }
        try:
            event = from_delivery(delivery, payload)
        except ValueError as error:  # recorded bodies were valid JSON; guard anyway
            await self._finish(delivery, DeliveryStatus.FAILED, f"unreadable payload: {error}")
            return
        failures = await self._run_handlers(event, extra)
        status = DeliveryStatus.FAILED if failures else DeliveryStatus.DONE
        await self._finish(delivery, status, "; ".join(failures) or None)

    async def _run_handlers(self, event: WebhookEvent, extra: Mapping[str, object]) -> list[str]:
        failures = []
        for handler in self._router.handlers(event.name, event.action):
            try:
                await handler(event, self._context)
            except Exception as error:  # the dispatch boundary: log it, keep going
                self._metrics.handler_errors.labels(event.name).inc()
                log.exception(
                    "handler %s failed on %s.%s",
                    handler.__qualname__,
                    event.name,
                    event.action,
                    extra=extra,
                )
                failures.append(f"{handler.__qualname__}: {type(error).__name__}: {error}")
        return failures

    async def _finish(self, delivery: Delivery, status: DeliveryStatus, error: str | None) -> None:
        # Written with the next batch; if that fails the delivery stays pending and is
        # handled again after a restart (the writer logs it).
        self._store.deliveries.finish_soon(delivery.id, status, now=self._clock(), error=error)
