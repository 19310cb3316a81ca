"""Small helpers shared by the service-level tests."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp

from bot.context import Context
from bot.github.client import GitHubApp
from bot.metrics import Metrics
from bot.settings import AppCredentials, Settings, load_settings
from bot.store import open_store

if TYPE_CHECKING:
    from tests.fakes.github import FakeGitHub

FIXTURES = Path(__file__).parent / "fixtures"
WEBHOOK_SECRET = "it's a secret to everybody"


def fixture_payload(name: str) -> dict[str, Any]:
    """A real example payload from @octokit/webhooks-examples, e.g. `push` or `ping`."""
    data: dict[str, Any] = json.loads((FIXTURES / "webhooks" / f"{name}.json").read_text())
    return data


def signed_headers(
    body: bytes, event: str, *, secret: str = WEBHOOK_SECRET, delivery: str | None = None
) -> dict[str, str]:
    """The headers GitHub sends with a delivery."""
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "User-Agent": "GitHub-Hookshot/044aadd",
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-GitHub-Hook-ID": "292430182",
        "X-GitHub-Hook-Installation-Target-ID": "79929171",
        "X-GitHub-Hook-Installation-Target-Type": "integration",
        "X-Hub-Signature-256": f"sha256={signature}",
    }


def make_settings(tmp_path: Path, private_key_pem: str, **overrides: str) -> Settings:
    """Settings for a service under test, its files under `tmp_path`."""
    values = {
        "GITHUB_APP_ID": "1",
        "GITHUB_PRIVATE_KEY": private_key_pem,
        "GITHUB_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "GITHUB_API_URL": "http://127.0.0.1:9",  # nothing listens: no test reaches the internet
        "DATABASE_URL": f"sqlite:///{tmp_path / 'greenlight.db'}",
        "GREENLIGHT_WORK_DIR": str(tmp_path / "work"),
        "GREENLIGHT_CONCURRENCY": "4",
        "PUBLIC_URL": "http://greenlight.test",
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        # Most tests' steps tell the test what they did through files outside their
        # workspace, which a sandbox hides: the sandbox has tests of its own.
        "GREENLIGHT_SANDBOX": "none",
        # A recovery pass reads and reconciles in the background at start-up, which would
        # interleave with what most tests do step by step: it has tests of its own.
        "GREENLIGHT_RECOVERY_INTERVAL": "0",
    }
    values.update(overrides)
    return load_settings(values, env_file=tmp_path / ".env")


async def wait_until(
    condition: Callable[[], Awaitable[bool]] | Callable[[], bool],
    *,
    deadline: float = 10.0,
    message: str = "condition",
) -> None:
    """Poll `condition` until it holds; fail after `deadline` seconds."""
    give_up = time.monotonic() + deadline
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > give_up:
            raise AssertionError(f"timed out after {deadline} s waiting for {message}")
        await asyncio.sleep(0.02)


class Listener:
    """A TCP server on this machine that keeps everything sent to it."""

    def __init__(self) -> None:
        self.received = bytearray()
        self.connections = 0
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self, host: str) -> None:
        self._server = await asyncio.start_server(self._take, host, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _take(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.received += await reader.read()
        writer.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@contextlib.asynccontextmanager
async def fake_github_context(fake_github: FakeGitHub, tmp_path: Path) -> AsyncIterator[Context]:
    """The services' shared context (SQLite store, app client) talking to the fake GitHub."""
    settings = make_settings(tmp_path, app_key(fake_github), GITHUB_API_URL=fake_github.base_url)
    store = await open_store(settings.database_url)
    async with fake_github_app(fake_github) as github:
        yield Context(settings=settings, store=store, github=github, metrics=Metrics())
    await store.close()


def app_key(fake_github: FakeGitHub) -> str:
    """The fake's private key of the app, in PEM."""
    key = fake_github.private_key_pem
    return key.decode() if isinstance(key, bytes) else key


@contextlib.asynccontextmanager
async def fake_github_app(fake_github: FakeGitHub, **options: Any) -> AsyncIterator[GitHubApp]:
    """Greenlight's GitHub client, as the fake's app (`options`: its clock, sleep…)."""
    async with aiohttp.ClientSession() as session:
        yield GitHubApp(
            session,
            api_url=fake_github.base_url,
            metrics=Metrics(),
            credentials=AppCredentials(str(fake_github.app_id), app_key(fake_github), "s"),
            **options,
        )
