"""The one reader of `.github/greenlight.yml`, against the fake GitHub."""

from __future__ import annotations

import pytest

from bot.core.config import Config
from bot.github.client import GitHubApp
from bot.repo_config import NO_CONFIG, ConfigErrors, freeze_windows, read_config, usable
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


async def test_freeze_windows_are_those_of_the_default_branch_whatever_its_name(
    github: GitHubApp, fake_github: FakeGitHub
) -> None:
    """Read without naming the branch: the contents API's default is the default branch
    (`trunk` here), and no request asks which one that is."""
    windows = (
        "freeze:\n  - name: release\n    from: 2020-01-01T00:00:00Z\n"
        "    until: 2099-01-01T00:00:00Z\njobs:\n  t:\n    run: echo\n"
    )
    repo = "octo/trunked"
    fake_github.create_repo(repo, {".github/greenlight.yml": windows}, default_branch="trunk")
    fake_github.commit(repo, "main", {".github/greenlight.yml": "jobs:\n  t:\n    run: x\n"})
    client = github.installation(installation_id(fake_github))

    found = await freeze_windows(client, repo)

    assert [window.name for window in found] == ["release"]
    assert fake_github.request_counts[("GET", "/repos/{owner}/{repo}")] == 0
    assert await freeze_windows(client, repo, "main") == ()  # a named branch is read as named
