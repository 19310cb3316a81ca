"""First run without credentials: the setup page registers the app through the manifest flow."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import aiohttp
import yaml
from aiohttp.test_utils import TestServer
from dotenv import dotenv_values

from bot.handlers.routes import build_router
from bot.settings import load_settings
from bot.web.app import create_app
from bot.web.setup import IMPLICIT_EVENTS, SETUP_CODE, load_manifest
from tests.fakes.github import FakeGitHub
from tests.helpers import fixture_payload, signed_headers

ROOT = Path(__file__).resolve().parents[2]


async def test_the_manifest_flow_registers_and_applies_the_app(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    env_file = tmp_path / ".env"
    settings = load_settings(
        {
            "GITHUB_API_URL": fake_github.base_url,
            "GITHUB_URL": "https://github.example",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'g.db'}",
            "GREENLIGHT_WORK_DIR": str(tmp_path / "work"),
            "PUBLIC_URL": "https://ci.example.org",
        },
        env_file=env_file,
    )
    assert settings.credentials is None
    server = TestServer(create_app(settings))
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            code = server.app[SETUP_CODE]  # printed in the console at start-up
            page = await (await session.get(server.make_url(f"/?code={code}"))).text()
            action = html.unescape(re.search(r'<form action="([^"]+)"', page)[1])  # type: ignore[index]
            assert action.startswith("https://github.example/settings/apps/new?state=")
            manifest = json.loads(html.unescape(re.search(r'value="([^"]+)"', page)[1]))  # type: ignore[index]
            assert manifest["hook_attributes"]["url"] == "https://ci.example.org/webhook"
            assert manifest["redirect_url"] == "https://ci.example.org/setup/callback"
            assert manifest["callback_urls"] == ["https://ci.example.org/auth/callback"]
            state = action.split("state=")[1]

            stale = await session.get(server.make_url("/setup/callback?code=x&state=forged"))
            assert stale.status == 400

            fake_github.add_manifest_code("one-time-code", manifest)
            done = await session.get(
                server.make_url(f"/setup/callback?code=one-time-code&state={state}")
            )
            assert done.status == 200
            assert "/installations/new" in await done.text()

            saved = dotenv_values(env_file)
            assert saved["GITHUB_APP_ID"]
            assert "PRIVATE KEY" in (saved["GITHUB_PRIVATE_KEY"] or "")
            secret = saved["GITHUB_WEBHOOK_SECRET"] or ""
            assert load_settings({}, env_file=env_file).credentials is not None
            assert (saved["GITHUB_CLIENT_ID"] or "").startswith("Iv1.")
            assert (saved["GITHUB_CLIENT_SECRET"] or "").startswith("fake-client-secret-")
            sign_in = await session.get(server.make_url("/auth/login"), allow_redirects=False)
            assert sign_in.status == 302  # sign-in works without a restart too
            assert sign_in.headers["Location"].startswith(
                f"https://github.example/login/oauth/authorize?client_id={saved['GITHUB_CLIENT_ID']}"
            )

            body = json.dumps(fixture_payload("installation.created")).encode()
            accepted = await session.post(
                server.make_url("/webhook"),
                data=body,
                headers=signed_headers(body, "installation", secret=secret),
            )
            assert accepted.status == 202  # the new secret works without a restart
    finally:
        await server.close()


def test_the_manifest_subscribes_to_exactly_the_events_handled() -> None:
    manifest = yaml.safe_load((ROOT / "app.yml").read_text())
    handled = build_router().events() - IMPLICIT_EVENTS
    assert set(manifest["default_events"]) == handled
    assert load_manifest("http://x")["default_events"] == manifest["default_events"]
