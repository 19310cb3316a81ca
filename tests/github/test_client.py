"""The GitHub client against the fake: auth, token caching, retries, error mapping."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import jwt
import pytest

from bot.github.auth import InstallationToken, TokenCache, app_jwt
from bot.github.client import GitHubApp
from bot.github.errors import Forbidden, NotFound, RateLimited, Transient, ValidationFailed
from bot.github.models import CommitStatus, Comparison, PullRequest, Repository, Review
from bot.github.retry import RetryPolicy
from bot.metrics import Metrics
from tests.fakes.github import FakeGitHub
from tests.helpers import fake_github_app

REPO = "octo/hello"


@pytest.fixture
async def github(fake_github: FakeGitHub) -> AsyncIterator[GitHubApp]:
    fake_github.create_repo(REPO, {"README.md": "hi\n", "docs/a.md": "a\n"})
    async with fake_github_app(fake_github) as app:
        app.retry = RetryPolicy(backoff_base=0.01)  # keep the retry tests quick
        yield app


def installation_id(fake: FakeGitHub) -> int:
    installation = fake.world.installation_for(REPO, fake.app_id)
    assert installation is not None
    return installation.id


def test_the_app_jwt_is_what_github_asks_for(private_key_pem: str) -> None:
    now = time.time()
    token = app_jwt("42", private_key_pem, now=now)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["iss"] == "42"  # a string: PyJWT 2.10+ rejects an integer issuer
    assert claims["iat"] <= now - 59
    assert claims["exp"] - now <= 600
    assert jwt.get_unverified_header(token)["alg"] == "RS256"


async def test_files_are_read_at_a_ref(github: GitHubApp, fake_github: FakeGitHub) -> None:
    client = github.installation(installation_id(fake_github))
    assert await client.file_text(REPO, "README.md", "main") == "hi\n"
    assert await client.file_text(REPO, "missing.yml", "main") is None
    assert await client.file_text(REPO, "docs", "main") is None  # a directory is not a file


async def test_tokens_are_fetched_once_under_concurrency(
    github: GitHubApp, fake_github: FakeGitHub
) -> None:
    client = github.installation(installation_id(fake_github))
    tokens = await asyncio.gather(*(client.token() for _ in range(20)))
    assert len(set(tokens)) == 1
    issued = [key for key in fake_github.request_counts if "access_tokens" in str(key)]
    assert sum(fake_github.request_counts[key] for key in issued) == 1


async def test_a_token_is_refreshed_before_it_expires() -> None:
    now = [1000.0]
    fetched: list[int] = []

    async def fetch(installation: int) -> InstallationToken:
        fetched.append(installation)
        return InstallationToken(f"token-{len(fetched)}", expires_at=now[0] + 3600)

    cache = TokenCache(fetch, clock=lambda: now[0])
    assert await cache.token(1) == "token-1"
    assert await cache.token(1) == "token-1"  # cached
    now[0] += 3600 - 299  # inside the safety margin of five minutes
    assert await cache.token(1) == "token-2"
    assert "token" not in repr(InstallationToken("secret-value", 0))


def issued_tokens(fake: FakeGitHub) -> int:
    return fake.request_counts[("POST", "/app/installations/{installation_id}/access_tokens")]


async def test_a_code_token_reads_one_repository_and_nothing_else(
    github: GitHubApp, fake_github: FakeGitHub
) -> None:
    other = fake_github.create_repo("octo/other", {"README.md": "other\n"})
    client = github.installation(installation_id(fake_github))
    token = await client.code_token(fake_github.repo(REPO).id)
    scope = fake_github.world.tokens[token]
    assert (scope.repositories, scope.permissions) == (
        [REPO],
        {"contents": "read", "metadata": "read"},
    )
    contents = "/repos/{owner}/{repo}/contents/{path}"
    found = await github.call(
        "get", contents, {"owner": "octo", "repo": "hello", "path": "README.md"}, oauth_token=token
    )
    assert found["name"] == "README.md"
    sha = fake_github.repo(REPO).git.branch_sha("main")
    with pytest.raises(Forbidden):
        await github.call(
            "post",
            "/repos/{owner}/{repo}/check-runs",
            {"owner": "octo", "repo": "hello"},
            data={"name": "forged", "head_sha": sha},
            oauth_token=token,
        )
    elsewhere = {"owner": "octo", "repo": other.name, "path": "README.md"}
    with pytest.raises(NotFound):
        await github.call("get", contents, elsewhere, oauth_token=token)
    assert fake_github.check_runs(REPO, sha) == []


async def test_code_tokens_are_fetched_once_per_repository(
    github: GitHubApp, fake_github: FakeGitHub
) -> None:
    other = fake_github.create_repo("octo/other")
    client = github.installation(installation_id(fake_github))
    ids = [fake_github.repo(REPO).id, other.id] * 10
    tokens = await asyncio.gather(*(client.code_token(repository_id) for repository_id in ids))
    assert len(set(tokens)) == 2
    scopes = {tuple(fake_github.world.tokens[token].repositories or ()) for token in tokens}
    assert scopes == {(REPO,), ("octo/other",)}
    assert issued_tokens(fake_github) == 2
    assert await client.token() not in tokens  # the installation's own token is another
    github.forget_tokens(installation_id(fake_github))
    assert await client.code_token(other.id) not in tokens
    assert issued_tokens(fake_github) == 4


async def test_a_code_token_for_a_repository_outside_the_installation_is_refused(
    github: GitHubApp, fake_github: FakeGitHub
) -> None:
    elsewhere = fake_github.create_repo("stranger/code", install=False)
    client = github.installation(installation_id(fake_github))
    with pytest.raises(ValidationFailed):
        await client.code_token(elsewhere.id)
    assert [v.status for v in fake_github.take_violations()] == [422]


async def test_transient_failures_are_retried(github: GitHubApp, fake_github: FakeGitHub) -> None:
    client = github.installation(installation_id(fake_github))
    await client.token()
    fake_github.fail_next("get", "/repos/{owner}/{repo}/contents/{path}", times=2, status=502)
    assert await client.file_text(REPO, "README.md", "main") == "hi\n"


async def test_an_outage_ends_in_a_transient_error(
    github: GitHubApp, fake_github: FakeGitHub
) -> None:
    client = github.installation(installation_id(fake_github))
    await client.token()
    fake_github.fail_next("get", "/repos/{owner}/{repo}/contents/{path}", times=10, status=503)
    with pytest.raises(Transient):
        await client.file_text(REPO, "README.md", "main")


async def test_secondary_rate_limits_wait_for_retry_after(
    github: GitHubApp, fake_github: FakeGitHub
) -> None:
    client = github.installation(installation_id(fake_github))
    await client.token()
    fake_github.rate_limit_next(
        "get", "/repos/{owner}/{repo}/contents/{path}", times=1, retry_after=0
    )
    assert await client.file_text(REPO, "README.md", "main") == "hi\n"
    fake_github.rate_limit_next(
        "get", "/repos/{owner}/{repo}/contents/{path}", times=10, retry_after=0
    )
    with pytest.raises(RateLimited):
        await client.file_text(REPO, "README.md", "main")


async def test_token_exchange_during_an_outage_is_a_clear_error(
    github: GitHubApp, fake_github: FakeGitHub
) -> None:
    fake_github.fail_next(
        "post", "/app/installations/{installation_id}/access_tokens", times=10, status=500
    )
    with pytest.raises(Transient):
        await github.installation(installation_id(fake_github)).token()


async def test_unknown_things_are_not_found(github: GitHubApp, fake_github: FakeGitHub) -> None:
    client = github.installation(installation_id(fake_github))
    with pytest.raises(NotFound):
        await client.pull_request(REPO, 999)
    assert await client.permission(REPO, "nobody-at-all") == ("none", None)


async def test_reads_survive_a_dropped_connection() -> None:
    """A GET that meets a closed port is retried, then fails as Transient, never hangs."""
    async with aiohttp.ClientSession() as session:
        app = GitHubApp(
            session,
            api_url="http://127.0.0.1:9",
            metrics=Metrics(),
            credentials=None,
            retry=RetryPolicy(backoff_base=0.01),
        )
        with pytest.raises(Transient):
            await app.call("get", "/repos/{owner}/{repo}", {"owner": "o", "repo": "r"})


async def test_reads_come_back_as_models(github: GitHubApp, fake_github: FakeGitHub) -> None:
    fake = fake_github
    main = fake.repo(REPO).git.branch_sha("main")
    assert main is not None
    head = fake.commit(REPO, "feature/x", {"a.txt": "a\n"})
    pr = fake.open_pull_request(REPO, "feature/x", title="Add *a*")
    fake.add_review(REPO, pr.number, "wendy")
    fake.add_check_run(REPO, head, "lint", conclusion="failure", app="other-ci")
    fake.add_status(REPO, head, "ci/legacy", "pending")
    client = github.installation(installation_id(fake))

    assert await client.repository(REPO) == Repository(full_name=REPO, default_branch="main")
    assert await client.compare(REPO, main, head) == Comparison("ahead", (head,))
    assert await client.compare(REPO, head, main) == Comparison("behind", ())
    assert [p.number for p in await client.pull_requests_for_commit(REPO, head)] == [pr.number]
    # Labelled only now: the fake lists a PR's labels with a null description, which the
    # OpenAPI description of that list does not allow.
    fake.add_label(REPO, pr.number, "ready")
    pull = await client.pull_request(REPO, pr.number)
    assert (pull.number, pull.title, pull.state, pull.merged, pull.labels) == (
        pr.number,
        "Add *a*",
        "open",
        False,
        ("ready",),
    )
    assert (pull.head_sha, pull.head_ref, pull.head_repo, pull.base_ref) == (
        head,
        "feature/x",
        REPO,
        "main",
    )
    (review,) = await client.reviews(REPO, pr.number)
    assert (review.author, review.state, review.commit_id) == ("wendy", "APPROVED", head)
    (check,) = await client.check_runs_for_ref(REPO, head)
    assert (check.name, check.status, check.conclusion, check.app_slug) == (
        "lint",
        "completed",
        "failure",
        "other-ci",
    )
    assert await client.commit_statuses(REPO, head) == (CommitStatus("ci/legacy", "pending"),)
    posted = await client.comment(REPO, pr.number, "hello")
    assert await client.comments(REPO, pr.number) == (posted,)
    assert posted.body.startswith("hello\n<!-- greenlight-request: ")  # finds a lost answer


@pytest.mark.parametrize(
    ("data", "fields"),
    [
        ({}, {"number": 0, "state": "open", "mergeable_state": "unknown", "head_repo": None}),
        ({"head": {"sha": "s", "repo": None}}, {"head_sha": "s", "head_repo": None}),
        ({"user": None, "labels": None}, {"author": "", "labels": ()}),
        ({"mergeable": None, "merged": None}, {"mergeable": None, "merged": False}),
        ({"mergeable": False, "draft": True}, {"mergeable": False, "draft": True}),
    ],
    ids=["empty", "deleted fork", "deleted account", "still computing", "conflicts"],
)
def test_a_pull_request_reads_missing_or_null_fields_as_neutral(
    data: dict[str, object], fields: dict[str, object]
) -> None:
    pull = PullRequest.from_json(data)
    assert {name: getattr(pull, name) for name in fields} == fields


def test_a_review_by_a_deleted_account_has_no_author() -> None:
    review = Review.from_json({"user": None, "state": "APPROVED", "submitted_at": None})
    assert review == Review(author=None, state="APPROVED", submitted_at="", commit_id=None)
