"""The fake's OAuth web flow answers as GitHub's does: codes once, under the callback
URLs, with the client secret; ``GET /user`` names the token's owner."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import aiohttp

from tests.fakes.github import FakeGitHub
from tests.fakes.routes_oauth import client_secret

CALLBACK = "http://ci.example/auth/callback"


async def authorize(
    fake: FakeGitHub, session: aiohttp.ClientSession, **query: str
) -> aiohttp.ClientResponse:
    params = {"client_id": fake.github_app.client_id, "redirect_uri": CALLBACK, **query}
    return await session.get(
        f"{fake.base_url}/login/oauth/authorize", params=params, allow_redirects=False
    )


async def trade(
    fake: FakeGitHub, session: aiohttp.ClientSession, code: str, secret: str | None = None
) -> dict[str, str]:
    form = {
        "client_id": fake.github_app.client_id,
        "client_secret": secret or client_secret(fake.github_app),
        "code": code,
        "redirect_uri": CALLBACK,
    }
    answer = await session.post(
        f"{fake.base_url}/login/oauth/access_token",
        data=form,
        headers={"Accept": "application/json"},
    )
    assert answer.status == 200  # GitHub answers mistakes with 200 and an `error`
    data: dict[str, str] = await answer.json()
    return data


async def test_a_signed_in_person_gets_a_code_that_trades_once_for_their_token(
    fake_github: FakeGitHub, session: aiohttp.ClientSession
) -> None:
    fake_github.oauth.callback_urls = [CALLBACK]
    fake_github.oauth.signed_in = "mona"
    redirect = await authorize(fake_github, session, state="s1")
    assert redirect.status == 302
    back = urlsplit(redirect.headers["Location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == CALLBACK
    query = parse_qs(back.query)
    assert query["state"] == ["s1"]
    code = query["code"][0]
    assert (await trade(fake_github, session, code, "wrong"))["error"] == (
        "incorrect_client_credentials"
    )
    token = (await trade(fake_github, session, code))["access_token"]
    assert (await trade(fake_github, session, code))["error"] == "bad_verification_code"
    user = await session.get(
        f"{fake_github.base_url}/user", headers={"Authorization": f"Bearer {token}"}
    )
    assert user.status == 200
    assert (await user.json())["login"] == "mona"
    refused = await session.get(
        f"{fake_github.base_url}/user", headers={"Authorization": "Bearer ghu_nope"}
    )
    assert refused.status == 401
    fake_github.take_violations()  # the unknown token is a 401, as GitHub answers


async def test_a_redirect_outside_the_callback_urls_is_refused(
    fake_github: FakeGitHub, session: aiohttp.ClientSession
) -> None:
    fake_github.oauth.callback_urls = ["http://ci.example/other"]
    fake_github.oauth.signed_in = "mona"
    assert (await authorize(fake_github, session)).status == 400
    fake_github.oauth.callback_urls = [CALLBACK]
    fake_github.oauth.signed_in = None
    assert (await authorize(fake_github, session)).status == 401


async def test_a_code_expires_after_ten_minutes(
    fake_github: FakeGitHub, session: aiohttp.ClientSession
) -> None:
    fake_github.oauth.callback_urls = [CALLBACK]
    fake_github.oauth.signed_in = "mona"
    redirect = await authorize(fake_github, session)
    code = parse_qs(urlsplit(redirect.headers["Location"]).query)["code"][0]
    fake_github.advance_clock(601)
    assert (await trade(fake_github, session, code))["error"] == "bad_verification_code"


async def test_an_injected_fault_answers_before_the_code_is_looked_at(
    fake_github: FakeGitHub, session: aiohttp.ClientSession
) -> None:
    fake_github.oauth.callback_urls = [CALLBACK]
    fake_github.oauth.signed_in = "mona"
    redirect = await authorize(fake_github, session, state="s1")
    code = parse_qs(urlsplit(redirect.headers["Location"]).query)["code"][0]
    fake_github.oauth.faults = [(502, None), (429, 7)]
    form = {"client_id": fake_github.github_app.client_id, "code": code}
    url = f"{fake_github.base_url}/login/oauth/access_token"
    assert (await session.post(url, data=form)).status == 502
    limited = await session.post(url, data=form)
    assert (limited.status, limited.headers["Retry-After"]) == (429, "7")
    assert fake_github.oauth.faults == []
    assert "access_token" in await trade(fake_github, session, code)  # the code is unused
