"""`python -m bot` serving, as a newcomer starts it: where it listens and what it prints."""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.store.migrations import MIGRATIONS

# Unset for these tests: the service starts as on a first run, without an app.
APP_VARIABLES = (
    "GITHUB_APP_ID",
    "GITHUB_PRIVATE_KEY",
    "GITHUB_PRIVATE_KEY_PATH",
    "GITHUB_WEBHOOK_SECRET",
    "DATABASE_URL",
    "HOST",
    "PORT",
    "PUBLIC_URL",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def poll(condition: Callable[[], bool], *, deadline: float = 30.0, message: str) -> None:
    """Check `condition` until it holds; fail after `deadline` seconds."""
    give_up = time.monotonic() + deadline
    while not condition():
        assert time.monotonic() < give_up, f"timed out after {deadline} s waiting for {message}"
        time.sleep(0.05)


@dataclass
class Service:
    """A `python -m bot` process and what it printed so far."""

    process: subprocess.Popen[str]
    stdout_file: Path
    stderr_file: Path

    @property
    def stdout(self) -> str:
        return self.stdout_file.read_text()

    @property
    def stderr(self) -> str:
        return self.stderr_file.read_text()

    def has_exited(self) -> bool:
        return self.process.poll() is not None

    def answers(self, address: str, path: str = "/healthz") -> bool:
        """True once `path` answers 200 at `address`; fails the test if the service died."""
        assert not self.has_exited(), self.stdout + self.stderr
        try:
            with urllib.request.urlopen(f"http://{address}{path}", timeout=5) as response:
                return bool(response.status == 200)
        except OSError:
            return False


@contextmanager
def running_service(tmp_path: Path, *args: str, **env: str) -> Iterator[Service]:
    """`python -m bot ARGS` started in `tmp_path` without app credentials; stopped afterwards."""
    environ = {name: value for name, value in os.environ.items() if name not in APP_VARIABLES}
    stdout_file, stderr_file = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with stdout_file.open("w") as stdout, stderr_file.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", *args],
            cwd=tmp_path,
            env={**environ, **env},
            stdout=stdout,
            stderr=stderr,
            text=True,
        )
    try:
        yield Service(process, stdout_file, stderr_file)
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_host_sets_the_listen_address(tmp_path: Path) -> None:
    port = free_port()
    with running_service(tmp_path, HOST="127.0.0.2", PORT=str(port)) as service:
        poll(
            lambda: service.answers(f"127.0.0.2:{port}"),
            message="the service on 127.0.0.2",
        )
        assert not service.answers(f"127.0.0.1:{port}")  # not every interface


@pytest.mark.parametrize("host", [None, "127.0.0.1"])
def test_a_port_in_use_is_one_line_naming_it(tmp_path: Path, host: str | None) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {"PORT": str(port), **({"HOST": host} if host else {})}
        with running_service(tmp_path, **env) as service:
            poll(service.has_exited, message="the service to give up")
    assert service.process.returncode == 1
    assert service.stdout == ""  # never "listening"
    assert service.stderr.splitlines() == [
        f"Greenlight cannot listen on {f'{host} (HOST) ' if host else ''}port {port} (PORT): "
        "another program is using it; stop that program, or set PORT to a free port"
    ]
    assert not (tmp_path / "greenlight.db").exists()  # it stopped before any start-up work


def test_a_host_of_another_machine_is_named(tmp_path: Path) -> None:
    port = free_port()
    with running_service(tmp_path, HOST="192.0.2.1", PORT=str(port)) as service:
        poll(service.has_exited, message="the service to give up")  # TEST-NET-1: no one's
    assert service.process.returncode == 1
    assert service.stderr.splitlines() == [
        f"Greenlight cannot listen on 192.0.2.1 (HOST) port {port} (PORT): "
        "HOST is not an address of this machine; leave it unset to listen on every one"
    ]


def test_it_says_listening_only_once_it_answers(tmp_path: Path) -> None:
    port = free_port()
    with running_service(tmp_path, PORT=str(port)) as service:
        poll(lambda: "listening" in service.stdout, message="the listening line")
        assert service.answers(f"127.0.0.1:{port}")  # at once: no retry
        assert service.stdout.splitlines()[0] == (
            f"Greenlight listening on 0.0.0.0 port {port}; open http://localhost:{port}/"
        )


@pytest.mark.parametrize("args", [(), ("serve",)])
def test_serve_starts_on_embedded_defaults(tmp_path: Path, args: tuple[str, ...]) -> None:
    port = free_port()
    with running_service(tmp_path, *args, PORT=str(port)) as service:
        poll(lambda: "?code=" in service.stdout, message="the setup address")
        assert service.answers(f"127.0.0.1:{port}")
        assert (tmp_path / "greenlight.db").exists()  # SQLite in the working directory
        printed = re.search(rf"http://localhost:{port}(/\?code=\S+)", service.stdout)
        assert printed is not None, service.stdout
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{printed[1]}") as setup:
            assert "Register the GitHub App" in setup.read().decode()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/") as without_code:
            page = without_code.read().decode()
        assert "enter the setup code" in page
        assert "Register the GitHub App" not in page


def test_a_replica_older_than_the_schema_refuses_to_start(tmp_path: Path) -> None:
    """Another replica was upgraded first: this one must not write to tables it does not know."""
    database = tmp_path / "greenlight.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        connection.execute("INSERT INTO schema_version VALUES (?)", (len(MIGRATIONS) + 1,))
    with running_service(tmp_path, PORT=str(free_port())) as service:
        poll(service.has_exited, deadline=60, message="the service to give up")
    assert service.process.returncode == 3
    assert "listening" not in service.stdout
    assert (
        f"Greenlight cannot start: the database's schema is at version {len(MIGRATIONS) + 1}"
        in service.stderr
    )
    assert "Traceback" not in service.stderr
