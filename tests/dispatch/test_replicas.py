"""Two dispatchers on one PostgreSQL database, as two replicas: each delivery handled once.

Each replica has its own store (its own connections, as a separate process would) and its
own replica id; a recording router says which replica handled what.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa

from bot.dispatch.events import WebhookEvent
from bot.dispatch.queue import Dispatcher
from bot.dispatch.router import Router
from bot.metrics import Metrics
from bot.store import Store, open_store
from bot.store.claims import DeliveryClaims
from bot.store.records import Claim, Delivery, DeliveryStatus
from bot.store.schema import deliveries
from tests.helpers import wait_until
from tests.services import postgres_database

pytestmark = pytest.mark.postgres
LEASE = 2.0  # seconds: short, so a dead replica's claims run out within a test
SCAN = 0.1


@dataclass
class Handled:
    """Every handler call, in order: (replica, delivery id)."""

    calls: list[tuple[str, str]] = field(default_factory=list)
    held: set[str] = field(default_factory=set)  # repositories whose handlers wait
    release: asyncio.Event = field(default_factory=asyncio.Event)
    started: list[str] = field(default_factory=list)

    def router(self, replica: str) -> Router[None]:
        router: Router[None] = Router()

        @router.register("push")
        async def handle(event: WebhookEvent, _context: None) -> None:
            self.started.append(event.delivery_id)
            if event.repo in self.held:
                await self.release.wait()
            self.calls.append((replica, event.delivery_id))

        return router

    def times(self) -> Counter[str]:
        return Counter(ident for _, ident in self.calls)

    def by(self, replica: str) -> list[str]:
        return [ident for who, ident in self.calls if who == replica]


@dataclass
class Replica:
    name: str
    store: Store
    dispatcher: Dispatcher[None]

    async def receive(self, item: Delivery) -> None:
        """What the webhook does: record the delivery claimed by this replica, queue it."""
        claim = self.dispatcher.new_claim()
        assert await self.store.deliveries.record(item, claim=claim)
        self.dispatcher.submit(item, claim=claim)


@asynccontextmanager
async def replicas(
    url: str, handled: Handled, *names: str, lease: float = LEASE
) -> AsyncIterator[list[Replica]]:
    """Replicas on the database at `url`, not started; stopped and closed afterwards."""
    async with AsyncExitStack() as stack:
        made = []
        for name in names:
            store = await open_store(url)
            stack.push_async_callback(store.close)
            dispatcher = Dispatcher(
                store,
                handled.router(name),
                None,
                Metrics(),
                replica_id=name,
                claim_seconds=lease,
                scan_seconds=SCAN,
            )
            stack.push_async_callback(dispatcher.stop)
            made.append(Replica(name, store, dispatcher))
        yield made


def delivery(ident: str, repo: str = "o/r", at: float | None = None) -> Delivery:
    return Delivery(ident, "push", None, 1, repo, "{}", time.time() if at is None else at)


async def all_handled(store: Store, idents: list[str]) -> bool:
    await asyncio.sleep(0)
    statuses = [await store.deliveries.status(ident) for ident in idents]
    return all(status == DeliveryStatus.DONE for status in statuses)


async def test_deliveries_split_between_replicas_and_left_over_are_each_handled_once() -> None:
    handled = Handled()
    async with postgres_database() as url, replicas(url, handled, "a", "b") as (a, b):
        left_over = [delivery(f"old-{n}", f"o/{n % 3}", at=n) for n in range(20)]
        for item in left_over[:10]:  # from before claims, or given back by a replica
            await a.store.deliveries.record(item)
        for item in left_over[10:]:  # held by a replica that died; its claim ran out
            await a.store.deliveries.record(item, claim=Claim("dead", expires=time.time()))
        await asyncio.gather(a.dispatcher.start(), b.dispatcher.start())
        fresh = [delivery(f"new-{n}", f"o/{n % 3}") for n in range(40)]
        for n, item in enumerate(fresh):  # round-robin, as a load balancer sends them
            await (a, b)[n % 2].receive(item)
        idents = [d.id for d in left_over + fresh]
        await wait_until(lambda: all_handled(a.store, idents), message="every delivery handled")
        await a.dispatcher.wait_idle()
        await b.dispatcher.wait_idle()
        assert handled.times() == Counter(idents)  # once each
        for n, item in enumerate(fresh):
            assert (("a", "b")[n % 2], item.id) in handled.calls  # by the one that received it
        for replica in ("a", "b"):  # in the order received, per repository, within a replica
            order = [ident for ident in handled.by(replica) if ident.startswith("new-")]
            for repo in range(3):
                mine = [i for i in order if int(i.split("-")[1]) % 3 == repo]
                assert mine == sorted(mine, key=lambda i: int(i.split("-")[1]))


async def test_replicas_starting_together_take_each_pending_delivery_once() -> None:
    handled = Handled()
    async with postgres_database() as url:
        for round_ in range(3):
            async with replicas(url, handled, "a", "b", "c") as started:
                idents = [f"r{round_}-{n}" for n in range(50)]
                for n, ident in enumerate(idents):
                    await started[0].store.deliveries.record(delivery(ident, f"o/{n % 5}", at=n))
                await asyncio.gather(*(replica.dispatcher.start() for replica in started))
                everything = functools.partial(all_handled, started[0].store, idents)
                await wait_until(everything, message="every delivery handled")
                for replica in started:
                    await replica.dispatcher.wait_idle()
        assert len(handled.calls) == 150
        assert set(handled.times().values()) == {1}


async def test_a_dead_replicas_deliveries_are_taken_over_once_its_claims_run_out() -> None:
    handled = Handled(held={"slow/repo"})
    async with postgres_database() as url, replicas(url, handled, "a", "b") as (a, b):
        await a.dispatcher.start()
        await b.dispatcher.start()
        items = [delivery(f"d{n}", "slow/repo") for n in range(4)]
        for item in items:
            await a.receive(item)
        await wait_until(lambda: handled.started == ["d0"], message="a to start handling d0")
        first = await held_until(a.store, "d3")

        async def kept_for_two_leases() -> bool:  # `a` is alive: its claims never lapse
            for item in items:
                assert await a.store.claims.holder(item.id, now=time.time()) == "a"
            return time.time() > first + LEASE

        await wait_until(kept_for_two_leases, message="two leases to pass")
        assert handled.started == ["d0"]  # b took nothing

        await a.dispatcher.stop()  # killed: no more renewals, nothing given back
        killed = time.monotonic()
        handled.held.clear()
        ids = [item.id for item in items]
        await wait_until(lambda: all_handled(b.store, ids), message="b to take over")
        assert time.monotonic() - killed < LEASE + 2.0  # within the lease (and a scan)
        assert handled.calls == [("b", ident) for ident in ids]  # once each, in order


async def test_a_replica_that_stops_gives_its_deliveries_back_at_once() -> None:
    handled = Handled(held={"slow/repo"})
    async with (
        postgres_database() as url,
        replicas(url, handled, "a", lease=3600) as [a],  # its claims would outlive the test
        replicas(url, handled, "b") as [b],
    ):
        await a.dispatcher.start()
        await b.dispatcher.start()
        for n in range(3):
            await a.receive(delivery(f"d{n}", "slow/repo"))
        await wait_until(lambda: handled.started == ["d0"], message="a to start handling d0")
        await a.dispatcher.stop()
        await a.dispatcher.release()
        handled.held.clear()
        await wait_until(lambda: all_handled(b.store, ["d0", "d1", "d2"]), message="b")
        assert handled.calls == [("b", "d0"), ("b", "d1"), ("b", "d2")]


async def held_until(store: Store, ident: str) -> float:
    """When the claim on a pending delivery runs out, as the database says."""
    async with store.engine.connect() as connection:
        query = sa.select(deliveries.c.claim_expires).where(deliveries.c.id == ident)
        value = (await connection.execute(query)).scalar()
    assert value is not None
    return float(value)


class OutOfReach(DeliveryClaims):
    """The claims table as a replica cut off from the database sees it."""

    async def take_free(self, *args: Any, **kwargs: Any) -> list[Delivery]:
        raise OSError("connection refused")

    async def take(self, *args: Any, **kwargs: Any) -> bool:
        raise OSError("connection refused")

    async def renew(self, *args: Any, **kwargs: Any) -> set[str]:
        raise OSError("connection refused")


async def test_a_replica_cut_off_past_its_lease_leaves_what_was_taken_over() -> None:
    handled = Handled(held={"slow/repo"})
    async with postgres_database() as url, replicas(url, handled, "a", "b") as (a, b):
        await a.dispatcher.start()
        items = [delivery(f"d{n}", "slow/repo") for n in range(3)]
        for item in items:
            await a.receive(item)
        await wait_until(lambda: handled.started == ["d0"], message="a to start handling d0")
        reachable, a.store.claims = a.store.claims, OutOfReach(a.store.engine)
        await b.dispatcher.start()

        async def taken_by_b() -> bool:
            holders = [await b.store.claims.holder(i.id, now=time.time()) for i in items]
            return holders == ["b"] * 3

        await wait_until(taken_by_b, message="b to take a's deliveries once a's claims ran out")
        a.store.claims = reachable  # a is back, still running d0's handler
        handled.held.clear()
        handled.release.set()
        await wait_until(lambda: all_handled(b.store, ["d0", "d1", "d2"]), message="all handled")
        await a.dispatcher.wait_idle()
        await b.dispatcher.wait_idle()
        # What a had not started it leaves to b; a handler already running when its claim
        # was lost cannot be called back, and finishes (so d0 ran on both).
        assert handled.by("a") == ["d0"]
        assert handled.by("b") == ["d0", "d1", "d2"]
