"""Fixtures for the fake's own tests: the served fake, a webhook receiver, gidgethub clients."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from gidgethub.aiohttp import GitHubAPI
from gidgethub.apps import get_installation_access_token, get_jwt

from tests.fakes.github import FakeGitHub

# ``fake_github`` and ``webhook_receiver`` come from tests.fakes.plugin, which the root
# conftest registers.

REPO = "octo/hello"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A client session closed after the test."""
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.fixture
def gh(fake_github: FakeGitHub, session: aiohttp.ClientSession) -> GitHubAPI:
    """A plain gidgethub client pointed at the fake."""
    return GitHubAPI(session, "greenlight-tests", base_url=fake_github.base_url)


@pytest.fixture
def repo(fake_github: FakeGitHub) -> str:
    """``octo/hello`` with a README and a config file, the app installed."""
    fake_github.create_repo(
        REPO,
        {"README.md": "# hello\n", ".github/greenlight.yml": "jobs:\n  test:\n    run: pytest\n"},
    )
    return REPO


@pytest.fixture
def app_jwt(fake_github: FakeGitHub) -> str:
    """A valid app JWT, as gidgethub makes it."""
    return get_jwt(app_id=str(fake_github.app_id), private_key=fake_github.private_key_pem)


async def installation_token(fake: FakeGitHub, gh: GitHubAPI, repo: str) -> str:
    """An installation token for the installation covering ``repo``."""
    installation = fake.world.installation_for(repo, fake.app_id)
    assert installation is not None
    data = await get_installation_access_token(
        gh,
        installation_id=str(installation.id),
        app_id=str(fake.app_id),
        private_key=fake.private_key_pem,
    )
    return str(data["token"])


@pytest.fixture
async def token(fake_github: FakeGitHub, gh: GitHubAPI, repo: str) -> str:
    """An installation token for ``octo/hello``."""
    return await installation_token(fake_github, gh, repo)
