"""Drains recorded deliveries in the background, in order per repository.

A delivery is already in the store (status `pending`) when it reaches this queue, so a
restart loses nothing: `start` re-queues whatever was not handled. With several replicas
on one database, each handles only the deliveries it claims (bot.dispatch.claims).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from bot.dispatch.claims import CLAIM_SECONDS, SCAN_SECONDS, Claims
from bot.dispatch.events import WebhookEvent, from_delivery
from bot.dispatch.router import Router
from bot.github.backlog import Backlog, is_worth_retrying
from bot.logcontext import current_delivery
from bot.metrics import Metrics
from bot.replica import new_replica_id
from bot.store import Store
from bot.store.records import Claim, Delivery, DeliveryStatus

log = logging.getLogger("greenlight.dispatch")
# A person's command or button acts once: when GitHub fails its reply, the action itself has
# happened, and running the handler again would do it twice (a second deploy, say). Those
# failures are logged and the person asks again.
ACTS_ONCE = {("issue_comment", "created"), ("check_run", "requested_action")}
ContextT = TypeVar("ContextT")


class Dispatcher(Generic[ContextT]):
    """One queue per repository, drained in order; up to `workers` deliveries at once.

    A slow repository (a handler waiting on GitHub's write limit, say) holds back only
    its own deliveries, never another repository's. `replica_id` names this replica in
    its claims; `claim_seconds` and `scan_seconds` are the claims' lease and how often
    they are renewed and dead replicas' deliveries looked for.
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
        replica_id: str | None = None,
        claim_seconds: float = CLAIM_SECONDS,
        scan_seconds: float = SCAN_SECONDS,
        backlog: Backlog | None = None,
    ) -> None:
        self._store = store
        # Where a handler that failed because GitHub did goes to be run again later.
        self._backlog = backlog
        if backlog is not None:
            backlog.handle("handler", self._run_again)
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
        self._claims = Claims(
            store,
            replica_id or new_replica_id(),
            clock=clock,
            lease=claim_seconds,
            margin=scan_seconds,
        )
        self._scan_seconds = scan_seconds
        self._upkeep: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Queue the pending deliveries no live replica claims (on SQLite, which serves one
        process, every pending one); start draining, and keep the claims up."""
        await self._take_over(everything=not self._store.is_shared)
        self._started = True
        for repo in list(self._queues):
            self._drain_soon(repo)
        self._upkeep = asyncio.create_task(self._keep_claims(), name="delivery claims")

    async def stop(self) -> None:
        """Stop handling; the claims stay until they run out, or `release` gives them back."""
        self._started = False
        tasks = list(self._drainers.values()) + ([self._upkeep] if self._upkeep else [])
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def release(self) -> None:
        """Once stopped: give back the claims on what was not handled, so another replica
        takes it over at once instead of once the claims run out."""
        try:
            await self._store.deliveries.flush()  # what was handled is marked first
            await self._claims.release()
        except Exception:  # shutting down: the claims run out by themselves
            log.warning("could not give back the claims on pending deliveries", exc_info=True)

    def handles(self, event: str, action: str | None = None) -> bool:
        """True when some handler listens to this event (with this action, when given)."""
        if action is None:
            return event in self._router.events()
        return bool(self._router.handlers(event, action))

    def new_claim(self) -> Claim:
        """The claim to record a delivery this replica receives with."""
        return self._claims.new()

    def submit(
        self,
        delivery: Delivery,
        payload: dict[str, Any] | None = None,
        *,
        claim: Claim | None = None,
    ) -> None:
        """Queue a recorded delivery; `payload`: its body already parsed (else parsed later);
        `claim`: what it was recorded with (without one it is claimed before handling)."""
        self._claims.hold(delivery.id, claim)
        self._queue(delivery, payload)

    def _queue(self, delivery: Delivery, payload: dict[str, Any] | None) -> None:
        repo = delivery.repo or ""
        queue = self._queues.setdefault(repo, collections.deque())
        at = len(queue)  # after what was received earlier: a taken-over delivery may be older
        while at and queue[at - 1][0].received_at > delivery.received_at:
            at -= 1
        queue.insert(at, (delivery, payload))
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
                        if await self._claims.confirm(delivery.id):
                            await self._handle(delivery, payload)
                finally:
                    self._claims.forget(delivery.id)
                    self._outstanding -= 1
                    self._metrics.queue_depth.set(self._outstanding)
                    if self._outstanding == 0:
                        self._idle.set()
        finally:
            del self._drainers[repo]
            if not queue:
                del self._queues[repo]

    async def _take_over(self, *, everything: bool = False) -> None:
        try:
            taken = await self._claims.take_free(everything=everything)
        except Exception:  # the database out of reach, say: look again at the next scan
            log.exception("could not look for deliveries to take over")
            return
        for delivery in taken:
            self._queue(delivery, None)
        if taken:
            log.info("took over %d pending deliveries", len(taken))

    async def _keep_claims(self) -> None:
        """Renew this replica's claims, then take over what no live claim holds, until
        cancelled."""
        while True:
            await asyncio.sleep(self._scan_seconds)
            try:
                await self._claims.renew()
            except Exception:  # the claims last a few scans: renew at the next one
                log.exception("could not renew the claims on queued deliveries")
            await self._take_over()

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
                    await self._backlog.again(
                        f"handler:{event.delivery_id}:{handler.__qualname__}",
                        "handler",
                        {"delivery": event.delivery_id, "handler": handler.__qualname__},
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

    async def _run_again(self, work: Mapping[str, Any]) -> None:
        """Run the handler named in `work` again on its delivery, read back from the store."""
        delivery = await self._store.deliveries.get(str(work["delivery"]))
        if delivery is None:
            return  # pruned since: nothing left to run it on
        event = from_delivery(delivery)
        for handler in self._router.handlers(event.name, event.action):
            if handler.__qualname__ == work["handler"]:
                await handler(event, self._context)

    async def _finish(self, delivery: Delivery, status: DeliveryStatus, error: str | None) -> None:
        # Written with the next batch; if that fails the delivery stays pending and is
        # handled again after a restart (the writer logs it).
        self._store.deliveries.finish_soon(delivery.id, status, now=self._clock(), error=error)


def may_run_again(event: WebhookEvent, error: Exception) -> bool:
    """Whether a handler that failed with `error` is run again later: GitHub failed it, and
    running it again cannot act twice."""
    return is_worth_retrying(error) and (event.name, event.action) not in ACTS_ONCE
