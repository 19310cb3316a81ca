"""Fixtures for the sandbox's tests: a sandbox as the service makes it, and a test host
in a network namespace of its own (the outside world, as far as this machine has one)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.executor.sandbox import Sandbox
from bot.executor.sandbox_policy import DEFAULT_BUILD_USER, SandboxPolicy
from tests.services import require_sandbox

# TEST-NET-style addresses of the benchmarking range (RFC 2544), used by no real network.
_HOST_SIDE = "198.18.{n}.1"
_PEER_SIDE = "198.18.{n}.2"


@pytest.fixture
def sandbox() -> Sandbox:
    require_sandbox()
    return Sandbox(SandboxPolicy(build_user=DEFAULT_BUILD_USER))


@pytest.fixture
def walkable(tmp_path: Path) -> Iterator[Path]:
    """A directory the build user may walk to, as a service's work dir would be."""
    directory = Path(tempfile.mkdtemp(prefix="greenlight-sandbox-test-"))
    directory.chmod(0o755)
    try:
        yield directory
    finally:
        subprocess.run(["rm", "-rf", str(directory)], check=False)


@dataclass(frozen=True)
class PeerHost:
    address: str  # the peer's address, inside its own network namespace
    host_address: str  # this machine's end of the link: one of the host's own addresses
    port: int


_SERVER = """
import socket, sys
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((sys.argv[1], int(sys.argv[2])))
server.listen()
print("listening", flush=True)
while True:
    connection, _ = server.accept()
    connection.sendall(b"hello from the test host\\n")
    connection.close()
"""


@pytest.fixture
def test_host() -> Iterator[PeerHost]:
    """A host in a network namespace of its own, linked to this machine by a veth pair,
    with a TCP server that greets whoever connects."""
    require_sandbox()
    tag = secrets.token_hex(3)
    n = int(tag[:2], 16) % 250 + 1
    namespace, here, there = f"gl-{tag}", f"glh{tag}", f"glp{tag}"
    host_address, address = _HOST_SIDE.format(n=n), _PEER_SIDE.format(n=n)
    commands = [
        ["ip", "netns", "add", namespace],
        ["ip", "link", "add", here, "type", "veth", "peer", "name", there],
        ["ip", "link", "set", there, "netns", namespace],
        ["ip", "addr", "add", f"{host_address}/30", "dev", here],
        ["ip", "link", "set", here, "up"],
        ["ip", "-n", namespace, "addr", "add", f"{address}/30", "dev", there],
        ["ip", "-n", namespace, "link", "set", there, "up"],
        ["ip", "-n", namespace, "link", "set", "lo", "up"],
    ]
    server = None
    try:
        for command in commands:
            subprocess.run(command, check=True, capture_output=True)
        port = 18080
        server = subprocess.Popen(
            ["ip", "netns", "exec", namespace, sys.executable, "-c", _SERVER, address, str(port)],
            stdout=subprocess.PIPE,
        )
        assert server.stdout is not None
        assert server.stdout.readline() == b"listening\n"
        yield PeerHost(address, host_address, port)
    finally:
        if server is not None:
            server.kill()
            server.wait()
            if server.stdout is not None:
                server.stdout.close()
        subprocess.run(["ip", "link", "del", here], check=False, capture_output=True)
        subprocess.run(["ip", "netns", "del", namespace], check=False, capture_output=True)


def process_exists(fragment: str) -> bool:
    """True when a process on this machine has `fragment` in its command line."""
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as cmdline:
                if fragment.encode() in cmdline.read():
                    return True
        except OSError:
            continue
    return False
