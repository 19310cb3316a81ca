"""Conditional requests: an unchanged answer asked again with its ETag is 304."""

from __future__ import annotations

import aiohttp
from gidgethub.aiohttp import GitHubAPI

from tests.fakes.github import FakeGitHub
from tests.fakes_tests.conftest import installation_token

URL = "/repos/{owner}/{repo}"
VARS = {"owner": "octo", "repo": "hello"}


async def test_an_unchanged_answer_is_not_modified(
    fake_github: FakeGitHub, repo: str, gh: GitHubAPI, session: aiohttp.ClientSession
) -> None:
    token = await installation_token(fake_github, gh, repo)
    cached = GitHubAPI(session, "tests", base_url=fake_github.base_url, cache={})
    first = await cached.getitem(URL, VARS, oauth_token=token)
    again = await cached.getitem(URL, VARS, oauth_token=token)
    assert again == first
    assert fake_github.not_modified == 1


async def test_a_changed_answer_or_another_token_is_sent_whole(
    fake_github: FakeGitHub, repo: str, gh: GitHubAPI, session: aiohttp.ClientSession
) -> None:
    token = await installation_token(fake_github, gh, repo)
    other = await installation_token(fake_github, gh, repo)
    cached = GitHubAPI(session, "tests", base_url=fake_github.base_url, cache={})
    ref = "/repos/{owner}/{repo}/git/ref/{ref}"
    ref_vars = {**VARS, "ref": "heads/main"}
    await cached.getitem(ref, ref_vars, oauth_token=token)
    await cached.getitem(ref, ref_vars, oauth_token=other)  # ETags are tied to the token
    sha = fake_github.commit(repo, "main", {"new.txt": "new\n"})
    changed = await cached.getitem(ref, ref_vars, oauth_token=other)
    assert fake_github.not_modified == 0
    assert changed["object"]["sha"] == sha


async def test_a_wrong_etag_gets_the_whole_answer(
    fake_github: FakeGitHub, repo: str, gh: GitHubAPI
) -> None:
    token = await installation_token(fake_github, gh, repo)
    answer = await gh.getitem(
        URL, VARS, oauth_token=token, extra_headers={"If-None-Match": '"not-it"'}
    )
    assert answer["full_name"] == repo
    assert fake_github.not_modified == 0
