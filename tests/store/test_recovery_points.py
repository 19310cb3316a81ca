"""What the recovery pass keeps in the store, on SQLite and on PostgreSQL."""

from __future__ import annotations

from dataclasses import replace

from bot.store import NewRun, Store
from bot.store.records import Delivery, RecoveryPoint


def delivery(delivery_id: str, *, recovered: bool = False) -> Delivery:
    return Delivery(delivery_id, "push", None, 7, "octo/hello", "{}", 1.0, recovered=recovered)


async def test_the_point_is_kept_and_replaced(store: Store) -> None:
    assert await store.recovery_points.get("log") is None
    first = RecoveryPoint(10, resume_cursor="v1_5", resume_top=12)
    await store.recovery_points.put("log", first, now=1.0)
    assert await store.recovery_points.get("log") == first
    await store.recovery_points.put("log", RecoveryPoint(12), now=2.0)
    assert await store.recovery_points.get("log") == RecoveryPoint(12)


async def test_known_deliveries_and_an_empty_store(store: Store) -> None:
    assert await store.deliveries.is_empty()
    assert await store.deliveries.record(delivery("live"))
    assert await store.deliveries.record(delivery("missed", recovered=True))
    assert not await store.deliveries.is_empty()
    assert await store.deliveries.known(["live", "missed", "never"]) == {"live", "missed"}
    assert {d.id: d.recovered for d in await store.deliveries.pending()} == {
        "live": False,
        "missed": True,
    }


async def test_repositories_known_from_installations_and_from_runs(store: Store) -> None:
    await store.installations.save(3, "octo", now=1.0)
    await store.installations.add_repositories(3, [(31, "octo/listed", False)])
    run = NewRun(
        repo="octo/built",
        repo_id=41,
        sha="a" * 40,
        installation_id=4,
        clone_url="/tmp/x",
        event="push",
        ref="main",
    )
    await store.runs.start(run, now=1.0)
    await store.runs.start(replace(run, sha="b" * 40, installation_id=5), now=2.0)
    assert await store.recovery_points.repositories() == [("octo/built", 5), ("octo/listed", 3)]
