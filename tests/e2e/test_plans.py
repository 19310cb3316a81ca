"""One commit, several triggers: a pull request's head is built with the pull request's
facts even when the branch's `push` came first, and a skip marker never opens a gate."""

from __future__ import annotations

import pytest

from bot.core.merge_messages import MERGED_MARKER
from bot.store.records import Run, Status
from tests.e2e.conftest import Greenlight
from tests.helpers import wait_until
from tests.merging.flows import REPO, config, merge_attempts, wait_bot_comment, wait_merged


async def run_concluded(greenlight: Greenlight, sha: str, conclusion: str) -> Run:
    """The run of `sha` once it has completed with `conclusion` (it may complete twice)."""

    async def concluded() -> bool:
        await greenlight.settle()
        run = await greenlight.store.runs.for_sha(REPO, sha)
        return run is not None and (run.status, run.conclusion) == (Status.COMPLETED, conclusion)

    await wait_until(concluded, message=f"the run of {sha[:7]} to end {conclusion}")
    run = await greenlight.store.runs.for_sha(REPO, sha)
    assert run is not None
    return run


async def open_pull_request(greenlight: Greenlight, branch: str = "feature") -> int:
    fake = greenlight.fake
    pr = fake.open_pull_request(REPO, branch)
    await fake.send("pull_request", fake.pull_request_event("opened", REPO, pr.number))
    return pr.number


async def test_a_pull_request_job_runs_on_a_head_first_built_for_its_push(
    greenlight: Greenlight,
) -> None:
    fake = greenlight.fake
    fake.create_repo(
        REPO,
        config("""
        merge: {auto: true}
        jobs:
          build:
            run: echo built
          pr-only:
            if: event == 'pull_request'
            run: echo "PR=$GREENLIGHT_PR"; exit 1
    """),
    )
    sha = await fake.push(REPO, "feature", {"a.txt": "a\n"})
    pushed = await greenlight.run_for(REPO, sha)
    assert pushed.conclusion == "success"
    assert greenlight.checks(REPO, sha)["pr-only"].conclusion == "skipped"

    number = await open_pull_request(greenlight)

    run = await run_concluded(greenlight, sha, "failure")
    checks = greenlight.checks(REPO, sha)
    assert (checks["pr-only"].status, checks["pr-only"].conclusion) == ("completed", "failure")
    assert checks["build"].conclusion == "success"
    assert [c.name for c in fake.check_runs(REPO, sha)].count("build") == 1  # kept its result
    assert checks["greenlight"].conclusion == "failure"
    jobs = await greenlight.jobs(run)
    assert jobs["pr-only"].attempt == 2
    assert f"PR={number}" in await greenlight.log(jobs["pr-only"])
    await greenlight.settle()
    assert not fake.pull(REPO, number).merged
    assert merge_attempts(fake) == 0


async def test_a_pull_request_compares_paths_with_its_base(greenlight: Greenlight) -> None:
    fake = greenlight.fake
    fake.create_repo(
        REPO,
        config("""
        merge: {auto: true}
        jobs:
          code:
            paths: ["src/**"]
            run: echo "tested the code"; exit 1
    """),
    )
    await fake.push(REPO, "feature", {"src/app.py": "print(1)\n"})
    second = await fake.push(REPO, "feature", {"README.md": "docs\n"})
    pushed = await greenlight.run_for(REPO, second)
    assert (await greenlight.jobs(pushed))["code"].conclusion == "skipped"  # since `before`

    number = await open_pull_request(greenlight)

    run = await run_concluded(greenlight, second, "failure")
    code = (await greenlight.jobs(run))["code"]
    assert "tested the code" in await greenlight.log(code)
    assert greenlight.checks(REPO, second)["code"].conclusion == "failure"
    await greenlight.settle()
    assert not fake.pull(REPO, number).merged
    assert merge_attempts(fake) == 0


@pytest.mark.one_executor("a skip marker: no job runs")
async def test_a_skip_marker_skips_every_check_of_a_push(greenlight: Greenlight) -> None:
    fake = greenlight.fake
    fake.create_repo(REPO, {"README.md": "hi\n"})
    text = config("""
        jobs:
          lint:
            run: exit 1
          test:
            needs: [lint]
            matrix: {python: ["3.11", "3.12"]}
            run: exit 1
    """)
    sha = await fake.push(REPO, "main", text, message="Update docs [skip ci]")
    run = await greenlight.run_for(REPO, sha)
    assert run.conclusion == "skipped"
    checks = greenlight.checks(REPO, sha)
    assert set(checks) == {"lint", "test (3.11)", "test (3.12)", "greenlight"}
    assert {(c.status, c.conclusion) for c in checks.values()} == {("completed", "skipped")}
    assert "[skip ci]" in checks["greenlight"].output["summary"]
    assert "the commit message contains" in checks["lint"].output["summary"]
    assert "skip ci" in checks["lint"].output["summary"]


async def test_a_skip_marker_on_a_pull_request_head_is_not_honoured(
    greenlight: Greenlight,
) -> None:
    fake = greenlight.fake
    fake.create_repo(REPO, config("merge: {auto: true}\njobs:\n  test:\n    run: exit 1\n"))
    sha = await fake.push(REPO, "feature", {"a.txt": "a\n"}, message="Tweak [skip ci]")
    assert (await greenlight.run_for(REPO, sha)).conclusion == "skipped"

    number = await open_pull_request(greenlight)

    await run_concluded(greenlight, sha, "failure")
    checks = greenlight.checks(REPO, sha)
    assert checks["test"].conclusion == "failure"
    summary = checks["greenlight"].output["summary"]
    assert "[skip ci]" in summary
    assert "`paths`" in summary
    await greenlight.settle()
    assert not fake.pull(REPO, number).merged
    assert merge_attempts(fake) == 0


async def test_a_green_pull_request_head_with_a_skip_marker_merges_once_built(
    greenlight: Greenlight,
) -> None:
    fake = greenlight.fake
    fake.create_repo(REPO, config("merge: {auto: true}\njobs:\n  test:\n    run: echo ok\n"))
    sha = await fake.push(REPO, "feature", {"a.txt": "a\n"}, message="Tweak [skip ci]")
    await greenlight.run_for(REPO, sha)

    number = await open_pull_request(greenlight)

    await wait_merged(greenlight, number)
    assert greenlight.checks(REPO, sha)["test"].conclusion == "success"
    body = (await wait_bot_comment(greenlight, number, MERGED_MARKER)).body
    assert "**test**" in body
