"""https health checks, probed in the sandbox: an environment whose certificate a private CA
signed is trusted once the operator names that CA (GREENLIGHT_HEALTH_CA_FILE), and only
then; a certificate no trusted CA signed, or one for another name, fails the check saying
why. The endpoint is a local TLS server; the CAs are made with `cryptography`."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Greenlight, start_greenlight
from tests.e2e.health_endpoint import HealthEndpoint
from tests.e2e.test_deploy import REPO, deployed
from tests.e2e.test_health_sandbox import released
from tests.e2e.tls import Authority, authority, server_context
from tests.fakes.github import FakeGitHub
from tests.services import require_sandbox


@pytest.fixture
def private_ca() -> Authority:
    return authority("Example Corp internal CA")


@pytest.fixture
def ca_file(private_ca: Authority, tmp_path: Path) -> Path:
    path = tmp_path / "internal-ca.pem"  # outside anything the sandbox mounts
    path.write_text(private_ca.pem)
    return path


async def serving(tls: ssl.SSLContext) -> AsyncIterator[HealthEndpoint]:
    server = HealthEndpoint(Path("/nonexistent"))
    server.forced = "200"
    await server.start(tls=tls)
    try:
        yield server
    finally:
        await server.close()


async def sandboxed(fake: FakeGitHub, tmp_path: Path, **settings: str) -> AsyncIterator[Greenlight]:
    """The service with its sandbox on the host's network (to reach the local endpoint)."""
    require_sandbox()
    directory = tmp_path / "service"
    directory.mkdir()
    server = await start_greenlight(
        fake, directory, GREENLIGHT_SANDBOX="bwrap", GREENLIGHT_SANDBOX_NETWORK="host", **settings
    )
    try:
        yield Greenlight(fake, server, directory)
    finally:
        await fake.settle()
        await server.close()


@pytest.fixture
async def trusting(
    fake_github: FakeGitHub, tmp_path: Path, ca_file: Path
) -> AsyncIterator[Greenlight]:
    """Configured as an operator with a private CA would: GREENLIGHT_HEALTH_CA_FILE."""
    async for greenlight in sandboxed(
        fake_github, tmp_path, GREENLIGHT_HEALTH_CA_FILE=str(ca_file)
    ):
        yield greenlight


@pytest.fixture
async def not_trusting(fake_github: FakeGitHub, tmp_path: Path) -> AsyncIterator[Greenlight]:
    async for greenlight in sandboxed(fake_github, tmp_path):
        yield greenlight


def failure(greenlight: Greenlight) -> str:
    (deployment,) = greenlight.fake.deployments(REPO, "staging")
    return greenlight.fake.deployment_statuses(deployment.id)[-1].description


async def test_a_certificate_of_the_operators_ca_passes(
    trusting: Greenlight, private_ca: Authority, tmp_path: Path
) -> None:
    async for endpoint in serving(server_context(private_ca, tmp_path)):
        sha = await released(trusting, endpoint.url)
        await deployed(trusting, "staging", sha)
        assert endpoint.url.startswith("https://")
        assert endpoint.hits >= 6  # every 0.2 s for 1 s, each over TLS


async def test_a_certificate_of_another_ca_fails_the_check_saying_why(
    trusting: Greenlight, tmp_path: Path
) -> None:
    stranger = authority("Someone else's CA")
    async for endpoint in serving(server_context(stranger, tmp_path)):
        sha = await released(trusting, endpoint.url)
        await deployed(trusting, "staging", sha, "failure")
        assert failure(trusting).startswith("staging unhealthy: TLS certificate not trusted (")
        assert "unable to get local issuer certificate" in failure(trusting)
        assert endpoint.hits == 0  # the handshake failed: no request was ever sent


async def test_a_certificate_for_another_name_fails_the_check(
    trusting: Greenlight, private_ca: Authority, tmp_path: Path
) -> None:
    async for endpoint in serving(server_context(private_ca, tmp_path, host="health.example")):
        sha = await released(trusting, endpoint.url)
        await deployed(trusting, "staging", sha, "failure")
        assert failure(trusting).startswith("staging unhealthy: TLS certificate not trusted (")
        assert "127.0.0.1" in failure(trusting)  # "Hostname mismatch … '127.0.0.1'"


async def test_without_the_setting_a_private_ca_is_not_trusted(
    not_trusting: Greenlight, private_ca: Authority, tmp_path: Path
) -> None:
    """The system bundle alone does not hold the private CA: the setting is what trusts it."""
    async for endpoint in serving(server_context(private_ca, tmp_path)):
        sha = await released(not_trusting, endpoint.url)
        await deployed(not_trusting, "staging", sha, "failure")
        assert failure(not_trusting).startswith("staging unhealthy: TLS certificate not trusted (")
