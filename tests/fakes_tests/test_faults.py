"""Injected failures and request counting."""

from __future__ import annotations

import aiohttp
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


CHECK_RUNS = "/repos/{owner}/{repo}/check-runs"


async def test_a_fault_sets_status_headers_and_body(
    fake_github: FakeGitHub, session: aiohttp.ClientSession, token: str
) -> None:
    fake_github.inject(
        "GET",
        REPO_URL,
        status=502,
        headers={"Content-Type": "text/html", "X-Injected": "yes"},
        body=b"<html>Unicorn!</html>",
    )
    url = f"{fake_github.base_url}/repos/octo/hello"
    auth = {"Authorization": f"token {token}"}
    async with session.get(url, headers=auth) as answer:
        assert answer.status == 502
        assert answer.headers["X-Injected"] == "yes"
        assert answer.headers["Content-Type"].startswith("text/html")
        assert await answer.read() == b"<html>Unicorn!</html>"
    async with session.get(url, headers=auth) as answer:
        assert answer.status == 200  # used up
    assert fake_github.faults.injected == [("get", "/repos/octo/hello", 502)]


async def test_rate_limit_headers_replace_the_fakes_own(
    fake_github: FakeGitHub, gh: GitHubAPI, token: str
) -> None:
    fake_github.inject(
        "GET",
        REPO_URL,
        status=403,
        headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1700000000"},
        body={"message": "API rate limit exceeded", "documentation_url": "x"},
    )
    with pytest.raises(gidgethub.RateLimitExceeded) as raised:
        await gh.getitem(REPO_URL, R, oauth_token=token)
    assert raised.value.rate_limit.remaining == 0
    assert raised.value.rate_limit.reset_datetime.timestamp() == 1700000000


async def test_a_fault_after_applying_lands_the_write_and_loses_the_answer(
    fake_github: FakeGitHub, gh: GitHubAPI, token: str
) -> None:
    sha = fake_github.repo("octo/hello").git.branch_sha("main")
    fake_github.inject("POST", CHECK_RUNS, status=502, after_applying=True)
    with pytest.raises(gidgethub.GitHubBroken):
        await gh.post(CHECK_RUNS, R, data={"name": "ci", "head_sha": sha}, oauth_token=token)
    assert [run.name for run in fake_github.check_runs("octo/hello")] == ["ci"]


async def test_a_fault_before_applying_leaves_no_trace(
    fake_github: FakeGitHub, gh: GitHubAPI, token: str
) -> None:
    sha = fake_github.repo("octo/hello").git.branch_sha("main")
    fake_github.inject("POST", CHECK_RUNS, status=503)
    with pytest.raises(gidgethub.GitHubBroken):
        await gh.post(CHECK_RUNS, R, data={"name": "ci", "head_sha": sha}, oauth_token=token)
    assert fake_github.check_runs("octo/hello") == []


async def test_faults_match_only_the_requests_they_are_for(
    fake_github: FakeGitHub, gh: GitHubAPI, token: str
) -> None:
    sha = fake_github.repo("octo/hello").git.branch_sha("main")
    fake_github.inject(
        "POST", CHECK_RUNS, status=500, times=2, where=lambda call: call.body["name"] == "slow"
    )
    await gh.post(CHECK_RUNS, R, data={"name": "fast", "head_sha": sha}, oauth_token=token)
    for _ in range(2):
        with pytest.raises(gidgethub.GitHubBroken):
            await gh.post(CHECK_RUNS, R, data={"name": "slow", "head_sha": sha}, oauth_token=token)
    await gh.post(CHECK_RUNS, R, data={"name": "slow", "head_sha": sha}, oauth_token=token)
    assert sorted(run.name for run in fake_github.check_runs("octo/hello")) == ["fast", "slow"]
    assert fake_github.faults.left() == 0


async def test_a_reset_drops_the_connection_without_an_answer(
    fake_github: FakeGitHub, gh: GitHubAPI, token: str
) -> None:
    # On a POST: aiohttp itself sends an idempotent request again once on a fresh connection.
    sha = fake_github.repo("octo/hello").git.branch_sha("main")
    fake_github.inject("POST", CHECK_RUNS, reset=True, after_applying=True)
    with pytest.raises(aiohttp.ClientConnectionError):
        await gh.post(CHECK_RUNS, R, data={"name": "ci", "head_sha": sha}, oauth_token=token)
    assert [run.name for run in fake_github.check_runs("octo/hello")] == ["ci"]
    assert (await gh.getitem(REPO_URL, R, oauth_token=token))["name"] == "hello"
