"""`kill -9` of the service while a deploy checks its environment's health: the service
started after it carries the check on and promotes the release, as the killed one would
have. Real processes; the environment's health endpoint is a local HTTP server."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.e2e.health_endpoint import HealthEndpoint
from tests.fakes.github import FakeGitHub
from tests.helpers import WEBHOOK_SECRET, wait_until
from tests.replicas.processes import start_replica

REPO = "octo/hello"


@pytest.fixture
async def endpoint() -> AsyncIterator[HealthEndpoint]:
    server = HealthEndpoint(Path("/nonexistent"))
    server.forced = "200"
    await server.start()
    try:
        yield server
    finally:
        await server.close()


def config(url: str, marks: Path) -> dict[str, str]:
    text = textwrap.dedent(f"""
        mode: deployment
        jobs:
          build:
            run: echo built
        deploy:
          environments:
            staging:
              run: echo "$GREENLIGHT_SHA" >> {marks}/staging
              health:
                http: {url}
                every: 0.2s
                for: 5s
            production:
              run: echo "$GREENLIGHT_SHA" >> {marks}/production
    """).lstrip("\n")
    return {".github/greenlight.yml": text}


def statuses(fake: FakeGitHub, env: str) -> list[tuple[str, str]]:
    found = fake.deployments(REPO, env)
    if not found:
        return []
    return [(s.state, s.description) for s in fake.deployment_statuses(found[-1].id)]


async def test_a_health_check_survives_a_kill_of_the_service_running_it(
    fake_github: FakeGitHub, tmp_path: Path, endpoint: HealthEndpoint
) -> None:
    fake = fake_github
    marks = tmp_path / "marks"
    marks.mkdir()
    fake.create_repo(REPO, {"README.md": "hi\n"})
    database = f"sqlite:///{tmp_path / 'greenlight.db'}"
    first = await start_replica(fake, database, tmp_path, "first")
    fake.configure_webhooks(first.webhook_url, WEBHOOK_SECRET)
    second = None
    try:
        sha = await fake.push(REPO, "main", config(endpoint.url, marks))
        await wait_until(
            lambda: ("in_progress", "checking health") in statuses(fake, "staging"),
            deadline=60,
            message="the health check to begin",
        )
        await wait_until(lambda: endpoint.hits >= 3, deadline=30, message="a few probes")
        first.kill()  # mid-check: no clean stop, no word to the store
        hits = endpoint.hits

        second = await start_replica(fake, database, tmp_path, "second")
        fake.configure_webhooks(second.webhook_url, WEBHOOK_SECRET)
        await wait_until(
            lambda: statuses(fake, "production")[-1:] == [("success", "Live in production")],
            deadline=60,
            message="the release to reach production",
        )
        assert statuses(fake, "staging")[-1] == ("success", "Live in staging")
        assert endpoint.hits > hits  # probed again by the second service
        assert (marks / "staging").read_text().split() == [sha]  # steps not run again
        assert (marks / "production").read_text().split() == [sha]
    finally:
        first.stop()
        if second is not None:
            second.stop()
            assert "Traceback" not in second.output, second.output
