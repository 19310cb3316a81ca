"""Injected failures and request counting."""

from __future__ import annotations

import gidgethub
import pytest
from gidgethub.aiohttp import GitHubAPI

from tests.fakes.github import FakeGitHub

REPO_URL = "/repos/{owner}/{repo}"
R = {"owner": "octo", "repo": "hello"}


@pytest.mark.parametrize("status", [502, 503])
async def test_next_requests_fail_with_a_server_error(
    fake_github: FakeGitHub, gh: GitHubAPI, token: str, status: int
) -> None:
    fake_github.fail_next("GET", REPO_URL, times=2, status=status)
    for _ in range(2):
        with pytest.raises(gidgethub.GitHubBroken) as raised:
            await gh.getitem(REPO_URL, R, oauth_token=token)
        assert raised.value.status_code == status
    assert (await gh.getitem(REPO_URL, R, oauth_token=token))["name"] == "hello"
    assert fake_github.violations == []


async def test_secondary_rate_limit_answers_403_with_retry_after(
    fake_github: FakeGitHub, gh: GitHubAPI, token: str
) -> None:
    fake_github.rate_limit_next("POST", "/repos/{owner}/{repo}/check-runs", retry_after=7)
    sha = fake_github.repo("octo/hello").git.branch_sha("main")
    with pytest.raises(gidgethub.BadRequest) as raised:
        await gh.post(
            "/repos/{owner}/{repo}/check-runs",
            R,
            data={"name": "ci", "head_sha": sha},
            oauth_token=token,
        )
    assert raised.value.status_code == 403
    assert raised.value.headers["Retry-After"] == "7"
    assert "secondary rate limit" in str(raised.value)
    await gh.post(
        "/repos/{owner}/{repo}/check-runs",
        R,
        data={"name": "ci", "head_sha": sha},
        oauth_token=token,
    )
    assert len(fake_github.check_runs("octo/hello")) == 1


async def test_requests_are_counted_by_operation(
    fake_github: FakeGitHub, gh: GitHubAPI, token: str
) -> None:
    fake_github.request_counts.clear()
    for _ in range(3):
        await gh.getitem(REPO_URL, R, oauth_token=token)
    await gh.getitem(
        "/repos/{owner}/{repo}/contents/{path}", {**R, "path": "README.md"}, oauth_token=token
    )
    assert fake_github.request_counts == {
        ("GET", "/repos/{owner}/{repo}"): 3,
        ("GET", "/repos/{owner}/{repo}/contents/{path}"): 1,
    }
    assert gh.rate_limit is not None
    assert gh.rate_limit.remaining < 5000
