"""Drains recorded deliveries in the background, in order per repository.

A delivery is already in the store (status `pending`) when it reaches this queue, so a
restart loses nothing: `start` re-queues whatever was not handled.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from bot.dispatch.events import WebhookEvent, from_delivery
from bot.dispatch.router import Router
from bot.github.backlog import Backlog, is_worth_retrying
from bot.logcontext import current_delivery
from bot.metrics import Metrics
from bot.store import Store
from bot.store.records import Delivery, DeliveryStatus

log = logging.getLogger("greenlight.dispatch")
# A person's command or button acts once: when GitHub fails its reply, the action itself has
# happened, and running the handler again would do it twice (a second deploy, say). Those
# failures are logged and the person asks again.
ACTS_ONCE = {("issue_comment", "created"), ("check_run", "requested_action")}
ContextT = TypeVar("ContextT")


class Dispatcher(Generic[ContextT]):
    """One queue per repository, drained in order; up to `workers` deliveries at once.

    A slow repository (a handler waiting on GitHub's write limit, say) holds back only
    its own deliveries, never another repository's.
    """

    def __init__(
        self,
        store: Store,
        router: Router[ContextT],
        context: ContextT,
        metrics: Metrics,
        *,
        workers: int = 4,
        clock: Callable[[], float] = time.time,
        backlog: Backlog | None = None,
    ) -> None:
        self._store = store
        # Where a handler that failed because GitHub did goes to be run again later.
        self._backlog = backlog
        self._router = router
        self._context = context
        self._metrics = metrics
        self._clock = clock
        self._slots = asyncio.Semaphore(workers)
        self._queues: dict[str, collections.deque[tuple[Delivery, dict[str, Any] | None]]] = {}
        self._drainers: dict[str, asyncio.Task[None]] = {}
        self._outstanding = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._started = False

    async def start(self) -> None:
        """Re-queue deliveries a previous process recorded but did not handle; start draining."""
        for delivery in await self._store.deliveries.pending():
            self.submit(delivery)
        self._started = True
        for repo in list(self._queues):
            self._drain_soon(repo)

    async def stop(self) -> None:
        self._started = False
        drainers = list(self._drainers.values())
        for drainer in drainers:
            drainer.cancel()
        for drainer in drainers:
            with contextlib.suppress(asyncio.CancelledError):
                await drainer

    def handles(self, event: str) -> bool:
        """True when some handler listens to this event."""
        return event in self._router.events()

    def submit(self, delivery: Delivery, payload: dict[str, Any] | None = None) -> None:
        """Queue a recorded delivery; `payload`: its body already parsed (else parsed later)."""
        repo = delivery.repo or ""
        self._queues.setdefault(repo, collections.deque()).append((delivery, payload))
        self._outstanding += 1
        self._idle.clear()
        self._metrics.queue_depth.set(self._outstanding)
        if self._started:
            self._drain_soon(repo)

    async def wait_idle(self) -> None:
        """Until every submitted delivery has been handled and marked (tests, shutdown)."""
        await self._idle.wait()
        await self._store.deliveries.flush()

    def _drain_soon(self, repo: str) -> None:
        if repo not in self._drainers:
            self._drainers[repo] = asyncio.create_task(self._drain(repo), name=f"dispatch {repo}")

    async def _drain(self, repo: str) -> None:
        queue = self._queues[repo]
        try:
            while queue:
                delivery, payload = queue.popleft()
                try:
                    async with self._slots:
                        await self._handle(delivery, payload)
                finally:
                    self._outstanding -= 1
                    self._metrics.queue_depth.set(self._outstanding)
                    if self._outstanding == 0:
                        self._idle.set()
        finally:
            del self._drainers[repo]
            if not queue:
                del self._queues[repo]

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
                failures.append(f"{handler.__qualname__}: {type(error).__name__}: {error}")
                if self._backlog is not None and may_run_again(event, error):
                    failures[-1] += " (run again later)"
                    # Handlers re-read the state they act on, so running one again later
                    # does what is right then.
                    self._backlog.again(
                        (extra["delivery"], handler.__qualname__),
                        functools.partial(handler, event, self._context),
                        what=f"{handler.__qualname__} on {event.name}.{event.action}",
                        error=error,
                    )
                    continue
                log.exception(
                    "handler %s failed on %s.%s",
                    handler.__qualname__,
                    event.name,
                    event.action,
                    extra=extra,
                )
        return failures

    async def _finish(self, delivery: Delivery, status: DeliveryStatus, error: str | None) -> None:
        # Written with the next batch; if that fails the delivery stays pending and is
        # handled again after a restart (the writer logs it).
        self._store.deliveries.finish_soon(delivery.id, status, now=self._clock(), error=error)


def may_run_again(event: WebhookEvent, error: Exception) -> bool:
    """Whether a handler that failed with `error` is run again later: GitHub failed it, and
    running it again cannot act twice."""
    return is_worth_retrying(error) and (event.name, event.action) not in ACTS_ONCE
