"""The merging orchestration against the fake GitHub, without the web app around it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.context import Context
from bot.github.client import GitHubApp, InstallationClient
from bot.merging.access import PermissionCache
from bot.metrics import Metrics
from bot.settings import AppCredentials
from bot.store import open_store
from tests.fakes.github import FakeGitHub
from tests.helpers import make_settings
from tests.merging.flows import REPO


@pytest.fixture
async def context(fake_github: FakeGitHub, tmp_path: Path) -> AsyncIterator[Context]:
    """Greenlight's services (no pipeline) talking to the fake, with a SQLite store."""
    key = fake_github.private_key_pem
    pem = key.decode() if isinstance(key, bytes) else key
    settings = make_settings(tmp_path, pem, GITHUB_API_URL=fake_github.base_url)
    store = await open_store(settings.database_url)
    async with aiohttp.ClientSession() as session:
        github = GitHubApp(
            session,
            api_url=fake_github.base_url,
            metrics=Metrics(),
            credentials=AppCredentials(str(fake_github.app_id), pem, "s"),
        )
        yield Context(settings=settings, store=store, github=github, metrics=Metrics())
    await store.close()


@pytest.fixture
def permissions() -> PermissionCache:
    return PermissionCache()


def client_for(context: Context, fake: FakeGitHub) -> InstallationClient:
    installation = fake.world.installation_for(REPO, fake.app_id)
    assert installation is not None
    return context.github.installation(installation.id)
