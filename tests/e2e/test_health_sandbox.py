"""The health check's probes run in the job's sandbox, like steps: with the host's network
they reach a local endpoint; with the sandbox's own network (the default) a repository's
config cannot make Greenlight fetch an address on the host's loopback, where the store, the
broker and Greenlight's own port live."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Greenlight, start_greenlight
from tests.e2e.health_endpoint import HealthEndpoint
from tests.e2e.test_deploy import CONFIG, REPO, deployed, merge_pr, open_pr
from tests.fakes.github import FakeGitHub
from tests.services import require_sandbox


@pytest.fixture
async def endpoint() -> AsyncIterator[HealthEndpoint]:
    server = HealthEndpoint(Path("/nonexistent"))
    server.forced = "200"
    await server.start()
    try:
        yield server
    finally:
        await server.close()


async def sandboxed(
    fake_github: FakeGitHub, tmp_path: Path, **network: str
) -> AsyncIterator[Greenlight]:
    require_sandbox()
    server = await start_greenlight(fake_github, tmp_path, GREENLIGHT_SANDBOX="bwrap", **network)
    try:
        yield Greenlight(fake_github, server, tmp_path)
    finally:
        await fake_github.settle()
        await server.close()


@pytest.fixture
async def host_network(fake_github: FakeGitHub, tmp_path: Path) -> AsyncIterator[Greenlight]:
    async for greenlight in sandboxed(fake_github, tmp_path, GREENLIGHT_SANDBOX_NETWORK="host"):
        yield greenlight


@pytest.fixture
async def own_network(fake_github: FakeGitHub, tmp_path: Path) -> AsyncIterator[Greenlight]:
    async for greenlight in sandboxed(fake_github, tmp_path):
        yield greenlight


def health_config(url: str) -> dict[str, str]:
    text = textwrap.dedent(f"""
        mode: deployment
        jobs:
          build:
            run: echo built
        deploy:
          environments:
            staging:
              run: echo deployed
              health:
                http: {url}
                every: 0.2s
                for: 1s
    """).lstrip("\n")
    return {CONFIG: text}


async def released(greenlight: Greenlight, url: str) -> str:
    greenlight.fake.create_repo(REPO, health_config(url))
    number = await open_pr(greenlight, "change", {"a.txt": "a\n"})
    return await merge_pr(greenlight.fake, number)


async def test_probes_run_in_the_sandbox_and_reach_what_steps_reach(
    host_network: Greenlight, endpoint: HealthEndpoint
) -> None:
    sha = await released(host_network, endpoint.url)
    await deployed(host_network, "staging", sha)
    assert endpoint.hits >= 6


async def test_a_config_cannot_make_greenlight_probe_the_hosts_loopback(
    own_network: Greenlight, endpoint: HealthEndpoint
) -> None:
    sha = await released(own_network, endpoint.url)
    await deployed(own_network, "staging", sha, "failure")

    assert endpoint.hits == 0  # nothing reached it: not the sandbox, not the web process
    (deployment,) = own_network.fake.deployments(REPO, "staging")
    failure = own_network.fake.deployment_statuses(deployment.id)[-1]
    assert failure.description.startswith("staging unhealthy: could not connect")
