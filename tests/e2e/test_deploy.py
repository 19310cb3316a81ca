"""Continuous delivery and deployment as people see it: GitHub Deployments, PR comments,
marker files written by real deploy scripts, one per environment."""

from __future__ import annotations

import re
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

from bot import links
from bot.commands.deploys import deploy_button, request_deploy, request_rollback
from bot.core.deploy import AdminNeeded, DeployQueued, Refuse
from bot.deploy import messages
from bot.deploy.messages import REFUSED_PREFIX
from bot.deploy.service import Deployer
from bot.store.deployments import DeployState, NewDeployment
from tests.e2e.conftest import Greenlight, start_greenlight
from tests.e2e.executors import ExecutorUnderTest
from tests.fakes.github import FakeGitHub
from tests.fakes.pulls import merge
from tests.fakes.state import Deployment
from tests.helpers import wait_until
from tests.merging.flows import comment

REPO = "octo/hello"
CONFIG = ".github/greenlight.yml"
PROD_KEY = "prod-key-d3adb33f"


@pytest.fixture
async def deploying(
    fake_github: FakeGitHub, tmp_path: Path, executor: ExecutorUnderTest
) -> AsyncIterator[Greenlight]:
    """Greenlight (its deployer installed by the app) with a server-side production secret."""
    secrets = tmp_path / "secrets.yml"
    secrets.write_text(f"{REPO}:\n  PROD_KEY: {PROD_KEY}\n")
    server = await start_greenlight(
        fake_github, tmp_path, GREENLIGHT_SECRETS_FILE=str(secrets), **executor.settings
    )
    greenlight = Greenlight(fake_github, server, tmp_path, executor)
    try:
        yield greenlight
    finally:
        await fake_github.settle()
        await server.close()


def deployer(greenlight: Greenlight) -> Deployer:
    return greenlight.services.deployer


def installation(fake: FakeGitHub) -> int:
    found = fake.world.installation_for(REPO, fake.app_id)
    assert found is not None
    return found.id


def marks(greenlight: Greenlight) -> Path:
    path = greenlight.tmp_path / "marks"
    path.mkdir(exist_ok=True)
    return path


def config(
    greenlight: Greenlight, mode: str, *, staging: str = "true", protected: bool = False
) -> dict[str, str]:
    """A config whose deploy steps write `$GREENLIGHT_SHA` to marks/<environment>."""
    out = marks(greenlight)
    text = textwrap.dedent(f"""
        mode: {mode}
        jobs:
          build:
            run: echo built
        deploy:
          environments:
            staging:
              steps:
                - run: {staging}
                - run: echo "$GREENLIGHT_SHA" >> {out}/staging
                - run: echo "env=$GREENLIGHT_ENVIRONMENT id=$GREENLIGHT_DEPLOYMENT_ID"
              url: https://staging.example.com
            production:
              run: echo "$GREENLIGHT_SHA" >> {out}/production; echo "key=$PROD_KEY"
              url: https://example.com
              secrets: [PROD_KEY]
              protected: {str(protected).lower()}
    """).lstrip("\n")
    return {CONFIG: text}


def marked(greenlight: Greenlight, env: str) -> list[str]:
    """SHAs the deploy script of `env` recorded, in order."""
    path = marks(greenlight) / env
    return path.read_text().split() if path.exists() else []


def states(fake: FakeGitHub, deployment: Deployment) -> list[str]:
    return [status.state for status in fake.deployment_statuses(deployment.id)]


async def settled(greenlight: Greenlight) -> None:
    """Until GitHub, the pipeline and the deployer have nothing left to do."""
    for _ in range(3):
        await greenlight.settle()
        await deployer(greenlight).wait_idle()


async def deployed(greenlight: Greenlight, env: str, sha: str, state: str = "success") -> None:
    def done() -> bool:
        return any(
            d.sha == sha and states(greenlight.fake, d)[-1:] == [state]
            for d in greenlight.fake.deployments(REPO, env)
        )

    await greenlight.settle()
    await wait_until(done, deadline=30, message=f"{sha[:7]} {state} in {env}")
    await settled(greenlight)


