"""Who is reading: a viewer signed in with GitHub, kept in an encrypted, expiring cookie.

The cookie is sealed with Fernet (AES and an HMAC, with its time of issue) under a key
derived from the link secret, so every replica reads the cookies of every other (they
share the secret) and nobody can read or forge one: it holds the viewer's GitHub token.
The OAuth `state` travels the same way, in a cookie of its own that lives ten minutes.
https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-user-access-token-for-a-github-app
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import asdict, dataclass
from urllib.parse import quote

from aiohttp import web
from cryptography.fernet import Fernet, InvalidToken

from bot.settings import Settings
from bot.web.keys import SETTINGS

SESSION_COOKIE = "greenlight_session"
STATE_COOKIE = "greenlight_sign_in"
SESSION_SECONDS = 8 * 3600
STATE_SECONDS = 600
VIEWER = web.RequestKey("viewer", object)  # holds a Viewer, or None


@dataclass
class OAuthClient:
    """The app's OAuth client: from settings, or from the setup page once it registered."""

    client_id: str | None
    client_secret: str | None

    @property
    def is_ready(self) -> bool:
        return self.pair() is not None

    def pair(self) -> tuple[str, str] | None:
        """The client id and secret, or None until both are known."""
        if self.client_id and self.client_secret:
            return self.client_id, self.client_secret
        return None


OAUTH = web.AppKey("oauth_client", OAuthClient)


def login_url(next_path: str) -> str:
    """The address that signs a viewer in and brings them back to `next_path`."""
    return f"/auth/login?next={quote(next_path, safe='')}"


def can_sign_in(request: web.Request) -> bool:
    """Whether this service has an OAuth client to sign viewers in with."""
    client = request.app.get(OAUTH)
    return client is not None and client.is_ready


@dataclass(frozen=True)
class Viewer:
    """A person signed in with GitHub."""

    login: str
    user_id: int
    token: str  # their GitHub user access token: only ever sent to GitHub
    csrf: str  # echoed by every form this viewer posts


def new_viewer(login: str, user_id: int, token: str) -> Viewer:
    return Viewer(login, user_id, token, secrets.token_urlsafe(24))


def _fernet(settings: Settings, purpose: str) -> Fernet:
    digest = hashlib.sha256(f"greenlight {purpose}:{settings.link_secret}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(settings: Settings, purpose: str, value: dict[str, object]) -> str:
    """`value` encrypted and signed for a cookie."""
    return _fernet(settings, purpose).encrypt(json.dumps(value).encode()).decode()


def unseal(
    settings: Settings, purpose: str, sealed: str, *, max_age: int
) -> dict[str, object] | None:
    """The value of a cookie from `seal`; None when tampered with, foreign or expired."""
    try:
        value = json.loads(_fernet(settings, purpose).decrypt(sealed.encode(), ttl=max_age))
    except (InvalidToken, ValueError):
        return None
    return value if isinstance(value, dict) else None


def viewer_of(request: web.Request) -> Viewer | None:
    """The signed-in viewer of this request, if any (read once per request)."""
    if VIEWER in request:
        found = request[VIEWER]
        return found if isinstance(found, Viewer) else None
    sealed = request.cookies.get(SESSION_COOKIE, "")
    value = (
        unseal(request.app[SETTINGS], "session", sealed, max_age=SESSION_SECONDS)
        if sealed
        else None
    )
    viewer = _viewer(value)
    request[VIEWER] = viewer
    return viewer


def _viewer(value: dict[str, object] | None) -> Viewer | None:
    if value is None:
        return None
    login, user_id, token, csrf = (value.get(k) for k in ("login", "user_id", "token", "csrf"))
    if not (isinstance(login, str) and isinstance(user_id, int)):
        return None
    if not (isinstance(token, str) and isinstance(csrf, str)):
        return None
    return Viewer(login, user_id, token, csrf)


def set_cookie(
    response: web.StreamResponse, settings: Settings, name: str, value: str, max_age: int
) -> None:
    """A cookie scripts cannot read, sent back only from this site's own navigation."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="Lax",
        secure=settings.public_url.startswith("https://"),
    )


def start_session(response: web.StreamResponse, settings: Settings, viewer: Viewer) -> None:
    set_cookie(
        response,
        settings,
        SESSION_COOKIE,
        seal(settings, "session", asdict(viewer)),
        SESSION_SECONDS,
    )


def end_session(response: web.StreamResponse) -> None:
    response.del_cookie(SESSION_COOKIE, path="/")
