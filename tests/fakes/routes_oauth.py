"""GitHub's web flow for user access tokens, and ``GET /user``.

The browser goes to ``/login/oauth/authorize`` on the web host; the person signed in to
"github.com" (``fake.oauth.signed_in``, set by the test) approves at once, and GitHub
redirects to the app's callback with a one-time code; the app trades it at
``/login/oauth/access_token`` for a token that ``GET /user`` names. As on GitHub, the
``redirect_uri`` must be under one of the app's callback URLs, a code works once, for ten
minutes, and only with the app's client secret; a bad exchange answers 200 with ``error``.
https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-user-access-token-for-a-github-app#using-the-web-application-flow-to-generate-a-user-access-token
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from aiohttp import web

from tests.fakes.server import FAKE_KEY, ApiError, Call, RouteTable, json_response
from tests.fakes.state import App

if TYPE_CHECKING:
    from tests.fakes.github import FakeGitHub

CODE_LIFETIME = timedelta(minutes=10)
AUTHORIZE = "/login/oauth/authorize"
ACCESS_TOKEN = "/login/oauth/access_token"

routes = RouteTable()


@dataclass(frozen=True)
class Grant:
    login: str
    client_id: str
    redirect_uri: str
    expires_at: datetime


@dataclass
class OAuthFlow:
    """The web flow's state: who is signed in to GitHub, the app's callbacks, codes, tokens."""

    signed_in: str | None = None  # the login of the person using "the browser"
    callback_urls: list[str] = field(default_factory=list)  # the app's (from its manifest)
    codes: dict[str, Grant] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # user access token → login
    exchanges: int = 0  # codes traded for tokens
    # Statuses the next exchanges answer with before looking at them (a GitHub fault);
    # ``(429, 7)``: a rate limit asking to wait 7 s.
    faults: list[tuple[int, int | None]] = field(default_factory=list)


def client_secret(app: App) -> str:
    """The app's OAuth client secret (the manifest conversion hands out the same)."""
    return f"fake-client-secret-{app.id}"


def add_web_routes(application: web.Application) -> None:
    """The web host's OAuth endpoints, beside the API the fake serves on the same port."""
    application.router.add_get(AUTHORIZE, authorize)
    application.router.add_post(ACCESS_TOKEN, access_token)


def _app_of(fake: FakeGitHub, client_id: str) -> App | None:
    return next((a for a in fake.world.apps.values() if a.client_id == client_id), None)


def _is_under(redirect_uri: str, callbacks: list[str]) -> bool:
    """GitHub's rule: same host and port, and a path under a callback URL's path."""
    return any(redirect_uri.split("?")[0].startswith(url.rstrip("/")) for url in callbacks)


async def authorize(request: web.Request) -> web.StreamResponse:
    """The person approves the app at once: redirect back with a code and the state."""
    fake = request.app[FAKE_KEY]
    query = request.query
    app = _app_of(fake, query.get("client_id", ""))
    if app is None:
        return web.Response(status=404, text="Not Found")
    redirect_uri = query.get("redirect_uri") or (fake.oauth.callback_urls or [""])[0]
    if not _is_under(redirect_uri, fake.oauth.callback_urls):
        return web.Response(
            status=400, text="The redirect_uri MUST match the registered callback URL."
        )
    if fake.oauth.signed_in is None:
        return web.Response(status=401, text="Sign in to GitHub to continue.")
    code = secrets.token_hex(10)
    fake.oauth.codes[code] = Grant(
        fake.oauth.signed_in, app.client_id, redirect_uri, fake.now() + CODE_LIFETIME
    )
    answer = {"code": code, **({"state": query["state"]} if "state" in query else {})}
    raise web.HTTPFound(f"{redirect_uri}?{urlencode(answer)}")


async def access_token(request: web.Request) -> web.StreamResponse:
    """Trade a code (once) for a user access token; mistakes answer 200 with `error`."""
    fake = request.app[FAKE_KEY]
    if fake.oauth.faults:
        status, retry_after = fake.oauth.faults.pop(0)
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        return web.json_response({"error": "fault"}, status=status, headers=headers)
    form = await request.post()
    client_id, code = str(form.get("client_id", "")), str(form.get("code", ""))
    app = _app_of(fake, client_id)
    if app is None or form.get("client_secret") != client_secret(app):
        return _error("incorrect_client_credentials")
    grant = fake.oauth.codes.pop(code, None)
    redirect_uri = str(form.get("redirect_uri", ""))
    if (
        grant is None
        or grant.client_id != client_id
        or grant.expires_at <= fake.now()
        or (redirect_uri and redirect_uri != grant.redirect_uri)
    ):
        return _error("bad_verification_code")
    token = "ghu_" + secrets.token_urlsafe(27)
    fake.oauth.tokens[token] = grant.login
    fake.oauth.exchanges += 1
    return web.json_response({"access_token": token, "token_type": "bearer", "scope": ""})


def _error(error: str) -> web.Response:
    return web.json_response(
        {"error": error, "error_description": error.replace("_", " "), "error_uri": ""}
    )


@routes.add("get", "/user")
async def get_user(call: Call) -> web.StreamResponse:
    """The person a user access token belongs to."""
    if call.user is None:
        raise ApiError(401, "Requires authentication")
    stamp = call.fake.now_iso()
    return json_response(
        {
            **call.r.user(call.user),
            **dict.fromkeys(("name", "company", "location", "email", "hireable", "bio")),
            "blog": "",
            **dict.fromkeys(("public_repos", "public_gists", "followers", "following"), 0),
            "created_at": stamp,
            "updated_at": stamp,
        }
    )
