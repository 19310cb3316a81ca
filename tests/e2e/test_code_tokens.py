"""Code is fetched over HTTP with a token that can only read that one repository, and a
build whose token cannot be had fails with a message instead of crashing."""

from __future__ import annotations

import base64
import textwrap
from pathlib import Path

from tests.e2e.conftest import Greenlight
from tests.e2e.test_deploy import (
    config as deploy_config,
)
from tests.e2e.test_deploy import (
    deploy_as,
    deployed,
    deployer,
    deploying,  # noqa: F401  (a fixture)
    merge_pr,
    open_pr,
)
from tests.fakes.github import FakeGitHub

REPO = "octo/hello"
CONFIG = ".github/greenlight.yml"
READ_CODE = {"contents": "read", "metadata": "read"}


def config(text: str) -> dict[str, str]:
    return {CONFIG: textwrap.dedent(text).lstrip("\n")}


def over_http(fake: FakeGitHub, files: dict[str, str]) -> None:
    """A private repository whose clone URL is the fake's, served only with a token."""
    fake.git_over_http = True
    fake.create_repo(REPO, files, private=True)


def tokens_git_used(fake: FakeGitHub) -> set[str]:
    """The tokens of every fetch the fake served (each one carried a token)."""
    assert all(request.token is not None for request in fake.git_requests)
    return {request.token.token for request in fake.git_requests if request.token is not None}


def files_containing(root: Path, secret: str) -> list[Path]:
    forms = [secret.encode(), base64.b64encode(f"x-access-token:{secret}".encode())]
    return [
        path
        for path in root.rglob("*")
        if path.is_file() and any(form in path.read_bytes() for form in forms)
    ]


async def test_code_is_fetched_with_a_token_that_only_reads_this_repository(
    greenlight: Greenlight,
) -> None:
    fake = greenlight.fake
    kept = greenlight.tmp_path / "kept"
    kept.mkdir()
    over_http(fake, {"README.md": "private code\n"})
    sha = await fake.push(
        REPO,
        "main",
        config(f"""
        jobs:
          build:
            run: cat README.md && cp -r .git {kept}/git && env > {kept}/env
    """),
    )
    run = await greenlight.run_for(REPO, sha)
    assert run.conclusion == "success"
    assert "private code" in await greenlight.log((await greenlight.jobs(run))["build"])
    used = tokens_git_used(fake)
    assert used
    for token in used:
        scope = fake.world.tokens[token]
        assert (scope.repositories, scope.permissions) == ([REPO], READ_CODE)
        assert files_containing(kept, token) == []  # not in .git, not in the job's env


async def test_a_repository_the_installation_does_not_have_fails_its_jobs(
    greenlight: Greenlight,
) -> None:
    """A delivery naming a repository id the installation does not cover (the repository
    was deleted and made again under its name): the jobs fail and say why."""
    fake = greenlight.fake
    over_http(fake, {"README.md": "hi\n"})
    before = fake.repo(REPO).git.branch_sha("main")
    files = config("""
        jobs:
          build:
            run: echo built
          test:
            needs: build
            run: echo tested
    """)
    sha = fake.commit(REPO, "main", files)
    payload = fake.push_event(REPO, "main", before or "0" * 40, sha, sender="octo")
    payload["repository"]["id"] = 424242424
    await fake.send("push", payload)
    run = await greenlight.run_for(REPO, sha)
    assert run.conclusion == "failure"
    jobs = await greenlight.jobs(run)
    assert (jobs["build"].conclusion, jobs["test"].conclusion) == ("failure", "skipped")
    log = await greenlight.log(jobs["build"])
    assert "no read-only token for octo/hello" in log
    assert "not, or no longer, among the repositories the app is installed on" in log
    checks = greenlight.checks(REPO, sha)
    assert "no read-only token" in (checks["build"].output["text"] or "")
    assert checks["greenlight"].conclusion == "failure"
    assert fake.git_requests == []
    assert {v.status for v in fake.take_violations()} == {422}


async def test_a_run_recorded_without_a_repository_id_fails_on_rerun(
    greenlight: Greenlight,
) -> None:
    fake = greenlight.fake
    over_http(fake, {"README.md": "hi\n"})
    sha = await fake.push(REPO, "main", config("jobs:\n  build:\n    run: echo built\n"))
    run = await greenlight.run_for(REPO, sha)
    assert run.conclusion == "success"
    # As a run recorded before runs kept their repository's id.
    await greenlight.store.runs.update(run.id, now=greenlight.context.clock(), repo_id=None)
    check = greenlight.checks(REPO, sha)["build"]
    await fake.send("check_run", fake.check_run_event("rerequested", check.id))
    await greenlight.settle()
    run = await greenlight.run_for(REPO, sha)
    build = (await greenlight.jobs(run))["build"]
    assert (build.attempt, build.conclusion) == (2, "failure")
    assert "does not say which repository id" in await greenlight.log(build)


async def test_a_deploy_without_a_code_token_fails_with_a_message(
    deploying: Greenlight,  # noqa: F811
) -> None:
    fake = deploying.fake
    over_http(fake, deploy_config(deploying, "integration"))
    number = await open_pr(deploying, "feature", {"a.txt": "a\n"})
    sha = await merge_pr(fake, number)
    run = await deploying.run_for(REPO, sha)
    assert run.conclusion == "success"
    await deploying.store.runs.update(run.id, now=deploying.context.clock(), repo_id=None)

    await deploy_as(deploying, "octo", number, "staging", None)
    await deployed(deploying, "staging", sha, state="failure")
    (record,) = await deployer(deploying).store.history(REPO, "staging")
    assert "does not say which repository id" in await deployer(deploying).store.read_log(record.id)
