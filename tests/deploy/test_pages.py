"""The deploy log page that deployment statuses link to."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.links import deployment_log_url
from bot.store import Store, open_store
from bot.store.deployments import Deployments, NewDeployment
from bot.web import deploy_pages as pages
from bot.web.keys import SETTINGS, STORE
from tests.helpers import make_settings


@pytest.fixture
async def client(
    tmp_path: Path, private_key_pem: str
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    settings = make_settings(tmp_path, private_key_pem)
    store: Store = await open_store(settings.database_url)
    app = web.Application()
    app[SETTINGS], app[STORE] = settings, store
    pages.add_routes(app)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client
    await store.close()


async def test_the_log_is_shown_to_holders_of_the_signed_link(
    client: TestClient[web.Request, web.Application],
) -> None:
    app = client.server.app
    deployments = Deployments(app[STORE].engine)
    record = await deployments.add(
        NewDeployment("octo/hello", "staging", "a" * 40, 7, 1, description="Deploy <b>"), now=1.0
    )
    await deployments.append_log(record.id, "deploying <script>\n")
    url = deployment_log_url("", record.id, app[SETTINGS].link_secret)

    page = await client.get(url)
    assert page.status == 200
    text = await page.text()
    assert "deploying &lt;script&gt;" in text
    assert "Deploy &lt;b&gt;" in text
    assert (await client.get(f"/deployments/{record.id}/log?token=forged")).status == 403
    other = deployment_log_url("", record.id + 1, app[SETTINGS].link_secret)
    assert (await client.get(other)).status == 404
