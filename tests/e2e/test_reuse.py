"""Reuse by tree as people see it: a merge commit whose files and inputs were already built
green is not built again; its check runs say which run they reuse, and its deploy starts
at once. Everything that could make the result differ builds again."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot import links
from bot.store.records import Job, Run
from tests.e2e.conftest import Greenlight, start_greenlight
from tests.e2e.executors import ExecutorUnderTest
from tests.e2e.test_deploy import deployed, merge_pr, merged_by_greenlight, settled
from tests.fakes.faults import Fault
from tests.fakes.github import FakeGitHub
from tests.helpers import wait_until
from tests.merging.flows import comment

REPO = "octo/hello"
CONFIG = ".github/greenlight.yml"


@pytest.fixture
async def greenlight(
    fake_github: FakeGitHub, tmp_path: Path, executor: ExecutorUnderTest
) -> AsyncIterator[Greenlight]:
    """Greenlight with a server-side secret, so jobs that name it differ from a fork's."""
    secrets = tmp_path / "secrets.yml"
    secrets.write_text(f"{REPO}:\n  TOKEN: s3cret-value\n")
    server = await start_greenlight(
        fake_github, tmp_path, GREENLIGHT_SECRETS_FILE=str(secrets), **executor.settings
    )
    running = Greenlight(fake_github, server, tmp_path, executor)
    try:
        yield running
    finally:
        await fake_github.settle()
        await server.close()


def builds(greenlight: Greenlight, job: str) -> list[str]:
    """The SHAs job `job`'s step really ran on, in order (its step writes them)."""
    path = greenlight.tmp_path / f"built-{job}"
    return path.read_text().split() if path.exists() else []


def config(
    greenlight: Greenlight,
    *,
    mode: str = "integration",
    merge: str = "{}",
    test_reuse: str = "true",
    test_command: str = "true",
    test_secrets: str = "[]",
) -> dict[str, str]:
    """Two jobs (`test` needs `lint`) that record each SHA they run on; a deploy."""
    marks = greenlight.tmp_path
    text = textwrap.dedent(f"""
        mode: {mode}
        merge: {merge}
        jobs:
          lint:
            run: echo "$GREENLIGHT_SHA" >> {marks}/built-lint
          test:
            needs: [lint]
            reuse: {test_reuse}
            secrets: {test_secrets}
            steps:
              - run: {test_command}
              - run: echo "$GREENLIGHT_SHA" >> {marks}/built-test
        deploy:
          environments:
            production:
              run: echo "$GREENLIGHT_SHA" >> {marks}/deployed
    """).lstrip("\n")
    return {CONFIG: text}


async def open_pr(greenlight: Greenlight, files: dict[str, str], branch: str = "feature") -> int:
    """A pull request changing `files`, built green."""
    fake = greenlight.fake
    sha = fake.commit(REPO, branch, files)
    pr = fake.open_pull_request(REPO, branch)
    await fake.send("pull_request", fake.pull_request_event("opened", REPO, pr.number))
    run = await greenlight.run_for(REPO, sha)
    assert run.conclusion == "success"
    return pr.number


async def run_and_jobs(greenlight: Greenlight, sha: str) -> tuple[Run, dict[str, Job]]:
    run = await greenlight.run_for(REPO, sha)
    return run, await greenlight.jobs(run)


def tree(greenlight: Greenlight, sha: str) -> str:
    return greenlight.fake.repo(REPO).git.git("rev-parse", f"{sha}^{{tree}}").strip()


