"""Claims on pending deliveries: one replica holds each, until its claim runs out."""

from __future__ import annotations

import asyncio

from bot.store import Store, open_store
from bot.store.records import Claim, Delivery, DeliveryStatus
from tests.services import postgres_database


def delivery(ident: str, at: float = 0.0, repo: str = "o/r") -> Delivery:
    return Delivery(ident, "push", None, 1, repo, "{}", at)


async def test_a_delivery_is_recorded_claimed_by_the_replica_that_received_it(
    store: Store,
) -> None:
    assert await store.deliveries.record(delivery("d"), claim=Claim("a", expires=30))
    assert await store.claims.holder("d", now=29) == "a"
    assert not await store.deliveries.record(delivery("d"), claim=Claim("b", expires=60))
    assert await store.claims.holder("d", now=29) == "a"  # a redelivery takes nothing
    assert await store.claims.take_free("b", now=29, until=59) == []
    assert [d.id for d in await store.claims.take_free("b", now=30, until=60)] == ["d"]
    assert await store.claims.holder("d", now=30) == "b"


async def test_free_deliveries_are_taken_oldest_first_and_handled_ones_never(
    store: Store,
) -> None:
    for ident, at in [("late", 3.0), ("early", 1.0), ("middle", 2.0), ("done", 0.5)]:
        await store.deliveries.record(delivery(ident, at))  # unclaimed: an older release's
    await store.deliveries.finish("done", DeliveryStatus.DONE, now=1)
    taken = await store.claims.take_free("a", now=10, until=40)
    assert [d.id for d in taken] == ["early", "middle", "late"]
    assert taken[0] == delivery("early", 1.0)
    assert await store.claims.take_free("b", now=10, until=40) == []


async def test_everything_takes_live_claims_too(store: Store) -> None:
    """On SQLite the one web process takes what a killed predecessor still held."""
    await store.deliveries.record(delivery("d"), claim=Claim("dead", expires=100))
    assert [d.id for d in await store.claims.take_free("a", now=1, until=31, everything=True)]
    assert await store.claims.holder("d", now=1) == "a"


async def test_a_holder_renews_only_what_it_still_holds(store: Store) -> None:
    for ident in ("mine", "handled", "taken"):
        await store.deliveries.record(delivery(ident), claim=Claim("a", expires=30))
    await store.deliveries.finish("handled", DeliveryStatus.DONE, now=1)
    assert [d.id for d in await store.claims.take_free("b", now=31, until=61)] == [
        "mine",
        "taken",
    ]
    assert await store.claims.take("mine", "a", now=31, until=61) is False
    assert await store.claims.renew("a", ["mine", "handled", "taken"], until=70) == set()
    assert await store.claims.renew("b", ["mine", "taken"], until=90) == {"mine", "taken"}
    assert await store.claims.holder("mine", now=89) == "b"


async def test_one_claim_is_taken_when_free_or_already_ours(store: Store) -> None:
    await store.deliveries.record(delivery("d"))
    assert await store.claims.take("d", "a", now=0, until=30)
    assert not await store.claims.take("d", "b", now=10, until=40)
    assert await store.claims.take("d", "a", now=29, until=59)  # renewed
    assert not await store.claims.take("d", "b", now=31, until=61)
    assert await store.claims.take("d", "b", now=59, until=89)


async def test_given_back_claims_are_free_at_once(store: Store) -> None:
    await store.deliveries.record(delivery("queued"), claim=Claim("a", expires=30))
    await store.deliveries.record(delivery("handled"), claim=Claim("a", expires=30))
    await store.deliveries.finish("handled", DeliveryStatus.DONE, now=1)
    await store.claims.release("a")
    assert [d.id for d in await store.claims.take_free("b", now=1, until=31)] == ["queued"]


async def test_replicas_racing_for_pending_deliveries_take_each_once() -> None:
    """Separate connections, as separate processes have: PostgreSQL settles the race."""
    async with postgres_database() as url:
        stores = [await open_store(url) for _ in range(4)]
        try:
            for round_ in range(5):
                idents = [f"r{round_}-{n}" for n in range(60)]
                for n, ident in enumerate(idents):
                    await stores[0].deliveries.record(delivery(ident, n, repo=f"o/{n % 3}"))
                taken = await asyncio.gather(
                    *(
                        store.claims.take_free(f"replica-{k}", now=0, until=30)
                        for k, store in enumerate(stores)
                    )
                )
                ids = [d.id for batch in taken for d in batch]
                assert sorted(ids) == sorted(idents)  # every one, none twice
        finally:
            for store in stores:
                await store.close()
