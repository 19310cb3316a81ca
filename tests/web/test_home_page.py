"""The status page `/` after setup shows public repositories only to a visitor who has not
signed in: a private repository's name, runs and deployments stay hidden."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.store.deployments import DeployState
from bot.web.app import create_app
from bot.web.keys import STORE
from tests.helpers import make_settings
from tests.web.conftest import Client
from tests.web.seed import seed_deployment, seed_run


@pytest.fixture
async def service(tmp_path: Path, private_key_pem: str) -> AsyncIterator[Client]:
    app = create_app(make_settings(tmp_path, private_key_pem))
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def test_a_visitor_sees_public_repositories_with_their_latest_run_and_what_is_live(
    service: Client,
) -> None:
    store = service.app[STORE]
    await store.installations.save(1, "octo", now=1.0)
    await store.installations.add_repositories(
        1, [(10, "octo/hello", False), (11, "octo/secret-plans", True)]
    )
    await seed_run(store, "a" * 40, {"build": "failure"})
    await seed_run(store, "b" * 40, {"build": "success"}, repo="octo/secret-plans")
    await seed_deployment(store, "production", "a" * 40, DeployState.SUCCESS)
    await seed_deployment(
        store, "production", "b" * 40, DeployState.SUCCESS, repo="octo/secret-plans"
    )
    response = await service.get("/")
    page = await response.text()
    assert response.status == 200
    assert "octo/hello" in page
    assert "/repos/octo/hello?token=" in page
    assert "✗ Failed" in page
    assert "aaaaaaa" in page
    assert "production: <code>aaaaaaa</code>" in page
    assert "secret-plans" not in page
    assert "bbbbbbb" not in page
