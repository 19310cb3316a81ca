"""GitHub's web flow for a user access token, and who the token belongs to.

These are the only calls made with a viewer's token, not the app's: the OAuth endpoints
live on GitHub's web host, not its API, and `GET /user` names the person signing in.
https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-user-access-token-for-a-github-app#using-the-web-application-flow-to-generate-a-user-access-token
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import aiohttp

TIMEOUT = aiohttp.ClientTimeout(total=20)


class SignInError(Exception):
    """GitHub did not give a token or an identity; the message says what it answered."""


def authorize_url(web_url: str, client_id: str, redirect_uri: str, state: str) -> str:
    """Where the browser goes to ask the person to sign in."""
    query = urlencode({"client_id": client_id, "redirect_uri": redirect_uri, "state": state})
    return f"{web_url}/login/oauth/authorize?{query}"


async def exchange_code(
    web_url: str, client_id: str, client_secret: str, code: str, redirect_uri: str
) -> str:
    """The user access token GitHub trades for the code it sent back."""
    form = {
        "client_id": client_id,
        "client_secret": client_secret,
        "code": code,
        "redirect_uri": redirect_uri,
    }
    answer = await _request(
        "POST",
        f"{web_url}/login/oauth/access_token",
        data=form,
        headers={"Accept": "application/json"},
    )
    token = answer.get("access_token")
    if not isinstance(token, str) or not token:
        # GitHub answers 200 with an `error` for a bad or used code.
        raise SignInError(str(answer.get("error_description") or answer.get("error") or "no token"))
    return token


async def identify(api_url: str, token: str) -> tuple[str, int]:
    """The login and id of the person a user access token belongs to."""
    answer = await _request(
        "GET",
        f"{api_url}/user",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json"},
    )
    login, user_id = answer.get("login"), answer.get("id")
    if not isinstance(login, str) or not isinstance(user_id, int):
        raise SignInError("GitHub did not say who signed in")
    return login, user_id


async def _request(method: str, url: str, **options: Any) -> dict[str, Any]:
    try:
        async with (
            aiohttp.ClientSession(timeout=TIMEOUT) as session,
            session.request(method, url, **options) as response,
        ):
            if response.status >= 400:
                raise SignInError(f"GitHub answered {response.status}")
            data = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as error:
        raise SignInError(f"GitHub could not be reached: {error}") from error
    if not isinstance(data, dict):
        raise SignInError("GitHub's answer was not an object")
    return data
