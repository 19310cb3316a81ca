"""The first-run setup page asks for the code printed in the console before it registers an app."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.settings import load_settings
from bot.web.app import create_app
from bot.web.setup import SETUP_CODE, SETUP_STATE

Client = TestClient[Any, web.Application]
REGISTER = "Register the GitHub App"
ASKS_FOR_THE_CODE = "enter the setup code that Greenlight printed in its console"
REFUSED = "That is not the setup code."
UNREACHABLE = "GitHub cannot deliver webhooks to"


@asynccontextmanager
async def setup_client(tmp_path: Path, **env: str) -> AsyncIterator[Client]:
    """The service on a first run, without app credentials."""
    settings = load_settings(
        {
            "GITHUB_API_URL": "http://127.0.0.1:9",  # nothing listens: no test reaches GitHub
            "GITHUB_URL": "https://github.example",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'greenlight.db'}",
            "GREENLIGHT_WORK_DIR": str(tmp_path / "work"),
            "GREENLIGHT_SANDBOX": "none",
            **env,
        },
        env_file=tmp_path / ".env",
    )
    assert settings.credentials is None
    async with TestClient(TestServer(create_app(settings))) as test_client:
        yield test_client


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with setup_client(tmp_path, PUBLIC_URL="https://ci.example.org") as test_client:
        yield test_client


async def registration_page(client: Client) -> str:
    response = await client.get("/", params={"code": client.app[SETUP_CODE]})
    assert response.status == 200
    page = await response.text()
    assert REGISTER in page
    return page


def issued_states(client: Client) -> set[str]:
    return client.app[SETUP_STATE]


async def test_without_the_code_the_page_asks_for_it(client: Client) -> None:
    response = await client.get("/")
    page = await response.text()
    assert response.status == 200
    assert ASKS_FOR_THE_CODE in page
    assert "<input name='code'" in page
    assert REGISTER not in page
    assert REFUSED not in page
    assert issued_states(client) == set()


@pytest.mark.parametrize("wrong", ["nope", "ça ne va pas", "<script>alert(1)</script>"])
async def test_a_wrong_code_is_refused(client: Client, wrong: str) -> None:
    response = await client.get("/", params={"code": wrong})
    page = await response.text()
    assert response.status == 403
    assert REFUSED in page
    assert ASKS_FOR_THE_CODE in page
    assert REGISTER not in page
    assert "<script>" not in page  # what was typed is never echoed
    assert issued_states(client) == set()


async def test_the_code_from_the_console_opens_the_registration(client: Client) -> None:
    code = client.app[SETUP_CODE]
    response = await client.get("/", params={"code": f" {code}\n"})  # as pasted
    page = await response.text()
    assert response.status == 200
    assert REGISTER in page
    assert REFUSED not in page
    assert UNREACHABLE not in page  # https://ci.example.org is fine
    action = html.unescape(re.search(r'<form action="([^"]+)"', page)[1])  # type: ignore[index]
    state = action.split("state=")[1]
    assert issued_states(client) == {state}
    # The address holds the code: the form posts to GitHub, which must not see it.
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"


async def test_each_start_has_its_own_code(tmp_path: Path) -> None:
    settings = load_settings({}, env_file=tmp_path / ".env")
    first, second = create_app(settings), create_app(settings)
    assert len(first[SETUP_CODE]) >= 22  # 128 random bits
    assert first[SETUP_CODE] != second[SETUP_CODE]


async def test_the_callback_refuses_a_state_it_did_not_issue(client: Client) -> None:
    await client.get("/")  # a visitor without the code gets no state
    await client.get("/", params={"code": "wrong"})
    response = await client.get("/setup/callback", params={"code": "x", "state": "forged"})
    assert response.status == 400
    assert "Setup link expired" in await response.text()


@pytest.mark.parametrize(
    ("env", "public_url"),
    [
        ({}, "http://localhost:3000"),  # the default
        ({"PUBLIC_URL": "http://127.0.0.1:8080"}, "http://127.0.0.1:8080"),
        ({"PUBLIC_URL": "http://[::1]:3000/"}, "http://[::1]:3000"),
        ({"PUBLIC_URL": "http://greenlight.localhost"}, "http://greenlight.localhost"),
    ],
)
async def test_the_registration_warns_when_github_cannot_reach_public_url(
    tmp_path: Path, env: dict[str, str], public_url: str
) -> None:
    async with setup_client(tmp_path, **env) as client:
        page = await registration_page(client)
    assert f"{UNREACHABLE} {public_url}.</b>" in page
    assert "Set <code>PUBLIC_URL</code> to an address GitHub can reach" in page
    assert "a tunnel to this port" in page
    assert "reverse proxy" in page


@pytest.mark.parametrize(
    "public_url",
    ["https://ci.example.org", "http://192.168.1.20:3000", "https://localhost.example"],
)
async def test_no_warning_for_an_address_github_may_reach(tmp_path: Path, public_url: str) -> None:
    async with setup_client(tmp_path, PUBLIC_URL=public_url) as client:
        assert UNREACHABLE not in await registration_page(client)
