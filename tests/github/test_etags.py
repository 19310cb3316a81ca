"""Conditional reads of the app's client: ETags kept per token, a 304 replays the kept body."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.github.auth import TOKEN_SAFETY_MARGIN_SECONDS
from bot.github.client import GitHubApp
from bot.github.etags import EtagCache
from tests.fakes.github import FakeGitHub
from tests.helpers import fake_github_app

REPO = "octo/hello"


class Clock:
    """Real time plus a shift, moved together with the fake's clock."""

    def __init__(self) -> None:
        self.shift = 0.0

    def __call__(self) -> float:
        return time.time() + self.shift


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def github(fake_github: FakeGitHub, clock: Clock) -> AsyncIterator[GitHubApp]:
    fake_github.create_repo(REPO, {"README.md": "hi\n"})
    async with fake_github_app(fake_github, clock=clock) as app:
        yield app


def installation_id(fake: FakeGitHub) -> int:
    installation = fake.world.installation_for(REPO, fake.app_id)
    assert installation is not None
    return installation.id


def tokens_issued(fake: FakeGitHub) -> int:
    return sum(n for (_, route), n in fake.request_counts.items() if "access_tokens" in route)


async def test_an_unchanged_read_is_answered_304_with_the_kept_body(
    github: GitHubApp, fake_github: FakeGitHub
) -> None:
    client = github.installation(installation_id(fake_github))
    first = await client.pull_requests_for_commit(REPO, "main")
    first_text = await client.file_text(REPO, "README.md", "main")
    again = await client.pull_requests_for_commit(REPO, "main")
    again_text = await client.file_text(REPO, "README.md", "main")
    assert (again, again_text) == (first, first_text) == (first, "hi\n")
    assert fake_github.not_modified == 2


async def test_a_changed_answer_replaces_the_kept_one(
    github: GitHubApp, fake_github: FakeGitHub
) -> None:
    client = github.installation(installation_id(fake_github))
    assert await client.file_text(REPO, "README.md", "main") == "hi\n"
    fake_github.commit(REPO, "main", {"README.md": "changed\n"})
    assert await client.file_text(REPO, "README.md", "main") == "changed\n"
    assert await client.file_text(REPO, "README.md", "main") == "changed\n"
    assert (fake_github.conditional_asks, fake_github.not_modified) == (2, 1)


async def test_a_rotated_token_never_sends_the_old_tokens_etags(
    github: GitHubApp, fake_github: FakeGitHub, clock: Clock
) -> None:
    client = github.installation(installation_id(fake_github))
    await client.file_text(REPO, "README.md", "main")
    await client.file_text(REPO, "README.md", "main")
    assert (tokens_issued(fake_github), fake_github.not_modified) == (1, 1)
    # An hour later the token is renewed: the kept answer was the old token's.
    lifetime = fake_github.token_lifetime.total_seconds()
    clock.shift += lifetime - TOKEN_SAFETY_MARGIN_SECONDS + 1
    fake_github.advance_clock(lifetime - TOKEN_SAFETY_MARGIN_SECONDS + 1)
    fake_github.commit(REPO, "main", {"README.md": "after the rotation\n"})
    asked = fake_github.conditional_asks
    assert await client.file_text(REPO, "README.md", "main") == "after the rotation\n"
    assert tokens_issued(fake_github) == 2
    assert fake_github.conditional_asks == asked  # asked whole, without the old ETag
    assert fake_github.not_modified == 1
    # The new token's own ETag is used from then on.
    assert await client.file_text(REPO, "README.md", "main") == "after the rotation\n"
    assert fake_github.not_modified == 2


async def test_one_tokens_etag_is_not_a_304_for_another(
    github: GitHubApp, fake_github: FakeGitHub
) -> None:
    """The fake, as GitHub: an ETag another token was given earns the whole answer."""
    client = github.installation(installation_id(fake_github))
    await client.file_text(REPO, "README.md", "main")
    first = await client.token()
    github.forget_tokens(client.installation_id)
    second = await client.token()
    assert first != second
    url = f"{fake_github.base_url}/repos/{REPO}/contents/README.md?ref=main"
    async with aiohttp.ClientSession() as session:
        async with session.get(url, headers={"Authorization": f"token {first}"}) as answer:
            etag = answer.headers["ETag"]
        for token, status in ((second, 200), (first, 304)):
            headers = {"Authorization": f"token {token}", "If-None-Match": etag}
            async with session.get(url, headers=headers) as answer:
                assert answer.status == status


def test_only_authenticated_gets_are_kept_and_failures_are_forgotten() -> None:
    etags = EtagCache()
    headers = {"authorization": "token a", "accept": "application/json"}
    assert etags.key("POST", "/x", headers) is None
    assert etags.key("GET", "/x", {"accept": "application/json"}) is None
    key = etags.key("GET", "/x", headers)
    assert key is not None
    assert "token a" not in key  # the token itself is not kept
    assert key != etags.key("GET", "/x", {**headers, "accept": "application/vnd.github.raw"})
    etags.settle(key, None, (200, {"ETag": '"1"'}, b"{}"))
    kept, sent = etags.ask(key, headers)
    assert kept is not None
    assert sent["if-none-match"] == '"1"'
    etags.settle(key, kept, (404, {}, b""))
    assert etags.ask(key, headers) == (None, headers)


def test_the_kept_answers_are_bounded_by_weight() -> None:
    etags = EtagCache(max_bytes=10_000)
    headers = {"authorization": "token a"}
    for n in range(20):
        etags.settle(etags.key("GET", f"/{n}", headers), None, (200, {"etag": "e"}, b"x" * 2000))
    assert 0 < len(etags) <= 3
    etags.settle(etags.key("GET", "/big", headers), None, (200, {"etag": "e"}, b"x" * 20_000))
    assert etags.ask(etags.key("GET", "/big", headers), headers)[0] is None
