"""GitHub's faults: which are tried again, how long the client waits, and writes that may
have landed looked up before they are sent again, so nothing is made twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from http import HTTPStatus
from typing import Any

import aiohttp
import gidgethub
import pytest

from bot.github.client import GitHubApp, InstallationClient
from bot.github.errors import (
    Forbidden,
    GitHubError,
    NotFound,
    RateLimited,
    Transient,
    map_error,
)
from bot.github.retry import RetryPolicy
from tests.fakes.github import FakeGitHub
from tests.helpers import fake_github_app
from tests.virtual_time import VirtualTime

REPO = "octo/hello"
NOW = 1_000_000.0
POLICY = RetryPolicy(attempts=5, backoff_base=1.0, backoff_cap=30.0, longest_wait=300.0)


def http_error(status: int, message: str = "", **headers: str) -> gidgethub.HTTPException:
    kind = gidgethub.GitHubBroken if status >= 500 else gidgethub.BadRequest
    return kind(HTTPStatus(status), message, headers=headers)


@pytest.mark.parametrize(
    ("error", "kind", "reset_at"),
    [
        (http_error(502), Transient, None),
        (http_error(503), Transient, None),
        (http_error(404), NotFound, None),
        (http_error(403, "Resource not accessible by integration"), Forbidden, None),
        (http_error(403, "secondary rate limit", **{"retry-after": "7"}), RateLimited, NOW + 7),
        (http_error(429, "slow down", **{"Retry-After": "30"}), RateLimited, NOW + 30),
        (http_error(429, "slow down"), RateLimited, NOW + 60),  # no header: a minute
        (http_error(403, "You have exceeded a secondary rate limit"), RateLimited, NOW + 60),
        (
            http_error(
                403,
                "API rate limit exceeded",
                **{"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW + 90))},
            ),
            RateLimited,
            NOW + 90,
        ),
        (aiohttp.ServerDisconnectedError(), Transient, None),
        (TimeoutError(), Transient, None),
    ],
)
def test_errors_map_to_what_the_caller_can_do(
    error: Exception, kind: type[GitHubError], reset_at: float | None
) -> None:
    mapped = map_error(error, now=NOW)
    assert type(mapped) is kind
    assert getattr(mapped, "reset_at", None) == reset_at


def limited(seconds: float, *, retry_after: float | None = None) -> RateLimited:
    return RateLimited("limit", status=403, reset_at=NOW + seconds, retry_after=retry_after)


@pytest.mark.parametrize(
    ("error", "attempt", "delay"),
    [
        (Transient("502", status=502), 1, 1.0),
        (Transient("502", status=502), 2, 2.0),
        (Transient("502", status=502), 4, 8.0),
        (Transient("502", status=502), 5, None),  # the bound: five tries in all
        (limited(7, retry_after=7), 1, 7.0),  # at least Retry-After
        (limited(6.5, retry_after=7), 1, 7.0),  # measured late: still Retry-After
        (limited(90), 3, 90.0),  # the primary limit's reset
        (limited(301), 1, None),  # longer than is waited inline: the caller picks it up later
        (limited(0), 5, None),
        (NotFound("gone", status=404), 1, None),
        (Forbidden("no", status=403), 1, None),
        (GitHubError("422", status=422), 1, None),
    ],
)
def test_the_retry_policy(error: GitHubError, attempt: int, delay: float | None) -> None:
    assert POLICY.delay(error, attempt=attempt, now=NOW) == delay


def test_the_back_off_is_capped() -> None:
    policy = RetryPolicy(attempts=20, backoff_base=1.0, backoff_cap=30.0)
    assert policy.delay(Transient("x"), attempt=10, now=NOW) == 30.0


# Against the fake ------------------------------------------------------------------------


@pytest.fixture
def time_passes() -> VirtualTime:
    return VirtualTime()


@pytest.fixture
async def github(fake_github: FakeGitHub, time_passes: VirtualTime) -> AsyncIterator[GitHubApp]:
    fake_github.create_repo(REPO, {"README.md": "hi\n"})
    async with fake_github_app(
        fake_github, clock=time_passes.clock, sleep=time_passes.sleep
    ) as app:
        yield app


@pytest.fixture
async def client(github: GitHubApp, fake_github: FakeGitHub) -> InstallationClient:
    installation = fake_github.world.installation_for(REPO, fake_github.app_id)
    assert installation is not None
    client = github.installation(installation.id)
    await client.token()
    return client


def head(fake: FakeGitHub) -> str:
    sha = fake.repo(REPO).git.branch_sha("main")
    assert sha is not None
    return sha


CHECK_RUNS = "/repos/{owner}/{repo}/check-runs"
FAULTS = [
    pytest.param({"status": 502}, id="502"),
    pytest.param({"status": 502, "after_applying": True}, id="502-after-applying"),
    pytest.param(
        {
            "status": 504,
            "after_applying": True,
            "body": b"<html>timeout</html>",
            "headers": {"Content-Type": "text/html"},
        },
        id="504-html-after-applying",
    ),
    pytest.param({"reset": True}, id="reset"),
    pytest.param({"reset": True, "after_applying": True}, id="reset-after-applying"),
    pytest.param({"status": 403, "headers": {"Retry-After": "7"}}, id="403-secondary"),
    pytest.param({"status": 429, "headers": {"Retry-After": "3"}}, id="429"),
]


@pytest.mark.parametrize("fault", FAULTS)
async def test_a_check_run_is_created_once(
    client: InstallationClient, fake_github: FakeGitHub, fault: dict[str, Any]
) -> None:
    fake_github.inject("POST", CHECK_RUNS, times=2, **fault)
    body = {"name": "lint", "head_sha": head(fake_github), "external_id": "job:1"}
    created = await client.create_check_run(REPO, body)
    (only,) = fake_github.check_runs(REPO)
    assert created.id == only.id
    assert fake_github.faults.injected  # the fault was met (and found the run if it landed)
    fake_github.assert_no_violations()


@pytest.mark.parametrize("fault", FAULTS)
async def test_a_comment_is_posted_once(
    client: InstallationClient, fake_github: FakeGitHub, fault: dict[str, Any]
) -> None:
    fake_github.commit(REPO, "feature", {"a.txt": "a\n"})
    number = fake_github.open_pull_request(REPO, "feature").number
    fake_github.inject("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments", **fault)
    posted = await client.comment(REPO, number, "All green.")
    (only,) = fake_github.comments(REPO, number)
    assert (posted.id, only.body.split("\n")[0]) == (only.id, "All green.")


@pytest.mark.parametrize("fault", FAULTS)
async def test_a_deployment_and_its_status_are_made_once(
    client: InstallationClient, fake_github: FakeGitHub, fault: dict[str, Any]
) -> None:
    fake_github.inject("POST", "/repos/{owner}/{repo}/deployments", **fault)
    deployments = "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses"
    fake_github.inject("POST", deployments, **fault)
    body = {
        "ref": head(fake_github),
        "environment": "staging",
        "auto_merge": False,
        "required_contexts": [],
        "payload": {"greenlight_deployment": 7, "rollback": False},
    }
    deployment_id = await client.create_deployment(REPO, body)
    await client.create_deployment_status(
        REPO, deployment_id, {"state": "in_progress", "description": "Deploying"}
    )
    (only,) = fake_github.deployments(REPO)
    assert only.id == deployment_id
    assert [s.state for s in fake_github.deployment_statuses(deployment_id)] == ["in_progress"]
    fake_github.assert_no_violations()


@pytest.mark.parametrize("fault", FAULTS)
async def test_a_merge_that_landed_is_not_sent_again(
    client: InstallationClient, fake_github: FakeGitHub, fault: dict[str, Any]
) -> None:
    sha = fake_github.commit(REPO, "feature", {"a.txt": "a\n"})
    number = fake_github.open_pull_request(REPO, "feature").number
    fake_github.inject("PUT", "/repos/{owner}/{repo}/pulls/{pull_number}/merge", **fault)
    await client.merge(REPO, number, method="squash", sha=sha)
    assert fake_github.pull(REPO, number).merged
    assert fake_github.faults.left() == 0
    fake_github.assert_no_violations()  # no second merge refused with 405


async def test_the_token_exchange_is_tried_again(
    github: GitHubApp, fake_github: FakeGitHub
) -> None:
    installation = fake_github.world.installation_for(REPO, fake_github.app_id)
    assert installation is not None
    fake_github.inject(
        "POST", "/app/installations/{installation_id}/access_tokens", status=502, times=2
    )
    assert await github.installation(installation.id).token()
    assert fake_github.faults.left() == 0


async def test_a_secondary_limit_on_a_write_waits_its_retry_after_and_pauses_all_writes(
    client: InstallationClient, fake_github: FakeGitHub, time_passes: VirtualTime
) -> None:
    fake_github.rate_limit_next("POST", CHECK_RUNS, retry_after=42)
    body = {"name": "lint", "head_sha": head(fake_github), "external_id": "job:1"}
    await client.create_check_run(REPO, body)
    assert time_passes.waits
    assert time_passes.waits[0] >= 42
    # The pause is the installation's: another write right after it was learned waits too.
    before = time_passes.clock()
    await client.writes.pause_until(before + 30)
    await client.create_check_run(REPO, {**body, "name": "test", "external_id": "job:2"})
    assert time_passes.clock() - before >= 30
    assert len(fake_github.check_runs(REPO)) == 2


async def test_an_exhausted_primary_limit_waits_for_its_reset(
    client: InstallationClient, fake_github: FakeGitHub, time_passes: VirtualTime
) -> None:
    reset = int(time_passes.clock()) + 120
    fake_github.inject(
        "GET",
        "/repos/{owner}/{repo}",
        status=403,
        headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)},
        body={"message": "API rate limit exceeded", "documentation_url": "x"},
    )
    assert (await client.repository(REPO)).full_name == REPO
    assert time_passes.clock() >= reset


async def test_retries_are_bounded(
    client: InstallationClient, fake_github: FakeGitHub, time_passes: VirtualTime
) -> None:
    fake_github.inject("POST", CHECK_RUNS, status=502, times=10)
    body = {"name": "lint", "head_sha": head(fake_github), "external_id": "job:1"}
    with pytest.raises(Transient):
        await client.create_check_run(REPO, body)
    assert time_passes.waits == [1.0, 2.0, 4.0, 8.0]  # five tries in all
    assert fake_github.check_runs(REPO) == []


async def test_a_rate_limit_longer_than_the_longest_wait_goes_to_the_caller(
    client: InstallationClient, fake_github: FakeGitHub, time_passes: VirtualTime
) -> None:
    fake_github.rate_limit_next("POST", CHECK_RUNS, retry_after=3600)
    body = {"name": "lint", "head_sha": head(fake_github), "external_id": "job:1"}
    with pytest.raises(RateLimited):
        await client.create_check_run(REPO, body)
    assert time_passes.waits == []
    # …and no write of the installation is sent before the hour is over.
    await client.create_check_run(REPO, body)
    assert sum(time_passes.waits) >= 3599


async def test_a_refusal_is_not_tried_again(
    client: InstallationClient, fake_github: FakeGitHub, time_passes: VirtualTime
) -> None:
    fake_github.inject("POST", CHECK_RUNS, status=422, body={"message": "Validation Failed"})
    with pytest.raises(GitHubError):
        await client.create_check_run(REPO, {"name": "lint", "head_sha": head(fake_github)})
    assert time_passes.waits == []


RETRIED = [
    pytest.param({"status": 502}, "5xx", id="502"),
    # aiohttp itself sends an idempotent request again once when a kept-alive connection
    # drops, so of the two resets the client sees (and counts) one.
    pytest.param({"reset": True}, "reset", id="reset"),
    pytest.param({"status": 403, "headers": {"Retry-After": "7"}}, "secondary limit", id="403"),
    pytest.param(
        {"status": 403, "body": {"message": "You have exceeded a secondary rate limit"}},
        "secondary limit",
        id="403-no-header",
    ),
    pytest.param({"status": 429}, "secondary limit", id="429"),
    pytest.param(
        {
            "status": 403,
            "headers": {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "0"},
            "body": {"message": "API rate limit exceeded", "documentation_url": "x"},
        },
        "primary limit",
        id="primary",
    ),
]


@pytest.mark.parametrize(("fault", "reason"), RETRIED)
async def test_requests_tried_again_are_counted_by_reason(
    github: GitHubApp,
    client: InstallationClient,
    fake_github: FakeGitHub,
    fault: dict[str, Any],
    reason: str,
) -> None:
    fake_github.inject("GET", "/repos/{owner}/{repo}", times=2, **fault)
    assert (await client.repository(REPO)).full_name == REPO
    counted = {
        sample.labels["reason"]: sample.value
        for metric in github.metrics.registry.collect()
        if metric.name == "greenlight_github_retries"
        for sample in metric.samples
        if sample.name.endswith("_total")
    }
    tries = 1 if reason == "reset" else 2
    assert counted == {reason: tries}
    assert f'greenlight_github_retries_total{{reason="{reason}"}} {tries}.0' in (
        github.metrics.render().decode()
    )
