"""First run: register the app on GitHub through the manifest flow, as Probot apps do.

The page posts `app.yml` (with this service's URLs filled in) to GitHub; GitHub creates
the app and redirects back with a code; the code is exchanged for the app's id, key and
webhook secret, which are written to `.env` and applied to the running service.
https://docs.github.com/en/apps/sharing-github-apps/registering-a-github-app-from-a-manifest
"""

from __future__ import annotations

import html
import json
import logging
import secrets
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from bot.github.errors import GitHubError
from bot.settings import AppCredentials
from bot.web.keys import GITHUB, SERVICES, SETTINGS, STORE
from bot.web.pages import page

log = logging.getLogger("greenlight.setup")
MANIFEST_PATH = Path(__file__).resolve().parents[1] / "app.yml"
SETUP_STATE = web.AppKey("setup_state", set[str])
# Events GitHub always sends to an app whatever it subscribes to.
IMPLICIT_EVENTS = {"installation", "installation_repositories", "ping"}


def load_manifest(public_url: str) -> dict[str, Any]:
    """The app manifest with this service's own URLs filled in."""
    manifest: dict[str, Any] = yaml.safe_load(MANIFEST_PATH.read_text())
    manifest["url"] = public_url
    manifest["hook_attributes"]["url"] = f"{public_url}/webhook"
    manifest["redirect_url"] = f"{public_url}/setup/callback"
    manifest["setup_url"] = f"{public_url}/"
    return manifest


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
    settings = request.app[SETTINGS]
    github = request.app[GITHUB]
    if github.credentials is not None:
        installations = await request.app[STORE].installations.all()
        rows = "".join(
            f"<li>{html.escape(i.account)}{' (suspended)' if i.suspended else ''}</li>"
            for i in installations
        )
        sandbox = await request.app[SERVICES].pipeline.report_sandbox()
        return page(
            "Greenlight is running",
            f"<p>App id {html.escape(github.credentials.app_id)}.</p>"
            f"<p>{html.escape(sandbox)}</p>"
            f"<h2>Installations</h2><ul>{rows or '<li>none yet</li>'}</ul>",
        )
    state = secrets.token_urlsafe(16)
    request.app[SETUP_STATE].add(state)
    manifest = html.escape(json.dumps(load_manifest(settings.public_url)))
    action = html.escape(f"{settings.web_url}/settings/apps/new?state={state}")
    return page(
        "Set up Greenlight",
        "<p>Greenlight has no GitHub App yet. Register one on GitHub: it takes one click, "
        "and GitHub sends you back here.</p>"
        f'<form action="{action}" method="post">'
        f'<input type="hidden" name="manifest" value="{manifest}">'
        '<button type="submit">Register the GitHub App</button></form>',
    )


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
    write_env(
        request.app[SETTINGS].env_file,
        {
            "GITHUB_APP_ID": credentials.app_id,
            "GITHUB_PRIVATE_KEY": credentials.private_key,
            "GITHUB_WEBHOOK_SECRET": credentials.webhook_secret,
        },
    )
    github.credentials = credentials
    install_url = f"{app['html_url']}/installations/new"
    return page(
        "Greenlight is registered",
        f"<p>The app <b>{html.escape(app.get('slug') or app.get('name', ''))}</b> exists and "
        f"its credentials are saved in <code>{html.escape(str(request.app[SETTINGS].env_file))}"
        f"</code>.</p><p>Now <a href='{html.escape(install_url)}'>install it on your "
        "repositories</a>, and add <code>.github/greenlight.yml</code> to each.</p>",
    )
