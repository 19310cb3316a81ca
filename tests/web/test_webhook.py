"""Webhook intake: verify, record once, queue, answer fast — with real example payloads."""

from __future__ import annotations

import io
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.store import open_store
from bot.store.records import DeliveryStatus
from bot.store.schema import deliveries
from bot.web.app import create_app
from bot.web.keys import DISPATCHER, STORE
from tests.helpers import fixture_payload, make_settings, signed_headers, wait_until
from tests.services import drop_database, postgres_database

Client = TestClient[Any, web.Application]


@pytest.fixture
async def client(tmp_path: Path, private_key_pem: str) -> AsyncIterator[Client]:
    app = create_app(make_settings(tmp_path, private_key_pem))
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def post(client: Client, event: str, payload: Any, **options: Any) -> Any:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = signed_headers(body, event, **options)
    return await client.post("/webhook", data=body, headers=headers)


async def test_ping_answers_200(client: Client) -> None:
    response = await post(client, "ping", fixture_payload("ping"))
    assert response.status == 200


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"X-Hub-Signature-256": "sha256=" + "0" * 64}, 401),
        ({"X-Hub-Signature-256": "sha1=abc"}, 401),
    ],
)
async def test_unsigned_or_forged_deliveries_are_refused(
    client: Client, headers: dict[str, str], status: int
) -> None:
    body = json.dumps(fixture_payload("push")).encode()
    base = signed_headers(body, "push")
    del base["X-Hub-Signature-256"]
    response = await client.post("/webhook", data=body, headers={**base, **headers})
    assert response.status == status
    assert await client.app[STORE].deliveries.pending() == []


async def test_a_signature_for_another_body_is_refused(client: Client) -> None:
    body = json.dumps(fixture_payload("push")).encode()
    headers = signed_headers(body + b" ", "push")
    response = await client.post("/webhook", data=body, headers=headers)
    assert response.status == 401


@pytest.mark.parametrize("missing", ["X-GitHub-Event", "X-GitHub-Delivery"])
async def test_missing_headers_are_bad_requests(client: Client, missing: str) -> None:
    body = json.dumps(fixture_payload("push")).encode()
    headers = signed_headers(body, "push")
    del headers[missing]
    response = await client.post("/webhook", data=body, headers=headers)
    assert response.status == 400


@pytest.mark.parametrize(
    "body",
    [
        json.dumps(fixture_payload("push")).encode()[:-10],  # truncated
        b'{"ref": "refs/heads/main", "name": "caf\xe9"}',  # Latin-1, not UTF-8
        b'{"size": NaN}',  # Python's json reads it; JSON has no NaN
        b"",
    ],
    ids=["truncated", "not-utf8", "nan", "empty"],
)
async def test_a_body_that_is_not_json_is_a_bad_request(client: Client, body: bytes) -> None:
    response = await post(client, "push", body)
    assert response.status == 400
    assert "not JSON" in (await response.json())["message"]


async def test_over_25_megabytes_is_refused(client: Client) -> None:
    body = b'{"a": "' + b"x" * (25 * 1024 * 1024) + b'"}'
    headers = signed_headers(body, "push")
    response = await client.post("/webhook", data=io.BytesIO(body), headers=headers)
    assert response.status == 413


async def test_an_installation_is_recorded_once_even_when_redelivered(client: Client) -> None:
    payload = fixture_payload("installation.created")
    first = await post(client, "installation", payload, delivery="delivery-1")
    again = await post(client, "installation", payload, delivery="delivery-1")
    assert (first.status, again.status) == (202, 200)
    await client.app[DISPATCHER].wait_idle()
    store = client.app[STORE]
    installation = await store.installations.get(payload["installation"]["id"])
    assert installation is not None
    assert installation.account == payload["installation"]["account"]["login"]
    assert await store.deliveries.status("delivery-1") == DeliveryStatus.DONE
    expected = sorted(r["full_name"] for r in payload["repositories"])
    assert await store.installations.repositories(installation.id) == expected


