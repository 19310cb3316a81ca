"""Sign in with GitHub through the fake's OAuth web flow: private repositories are shown
to people GitHub says may read them, and to nobody else; bad sessions and states get a
clear page, never a 500."""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.fernet import Fernet

from bot.store.deployments import DeployState
from bot.web.app import create_app
from bot.web.keys import SETTINGS, STORE
from bot.web.sessions import SESSION_COOKIE, new_viewer, start_session
from bot.web.viewers import PERMISSIONS
from tests.fakes.github import FakeGitHub
from tests.fakes.routes_oauth import client_secret
from tests.helpers import make_settings
from tests.web.conftest import Client
from tests.web.seed import seed_deployment, seed_run

PRIVATE = "octo/secret-plans"
PUBLIC_URL = "http://greenlight.test"


@pytest.fixture
async def service(fake_github: FakeGitHub, tmp_path: Path) -> AsyncIterator[Client]:
    """Greenlight with sign-in, a private repository installed, and its runs."""
    fake = fake_github
    fake.oauth.callback_urls = [f"{PUBLIC_URL}/auth/callback"]
    repo = fake.create_repo(PRIVATE, {"README.md": "hi\n"}, private=True)
    installation = fake.world.installation_for(PRIVATE, fake.app_id)
    assert installation is not None
    settings = make_settings(
        tmp_path,
        fake.private_key_pem.decode(),
        GITHUB_API_URL=fake.base_url,
        GITHUB_URL=fake.base_url,
        GITHUB_APP_ID=str(fake.app_id),
        GITHUB_CLIENT_ID=fake.github_app.client_id,
        GITHUB_CLIENT_SECRET=client_secret(fake.github_app),
    )
    async with TestClient(TestServer(create_app(settings))) as client:
        store = client.app[STORE]
        await store.installations.save(installation.id, "octo", now=1.0)
        await store.installations.add_repositories(installation.id, [(repo.id, PRIVATE, True)])
        await seed_run(store, "a" * 40, {"build": "failure"}, repo=PRIVATE)
        await seed_deployment(store, "production", "a" * 40, DeployState.SUCCESS, repo=PRIVATE)
        yield client


async def sign_in(client: Client, fake: FakeGitHub, login: str, next_path: str = "/") -> Any:
    """Go through GitHub's web flow as `login`; the answer of the callback."""
    fake.oauth.signed_in = login
    start = await client.get("/auth/login", params={"next": next_path}, allow_redirects=False)
    assert start.status == 302
    async with aiohttp.ClientSession() as browser:
        at_github = await browser.get(start.headers["Location"], allow_redirects=False)
    assert at_github.status == 302
    back = at_github.headers["Location"].removeprefix(PUBLIC_URL)
    return await client.get(back, allow_redirects=False)


async def test_a_reader_signs_in_and_sees_the_private_repository(
    service: Client, fake_github: FakeGitHub
) -> None:
    fake_github.set_permission(PRIVATE, "mona", "read")
    callback = await sign_in(service, fake_github, "mona", f"/repos/{PRIVATE}")
    assert callback.status == 302
    assert callback.headers["Location"] == f"/repos/{PRIVATE}"
    cookie = callback.cookies[SESSION_COOKIE]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    page = await service.get(f"/repos/{PRIVATE}")
    assert page.status == 200
    text = await page.text()
    assert "Signed in as <strong>mona</strong>" in text
    assert "aaaaaaa" in text
    home = await (await service.get("/")).text()
    assert PRIVATE in home
    run_link = re.search(r'href="(/runs/\d+)\?token=', text)
    assert run_link is not None
    assert (await service.get(run_link[1])).status == 200  # no token needed once signed in


async def test_someone_without_access_sees_nothing_of_a_private_repository(
    service: Client, fake_github: FakeGitHub
) -> None:
    anonymous = await service.get(f"/repos/{PRIVATE}")
    assert anonymous.status == 403
    assert "/auth/login?next=" in await anonymous.text()
    assert PRIVATE not in await (await service.get("/")).text()
    await sign_in(service, fake_github, "eve")
    refused = await service.get(f"/repos/{PRIVATE}")
    assert refused.status == 403
    assert "You cannot see this repository" in await refused.text()
    assert PRIVATE not in await (await service.get("/")).text()
    for path in ("/runs/1", "/jobs/1/log", "/jobs/1/log.txt", "/deployments/1/log"):
        assert (await service.get(path)).status == 403, path