async def merge_pr(fake: FakeGitHub, number: int, user: str = "octo") -> str:
    """A person presses Merge: git merges, GitHub sends `push` and `closed`; unless
    Greenlight's auto-merge (on in deployment mode) merged the green pull request first."""
    pr = fake.pull(REPO, number)
    if pr.merged and pr.merge_commit_sha:  # GitHub sent `push` and `closed` then
        await fake.settle()
        return pr.merge_commit_sha
    result = merge(
        fake.world,
        pr,
        method="merge",
        sha=None,
        title=None,
        message=None,
        actor=fake.world.user(user),
    )
    now = fake.now_iso()
    pr.state, pr.merged, pr.merged_at, pr.closed_at = "closed", True, now, now
    pr.merged_by, pr.merge_commit_sha = fake.world.user(user), result.after
    fake.emit("push", lambda: fake.payloads.push(REPO, "main", result.before, result.after))
    fake.emit("pull_request", lambda: fake.payloads.pull_request("closed", REPO, number))
    await fake.settle()
    return result.after


async def deploy_as(
    greenlight: Greenlight, actor: str, number: int, env: str, sha: str | None
) -> str:
    """`/deploy ENV [SHA]` by `actor` on pull request `number`: the reply."""
    answer = await request_deploy(
        greenlight.services.deployer,
        repo=REPO,
        installation_id=installation(greenlight.fake),
        pr_number=number,
        actor=actor,
        env=env,
        sha=sha,
    )
    return messages.answer(answer)


async def merged_by_greenlight(greenlight: Greenlight, number: int) -> str:
    """The merge commit of a green pull request Greenlight merged by itself."""
    await wait_until(
        lambda: greenlight.fake.pull(REPO, number).merged,
        deadline=30,
        message=f"#{number} to be merged",
    )
    sha = greenlight.fake.pull(REPO, number).merge_commit_sha
    assert sha is not None
    return sha


async def open_pr(greenlight: Greenlight, branch: str, files: dict[str, str]) -> int:
    fake = greenlight.fake
    sha = fake.commit(REPO, branch, files)
    pr = fake.open_pull_request(REPO, branch, title=f"Change {branch}")
    await fake.send("pull_request", fake.pull_request_event("opened", REPO, pr.number))
    run = await greenlight.run_for(REPO, sha)
    assert run.conclusion == "success"
    return pr.number


async def test_delivery_deploys_staging_and_offers_production(deploying: Greenlight) -> None:
    fake = deploying.fake
    fake.create_repo(REPO, config(deploying, "delivery"))
    number = await open_pr(deploying, "feature", {"a.txt": "a\n"})
    sha = await merge_pr(fake, number)
    await deployed(deploying, "staging", sha)

    assert marked(deploying, "staging") == [sha]
    assert fake.deployments(REPO, "production") == []
    (staging,) = fake.deployments(REPO, "staging")
    assert (staging.ref, staging.production_environment) == (sha, False)
    assert states(fake, staging) == ["in_progress", "success"]
    success = fake.deployment_statuses(staging.id)[-1]
    assert success.environment_url == "https://staging.example.com"
    assert success.log_url.startswith("http://greenlight.test/deployments/")
    aggregate = deploying.checks(REPO, sha)["greenlight"]
    assert [a["identifier"] for a in aggregate.actions] == ["deploy"]
    assert aggregate.actions[0]["label"] == "Deploy to production"
    (notice,) = [c for c in fake.comments(REPO, number) if "greenlight:deploy" in c.body]
    assert "live in staging at https://staging.example.com" in notice.body
    assert "production" not in notice.body

    run = await deploying.store.runs.for_sha(REPO, sha)
    assert run is not None
    fake.set_permission(REPO, "maintainer", "write")
    answer = await deploy_button(deploying.services.deployer, run_id=run.id, actor="maintainer")
    assert answer == DeployQueued("production", sha, "maintainer")
    assert "Deploying" in messages.answer(answer)
    await deployed(deploying, "production", sha)
    staging_log = await deployer(deploying).store.read_log(
        (await deployer(deploying).store.history(REPO, "staging"))[0].id
    )
    assert f"env=staging id={staging.id}" in staging_log
    assert marked(deploying, "production") == [sha]
    (production,) = fake.deployments(REPO, "production")
    assert production.production_environment is True
    (notice,) = [c for c in fake.comments(REPO, number) if "greenlight:deploy" in c.body]
    assert "live in staging" in notice.body
    assert "live in production" in notice.body
    store = deployer(deploying).store
    live = await store.live(REPO, "production")
    assert live is not None
    log = await store.read_log(live.id)
    assert "key=***" in log
    assert PROD_KEY not in log
    await what_is_live_shows(deploying, {"staging": sha, "production": sha})


