"""First run: register the app on GitHub through the manifest flow, as Probot apps do.

The page posts `app.yml` (with this service's URLs filled in) to GitHub; GitHub creates
the app and redirects back with a code; the code is exchanged for the app's id, key and
webhook secret, which are written to `.env` and applied to the running service.
https://docs.github.com/en/apps/sharing-github-apps/registering-a-github-app-from-a-manifest

Whoever completes the flow decides which app this service trusts, and the service listens
on every interface by default, so the page first asks for a setup code that only the
console shows (as Jupyter prints its token): a new one at each start. The callback is
honoured only for a `state` handed to a page that had the code.
"""

from __future__ import annotations

import hmac
import html
import ipaddress
import json
import logging
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import yaml
from aiohttp import web

from bot.github.errors import GitHubError
from bot.settings import AppCredentials
from bot.web.home import status_page
from bot.web.keys import GITHUB, SETTINGS
from bot.web.pages import page
from bot.web.sessions import OAUTH
from bot.web.sign_in import CALLBACK_PATH

log = logging.getLogger("greenlight.setup")
MANIFEST_PATH = Path(__file__).resolve().parents[1] / "app.yml"
SETUP_STATE = web.AppKey("setup_state", set[str])
SETUP_CODE = web.AppKey("setup_code", str)
# Events GitHub always sends to an app whatever it subscribes to.
IMPLICIT_EVENTS = {"installation", "installation_repositories", "ping"}


def load_manifest(public_url: str) -> dict[str, Any]:
    """The app manifest with this service's own URLs filled in."""
    manifest: dict[str, Any] = yaml.safe_load(MANIFEST_PATH.read_text())
    manifest["url"] = public_url
    manifest["hook_attributes"]["url"] = f"{public_url}/webhook"
    manifest["redirect_url"] = f"{public_url}/setup/callback"
    manifest["setup_url"] = f"{public_url}/"
    manifest["callback_urls"] = [f"{public_url}{CALLBACK_PATH}"]  # "Sign in with GitHub"
    return manifest


def new_setup_code() -> str:
    """A code for the console, unguessable: 128 random bits."""
    return secrets.token_urlsafe(16)


def setup_url(public_url: str, code: str) -> str:
    """The setup page's address with the code in it, as the console prints it."""
    return f"{public_url}/?{urlencode({'code': code})}"


def is_setup_code(given: str, code: str) -> bool:
    """True when `given` is the code, compared in constant time; pasted spaces are forgiven."""
    return hmac.compare_digest(given.strip().encode(), code.encode())


def is_this_machine(url: str) -> bool:
    """True when only this machine can reach `url` (localhost, 127.0.0.1, ::1), so GitHub can't."""
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # a name: whether GitHub reaches it is up to DNS and the network
    return address.is_loopback or address.is_unspecified


def write_env(env_file: Path, values: dict[str, str]) -> None:
    """Set keys in a .env file, keeping every other line as it was."""
    lines = env_file.read_text().splitlines() if env_file.exists() else []
    kept = [line for line in lines if line.split("=", 1)[0].strip() not in values]
    for key, value in values.items():
        kept.append(f"{key}={json.dumps(value)}")  # quoted: the key spans lines
    env_file.write_text("\n".join(kept) + "\n")
    env_file.chmod(0o600)


async def home(request: web.Request) -> web.Response:
    """The setup page before the app exists; a short status page after."""
    if request.app[GITHUB].credentials is not None:
        return await status_page(request)
    return _setup_page(request)


def _setup_page(request: web.Request) -> web.Response:
    """Ask for the setup code; given it, the one-click registration (warned if out of reach)."""
    settings = request.app[SETTINGS]
    given = request.query.get("code", "")
    if not given:
        return _private(page(SETUP_TITLE, code_form()))
    if not is_setup_code(given, request.app[SETUP_CODE]):
        return _private(page(SETUP_TITLE, code_form(refused=True), status=403))
    state = secrets.token_urlsafe(16)
    request.app[SETUP_STATE].add(state)
    manifest = json.dumps(load_manifest(settings.public_url))
    action = f"{settings.web_url}/settings/apps/new?state={state}"
    public_url = settings.public_url
    warning = unreachable_warning(public_url) if is_this_machine(public_url) else ""
    return _private(page(SETUP_TITLE, warning + register_form(action, manifest)))


