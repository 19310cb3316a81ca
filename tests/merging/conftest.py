"""The merging orchestration against the fake GitHub, without the web app around it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.context import Context
from bot.github.client import InstallationClient
from bot.merging.access import PermissionCache
from tests.fakes.github import FakeGitHub
from tests.helpers import fake_github_context
from tests.merging.flows import REPO


@pytest.fixture
async def context(fake_github: FakeGitHub, tmp_path: Path) -> AsyncIterator[Context]:
    """Greenlight's services (no pipeline) talking to the fake, with a SQLite store."""
    async with fake_github_context(fake_github, tmp_path) as context:
        yield context


@pytest.fixture
def permissions() -> PermissionCache:
    return PermissionCache()


def client_for(context: Context, fake: FakeGitHub) -> InstallationClient:
    installation = fake.world.installation_for(REPO, fake.app_id)
    assert installation is not None
    return context.github.installation(installation.id)
