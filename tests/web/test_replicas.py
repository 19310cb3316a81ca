"""Two web replicas on one PostgreSQL database, each a whole app with its own replica id."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.store import Store
from bot.store.records import DeliveryStatus
from bot.store.schema import deliveries
from bot.web.app import create_app
from bot.web.keys import DISPATCHER, SERVICES, STORE
from tests.helpers import fixture_payload, make_settings, signed_headers, wait_until
from tests.services import postgres_database

pytestmark = pytest.mark.postgres
Client = TestClient[Any, web.Application]


@asynccontextmanager
async def two_replicas(tmp_path: Path, pem: str, url: str) -> AsyncIterator[list[Client]]:
    async with AsyncExitStack() as stack:
        clients = []
        for name in ("a", "b"):
            settings = make_settings(tmp_path / name, pem, DATABASE_URL=url)
            client = TestClient(TestServer(create_app(settings)))
            clients.append(await stack.enter_async_context(client))
        yield clients


def replica_id(client: Client) -> str:
    return client.app[SERVICES].context.replica_id


async def install(client: Client, installation_id: int) -> None:
    """GitHub delivers `installation.created` for a new installation to this replica."""
    payload = fixture_payload("installation.created")
    payload["installation"]["id"] = installation_id
    payload["repositories"] = []
    body = json.dumps(payload).encode()
    headers = signed_headers(body, "installation", delivery=f"install-{installation_id}")
    response = await client.post("/webhook", data=body, headers=headers)
    assert response.status == 202


async def claimed_by(store: Store) -> dict[str, str | None]:
    async with store.engine.connect() as connection:
        rows = await connection.execute(sa.select(deliveries.c.id, deliveries.c.claimed_by))
        return dict(rows.all())


async def statuses(store: Store) -> set[DeliveryStatus]:
    async with store.engine.connect() as connection:
        rows = await connection.execute(sa.select(deliveries.c.status))
        return {DeliveryStatus(status) for status in rows.scalars()}


async def test_each_replica_handles_the_deliveries_it_received(
    tmp_path: Path, private_key_pem: str
) -> None:
    async with (
        postgres_database() as url,
        two_replicas(tmp_path, private_key_pem, url) as (a, b),
    ):
        assert replica_id(a) != replica_id(b)
        for n in range(20):  # round-robin, as a load balancer sends them
            await install((a, b)[n % 2], 1000 + n)
        store = a.app[STORE]
        await a.app[DISPATCHER].wait_idle()
        await b.app[DISPATCHER].wait_idle()
        assert await statuses(store) == {DeliveryStatus.DONE}
        holders = await claimed_by(store)
        for n in range(20):  # recorded claimed by the replica that answered GitHub
            assert holders[f"install-{1000 + n}"] == replica_id((a, b)[n % 2])
        for n in range(20):
            assert await store.installations.get(1000 + n) is not None


async def test_a_replica_that_stops_hands_its_queued_deliveries_to_the_other(
    tmp_path: Path, private_key_pem: str
) -> None:
    async with (
        postgres_database() as url,
        two_replicas(tmp_path, private_key_pem, url) as (a, b),
    ):
        await a.app[DISPATCHER].stop()  # a handles nothing from now on
        for n in range(5):
            await install(a, 2000 + n)
        store = b.app[STORE]
        assert set((await claimed_by(store)).values()) == {replica_id(a)}
        await a.close()  # a clean stop gives its claims back

        async def handled_by_b() -> bool:
            found = [await store.deliveries.status(f"install-{2000 + n}") for n in range(5)]
            return found == [DeliveryStatus.DONE] * 5

        # The claims would hold for 30 s; given back, b's next look (every 5 s) takes them.
        await wait_until(handled_by_b, deadline=15, message="b to handle a's deliveries")
        assert set((await claimed_by(store)).values()) == {replica_id(b)}
