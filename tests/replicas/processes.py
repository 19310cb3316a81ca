"""Greenlight as several real `python -m bot` processes on one PostgreSQL database."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from tests.fakes.github import FakeGitHub
from tests.helpers import WEBHOOK_SECRET, wait_until

ROOT = Path(__file__).parents[2]
# Short, so a killed replica's work is taken over within seconds (30 s in production).
REPLICA_TIMEOUT_SECONDS = 3


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Replica:
    """One web process and what it printed."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    directory: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/webhook"

    @property
    def output(self) -> str:
        return (self.directory / "output.txt").read_text(errors="replace")

    def is_running(self) -> bool:
        return self.process.poll() is None

    async def answers(self) -> bool:
        assert self.is_running(), f"replica {self.name} died:\n{self.output}"
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"{self.url}/healthz", timeout=aiohttp.ClientTimeout(total=2)) as reply,
            ):
                return reply.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    def kill(self) -> None:
        """`kill -9`: no clean shutdown, no goodbye in the store."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.is_running():
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def replica_environment(
    fake: FakeGitHub, database_url: str, directory: Path, port: int
) -> dict[str, str]:
    """What an operator sets for each replica: the same app and database, its own port and
    work directory."""
    key = fake.private_key_pem
    return {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(ROOT),
        "HOME": str(directory),
        "GITHUB_APP_ID": str(fake.app_id),
        "GITHUB_PRIVATE_KEY": key.decode() if isinstance(key, bytes) else key,
        "GITHUB_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "GITHUB_API_URL": fake.base_url,
        "DATABASE_URL": database_url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "PUBLIC_URL": "http://greenlight.test",
        "GREENLIGHT_WORK_DIR": str(directory / "work"),
        "GREENLIGHT_CONCURRENCY": "4",
        # The deploy scripts write what they did outside their workspace.
        "GREENLIGHT_SANDBOX": "none",
        "GREENLIGHT_REPLICA_TIMEOUT": str(REPLICA_TIMEOUT_SECONDS),
    }


@asynccontextmanager
async def replicas(
    fake: FakeGitHub, database_url: str, tmp_path: Path, *names: str
) -> AsyncIterator[dict[str, Replica]]:
    """Replicas started and answering, then stopped."""
    started = {
        name: spawn_replica(fake, database_url, tmp_path / f"replica-{name}", name)
        for name in names
    }
    try:
        for replica in started.values():  # they start side by side
            await wait_until(replica.answers, deadline=60, message=f"replica {replica.name}")
        yield started
    finally:
        for replica in started.values():
            if replica.is_running():
                replica.process.terminate()
        for replica in started.values():
            replica.stop()


async def start_replica(fake: FakeGitHub, database_url: str, tmp_path: Path, name: str) -> Replica:
    """A replica started in `tmp_path/replica-NAME`, once it answers."""
    replica = spawn_replica(fake, database_url, tmp_path / f"replica-{name}", name)
    await wait_until(replica.answers, deadline=60, message=f"replica {name} to answer")
    return replica


def spawn_replica(fake: FakeGitHub, database_url: str, directory: Path, name: str) -> Replica:
    directory.mkdir()
    port = free_port()
    with (directory / "output.txt").open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.replicas.launch"],
            cwd=directory,
            env=replica_environment(fake, database_url, directory, port),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    return Replica(name, process, port, directory)
