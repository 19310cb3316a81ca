"""The pages under test: the app's page routes over a fresh store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.settings import Settings
from bot.store import Store, open_store
from bot.web import pages
from bot.web.keys import SETTINGS, STORE
from tests.helpers import make_settings

Client = TestClient[Any, web.Application]


@pytest.fixture
def settings(tmp_path: Path, private_key_pem: str) -> Settings:
    return make_settings(tmp_path, private_key_pem, GITHUB_URL="https://github.example")


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[Store]:
    opened = await open_store(settings.database_url)
    yield opened
    await opened.close()


@pytest.fixture
async def client(settings: Settings, store: Store) -> AsyncIterator[Client]:
    app = web.Application()
    app[SETTINGS], app[STORE] = settings, store
    pages.add_routes(app)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client