async def what_is_live_shows(greenlight: Greenlight, expected: dict[str, str]) -> None:
    """The repository page lists each environment's live commit and links every deploy log."""
    secret = greenlight.context.settings.link_secret
    async with aiohttp.ClientSession() as session:
        page = await session.get(greenlight.server.make_url(links.repo_url("", REPO, secret)))
        text = await page.text()
    live = text.split('id="live"')[1].split("</table>")[0]
    row = r'data-label="Environment">([^<]+)</th>.*?<code>(\w+)</code>'
    rows = dict(re.findall(row, live, re.DOTALL))
    assert rows == {environment: sha[:7] for environment, sha in expected.items()}
    assert "/deployments/" in text


async def test_deployment_mode_goes_through_every_environment(deploying: Greenlight) -> None:
    fake = deploying.fake
    fake.create_repo(REPO, config(deploying, "deployment"))
    number = await open_pr(deploying, "feature", {"a.txt": "a\n"})
    sha = await merged_by_greenlight(deploying, number)  # deployment mode auto-merges
    await deployed(deploying, "production", sha)

    assert marked(deploying, "staging") == [sha]
    assert marked(deploying, "production") == [sha]
    (staging,) = fake.deployments(REPO, "staging")
    (production,) = fake.deployments(REPO, "production")
    assert staging.id < production.id
    assert "deploy" not in [
        a["identifier"] for a in deploying.checks(REPO, sha)["greenlight"].actions
    ]
    (notice,) = [c for c in fake.comments(REPO, number) if "greenlight:deploy" in c.body]
    assert "live in production at https://example.com" in notice.body


async def test_a_fast_forward_push_of_a_built_pr_head_deploys(deploying: Greenlight) -> None:
    """The head was built for its pull request; pushing that very SHA to main deploys it."""
    fake = deploying.fake
    fake.create_repo(REPO, config(deploying, "delivery"))  # delivery: no auto-merge
    number = await open_pr(deploying, "feature", {"a.txt": "a\n"})
    sha = fake.pull(REPO, number).head_sha
    run = await deploying.run_for(REPO, sha)
    assert (run.event, run.conclusion) == ("pull_request", "success")
    before = fake.repo(REPO).git.branch_sha("main")
    fake.repo(REPO).git.set_ref("refs/heads/main", sha)
    await fake.send("push", fake.push_event(REPO, "main", before or "0" * 40, sha))
    await deployed(deploying, "staging", sha)
    assert marked(deploying, "staging") == [sha]
    assert marked(deploying, "production") == []  # one click away, in delivery mode
    assert [c.name for c in fake.check_runs(REPO, sha)].count("build") == 1  # built once


