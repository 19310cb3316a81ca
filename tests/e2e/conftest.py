"""End to end: the whole app under test, the fake GitHub, real git repositories and processes,
on each executor (tests/e2e/executors.py)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.context import Context
from bot.dispatch.queue import Dispatcher
from bot.store import Store
from bot.store.records import Job, Run, Status
from bot.web.app import create_app
from bot.web.keys import DISPATCHER, SERVICES, STORE
from bot.wiring import Services
from tests.e2e.executors import (
    LOCAL_EXECUTOR,
    ExecutorUnderTest,
    executor,
    parametrize_executors,
)
from tests.fakes.github import FakeGitHub
from tests.helpers import WEBHOOK_SECRET, make_settings, wait_until

__all__ = ["executor"]  # a fixture of every end-to-end test


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    parametrize_executors(metafunc)


@dataclass
class Greenlight:
    """The service under test and the GitHub it talks to."""

    fake: FakeGitHub
    server: TestServer
    tmp_path: Path
    executor: ExecutorUnderTest = LOCAL_EXECUTOR

    @property
    def app(self) -> web.Application:
        return self.server.app

    @property
    def store(self) -> Store:
        return self.app[STORE]

    @property
    def services(self) -> Services:
        return self.app[SERVICES]

    @property
    def context(self) -> Context:
        return self.services.context

    @property
    def dispatcher(self) -> Dispatcher[Any]:
        return self.app[DISPATCHER]

    async def settle(self) -> None:
        """Until GitHub's deliveries are answered and Greenlight has handled them."""
        await self.fake.settle()
        await self.dispatcher.wait_idle()
        await self.services.merging.wait_idle()

    async def run_for(self, repo: str, sha: str, *, deadline: float = 30.0) -> Run:
        """The run of `sha`, once it has completed."""

        async def completed() -> bool:
            run = await self.store.runs.for_sha(repo, sha)
            return run is not None and run.status == Status.COMPLETED

        await self.settle()
        await wait_until(completed, deadline=deadline, message=f"the run of {sha[:7]}")
        run = await self.store.runs.for_sha(repo, sha)
        assert run is not None
        return run

    async def jobs(self, run: Run) -> dict[str, Job]:
        return {job.name: job for job in await self.store.runs.jobs(run.id)}

    async def log(self, job: Job) -> str:
        text, _ = await self.store.runs.read_log(job.id)
        return text

    def checks(self, repo: str, sha: str) -> dict[str, Any]:
        """The latest check run of each name on `sha`, as GitHub shows them."""
        latest: dict[str, Any] = {}
        for check in self.fake.check_runs(repo, sha):
            latest[check.name] = check
        return latest


async def start_greenlight(
    fake: FakeGitHub,
    tmp_path: Path,
    *,
    clock: Callable[[], float] = time.time,
    **settings: str,
) -> TestServer:
    options = {
        "GITHUB_API_URL": fake.base_url,
        "GITHUB_APP_ID": str(fake.app_id),
        **settings,
    }
    key = fake.private_key_pem
    pem = key.decode() if isinstance(key, bytes) else key
    app = create_app(make_settings(tmp_path, pem, **options), clock=clock)
    server = TestServer(app)
    await server.start_server()
    fake.configure_webhooks(str(server.make_url("/webhook")), WEBHOOK_SECRET)
    return server


@asynccontextmanager
async def running_greenlight(
    fake: FakeGitHub,
    tmp_path: Path,
    executor: ExecutorUnderTest,
    *,
    clock: Callable[[], float] = time.time,
) -> AsyncIterator[Greenlight]:
    """The app on `executor`, for the body; GitHub's deliveries answered before it stops."""
    server = await start_greenlight(fake, tmp_path, clock=clock, **executor.settings)
    try:
        yield Greenlight(fake, server, tmp_path, executor)
    finally:
        await fake.settle()
        await server.close()


@pytest.fixture
async def greenlight(
    fake_github: FakeGitHub, tmp_path: Path, executor: ExecutorUnderTest
) -> AsyncIterator[Greenlight]:
    async with running_greenlight(fake_github, tmp_path, executor) as running:
        yield running
