"""Continuous integration as a maintainer sees it: check runs on the commit."""

from __future__ import annotations

import html
import re
import textwrap
from typing import Any

import pytest

from bot.store.records import Status
from tests.e2e.conftest import Greenlight
from tests.helpers import wait_until

REPO = "octo/hello"
CONFIG = ".github/greenlight.yml"


def config(text: str) -> dict[str, str]:
    return {CONFIG: textwrap.dedent(text).lstrip("\n")}


async def test_a_push_is_built_and_reported(greenlight: Greenlight) -> None:
    fake = greenlight.fake
    fake.create_repo(REPO, {"README.md": "hi\n"})
    sha = await fake.push(
        REPO,
        "main",
        config("""
        jobs:
          hello:
            run: echo "hello from $GREENLIGHT_JOB at $GREENLIGHT_SHA, CI=$CI"
    """),
    )
    run = await greenlight.run_for(REPO, sha)
    assert run.conclusion == "success"
    checks = greenlight.checks(REPO, sha)
    assert set(checks) == {"hello", "greenlight"}
    hello = checks["hello"]
    assert (hello.status, hello.conclusion) == ("completed", "success")
    assert hello.external_id.startswith("job:")
    assert hello.details_url.startswith("http://greenlight.test/jobs/")
    assert "Passed" in hello.output["title"]
    assert checks["greenlight"].conclusion == "success"
    jobs = await greenlight.jobs(run)
    assert f"hello from hello at {sha}, CI=true" in await greenlight.log(jobs["hello"])


async def test_a_failing_job_with_a_junit_report(greenlight: Greenlight) -> None:
    fake = greenlight.fake
    fake.create_repo(REPO, {"README.md": "hi\n"})
    report = textwrap.dedent("""\
        <?xml version="1.0" encoding="utf-8"?>
        <testsuites><testsuite name="pytest" tests="3" failures="1" errors="0" skipped="0">
        <testcase classname="tests.test_math" name="test_add" file="tests/test_math.py"
          line="3" time="0.01"/>
        <testcase classname="tests.test_math" name="test_sub" time="0.01"/>
        <testcase classname="tests.test_math" name="test_div" time="0.02">
        <failure message="assert 2 == 3">tests/test_math.py:12: AssertionError</failure>
        </testcase></testsuite></testsuites>
    """)
    sha = await fake.push(
        REPO,
        "main",
        {
            "report.xml": report,
            **config("""
            jobs:
              test:
                steps:
                  - name: test
                    run: 'echo "src/app.py:7: error: something broke"; exit 3'
                reports: [report.xml]
        """),
        },
    )
    run = await greenlight.run_for(REPO, sha)
    assert run.conclusion == "failure"
    check = greenlight.checks(REPO, sha)["test"]
    assert check.conclusion == "failure"
    assert check.output["title"].startswith("2 passed, 1 failed")
    assert "test_div" in check.output["summary"]
    paths = {(a["path"], a["start_line"]) for a in check.annotations}
    assert ("tests/test_math.py", 12) in paths
    assert ("src/app.py", 7) in paths
    aggregate = greenlight.checks(REPO, sha)["greenlight"]
    assert aggregate.conclusion == "failure"
    assert [a["identifier"] for a in aggregate.actions] == ["rerun-failed"]


async def test_a_matrix_and_a_needs_chain(greenlight: Greenlight) -> None:
    fake = greenlight.fake
    fake.create_repo(REPO, {"README.md": "hi\n"})
    sha = await fake.push(
        REPO,
        "main",
        config("""
        jobs:
          lint:
            run: echo linted
          test:
            needs: lint
            matrix: {python: ["3.11", "3.12"]}
            env: {PY: "${{ matrix.python }}"}
            run: echo "testing on $PY"
          package:
            needs: [test]
            run: echo packaged
          broken:
            run: exit 1
          after-broken:
            needs: broken
            run: echo never
    """),
    )
    run = await greenlight.run_for(REPO, sha)
    jobs = await greenlight.jobs(run)
    assert {name: job.conclusion for name, job in jobs.items()} == {
        "lint": "success",
        "test (3.11)": "success",
        "test (3.12)": "success",
        "package": "success",
        "broken": "failure",
        "after-broken": "skipped",
    }
    assert "testing on 3.12" in await greenlight.log(jobs["test (3.12)"])
    lint, package = jobs["lint"], jobs["package"]
    assert lint.finished_at is not None
    assert package.started_at is not None
    assert lint.finished_at <= min(jobs["test (3.11)"].started_at or 0, package.started_at)
    checks = greenlight.checks(REPO, sha)
    assert checks["after-broken"].conclusion == "skipped"
    assert (
        "broken"
        in checks["after-broken"].output["title"] + checks["after-broken"].output["summary"]
    )
    assert checks["greenlight"].conclusion == "failure"