async def test_a_forks_head_pushed_to_main_is_built_again_before_it_deploys(
    deploying: Greenlight,
) -> None:
    """A fork's pull request fast-forwarded onto main: its build ran without secrets from
    code its author controlled, so it is built again as the repository's own, and only
    that build deploys."""
    fake = deploying.fake
    fake.create_repo(REPO, config(deploying, "delivery"))
    fork = fake.fork(REPO, "stranger")
    head = fake.commit(fork.full_name, "patch", {"a.txt": "from a fork\n"}, author="stranger")
    pr = fake.open_pull_request(REPO, "patch", head_repo=fork.full_name, user="stranger")
    await fake.send("pull_request", fake.pull_request_event("opened", REPO, pr.number))
    await deploying.settle()
    await comment(deploying, pr.number, "octo", "/ok-to-test")
    fork_run = await deploying.run_for(REPO, head)
    assert (fork_run.fork, fork_run.conclusion) == (True, "success")

    before = fake.repo(REPO).git.branch_sha("main")
    fake.repo(REPO).git.set_ref("refs/heads/main", head)
    await fake.send("push", fake.push_event(REPO, "main", before or "0" * 40, head))
    await deployed(deploying, "staging", head)

    run = await deploying.run_for(REPO, head)
    assert (run.id, run.fork, run.trusted, run.event) == (fork_run.id, False, True, "push")
    builds = [c for c in fake.check_runs(REPO, head) if c.name == "build"]
    assert [c.conclusion for c in builds] == ["success", "success"]  # the fork's, then its own
    (build,) = await deploying.store.runs.jobs(run.id)
    assert build.attempt == 2
    assert marked(deploying, "staging") == [head]


async def test_a_failing_staging_deploy_stops_promotion(deploying: Greenlight) -> None:
    fake = deploying.fake
    fake.create_repo(REPO, config(deploying, "deployment", staging="echo broken; exit 3"))
    number = await open_pr(deploying, "feature", {"a.txt": "a\n"})
    sha = await merged_by_greenlight(deploying, number)  # deployment mode auto-merges
    await deployed(deploying, "staging", sha, state="failure")

    assert fake.deployments(REPO, "production") == []
    assert marked(deploying, "staging") == []
    failed = deploying.checks(REPO, sha)["deploy: staging"]
    assert failed.conclusion == "failure"
    (notice,) = [c for c in fake.comments(REPO, number) if "greenlight:deploy" in c.body]
    assert "deploy to staging failure" in notice.body

    # Another app's check finishing later on that SHA does not try the deploy again.
    fake.add_check_run(REPO, sha, "late-scan", conclusion="success")
    await settled(deploying)
    assert [d.sha for d in fake.deployments(REPO)] == [sha]
    assert marked(deploying, "staging") == []


async def test_the_integration_mode_deploys_only_by_command(deploying: Greenlight) -> None:
    fake = deploying.fake
    fake.create_repo(REPO, config(deploying, "integration"))
    number = await open_pr(deploying, "feature", {"a.txt": "a\n"})
    sha = await merge_pr(fake, number)
    await deploying.run_for(REPO, sha)
    await settled(deploying)
    assert fake.deployments(REPO) == []

    reply = await deploy_as(deploying, "octo", number, "staging", None)
    assert "Deploying" in reply
    await deployed(deploying, "staging", sha)
    assert fake.deployments(REPO, "production") == []


async def test_two_quick_merges_deploy_in_order_and_replace_the_waiting_one(
    deploying: Greenlight,
) -> None:
    fake = deploying.fake
    gate = deploying.tmp_path / "gate"
    wait = f"while [ ! -e {gate} ]; do sleep 0.05; done"
    fake.create_repo(REPO, config(deploying, "delivery", staging=wait))
    first = await fake.push(REPO, "main", {"a.txt": "1\n"})

    async def first_started() -> bool:
        history = await deployer(deploying).store.history(REPO, "staging")
        return [r.state for r in history] == [DeployState.IN_PROGRESS]

    await deploying.settle()
    await wait_until(first_started, deadline=30, message="the first deploy to start")

    def newest(*expected: tuple[str, DeployState]) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            history = await deployer(deploying).store.history(REPO, "staging")
            return [(r.sha, r.state) for r in history][: len(expected)] == list(expected)

        return check

    # A run completes before its deploy is queued: wait for each deploy to be queued.
    second = await fake.push(REPO, "main", {"a.txt": "2\n"})
    await deploying.run_for(REPO, second)
    await wait_until(newest((second, DeployState.QUEUED)), deadline=30, message="second queued")
    third = await fake.push(REPO, "main", {"a.txt": "3\n"})
    await deploying.run_for(REPO, third)
    await wait_until(
        newest((third, DeployState.QUEUED), (second, DeployState.SUPERSEDED)),
        deadline=30,
        message="the third queued in place of the second",
    )
    gate.touch()
    await deployed(deploying, "staging", third)

    assert marked(deploying, "staging") == [first, third]
    by_sha = {d.sha: states(fake, d) for d in fake.deployments(REPO, "staging")}
    assert by_sha[second] == ["inactive"]
    assert by_sha[first][-1] == "inactive"  # a later success marks it inactive
    assert by_sha[third][-1] == "success"
    records = {r.sha: r for r in await deployer(deploying).store.history(REPO, "staging")}
    assert records[second].state == DeployState.SUPERSEDED
    assert third[:7] in records[second].description


