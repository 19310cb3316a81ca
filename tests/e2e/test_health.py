"""Health checks after a deploy, and automatic rollback, as people see them: GitHub
deployment statuses, the PR's deploy notice, check runs on the commit, and the marker files
the real deploy scripts write. The environment's health endpoint is a local server whose
answer the deployed release decides (tests/e2e/health_endpoint.py)."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Greenlight
from tests.e2e.health_endpoint import HealthEndpoint
from tests.e2e.test_deploy import (
    CONFIG,
    REPO,
    deployed,
    deploying,
    marked,
    marks,
    merge_pr,
    open_pr,
    settled,
    states,
)
from tests.helpers import wait_until

__all__ = ["deploying"]  # the fixture, shared with the deploy tests

QUICK = "every: 0.2s\n        for: 1s"


@pytest.fixture
async def endpoint(deploying: Greenlight) -> AsyncIterator[HealthEndpoint]:
    server = HealthEndpoint(marks(deploying) / "staging-health")
    await server.start()
    try:
        yield server
    finally:
        await server.close()


def health_config(
    greenlight: Greenlight, url: str, *, check: str = QUICK, rollback: str = ""
) -> dict[str, str]:
    """Deployment mode; staging's deploy writes its release's health answer (health.txt)
    where the endpoint reads it, then is probed; production follows when it is healthy."""
    out = marks(greenlight)
    text = textwrap.dedent(f"""
        mode: deployment
        jobs:
          build:
            run: echo built
        deploy:
          environments:
            staging:
              steps:
                - run: echo "$GREENLIGHT_SHA" >> {out}/staging
                - run: cp health.txt {out}/staging-health
              health:
                http: {url}
                %CHECK%
              %ROLLBACK%
            production:
              run: echo "$GREENLIGHT_SHA" >> {out}/production
    """).lstrip("\n")
    text = text.replace("%CHECK%", check).replace("%ROLLBACK%", rollback)
    return {CONFIG: text, "health.txt": "200\n"}


async def release(greenlight: Greenlight, branch: str, health: str) -> tuple[int, str]:
    """A pull request whose release answers `health`, merged: its number and merge SHA."""
    number = await open_pr(greenlight, branch, {"health.txt": f"{health}\n", branch: "x\n"})
    return number, await merge_pr(greenlight.fake, number)


def descriptions(greenlight: Greenlight, env: str, sha: str) -> list[tuple[str, str]]:
    (deployment,) = [d for d in greenlight.fake.deployments(REPO, env) if d.sha == sha][:1]
    return [(s.state, s.description) for s in greenlight.fake.deployment_statuses(deployment.id)]


def notice(greenlight: Greenlight, number: int) -> str:
    (found,) = [c for c in greenlight.fake.comments(REPO, number) if "greenlight:deploy" in c.body]
    return found.body


async def test_a_healthy_deploy_is_promoted_once_its_check_has_passed_for_the_period(
    deploying: Greenlight, endpoint: HealthEndpoint
) -> None:
    fake = deploying.fake
    fake.create_repo(REPO, health_config(deploying, endpoint.url))
    number, sha = await release(deploying, "good", "200")
    await deployed(deploying, "production", sha)

    assert descriptions(deploying, "staging", sha) == [
        ("in_progress", "Deploying to staging"),
        ("in_progress", "checking health"),
        ("success", "Live in staging"),
    ]
    assert endpoint.hits >= 6  # every 0.2 s for 1 s: at 0, 0.2, … 1.0
    (staging,) = await deploying.services.deployer.store.history(REPO, "staging")
    log = await deploying.services.deployer.store.read_log(staging.id)
    assert "Health check passed" in log
    assert marked(deploying, "production") == [sha]
    (production,) = fake.deployments(REPO, "production")
    staging_success = fake.deployment_statuses(fake.deployments(REPO, "staging")[0].id)[-1]
    assert production.id > staging_success.deployment_id  # created after staging was healthy
    assert "live in production" in notice(deploying, number)


async def test_an_unhealthy_deploy_fails_and_the_last_good_release_is_deployed_again(
    deploying: Greenlight, endpoint: HealthEndpoint
) -> None:
    fake = deploying.fake
    fake.create_repo(REPO, health_config(deploying, endpoint.url))
    _, good = await release(deploying, "good", "200")
    await deployed(deploying, "production", good)
    number, bad = await release(deploying, "bad", "503")
    await deployed(deploying, "staging", bad, "failure")
    await wait_until(
        lambda: (
            [d.sha for d in fake.deployments(REPO, "staging")] == [good, bad, good]
            and states(fake, fake.deployments(REPO, "staging")[-1])[-1:] == ["success"]
        ),
        deadline=30,
        message="the rollback to the good release to succeed",
    )
    await settled(deploying)

    assert marked(deploying, "staging") == [good, bad, good]  # its steps ran again
    assert (
        "failure",
        "staging unhealthy: HTTP 503, expected HTTP 200",
    ) in descriptions(deploying, "staging", bad)  # then `inactive`: the rollback is live
    rollback = fake.deployments(REPO, "staging")[-1]
    assert "Automatic rollback of staging" in rollback.description
    assert marked(deploying, "production") == [good]  # promotion stopped
    told = notice(deploying, number)
    assert "health check failed (HTTP 503, expected HTTP 200)" in told
    assert f"rolling back to {good[:7]}" in told
    check = deploying.checks(REPO, bad)["deploy: staging"]
    assert check.conclusion == "failure"
    assert check.output["title"] == "Deploy to staging: health check failed"
    assert f"rolling `staging` back to `{good[:7]}`" in str(check.output["summary"])


@pytest.mark.one_executor("the no-loop decision is the deployer's; the probes run as above")
async def test_a_rollback_whose_own_health_check_fails_stops_and_says_so(
    deploying: Greenlight, endpoint: HealthEndpoint
) -> None:
    fake = deploying.fake
    fake.create_repo(REPO, health_config(deploying, endpoint.url))
    _, good = await release(deploying, "good", "200")
    await deployed(deploying, "production", good)
    endpoint.forced = "500"  # the environment itself is broken now: no release is healthy
    _, bad = await release(deploying, "bad", "200")
    await wait_until(
        lambda: (
            len(fake.deployments(REPO, "staging")) == 3
            and states(fake, fake.deployments(REPO, "staging")[-1])[-1:] == ["failure"]
        ),
        deadline=30,
        message="the rollback to fail its own health check",
    )
    await settled(deploying)

    assert [d.sha for d in fake.deployments(REPO, "staging")] == [good, bad, good]  # no loop
    check = deploying.checks(REPO, good)["deploy: staging"]
    assert "the rollback's own health check failed; not rolling back again" in str(
        check.output["summary"]
    )


@pytest.mark.one_executor("a config switch read by the deployer")
async def test_automatic_rollback_can_be_turned_off(
    deploying: Greenlight, endpoint: HealthEndpoint
) -> None:
    fake = deploying.fake
    files = health_config(
        deploying,
        endpoint.url,
        rollback="rollback: {automatic: false}",
    )
    fake.create_repo(REPO, files)
    _, good = await release(deploying, "good", "200")
    await deployed(deploying, "production", good)
    number, bad = await release(deploying, "bad", "503")
    await deployed(deploying, "staging", bad, "failure")

    assert [d.sha for d in fake.deployments(REPO, "staging")] == [good, bad]
    assert "automatic rollback is off for this environment" in str(
        deploying.checks(REPO, bad)["deploy: staging"].output["summary"]
    )
    assert "rolling back" not in notice(deploying, number)


async def test_a_hanging_endpoint_fails_the_deploy_after_one_probe_timeout(
    deploying: Greenlight, endpoint: HealthEndpoint
) -> None:
    endpoint.forced = "hang"
    fake = deploying.fake
    fake.create_repo(REPO, health_config(deploying, endpoint.url))
    _, sha = await release(deploying, "one", "200")
    await deployed(deploying, "staging", sha, "failure")

    assert descriptions(deploying, "staging", sha)[-1] == (
        "failure",
        "staging unhealthy: no answer within 0.2s, expected HTTP 200",
    )
    assert fake.deployments(REPO, "production") == []
    assert "no earlier successful deploy to roll back to" in str(
        deploying.checks(REPO, sha)["deploy: staging"].output["summary"]
    )


@pytest.mark.one_executor("the probe loop's messages; the hanging endpoint runs on both")
@pytest.mark.parametrize(
    ("answer", "check", "said"),
    [
        ("drip", QUICK, "no answer within 0.2s, expected HTTP 200"),
        ("redirect", QUICK, "HTTP 302, expected HTTP 200"),
        ("garbage", QUICK, "not an HTTP answer"),
        ("200", "every: 0.2s\n        for: 1s\n        expect: 204", "HTTP 200, expected HTTP 204"),
    ],
)
async def test_bad_answers_fail_the_deploy_saying_what_was_seen(
    deploying: Greenlight, endpoint: HealthEndpoint, answer: str, check: str, said: str
) -> None:
    endpoint.forced = answer
    fake = deploying.fake
    fake.create_repo(REPO, health_config(deploying, endpoint.url, check=check))
    _, sha = await release(deploying, "one", "200")
    await deployed(deploying, "staging", sha, "failure")

    assert said in descriptions(deploying, "staging", sha)[-1][1]


@pytest.mark.one_executor("the probe loop's messages; the hanging endpoint runs on both")
async def test_a_check_script_that_never_ends_is_killed_at_the_probe_timeout(
    deploying: Greenlight, tmp_path: Path
) -> None:
    fake = deploying.fake
    files = health_config(deploying, "http://unused.invalid/")
    files[CONFIG] = files[CONFIG].replace(
        "http: http://unused.invalid/", "run: sleep 1000 & wait; echo never"
    )
    fake.create_repo(REPO, files)
    _, sha = await release(deploying, "one", "200")
    await deployed(deploying, "staging", sha, "failure")

    assert descriptions(deploying, "staging", sha)[-1] == (
        "failure",
        "staging unhealthy: the check did not finish within 0.2s",
    )


@pytest.mark.one_executor("the probe loop's command probes; the hanging endpoint runs on both")
async def test_a_check_script_runs_in_the_deploys_checkout_and_its_exit_code_decides(
    deploying: Greenlight,
) -> None:
    fake = deploying.fake
    files = health_config(deploying, "http://unused.invalid/")
    files[CONFIG] = files[CONFIG].replace(
        "http: http://unused.invalid/", "run: echo checking; grep -q 200 health.txt"
    )
    fake.create_repo(REPO, files)
    _, good = await release(deploying, "good", "200")
    await deployed(deploying, "production", good)
    _, bad = await release(deploying, "bad", "503")
    await deployed(deploying, "staging", bad, "failure")

    assert ("failure", "staging unhealthy: exit 1") in descriptions(deploying, "staging", bad)
    (failed,) = [d for d in await deploying.services.deployer.store.history(REPO, "staging")
                 if d.sha == bad]  # fmt: skip
    log = await deploying.services.deployer.store.read_log(failed.id)
    assert "    checking" in log  # the script's output, indented under its probe
