"""Git over HTTP: served to tokens that may read (fetch) or write (push) the repository."""

from __future__ import annotations

import asyncio
import base64
import os
from pathlib import Path

import pytest
from gidgethub.aiohttp import GitHubAPI

from tests.fakes.github import FakeGitHub
from tests.fakes_tests.conftest import REPO


@pytest.fixture
def over_http(fake_github: FakeGitHub, repo: str) -> FakeGitHub:
    fake_github.git_over_http = True
    fake_github.repo(repo).private = True
    return fake_github


async def git(*args: str, token: str | None = None, cwd: Path | None = None) -> tuple[int, str]:
    """Run git as a client would, the token as a Basic header; (exit code, stderr)."""
    env = {
        "PATH": os.environ["PATH"],
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    if token is not None:
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        env |= {
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: basic {basic}",
        }
    process = await asyncio.create_subprocess_exec(
        "git", *args, cwd=cwd, env=env, stderr=asyncio.subprocess.PIPE
    )
    _, errors = await process.communicate()
    return process.returncode or 0, errors.decode()


async def scoped(gh: GitHubAPI, fake: FakeGitHub, app_jwt: str, body: object) -> str:
    installation = fake.world.installation_for(REPO, fake.app_id)
    assert installation is not None
    url = f"/app/installations/{installation.id}/access_tokens"
    return str((await gh.post(url, data=body, jwt=app_jwt))["token"])


async def test_the_clone_url_serves_the_repository_to_a_contents_read_token(
    over_http: FakeGitHub, gh: GitHubAPI, app_jwt: str, tmp_path: Path
) -> None:
    data = await gh.getitem(f"/repos/{REPO}", oauth_token=await scoped(gh, over_http, app_jwt, {}))
    assert data["clone_url"] == f"{over_http.base_url}/{REPO}.git"
    body = {"repository_ids": [over_http.repo(REPO).id], "permissions": {"contents": "read"}}
    token = await scoped(gh, over_http, app_jwt, body)
    code, errors = await git(
        "clone", "--quiet", data["clone_url"], str(tmp_path / "wc"), token=token
    )
    assert code == 0, errors
    assert (tmp_path / "wc" / "README.md").read_text() == "# hello\n"
    assert {(r.repo, r.service) for r in over_http.git_requests} == {(REPO, "git-upload-pack")}
    assert {r.token.token if r.token else None for r in over_http.git_requests} == {token}


async def test_a_contents_read_token_cannot_push(
    over_http: FakeGitHub, gh: GitHubAPI, app_jwt: str, tmp_path: Path
) -> None:
    url = f"{over_http.base_url}/{REPO}.git"
    read_only = await scoped(gh, over_http, app_jwt, {"permissions": {"contents": "read"}})
    assert (await git("clone", "--quiet", url, str(tmp_path / "wc"), token=read_only))[0] == 0
    await git("commit", "--quiet", "--allow-empty", "-m", "forged", cwd=tmp_path / "wc")
    code, errors = await git(
        "push", "--quiet", "origin", "HEAD:main", token=read_only, cwd=tmp_path / "wc"
    )
    assert code != 0
    assert "403" in errors
    before = over_http.repo(REPO).git.branch_sha("main")
    writer = await scoped(gh, over_http, app_jwt, {})
    code, errors = await git(
        "push", "--quiet", "origin", "HEAD:main", token=writer, cwd=tmp_path / "wc"
    )
    assert code == 0, errors
    assert over_http.repo(REPO).git.branch_sha("main") != before


async def test_another_repository_or_no_token_is_refused(
    over_http: FakeGitHub, gh: GitHubAPI, app_jwt: str, tmp_path: Path
) -> None:
    over_http.create_repo("octo/other", {"secret.txt": "x\n"}, private=True)
    body = {"repository_ids": [over_http.repo(REPO).id], "permissions": {"contents": "read"}}
    token = await scoped(gh, over_http, app_jwt, body)
    other = f"{over_http.base_url}/octo/other.git"
    code, errors = await git("clone", "--quiet", other, str(tmp_path / "a"), token=token)
    assert (code != 0, "not found" in errors) == (True, True)
    code, errors = await git("clone", "--quiet", other, str(tmp_path / "b"))
    assert code != 0
    assert "terminal prompts disabled" in errors
    assert over_http.git_requests == []