async def test_an_updated_pull_request_merges_and_deploys_without_a_build(
    greenlight: Greenlight,
) -> None:
    """Deployment mode: the branch is brought up to date (built), merged (same tree), and
    the default branch is green at once and deployed, its jobs never run again."""
    fake = greenlight.fake
    fake.create_repo(
        REPO, config(greenlight, mode="deployment", merge="{auto: true, update_branch: true}")
    )
    fake.set_required_checks(REPO, "main", ["greenlight"], strict=True)
    fake.commit(REPO, "feature", {"a.txt": "a\n"})
    fake.commit(REPO, "main", {"other.txt": "main moved on\n"})
    pr = fake.open_pull_request(REPO, "feature")
    await fake.send("pull_request", fake.pull_request_event("opened", REPO, pr.number))
    merge_sha = await merged_by_greenlight(greenlight, pr.number)
    head = fake.pull(REPO, pr.number).head_sha
    assert tree(greenlight, merge_sha) == tree(greenlight, head)  # the update made it so

    await deployed_to_production(greenlight, merge_sha)
    pr_run, pr_jobs = await run_and_jobs(greenlight, head)
    run, jobs = await run_and_jobs(greenlight, merge_sha)
    assert (run.event, run.conclusion, run.tree) == ("push", "success", pr_run.tree)
    for name in ("lint", "test"):  # built for the PR's head, never for main's merge commit
        assert head in builds(greenlight, name)
        assert merge_sha not in builds(greenlight, name)
    assert (greenlight.tmp_path / "deployed").read_text().split() == [merge_sha]
    for name in ("lint", "test"):
        assert jobs[name].reused_job_id == pr_jobs[name].id
        assert jobs[name].conclusion == "success"
        (check,) = [c for c in fake.check_runs(REPO, merge_sha) if c.name == name]
        assert (check.status, check.conclusion) == ("completed", "success")
        summary = check.output["summary"] or ""
        settings = greenlight.context.settings
        assert links.run_url(settings.public_url, pr_run.id, settings.link_secret) in summary
        assert f"{settings.web_url}/{REPO}/commit/{head}" in summary
        assert f"`{head[:7]}`" in summary
        assert "Reused" in summary
        assert "Not run" in await greenlight.log(jobs[name])
    assert greenlight.checks(REPO, merge_sha)["greenlight"].conclusion == "success"
    async with aiohttp.ClientSession() as session:
        metrics = await (await session.get(greenlight.server.make_url("/metrics"))).text()
    assert "greenlight_jobs_reused_total 2.0" in metrics


async def deployed_to_production(greenlight: Greenlight, sha: str) -> None:
    await deployed(greenlight, "production", sha)


@pytest.mark.one_executor("the choice of what to build does not depend on the executor")
async def test_a_merge_that_changes_the_tree_builds(greenlight: Greenlight) -> None:
    fake = greenlight.fake
    fake.create_repo(REPO, config(greenlight))
    number = await open_pr(greenlight, {"a.txt": "a\n"})
    fake.commit(REPO, "main", {"other.txt": "main moved on\n"})  # not up to date: no rule
    merge_sha = await merge_pr(fake, number)
    run, jobs = await run_and_jobs(greenlight, merge_sha)
    assert run.conclusion == "success"
    assert run.tree == tree(greenlight, merge_sha)
    assert [job.reused_job_id for job in jobs.values()] == [None, None]
    assert merge_sha in builds(greenlight, "lint")
    assert merge_sha in builds(greenlight, "test")


@pytest.mark.one_executor("the choice of what to build does not depend on the executor")
async def test_a_changed_step_builds_again(greenlight: Greenlight) -> None:
    """A branch that changes only a step's command: a new tree and new inputs, built."""
    fake = greenlight.fake
    fake.create_repo(REPO, config(greenlight))
    await open_pr(greenlight, {"a.txt": "a\n"})
    changed = fake.commit(REPO, "other", config(greenlight, test_command="echo changed"))
    await fake.send("push", fake.push_event(REPO, "other", "0" * 40, changed))
    run, jobs = await run_and_jobs(greenlight, changed)
    assert run.conclusion == "success"
    assert [job.reused_job_id for job in jobs.values()] == [None, None]
    assert changed in builds(greenlight, "test")