async def test_a_viewer_who_lost_access_is_refused_within_a_minute(
    service: Client, fake_github: FakeGitHub
) -> None:
    fake_github.set_permission(PRIVATE, "mona", "write")
    await sign_in(service, fake_github, "mona")
    assert (await service.get(f"/repos/{PRIVATE}")).status == 200
    fake_github.set_permission(PRIVATE, "mona", "none")
    assert (await service.get(f"/repos/{PRIVATE}")).status == 200  # remembered a minute
    service.app[PERMISSIONS].expire(time.monotonic() + 61)
    assert (await service.get(f"/repos/{PRIVATE}")).status == 403


async def test_a_callback_this_browser_did_not_start_is_refused(
    service: Client, fake_github: FakeGitHub
) -> None:
    fake_github.oauth.signed_in = "mona"
    start = await service.get("/auth/login", allow_redirects=False)
    async with aiohttp.ClientSession() as browser:
        at_github = await browser.get(start.headers["Location"], allow_redirects=False)
    code = re.search(r"code=(\w+)", at_github.headers["Location"])
    assert code is not None
    forged = await service.get(f"/auth/callback?code={code[1]}&state=attacker")
    assert forged.status == 400
    assert "That sign-in has expired" in await forged.text()
    service.session.cookie_jar.clear()
    no_cookie = await service.get(at_github.headers["Location"].removeprefix(PUBLIC_URL))
    assert no_cookie.status == 400
    assert fake_github.oauth.exchanges == 0


async def test_a_tampered_or_expired_session_is_no_session(
    service: Client, fake_github: FakeGitHub
) -> None:
    fake_github.set_permission(PRIVATE, "mona", "read")
    await sign_in(service, fake_github, "mona")
    sealed = next(c.value for c in service.session.cookie_jar if c.key == SESSION_COOKIE)
    tampered = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
    for value in (tampered, "garbage", expired_copy(service, sealed)):
        service.session.cookie_jar.clear()
        service.session.cookie_jar.update_cookies({SESSION_COOKIE: value})
        page = await service.get(f"/repos/{PRIVATE}")
        assert page.status == 403
        assert "Sign in to see this page" in await page.text()


def expired_copy(service: Client, sealed: str) -> str:
    """The same session, issued nine hours ago."""
    secret = service.app[SETTINGS].link_secret
    digest = hashlib.sha256(f"greenlight session:{secret}".encode()).digest()
    fernet = Fernet(base64.urlsafe_b64encode(digest))
    return fernet.encrypt_at_time(
        fernet.decrypt(sealed.encode()), int(time.time()) - 9 * 3600
    ).decode()


async def test_signing_out_needs_the_session_token(
    service: Client, fake_github: FakeGitHub
) -> None:
    fake_github.set_permission(PRIVATE, "mona", "read")
    await sign_in(service, fake_github, "mona")
    forged = await service.post("/auth/logout", data={"csrf": "guess"}, allow_redirects=False)
    assert forged.status == 403
    page = await (await service.get(f"/repos/{PRIVATE}")).text()
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf is not None
    out = await service.post("/auth/logout", data={"csrf": csrf[1]}, allow_redirects=False)
    assert out.status == 303
    assert (await service.get(f"/repos/{PRIVATE}")).status == 403


async def test_sign_in_without_an_oauth_client_says_what_to_set(
    tmp_path: Path, private_key_pem: str
) -> None:
    app = create_app(make_settings(tmp_path, private_key_pem))
    async with TestClient(TestServer(app)) as client:
        page = await client.get("/auth/login")
        assert page.status == 503
        assert "GITHUB_CLIENT_ID" in await page.text()
        assert "Sign in with GitHub" not in await (await client.get("/")).text()


@pytest.mark.parametrize(
    ("public_url", "secure"), [("https://ci.example.org", True), (PUBLIC_URL, False)]
)
def test_cookies_are_secure_when_the_service_is_served_over_https(
    tmp_path: Path, private_key_pem: str, public_url: str, secure: bool
) -> None:
    settings = make_settings(tmp_path, private_key_pem, PUBLIC_URL=public_url)
    response = web.Response()
    start_session(response, settings, new_viewer("mona", 1, "ghu_x"))
    cookie = response.cookies[SESSION_COOKIE]
    assert bool(cookie["secure"]) is secure
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert int(cookie["max-age"]) == 8 * 3600
    assert "ghu_x" not in cookie.value  # sealed: the token is not readable in the cookie