async def test_rollback_redeploys_the_previous_good_release(deploying: Greenlight) -> None:
    fake = deploying.fake
    fake.create_repo(REPO, config(deploying, "deployment"))
    good = await fake.push(REPO, "main", {"a.txt": "good\n"})
    await deployed(deploying, "production", good)
    bad = await fake.push(REPO, "main", {"a.txt": "bad\n"})
    await deployed(deploying, "production", bad)
    fake.commit(REPO, "incident", {"notes.txt": "rolling back\n"})
    pr = fake.open_pull_request(REPO, "incident", title="Incident")  # where /rollback is said

    reply = messages.answer(
        await request_rollback(
            deploying.services.deployer,
            repo=REPO,
            installation_id=installation(fake),
            pr_number=pr.number,
            actor="octo",
            env="production",
        )
    )
    assert f"back from `{bad[:7]}` to `{good[:7]}`" in reply
    assert "@octo" in reply

    def rolled_back() -> bool:
        latest = fake.deployments(REPO, "production")[-1]
        return latest.sha == good and states(fake, latest)[-1:] == ["success"]

    await wait_until(rolled_back, deadline=30, message="the rollback")
    await settled(deploying)
    latest = fake.deployments(REPO, "production")[-1]
    assert "Rollback" in (latest.description or "")
    assert "octo" in (latest.description or "")
    assert marked(deploying, "production") == [good, bad, good]
    assert fake.comments(REPO, pr.number) == []  # the caller posts the reply; no notice


async def test_deploys_are_refused_without_the_access_or_a_green_build(
    deploying: Greenlight,
) -> None:
    fake = deploying.fake
    fake.create_repo(REPO, config(deploying, "delivery", protected=True))
    number = await open_pr(deploying, "feature", {"a.txt": "a\n"})
    sha = await merge_pr(fake, number)
    await deployed(deploying, "staging", sha)
    fake.set_permission(REPO, "reader", "read")
    fake.set_permission(REPO, "writer", "write")

    run = await deploying.store.runs.for_sha(REPO, sha)
    assert run is not None
    answer = await deploy_button(deploying.services.deployer, run_id=run.id, actor="reader")
    assert isinstance(answer, Refuse)
    assert isinstance(answer.reason, AdminNeeded)
    reply = messages.answer(answer)
    assert "only people with admin access can deploy to a protected environment" in reply
    assert "@reader has read access" in reply
    assert reply.startswith(REFUSED_PREFIX)
    reply = await deploy_as(deploying, "writer", number, "production", sha[:7])
    assert "admin access" in reply
    assert "@writer has write access" in reply

    fake.create_branch(REPO, "other", sha)  # before main breaks
    broken = await fake.push(
        REPO,
        "main",
        {CONFIG: fake.read_file(REPO, "main", CONFIG).decode().replace("echo built", "exit 1")},
    )
    await deploying.run_for(REPO, broken)
    reply = await deploy_as(deploying, "octo", number, "staging", broken)
    assert "only green builds are deployed" in reply

    other = await open_pr(deploying, "other", {"b.txt": "b\n"})
    reply = await deploy_as(deploying, "octo", other, "production", None)
    assert "only commits of the default branch" in reply
    await settled(deploying)
    assert fake.deployments(REPO, "production") == []
    assert [d.sha for d in fake.deployments(REPO, "staging")] == [sha]


