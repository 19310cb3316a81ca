"""The one reader of `.github/greenlight.yml`, against the fake GitHub."""

from __future__ import annotations

import pytest

from bot.core.config import Config
from bot.github.client import GitHubApp
from bot.repo_config import NO_CONFIG, ConfigErrors, read_config, usable
from tests.fakes.github import FakeGitHub
from tests.github.test_client import github, installation_id

__all__ = ["github"]  # the fixture, shared with the client's tests


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({}, "no config"),
        ({".github/greenlight.yml": "jobs:\n  test:\n    run: make test\n"}, "config"),
        ({".github/greenlight.yml": "jobs:\n  test:\n    needs: [lint]\n"}, "errors"),
    ],
)
async def test_the_config_at_a_commit_is_one_of_three_values(
    github: GitHubApp, fake_github: FakeGitHub, files: dict[str, str], expected: str
) -> None:
    repo = f"octo/{expected.replace(' ', '-')}"
    fake_github.create_repo(repo, {"README.md": "hi\n", **files})
    client = github.installation(installation_id(fake_github))
    config = await read_config(client, repo, "main")
    match expected:
        case "no config":
            assert config == NO_CONFIG
            assert usable(config) is None
        case "config":
            assert isinstance(config, Config)
            assert usable(config) is config
        case "errors":
            assert isinstance(config, ConfigErrors)
            assert config.errors[0].line == 2  # on the offending line, as the check shows
            assert usable(config) is None