async def test_the_run_concludes_after_every_jobs_check_run(
    greenlight: Greenlight, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Jobs that end together: each job's check run completes before the aggregate does (a
    Celery worker writes a job's row before the service hears of it)."""
    fake = greenlight.fake
    gate = greenlight.tmp_path / "gate"
    open_when_concluded: list[set[str]] = []
    changed = fake.check_run_changed

    def record(run: Any, *, created: bool, was_completed: bool) -> None:
        if run.name == "greenlight" and run.status == "completed" and not was_completed:
            latest = greenlight.checks(REPO, run.head_sha).values()
            open_when_concluded.append({c.name for c in latest if c.status != "completed"})
        changed(run, created=created, was_completed=was_completed)

    monkeypatch.setattr(fake, "check_run_changed", record)
    fake.create_repo(REPO, {"README.md": "hi\n"})
    wait = f"while [ ! -e {gate} ]; do sleep 0.01; done"
    jobs = "".join(f"  job{n}:\n    run: '{wait}'\n" for n in range(4))
    sha = await fake.push(REPO, "main", {CONFIG: f"jobs:\n{jobs}"})

    def all_started() -> bool:
        checks = greenlight.checks(REPO, sha)
        return [checks[f"job{n}"].status for n in range(4)] == ["in_progress"] * 4

    await greenlight.settle()
    await wait_until(all_started, deadline=30, message="the four jobs to start")
    gate.touch()
    assert (await greenlight.run_for(REPO, sha)).conclusion == "success"
    assert open_when_concluded == [set()]


async def test_a_timeout_kills_the_job(greenlight: Greenlight) -> None:
    fake = greenlight.fake
    fake.create_repo(REPO, {"README.md": "hi\n"})
    sha = await fake.push(
        REPO,
        "main",
        config("""
        jobs:
          slow:
            timeout: 1s
            run: sleep 60
    """),
    )
    run = await greenlight.run_for(REPO, sha, deadline=20)
    jobs = await greenlight.jobs(run)
    assert jobs["slow"].conclusion == "timed_out"
    assert greenlight.checks(REPO, sha)["slow"].conclusion == "timed_out"


@pytest.mark.one_executor("config parsing: no job runs")
async def test_an_invalid_config_fails_the_config_check(greenlight: Greenlight) -> None:
    fake = greenlight.fake
    fake.create_repo(REPO, {"README.md": "hi\n"})
    sha = await fake.push(
        REPO,
        "main",
        config("""
        jobs:
          test:
            run: pytest
            timeout: forever
    """),
    )
    run = await greenlight.run_for(REPO, sha)
    assert run.conclusion == "failure"
    checks = greenlight.checks(REPO, sha)
    assert set(checks) == {"greenlight/config", "greenlight"}
    config_check = checks["greenlight/config"]
    assert config_check.conclusion == "failure"
    (annotation,) = config_check.annotations
    assert annotation["path"] == CONFIG
    assert annotation["start_line"] == 4
    assert annotation["title"] == "jobs.test.timeout"
    assert "is not a duration" in annotation["message"]
    assert checks["greenlight"].conclusion == "failure"


@pytest.mark.one_executor("config checking: no job runs")
async def test_a_plan_of_300_jobs_fails_the_config_check_and_creates_no_job_checks(
    greenlight: Greenlight,
) -> None:
    fake = greenlight.fake
    fake.create_repo(REPO, {"README.md": "hi\n"})
    sha = await fake.push(
        REPO,
        "main",
        config(f"""
        jobs:
          unit:
            matrix: {{a: {list(range(20))}, b: {list(range(10))}}}
            run: echo unit
          e2e:
            matrix: {{a: {list(range(100))}}}
            run: echo e2e
    """),
    )
    run = await greenlight.run_for(REPO, sha)
    assert run.conclusion == "failure"
    checks = greenlight.checks(REPO, sha)
    assert set(checks) == {"greenlight/config", "greenlight"}
    assert [c.name for c in fake.check_runs(REPO, sha)].count("greenlight/config") == 1
    assert await greenlight.jobs(run) == {}
    (annotation,) = checks["greenlight/config"].annotations
    assert (annotation["start_line"], annotation["title"]) == (3, "jobs.unit.matrix")
    assert "300 check runs in all" in annotation["message"]
    assert "at most 256" in annotation["message"]
    assert checks["greenlight"].conclusion == "failure"


@pytest.mark.one_executor("no config: no job runs")
async def test_no_config_means_silence(greenlight: Greenlight) -> None:
    fake = greenlight.fake
    fake.create_repo(REPO, {"README.md": "hi\n"})
    sha = await fake.push(REPO, "main", {"README.md": "changed\n"})
    await greenlight.run_for(REPO, sha)
    assert greenlight.checks(REPO, sha) == {}
    assert fake.comments(REPO) == []


@pytest.mark.one_executor("a skip marker: no job runs")
async def test_a_skip_marker_skips_the_build(greenlight: Greenlight) -> None:
    fake = greenlight.fake
    fake.create_repo(REPO, {"README.md": "hi\n"})
    sha = await fake.push(
        REPO, "main", config("jobs:\n  test:\n    run: exit 1\n"), message="Update docs [skip ci]"
    )
    run = await greenlight.run_for(REPO, sha)
    assert run.conclusion == "skipped"
    checks = greenlight.checks(REPO, sha)
    assert set(checks) == {"test", "greenlight"}  # every job reports: none waits forever
    assert checks["test"].conclusion == "skipped"
    assert checks["greenlight"].conclusion == "skipped"
    assert "[skip ci]" in checks["greenlight"].output["summary"]


async def test_a_push_and_its_pull_request_share_one_run(greenlight: Greenlight) -> None:
    fake = greenlight.fake
    fake.create_repo(REPO, config("jobs:\n  test:\n    run: echo PR=$GREENLIGHT_PR\n"))
    sha = await fake.push(REPO, "feature", {"a.txt": "a\n"})
    pr = fake.open_pull_request(REPO, "feature")
    await fake.send("pull_request", fake.pull_request_event("opened", REPO, pr.number))
    run = await greenlight.run_for(REPO, sha)
    assert run.pr_number == pr.number
    assert [c.name for c in fake.check_runs(REPO, sha)].count("test") == 1


async def test_a_new_push_cancels_the_superseded_run(greenlight: Greenlight) -> None:
    fake = greenlight.fake
    fake.create_repo(REPO, config("jobs:\n  test:\n    run: sleep ${SLEEP:-60}\n"))
    first = fake.commit(REPO, "feature", {"a.txt": "1\n"})
    pr = fake.open_pull_request(REPO, "feature")
    await fake.send("pull_request", fake.pull_request_event("opened", REPO, pr.number))
    await greenlight.settle()

    async def first_running() -> bool:
        run = await greenlight.store.runs.for_sha(REPO, first)
        jobs = await greenlight.store.runs.jobs(run.id) if run else []
        return any(job.status == Status.IN_PROGRESS for job in jobs)

    await wait_until(first_running, message="the first build to start")
    second = await fake.push(REPO, "feature", {CONFIG: "jobs:\n  test:\n    run: echo fast\n"})
    superseded = await greenlight.run_for(REPO, first)
    assert superseded.conclusion == "cancelled"
    assert greenlight.checks(REPO, first)["test"].conclusion == "cancelled"
    assert greenlight.checks(REPO, first)["greenlight"].conclusion == "cancelled"
    latest = await greenlight.run_for(REPO, second)
    assert latest.conclusion == "success"


async def test_paths_skip_jobs_whose_files_did_not_change(greenlight: Greenlight) -> None:
    fake = greenlight.fake
    fake.create_repo(
        REPO,
        config("""
        jobs:
          docs:
            paths: ["docs/**"]
            run: echo docs
          code:
            paths: ["src/**"]
            run: echo code
    """),
    )
    sha = await fake.push(REPO, "main", {"src/app.py": "print(1)\n"})
    run = await greenlight.run_for(REPO, sha)
    jobs = await greenlight.jobs(run)
    assert (jobs["docs"].conclusion, jobs["code"].conclusion) == ("skipped", "success")
    assert greenlight.checks(REPO, sha)["docs"].conclusion == "skipped"
    assert run.conclusion == "success"


async def test_secrets_reach_the_job_masked(greenlight: Greenlight) -> None:
    fake = greenlight.fake
    secrets_file = greenlight.tmp_path / "secrets.yml"
    secrets_file.write_text(f"{REPO}:\n  API_TOKEN: hunter2-very-secret\n")
    greenlight.services.pipeline.tickets._secrets = {  # as read at start-up
        REPO: {"API_TOKEN": "hunter2-very-secret"}
    }
    fake.create_repo(REPO, {"README.md": "hi\n"})
    sha = await fake.push(
        REPO,
        "main",
        config("""
        jobs:
          deploy:
            secrets: [API_TOKEN]
            run: 'echo "token is $API_TOKEN"; test "$API_TOKEN" = hunter2-very-secret'
    """),
    )
    run = await greenlight.run_for(REPO, sha)
    jobs = await greenlight.jobs(run)
    assert jobs["deploy"].conclusion == "success"
    log = await greenlight.log(jobs["deploy"])
    assert "token is ***" in log
    assert "hunter2" not in log
    assert "hunter2" not in (greenlight.checks(REPO, sha)["deploy"].output["text"] or "")


async def test_rerun_buttons_run_jobs_again(greenlight: Greenlight) -> None:
    fake = greenlight.fake
    fake.create_repo(REPO, {"README.md": "hi\n"})
    marker = greenlight.tmp_path / "flaky-ran-once"
    sha = await fake.push(
        REPO,
        "main",
        config(f"""
        jobs:
          flaky:
            run: test -e {marker} || {{ touch {marker}; exit 1; }}
          after:
            needs: flaky
            run: echo after
          steady:
            run: echo steady
    """),
    )
    run = await greenlight.run_for(REPO, sha)
    assert run.conclusion == "failure"
    failed = greenlight.checks(REPO, sha)["flaky"]
    await fake.send("check_run", fake.check_run_event("rerequested", failed.id))
    await greenlight.settle()
    run = await greenlight.run_for(REPO, sha)
    jobs = await greenlight.jobs(run)
    assert {name: (job.attempt, job.conclusion) for name, job in jobs.items()} == {
        "flaky": (2, "success"),
        "after": (2, "success"),
        "steady": (1, "success"),
    }
    assert run.conclusion == "success"
    checks = greenlight.checks(REPO, sha)
    assert checks["flaky"].conclusion == "success"  # a new check run, as GitHub's Re-run makes
    assert checks["greenlight"].conclusion == "success"
    suite = fake.check_suites(REPO, sha)[0]
    await fake.send("check_suite", fake.check_suite_event("rerequested", suite.id))
    run = await greenlight.run_for(REPO, sha)
    jobs = await greenlight.jobs(run)
    assert {job.attempt for job in jobs.values()} == {3, 2}  # every job ran once more


async def test_a_strangers_fork_waits_for_approval(greenlight: Greenlight) -> None:
    fake = greenlight.fake
    fake.create_repo(REPO, config("jobs:\n  test:\n    secrets: [TOKEN]\n    run: echo built\n"))
    fake.fork(REPO, "stranger")
    sha = fake.commit("stranger/hello", "patch", {"a.txt": "mine\n"}, author="stranger")
    pr = fake.open_pull_request(REPO, "patch", head_repo="stranger/hello", user="stranger")
    await fake.send("pull_request", fake.pull_request_event("opened", REPO, pr.number))
    await greenlight.settle()
    held = await greenlight.store.runs.for_sha(REPO, sha)
    assert held is not None
    assert not held.trusted
    aggregate = greenlight.checks(REPO, sha)["greenlight"]
    assert aggregate.status == "queued"
    assert "/ok-to-test" in aggregate.output["summary"]
    assert set(greenlight.checks(REPO, sha)) == {"greenlight"}  # nothing ran
    await greenlight.store.pull_requests.update(REPO, pr.number, trusted_sha=sha)
    await greenlight.services.pipeline.approve(REPO, sha)
    run = await greenlight.run_for(REPO, sha)
    assert run.conclusion == "success"
    jobs = await greenlight.jobs(run)
    assert "Secrets are withheld" in await greenlight.log(jobs["test"])


async def test_the_log_page_needs_the_signed_link(greenlight: Greenlight) -> None:
    import aiohttp

    fake = greenlight.fake
    fake.create_repo(REPO, {"README.md": "hi\n"})
    sha = await fake.push(REPO, "main", config("jobs:\n  hello:\n    run: echo 'a <b> line'\n"))
    await greenlight.run_for(REPO, sha)
    details = greenlight.checks(REPO, sha)["hello"].details_url
    path = details.removeprefix("http://greenlight.test")
    async with aiohttp.ClientSession() as session:
        page = await session.get(greenlight.server.make_url(path))
        assert page.status == 200
        assert "a &lt;b&gt; line" in await page.text()
        forged = await session.get(greenlight.server.make_url(path.split("?")[0] + "?token=x"))
        assert forged.status == 403
        run_url = greenlight.checks(REPO, sha)["greenlight"].details_url
        run_page = await session.get(
            greenlight.server.make_url(run_url.removeprefix("http://greenlight.test"))
        )
        assert run_page.status == 200
        run_text = await run_page.text()
        assert "hello" in run_text
        repo_link = re.search(r"href=[\"'](/repos/[^\"']+)[\"']", run_text)
        assert repo_link is not None
        repo_page = await session.get(greenlight.server.make_url(html.unescape(repo_link[1])))
        assert repo_page.status == 200
        assert sha[:7] in await repo_page.text()
        refused = await session.get(greenlight.server.make_url(f"/repos/{REPO}?token=nope"))
        assert refused.status == 403