async def test_a_deploy_waits_for_every_required_check(deploying: Greenlight) -> None:
    fake = deploying.fake
    fake.create_repo(REPO, config(deploying, "delivery"))
    fake.set_required_checks(REPO, "main", ["greenlight", "security-scan"])
    sha = await fake.push(REPO, "main", {"a.txt": "a\n"})
    run = await deploying.run_for(REPO, sha)
    assert run.conclusion == "success"
    await settled(deploying)
    assert fake.deployments(REPO) == []  # another app's required check has not reported

    fake.add_check_run(REPO, sha, "security-scan", conclusion="failure")
    await deployer(deploying).reconsider(REPO, sha)
    await settled(deploying)
    assert fake.deployments(REPO) == []

    fake.add_check_run(REPO, sha, "security-scan", conclusion="success")
    await deployer(deploying).reconsider(REPO, sha)
    await deployed(deploying, "staging", sha)
    await deployer(deploying).reconsider(REPO, sha)  # a late event deploys nothing twice
    await settled(deploying)
    assert [d.sha for d in fake.deployments(REPO)] == [sha]


async def test_an_open_pull_request_deploys_its_head_for_review(deploying: Greenlight) -> None:
    fake = deploying.fake
    fake.create_repo(REPO, config(deploying, "integration"))
    number = await open_pr(deploying, "feature", {"a.txt": "a\n"})
    head = fake.pull(REPO, number).head_sha

    reply = await deploy_as(deploying, "octo", number, "staging", None)
    assert f"Deploying `{head[:7]}` to `staging`" in reply
    await deployed(deploying, "staging", head)
    assert marked(deploying, "staging") == [head]
    (notice,) = [c for c in fake.comments(REPO, number) if "greenlight:deploy" in c.body]
    assert "live in staging" in notice.body
    assert fake.deployments(REPO, "production") == []


async def test_a_restart_ends_unfinished_deploys_as_errors(deploying: Greenlight) -> None:
    fake = deploying.fake
    fake.create_repo(REPO, config(deploying, "integration"))
    sha = fake.repo(REPO).git.branch_sha("main")
    assert sha is not None
    client = deploying.context.github.installation(installation(fake))
    body = {"ref": sha, "environment": "staging", "auto_merge": False, "required_contexts": []}
    github_id = await client.create_deployment(REPO, body)
    store = deployer(deploying).store
    record = await store.add(NewDeployment(REPO, "staging", sha, installation(fake), None), now=1)
    await store.update(record.id, github_id=github_id, state=DeployState.IN_PROGRESS)

    await deployer(deploying).recover()
    after = await store.get(record.id)
    assert after is not None
    assert after.state == DeployState.FAILURE
    (deployment,) = fake.deployments(REPO)
    assert states(fake, deployment) == ["error"]
    assert "restarted" in fake.deployment_statuses(deployment.id)[0].description


async def test_a_pull_request_head_deploys_only_once_its_own_plan_ran(
    deploying: Greenlight,
) -> None:
    """`push` comes before `pull_request` opened: until the pull request's own jobs are
    planned, its head's run may be green for the push alone."""
    fake = deploying.fake
    fake.create_repo(REPO, config(deploying, "integration"))
    sha = await fake.push(REPO, "feature", {"a.txt": "a\n"})
    assert (await deploying.run_for(REPO, sha)).conclusion == "success"
    pr = fake.open_pull_request(REPO, "feature", title="Change feature")  # its event is late

    refused = await deploy_as(deploying, "octo", pr.number, "staging", None)
    assert "pull request's own jobs have not been planned" in refused
    assert fake.deployments(REPO) == []

    await fake.send("pull_request", fake.pull_request_event("opened", REPO, pr.number))
    await deploying.run_for(REPO, sha)
    reply = await deploy_as(deploying, "octo", pr.number, "staging", None)
    assert "Deploying" in reply
    await deployed(deploying, "staging", sha)
