"""Pages tested in a real browser: Debian's Chromium driven by Playwright.

One browser process for all of them (a page per test, in its own context); the
service runs in a thread with its own event loop, so tests drive the browser with
Playwright's synchronous API and reach the store through `site.call`. Where Chromium is
missing the tests skip, unless GREENLIGHT_REQUIRE_SERVICES=1 (as `.ci/run` sets).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer, unused_port

from bot.settings import Settings
from bot.store import Store
from bot.web.app import create_app
from bot.web.keys import STORE
from tests.fakes.github import FakeGitHub
from tests.fakes.plugin import start_fake_github, stop_fake_github
from tests.fakes.routes_oauth import client_secret
from tests.helpers import WEBHOOK_SECRET, make_settings

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = os.environ.get("GREENLIGHT_CHROMIUM", "/usr/bin/chromium")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
T = TypeVar("T")


def require_chromium() -> None:
    """Skip (or fail, when services are required) unless Chromium and Playwright are here."""
    problem = None
    if shutil.which(CHROMIUM) is None:
        problem = f"Chromium is not installed at {CHROMIUM} (Debian: apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "Playwright for Python is not installed (pip install -e '.[test]')"
    if problem is None:
        return
    if os.environ.get("GREENLIGHT_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{problem}, and GREENLIGHT_REQUIRE_SERVICES=1")
    pytest.skip(problem)


# Package scope: one Chromium for every browser test, stopped when they are done, since
# Playwright's synchronous API holds an event loop on the main thread while it runs, and
# the asynchronous tests elsewhere need that thread's loop free.
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One Chromium for every browser test."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium refuses its own sandbox.
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


class LiveSite:
    """The whole service on a free port, its event loop in a thread of its own; with
    `github`, the fake GitHub too (API and sign-in pages), on that loop."""

    def __init__(self, tmp_path: Path, private_key_pem: str, *, github: bool = False) -> None:
        self._tmp_path = tmp_path
        self._private_key_pem = private_key_pem
        self._with_github = github
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="site", daemon=True)
        self._runner: web.AppRunner | None = None
        self._fake: tuple[FakeGitHub, TestServer] | None = None
        self._settings: Settings | None = None
        self.url = ""

    def __enter__(self) -> LiveSite:
        self._thread.start()
        self.call(self._start())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._runner is not None:
            self.call(self._runner.cleanup())
        if self._fake is not None:
            self.call(stop_fake_github(*self._fake))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _start(self) -> None:
        port = unused_port()
        self.url = f"http://127.0.0.1:{port}"
        options = {"PUBLIC_URL": self.url, "GITHUB_URL": "https://github.example"}
        key = self._private_key_pem
        if self._with_github:
            self._fake = await start_fake_github(self._tmp_path / "github")
            fake = self._fake[0]
            fake.oauth.callback_urls = [f"{self.url}/auth/callback"]
            key = fake.private_key_pem.decode()
            options.update(
                GITHUB_API_URL=fake.base_url,
                GITHUB_URL=fake.base_url,
                GITHUB_APP_ID=str(fake.app_id),
                GITHUB_CLIENT_ID=fake.github_app.client_id,
                GITHUB_CLIENT_SECRET=client_secret(fake.github_app),
            )
        self._settings = make_settings(self._tmp_path, key, **options)
        self._runner = web.AppRunner(create_app(self._settings))
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        if self._fake is not None:
            self._fake[0].configure_webhooks(f"{self.url}/webhook", WEBHOOK_SECRET)

    @property
    def github(self) -> FakeGitHub:
        """The fake GitHub (only with `github=True`)."""
        assert self._fake is not None
        return self._fake[0]

    @property
    def store_secret(self) -> str:
        """The key that signs this service's links."""
        assert self._settings is not None
        return self._settings.link_secret

    @property
    def store(self) -> Store:
        assert self._runner is not None
        return self._runner.app[STORE]

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run `coroutine` on the service's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=30)


@pytest.fixture
def site(tmp_path: Path, private_key_pem: str, browser: Browser) -> Iterator[LiveSite]:
    with LiveSite(tmp_path, private_key_pem) as live:
        yield live


@pytest.fixture
def github_site(tmp_path: Path, private_key_pem: str, browser: Browser) -> Iterator[LiveSite]:
    """The service with sign-in, and the fake GitHub it signs people in with."""
    with LiveSite(tmp_path, private_key_pem, github=True) as live:
        yield live
        live.github.assert_no_violations()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page at a desktop's width."""
    context = browser.new_context(viewport=DESKTOP)  # type: ignore[arg-type]
    yield context.new_page()
    context.close()


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    """A fresh page at a phone's width (390 px, as an iPhone 14's)."""
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)  # type: ignore[arg-type]
    yield context.new_page()
    context.close()