async def test_installation_lifecycle(client: Client) -> None:
    created = fixture_payload("installation.created")
    installation_id = created["installation"]["id"]
    suspended = fixture_payload("installation.suspend")
    suspended["installation"]["id"] = installation_id
    deleted = fixture_payload("installation.deleted")
    deleted["installation"]["id"] = installation_id
    store = client.app[STORE]
    await post(client, "installation", created)
    await post(client, "installation", suspended)
    await client.app[DISPATCHER].wait_idle()
    found = await store.installations.get(installation_id)
    assert found is not None
    assert found.suspended
    await post(client, "installation", deleted)
    await client.app[DISPATCHER].wait_idle()
    assert await store.installations.get(installation_id) is None


async def test_repositories_of_an_unknown_installation_are_recorded(client: Client) -> None:
    payload = fixture_payload("installation_repositories.added")
    await post(client, "installation_repositories", payload)
    await client.app[DISPATCHER].wait_idle()
    store = client.app[STORE]
    installation_id = payload["installation"]["id"]
    assert await store.installations.get(installation_id) is not None
    added = sorted(r["full_name"] for r in payload["repositories_added"])
    assert await store.installations.repositories(installation_id) == added


async def test_unknown_events_are_accepted_and_counted(client: Client) -> None:
    response = await post(client, "star", {"action": "created", "starred_at": None})
    assert response.status == 202
    assert (await response.json())["message"] == "ignored"
    metrics = await (await client.get("/metrics")).text()
    assert 'greenlight_webhooks_total{event="star",outcome="ignored"} 1.0' in metrics


async def test_health_and_metrics(client: Client) -> None:
    health = await client.get("/healthz")
    assert health.status == 200
    await post(client, "push", b"{", delivery="bad")
    metrics = await client.get("/metrics")
    assert metrics.headers["Content-Type"].startswith("text/plain")
    text = await metrics.text()
    assert 'greenlight_webhooks_total{event="push",outcome="bad_request"} 1.0' in text
    assert "greenlight_queue_depth" in text


@pytest.mark.postgres
async def test_health_is_503_when_the_store_is_down(tmp_path: Path, private_key_pem: str) -> None:
    async with postgres_database() as url:
        app = create_app(make_settings(tmp_path, private_key_pem, DATABASE_URL=url))
        async with TestClient(TestServer(app)) as client:
            assert (await client.get("/healthz")).status == 200
            await drop_database(url)
            assert (await client.get("/healthz")).status == 503
            body = json.dumps(fixture_payload("push")).encode()
            refused = await client.post("/webhook", data=body, headers=signed_headers(body, "push"))
            assert refused.status == 503  # GitHub records the failure; it can be redelivered


async def test_deliveries_left_pending_are_handled_after_a_restart(
    tmp_path: Path, private_key_pem: str
) -> None:
    settings = make_settings(tmp_path, private_key_pem)
    payload = fixture_payload("installation.created")
    first = create_app(settings)
    async with TestClient(TestServer(first)) as client:
        await client.app[DISPATCHER].stop()  # the process dies before handling anything
        response = await post(client, "installation", payload, delivery="survivor")
        assert response.status == 202
    second = create_app(settings)
    async with TestClient(TestServer(second)) as client:
        await client.app[DISPATCHER].wait_idle()
        store = client.app[STORE]
        assert await store.deliveries.status("survivor") == DeliveryStatus.DONE
        assert await store.installations.get(payload["installation"]["id"]) is not None
        again = await post(client, "installation", payload, delivery="survivor")
        assert again.status == 200


async def test_the_service_deletes_old_handled_deliveries(
    tmp_path: Path, private_key_pem: str
) -> None:
    settings = make_settings(tmp_path, private_key_pem, GREENLIGHT_DELIVERY_RETENTION_DAYS="3")
    app = create_app(settings)
    async with TestClient(TestServer(app)) as client:
        payload = fixture_payload("installation.created")
        assert (await post(client, "installation", payload, delivery="handled")).status == 202
        await client.app[DISPATCHER].wait_idle()
    store = await open_store(settings.database_url)
    four_days_ago = time.time() - 4 * 86_400
    async with store.engine.begin() as connection:  # as if received four days ago
        await connection.execute(sa.update(deliveries).values(received_at=four_days_ago))
    await store.close()

    async with TestClient(TestServer(create_app(settings))) as client:
        deleted = client.app[STORE].deliveries

        async def gone() -> bool:
            return await deleted.status("handled") is None

        await wait_until(gone, deadline=10, message="the old delivery to be deleted")
