"""Sign in with GitHub: `/auth/login` → GitHub → `/auth/callback` → the page asked for.

The `state` sent to GitHub is kept in a sealed cookie that lives ten minutes, and the
callback goes on only when GitHub hands the same one back, so nobody can sign a visitor
in as someone else. Signing out is a POST carrying the session's CSRF token.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from typing import NoReturn

from aiohttp import web

from bot.github import oauth
from bot.github.errors import GitHubError
from bot.web import messages
from bot.web.access import refused
from bot.web.keys import GITHUB, SETTINGS
from bot.web.sessions import (
    OAUTH,
    STATE_COOKIE,
    STATE_SECONDS,
    OAuthClient,
    end_session,
    new_viewer,
    seal,
    set_cookie,
    start_session,
    unseal,
    viewer_of,
)

log = logging.getLogger("greenlight.web")
CALLBACK_PATH = "/auth/callback"


def add_routes(app: web.Application) -> None:
    settings = app[SETTINGS]
    app[OAUTH] = OAuthClient(settings.client_id, settings.client_secret)
    app.router.add_get("/auth/login", login)
    app.router.add_get(CALLBACK_PATH, callback)
    app.router.add_post("/auth/logout", logout)


def local_path(path: str) -> str:
    """`path` when it is a page of this site, else `/` (no open redirect)."""
    if path.startswith("/") and not path.startswith("//") and "\\" not in path:
        return path
    return "/"


async def login(request: web.Request) -> NoReturn:
    """Send the browser to GitHub to sign in, remembering where it wanted to go."""
    client = request.app[OAUTH].pair()
    if client is None:
        raise refused(web.HTTPServiceUnavailable, messages.SIGN_IN_OFF, messages.SIGN_IN_OFF_DETAIL)
    settings = request.app[SETTINGS]
    state = secrets.token_urlsafe(24)
    target = local_path(request.query.get("next", "/"))
    redirect_uri = settings.public_url + CALLBACK_PATH
    credentials = oauth.OAuthCredentials(settings.web_url, *client)
    response = web.HTTPFound(oauth.authorize_url(credentials, redirect_uri, state))
    sealed = seal(settings, "state", {"state": state, "next": target})
    set_cookie(response, settings, STATE_COOKIE, sealed, STATE_SECONDS)
    raise response


async def callback(request: web.Request) -> NoReturn:
    """GitHub sends the browser back with a code: trade it for the viewer's identity."""
    settings, client = request.app[SETTINGS], request.app[OAUTH]
    sealed = request.cookies.get(STATE_COOKIE, "")
    remembered = unseal(settings, "state", sealed, max_age=STATE_SECONDS) if sealed else None
    state, code = request.query.get("state", ""), request.query.get("code", "")
    expected = str((remembered or {}).get("state", ""))
    if not expected or not code or not hmac.compare_digest(expected.encode(), state.encode()):
        raise refused(web.HTTPBadRequest, messages.SIGN_IN_EXPIRED, messages.SIGN_IN_EXPIRED_DETAIL)
    pair = client.pair()
    if pair is None:
        raise refused(web.HTTPServiceUnavailable, messages.SIGN_IN_OFF, messages.SIGN_IN_OFF_DETAIL)
    github = request.app[GITHUB]
    credentials = oauth.OAuthCredentials(settings.web_url, *pair)
    try:
        token = await oauth.exchange_code(
            github, credentials, code=code, redirect_uri=settings.public_url + CALLBACK_PATH
        )
        login_name, user_id = await oauth.identify(github, token)
    except GitHubError as error:
        log.warning("sign-in failed: %s", error)
        raise refused(
            web.HTTPBadGateway, messages.SIGN_IN_FAILED, messages.sign_in_failed(str(error))
        ) from error
    response = web.HTTPFound(local_path(str((remembered or {}).get("next", "/"))))
    response.del_cookie(STATE_COOKIE, path="/")
    start_session(response, settings, new_viewer(login_name, user_id, token))
    raise response


async def logout(request: web.Request) -> NoReturn:
    """End the session: a POST with the session's CSRF token."""
    viewer = viewer_of(request)
    form = await request.post()
    given = str(form.get("csrf", ""))
    if viewer is not None and not hmac.compare_digest(viewer.csrf.encode(), given.encode()):
        raise refused(web.HTTPForbidden, messages.FORGED, messages.FORGED_DETAIL)
    response = web.HTTPSeeOther("/")
    end_session(response)
    raise response
