"""Pytest fixtures for the fake GitHub.

Use them from a conftest with ``pytest_plugins = ["tests.fakes.plugin"]`` (root conftest)
or ``from tests.fakes.plugin import fake_github, webhook_receiver``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.fakes.github import FakeGitHub

Json = Any


@dataclass
class ReceivedDelivery:
    """A webhook delivery as a receiver saw it."""

    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> str:
        """X-GitHub-Event."""
        return self.headers["X-GitHub-Event"]


@dataclass
class WebhookReceiver:
    """A local HTTP endpoint that records deliveries and answers ``status``."""

    url: str = ""
    status: int = 202
    received: list[ReceivedDelivery] = field(default_factory=list)
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def handle(self, request: web.Request) -> web.Response:
        """Record one delivery."""
        delivery = ReceivedDelivery(dict(request.headers), await request.read())
        async with self._arrived:
            self.received.append(delivery)
            self._arrived.notify_all()
        return web.Response(status=self.status)

    async def wait_for(self, count: int, deadline: float = 5.0) -> list[ReceivedDelivery]:
        """Wait (at most ``deadline`` seconds) until ``count`` deliveries have arrived."""
        async with asyncio.timeout(deadline), self._arrived:
            await self._arrived.wait_for(lambda: len(self.received) >= count)
        return self.received

    def events(self) -> list[str]:
        """``event`` or ``event.action`` of each delivery, in order."""
        import json

        names = []
        for delivery in self.received:
            action = json.loads(delivery.body).get("action")
            names.append(f"{delivery.event}.{action}" if action else delivery.event)
        return names


async def start_fake_github(root: Path, **options: Any) -> tuple[FakeGitHub, TestServer]:
    """A FakeGitHub served on 127.0.0.1; close with ``stop_fake_github``."""
    fake = FakeGitHub(root, **options)
    server = TestServer(fake.app)
    await server.start_server()
    fake.base_url = str(server.make_url("")).rstrip("/")
    return fake, server


async def stop_fake_github(fake: FakeGitHub, server: TestServer) -> None:
    """Stop deliveries and the server."""
    await fake.close()
    await server.close()


@pytest.fixture
async def fake_github(tmp_path: Path) -> AsyncIterator[FakeGitHub]:
    """A served FakeGitHub; the test fails at teardown if it saw requests GitHub would reject."""
    fake, server = await start_fake_github(tmp_path / "github")
    try:
        yield fake
    finally:
        await stop_fake_github(fake, server)
    fake.assert_no_violations()


@pytest.fixture
async def webhook_receiver() -> AsyncIterator[WebhookReceiver]:
    """A local webhook endpoint (its ``url`` ready for ``configure_webhooks``)."""
    async with serving_receiver() as receiver:
        yield receiver


@asynccontextmanager
async def serving_receiver() -> AsyncIterator[WebhookReceiver]:
    """A webhook endpoint served on 127.0.0.1 for the body."""
    receiver = WebhookReceiver()
    app = web.Application()
    app.router.add_post("/webhook", receiver.handle)
    server = TestServer(app)
    await server.start_server()
    receiver.url = str(server.make_url("/webhook"))
    try:
        yield receiver
    finally:
        await server.close()
