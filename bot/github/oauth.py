"""GitHub's web flow for a user access token, and who the token belongs to.

The calls made with a viewer's token rather than the app's, for "Sign in with GitHub":
the browser is sent to `/login/oauth/authorize` on GitHub's web host, the code it brings
back is traded at `/login/oauth/access_token` (also on the web host, not the API), and
`GET /user` names the person. They go through the app's HTTP session, its retry policy and
its error family like every other GitHub call.
https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-user-access-token-for-a-github-app#using-the-web-application-flow-to-generate-a-user-access-token
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp

from bot.github.client import GitHubApp
from bot.github.errors import GitHubError, RateLimited, Transient, rate_limit_reset
from bot.github.retry import with_retries

AUTHORIZE_PATH = "/login/oauth/authorize"
ACCESS_TOKEN_PATH = "/login/oauth/access_token"  # noqa: S105 - a path, not a secret


class SignInRefused(GitHubError):
    """GitHub answered but gave no token or identity (a used or expired code, a wrong
    client secret); the message says what it answered."""


@dataclass(frozen=True)
class OAuthCredentials:
    """The app's OAuth client, from the manifest conversion (`GITHUB_CLIENT_ID`, `…_SECRET`)."""

    web_url: str  # GitHub's web host (`GITHUB_URL`)
    client_id: str
    client_secret: str


def authorize_url(client: OAuthCredentials, redirect_uri: str, state: str) -> str:
    """Where the browser goes to ask the person to sign in."""
    query = urlencode({"client_id": client.client_id, "redirect_uri": redirect_uri, "state": state})
    return f"{client.web_url}{AUTHORIZE_PATH}?{query}"


async def exchange_code(
    github: GitHubApp, client: OAuthCredentials, *, code: str, redirect_uri: str
) -> str:
    """The user access token GitHub trades for the code it sent back.

    A code works once, so a try whose answer was lost is not sent again (GitHub would
    refuse the code the second time): a rate limit, which refused before acting, is."""
    url = client.web_url + ACCESS_TOKEN_PATH
    form = {
        "client_id": client.client_id,
        "client_secret": client.client_secret,
        "code": code,
        "redirect_uri": redirect_uri,
    }

    async def send() -> dict[str, Any]:
        return await _post_form(github, url, form)

    how = github.attempts("post", ACCESS_TOKEN_PATH, repeatable=False)
    answer = await with_retries(send, how)
    token = answer.get("access_token")
    if not isinstance(token, str) or not token:
        # GitHub answers 200 with an `error` for a bad or used code.
        reason = answer.get("error_description") or answer.get("error") or "no token"
        raise SignInRefused(str(reason), status=200)
    return token


async def identify(github: GitHubApp, token: str) -> tuple[str, int]:
    """The login and id of the person a user access token belongs to (`GET /user`)."""
    answer = await github.call("get", "/user", {}, oauth_token=token)
    login = answer.get("login") if isinstance(answer, dict) else None
    user_id = answer.get("id") if isinstance(answer, dict) else None
    if not isinstance(login, str) or not isinstance(user_id, int):
        raise SignInRefused("GitHub did not say who signed in", status=200)
    return login, user_id


async def _post_form(github: GitHubApp, url: str, form: dict[str, str]) -> dict[str, Any]:
    """One try of a form POST to GitHub's web host, errors mapped to our family."""
    try:
        async with github.session.post(
            url, data=form, headers={"Accept": "application/json"}
        ) as response:
            if response.status >= 400:
                raise _http_error(response, github.now())
            data = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as error:
        raise Transient(f"GitHub could not be reached: {type(error).__name__}: {error}") from error
    if not isinstance(data, dict):
        raise GitHubError("GitHub's answer was not an object", status=200)
    return data


def _http_error(response: aiohttp.ClientResponse, now: float) -> GitHubError:
    status = response.status
    message = f"GitHub answered {status}"
    headers = {key.lower(): value for key, value in response.headers.items()}
    reset_at = rate_limit_reset(status, message, headers, now=now)
    if reset_at is not None:
        return RateLimited(message, status=status, reset_at=reset_at)
    return (Transient if status >= 500 else GitHubError)(message, status=status)