@pytest.mark.one_executor("the choice of what to build does not depend on the executor")
async def test_reuse_false_runs_again(greenlight: Greenlight) -> None:
    fake = greenlight.fake
    fake.create_repo(REPO, config(greenlight, test_reuse="false"))
    number = await open_pr(greenlight, {"a.txt": "a\n"})
    head = fake.pull(REPO, number).head_sha
    merge_sha = await merge_pr(fake, number)
    run, jobs = await run_and_jobs(greenlight, merge_sha)
    assert run.conclusion == "success"
    assert jobs["lint"].reused_job_id is not None
    assert jobs["test"].reused_job_id is None
    assert builds(greenlight, "lint") == [head]
    assert builds(greenlight, "test") == [head, merge_sha]


@pytest.mark.one_executor("the choice of what to build does not depend on the executor")
async def test_a_failed_run_is_never_reused(greenlight: Greenlight) -> None:
    """The pull request's `test` failed (flaky: it needs a file outside the tree); merged
    anyway with the same tree, the default branch runs it again, and it passes now."""
    fake = greenlight.fake
    flag = greenlight.tmp_path / "passes"
    fake.create_repo(REPO, config(greenlight, test_command=f"test -e {flag}"))
    sha = fake.commit(REPO, "feature", {"a.txt": "a\n"})
    pr = fake.open_pull_request(REPO, "feature")
    await fake.send("pull_request", fake.pull_request_event("opened", REPO, pr.number))
    pr_run = await greenlight.run_for(REPO, sha)
    assert pr_run.conclusion == "failure"
    flag.touch()
    merge_sha = await merge_pr(fake, pr.number)
    assert tree(greenlight, merge_sha) == tree(greenlight, sha)
    run, jobs = await run_and_jobs(greenlight, merge_sha)
    assert run.conclusion == "success"
    # `lint` passed in a run that failed: not reused either (the run is the unit of trust).
    assert [job.reused_job_id for job in jobs.values()] == [None, None]
    assert builds(greenlight, "test") == [merge_sha]


@pytest.mark.one_executor("the choice of what to build does not depend on the executor")
async def test_a_forks_green_result_is_not_reused_for_the_default_branch(
    greenlight: Greenlight,
) -> None:
    fake = greenlight.fake
    fake.create_repo(REPO, config(greenlight))
    fork = fake.fork(REPO, "stranger")
    head = fake.commit(fork.full_name, "patch", {"a.txt": "from a fork\n"}, author="stranger")
    pr = fake.open_pull_request(REPO, "patch", head_repo=fork.full_name, user="stranger")
    await fake.send("pull_request", fake.pull_request_event("opened", REPO, pr.number))
    await greenlight.settle()
    await comment(greenlight, pr.number, "octo", "/ok-to-test")
    fork_run, _ = await run_and_jobs(greenlight, head)
    assert (fork_run.fork, fork_run.conclusion) == (True, "success")

    merge_sha = await merge_pr(fake, pr.number)
    assert tree(greenlight, merge_sha) == tree(greenlight, head)
    run, jobs = await run_and_jobs(greenlight, merge_sha)
    assert (run.fork, run.tree, run.conclusion) == (False, fork_run.tree, "success")
    assert [job.reused_job_id for job in jobs.values()] == [None, None]
    assert builds(greenlight, "lint") == [head, merge_sha]


@pytest.mark.one_executor("the choice of what to build does not depend on the executor")
async def test_on_the_same_tree_a_job_given_other_secrets_runs_again(
    greenlight: Greenlight,
) -> None:
    """A fork's pull request with main's very files: it may take main's results, but a job
    given a secret on main gets none on a fork, so its inputs differ and it runs."""
    fake = greenlight.fake
    fake.create_repo(REPO, config(greenlight, test_secrets="[TOKEN]"))
    main = await fake.push(REPO, "main", {"a.txt": "a\n"})
    main_run, main_jobs = await run_and_jobs(greenlight, main)
    assert main_run.conclusion == "success"
    fork = fake.fork(REPO, "stranger")
    head = fake.commit(fork.full_name, "patch", {}, author="stranger")  # the same files
    pr = fake.open_pull_request(REPO, "patch", head_repo=fork.full_name, user="stranger")
    await fake.send("pull_request", fake.pull_request_event("opened", REPO, pr.number))
    await greenlight.settle()
    await comment(greenlight, pr.number, "octo", "/ok-to-test")
    run, jobs = await run_and_jobs(greenlight, head)
    assert (run.fork, run.tree, run.conclusion) == (True, main_run.tree, "success")
    assert jobs["lint"].reused_job_id == main_jobs["lint"].id
    assert jobs["test"].reused_job_id is None
    assert builds(greenlight, "lint") == [main]
    assert builds(greenlight, "test") == [main, head]