def _private(response: web.Response) -> web.Response:
    """A setup page: its address holds the code, so no browser keeps it or sends it on."""
    response.headers["Referrer-Policy"] = "no-referrer"  # the form posts to GitHub
    response.headers["Cache-Control"] = "no-store"
    return response


async def callback(request: web.Request) -> web.Response:
    """GitHub redirects here with a code: exchange it, save the credentials, go install."""
    code = request.query.get("code", "")
    state = request.query.get("state", "")
    if not code or state not in request.app[SETUP_STATE]:
        return page(
            "Setup link expired",
            "<p>Start again from the <a href='/'>setup page</a>.</p>",
            status=400,
        )
    request.app[SETUP_STATE].discard(state)
    github = request.app[GITHUB]
    try:
        app = await github.convert_manifest(code)
    except GitHubError as error:
        log.warning("manifest conversion failed: %s", error)
        return page(
            "GitHub refused the code",
            f"<p>{html.escape(str(error))}. Start again from the <a href='/'>setup page</a>.</p>",
            status=502,
        )
    credentials = AppCredentials(str(app["id"]), app["pem"], app["webhook_secret"])
    # The conversion also returns the app's OAuth client: "Sign in with GitHub" uses it.
    oauth = {
        name: str(app[key])
        for name, key in (
            ("GITHUB_CLIENT_ID", "client_id"),
            ("GITHUB_CLIENT_SECRET", "client_secret"),
        )
        if app.get(key)
    }
    write_env(
        request.app[SETTINGS].env_file,
        {
            "GITHUB_APP_ID": credentials.app_id,
            "GITHUB_PRIVATE_KEY": credentials.private_key,
            "GITHUB_WEBHOOK_SECRET": credentials.webhook_secret,
            **oauth,
        },
    )
    github.credentials = credentials
    client = request.app[OAUTH]
    client.client_id = oauth.get("GITHUB_CLIENT_ID")
    client.client_secret = oauth.get("GITHUB_CLIENT_SECRET")
    install_url = f"{app['html_url']}/installations/new"
    return page(
        "Greenlight is registered",
        f"<p>The app <b>{html.escape(app.get('slug') or app.get('name', ''))}</b> exists and "
        f"its credentials are saved in <code>{html.escape(str(request.app[SETTINGS].env_file))}"
        f"</code>.</p><p>Now <a href='{html.escape(install_url)}'>install it on your "
        "repositories</a>, and add <code>.github/greenlight.yml</code> to each.</p>",
    )


# What the setup pages say (the status and callback pages above say their own).

SETUP_TITLE = "Set up Greenlight"


def code_form(*, refused: bool = False) -> str:
    """Ask for the setup code; say so plainly when the one given is wrong."""
    problem = (
        "<p role='alert'><b>That is not the setup code.</b> Copy it from the console again: "
        "Greenlight prints a new one each time it starts.</p>"
        if refused
        else ""
    )
    return (
        f"{problem}<p>Greenlight has no GitHub App yet. Whoever registers it decides which "
        "app this service trusts, so first enter the setup code that Greenlight printed in "
        "its console when it started (or open the address printed there, which holds it).</p>"
        "<form action='/' method='get'><label>Setup code "
        "<input name='code' autocomplete='off' required autofocus></label> "
        "<button type='submit'>Continue</button></form>"
    )


def register_form(action: str, manifest: str) -> str:
    """The one-click form that posts the manifest to GitHub."""
    return (
        "<p>Greenlight has no GitHub App yet. Register one on GitHub: it takes one click, "
        "and GitHub sends you back here.</p>"
        f'<form action="{html.escape(action)}" method="post">'
        f'<input type="hidden" name="manifest" value="{html.escape(manifest)}">'
        '<button type="submit">Register the GitHub App</button></form>'
    )


def unreachable_warning(public_url: str) -> str:
    """Say that GitHub cannot deliver webhooks to this machine's own address, and what to set."""
    url = html.escape(public_url)
    return (
        f"<p role='alert'><b>GitHub cannot deliver webhooks to {url}.</b> That address is "
        "this machine's own, which GitHub cannot reach, and the app registered from here "
        f"would send its webhooks to {url}/webhook. Set <code>PUBLIC_URL</code> to an address "
        "GitHub can reach: a tunnel to this port (ngrok or cloudflared, say) or a reverse "
        "proxy in front of this service. Then restart Greenlight and open the new address it "
        "prints.</p>"
    )
