"""The OAuth web flow's calls, made by `bot.github.oauth` against the fake GitHub: a code
traded once for a token that `GET /user` names, refusals as values of our error family,
and GitHub's faults retried only where trying again cannot sign someone in twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from bot.github import oauth
from bot.github.client import GitHubApp
from bot.github.errors import GitHubError, Transient
from bot.metrics import Metrics
from tests.fakes.github import FakeGitHub
from tests.fakes.routes_oauth import client_secret
from tests.virtual_time import VirtualTime

CALLBACK = "http://greenlight.test/auth/callback"


@pytest.fixture
def time_passes() -> VirtualTime:
    return VirtualTime()


@pytest.fixture
async def github(fake_github: FakeGitHub, time_passes: VirtualTime) -> AsyncIterator[GitHubApp]:
    fake_github.oauth.callback_urls = [CALLBACK]
    async with aiohttp.ClientSession() as session:
        yield GitHubApp(
            session,
            api_url=fake_github.base_url,
            metrics=Metrics(),
            credentials=None,  # the web flow needs no app credentials
            clock=time_passes.clock,
            sleep=time_passes.sleep,
        )


def credentials(fake: FakeGitHub, secret: str | None = None) -> oauth.OAuthCredentials:
    app = fake.github_app
    return oauth.OAuthCredentials(fake.base_url, app.client_id, secret or client_secret(app))


async def code_for(fake: FakeGitHub, login: str) -> str:
    """Approve the app at GitHub as `login`, as a browser would; the code sent back."""
    fake.oauth.signed_in = login
    url = oauth.authorize_url(credentials(fake), CALLBACK, "the-state")
    async with (
        aiohttp.ClientSession() as browser,
        browser.get(url, allow_redirects=False) as answer,
    ):
        back = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert back["state"] == ["the-state"]
    return back["code"][0]


async def test_a_code_is_traded_once_for_a_token_that_names_the_viewer(
    github: GitHubApp, fake_github: FakeGitHub
) -> None:
    fake_github.user("mona")
    code = await code_for(fake_github, "mona")
    token = await oauth.exchange_code(
        github, credentials(fake_github), code=code, redirect_uri=CALLBACK
    )
    login, user_id = await oauth.identify(github, token)
    assert (login, user_id) == ("mona", fake_github.world.user("mona").id)
    with pytest.raises(oauth.SignInRefused, match="bad verification code"):
        await oauth.exchange_code(
            github, credentials(fake_github), code=code, redirect_uri=CALLBACK
        )
    fake_github.assert_no_violations()


async def test_a_wrong_secret_and_an_unknown_token_are_refusals(
    github: GitHubApp, fake_github: FakeGitHub
) -> None:
    code = await code_for(fake_github, "mona")
    with pytest.raises(oauth.SignInRefused, match="incorrect client credentials"):
        await oauth.exchange_code(
            github, credentials(fake_github, "wrong"), code=code, redirect_uri=CALLBACK
        )
    with pytest.raises(GitHubError) as refused:
        await oauth.identify(github, "ghu_not-a-token")
    assert refused.value.status == 401


async def test_a_lost_exchange_is_not_sent_again_but_a_rate_limit_is(
    github: GitHubApp, fake_github: FakeGitHub, time_passes: VirtualTime
) -> None:
    code = await code_for(fake_github, "mona")
    fake_github.oauth.faults = [(502, None)]
    with pytest.raises(Transient):
        await oauth.exchange_code(
            github, credentials(fake_github), code=code, redirect_uri=CALLBACK
        )
    assert fake_github.oauth.faults == []  # one try: the code may have been used
    fake_github.oauth.faults = [(429, 7)]
    token = await oauth.exchange_code(
        github, credentials(fake_github), code=code, redirect_uri=CALLBACK
    )
    assert time_passes.waits == [pytest.approx(7.0, abs=0.5)]
    assert fake_github.oauth.tokens[token] == "mona"


async def test_who_signed_in_is_asked_again_after_a_server_error(
    github: GitHubApp, fake_github: FakeGitHub
) -> None:
    code = await code_for(fake_github, "mona")
    token = await oauth.exchange_code(
        github, credentials(fake_github), code=code, redirect_uri=CALLBACK
    )
    fake_github.fail_next("get", "/user", times=2)
    assert (await oauth.identify(github, token))[0] == "mona"