@pytest.mark.one_executor("the choice of what to build does not depend on the executor")
async def test_a_rerun_of_a_reused_job_really_runs(greenlight: Greenlight) -> None:
    """Re-running a reused job (GitHub's "Re-run", `/retest`) runs it, a new attempt."""
    fake = greenlight.fake
    fake.create_repo(REPO, config(greenlight))
    number = await open_pr(greenlight, {"a.txt": "a\n"})
    merge_sha = await merge_pr(fake, number)
    run, jobs = await run_and_jobs(greenlight, merge_sha)
    assert jobs["test"].reused_job_id is not None
    assert await greenlight.services.pipeline.rerun(run.id, names={"test"}) == ["test"]

    async def ran() -> bool:
        await settled(greenlight)
        return merge_sha in builds(greenlight, "test")

    await wait_until(ran, deadline=30, message="the re-run to run")
    run, jobs = await run_and_jobs(greenlight, merge_sha)
    assert (jobs["test"].attempt, jobs["test"].reused_job_id) == (2, None)
    assert run.conclusion == "success"


@pytest.mark.one_executor("the choice of what to build does not depend on the executor")
async def test_a_merge_before_the_pull_request_is_green_builds(greenlight: Greenlight) -> None:
    """Merged by hand while the pull request's `test` still runs: nothing has passed yet,
    so the merge commit builds, though its tree is the same."""
    fake = greenlight.fake
    gate = greenlight.tmp_path / "gate"
    wait = f"'while [ ! -e {gate} ]; do sleep 0.05; done'"
    fake.create_repo(REPO, config(greenlight, test_command=wait))
    head = fake.commit(REPO, "feature", {"a.txt": "a\n"})
    pr = fake.open_pull_request(REPO, "feature")
    await fake.send("pull_request", fake.pull_request_event("opened", REPO, pr.number))

    async def lint_passed() -> bool:
        await greenlight.settle()
        return head in builds(greenlight, "lint")

    await wait_until(lint_passed, deadline=30, message="the pull request's lint to pass")
    merge_sha = await merge_pr(fake, pr.number)
    await greenlight.settle()
    gate.touch()
    run, jobs = await run_and_jobs(greenlight, merge_sha)
    assert run.conclusion == "success"
    assert [job.reused_job_id for job in jobs.values()] == [None, None]
    assert builds(greenlight, "lint") == [head, merge_sha]


@pytest.mark.one_executor("GitHub's faults are met by the service, not the executor")
async def test_a_reused_check_run_github_failed_to_answer_is_made_once(
    greenlight: Greenlight,
) -> None:
    """GitHub creates the reused `lint` check run but answers 502: it is looked up, not
    created again, and says where its result comes from."""
    fake = greenlight.fake
    fake.create_repo(REPO, config(greenlight))
    number = await open_pr(greenlight, {"a.txt": "a\n"})
    fake.faults.add(
        "POST",
        "/repos/{owner}/{repo}/check-runs",
        Fault(
            502,
            after_applying=True,
            where=lambda call: (
                (call.body.get("name"), call.body.get("status")) == ("lint", "completed")
            ),
        ),
    )
    merge_sha = await merge_pr(fake, number)
    run, jobs = await run_and_jobs(greenlight, merge_sha)
    assert run.conclusion == "success"
    assert fake.faults.injected
    lints = [c for c in fake.check_runs(REPO, merge_sha) if c.name == "lint"]
    assert [(c.status, c.conclusion) for c in lints] == [("completed", "success")]
    assert "Reused" in (lints[0].output["summary"] or "")
    assert jobs["lint"].check_run_id == lints[0].id
    assert merge_sha not in builds(greenlight, "lint")
