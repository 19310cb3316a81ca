"""The pipeline reads the config from the commit it fetches, with the same result as the
contents API, and falls back to the API when git cannot read it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.context import Context
from bot.core.config import Config
from bot.executor.workspace import GitCache
from bot.pipeline.commits import CommitReader
from bot.pipeline.tickets import TicketMaker
from bot.repo_config import NO_CONFIG, ConfigErrors, RepoConfig, config_from_text, read_config
from bot.store.records import Run, Status
from tests.fakes.github import FakeGitHub
from tests.helpers import fake_github_context

CONFIG = ".github/greenlight.yml"
CONTENTS = ("GET", "/repos/{owner}/{repo}/contents/{path}")
CASES = {
    "config": {CONFIG: "jobs:\n  test:\n    run: make test\n"},
    "errors": {CONFIG: "jobs:\n  lint:\n    run: ruff\n  test:\n    needs: [nope]\n"},
    "no-config": {"README.md": "hi\n"},
    "not-utf8": {CONFIG: b"jobs:\n  t:\n    run: echo \xff\n"},
}


@pytest.fixture
async def context(fake_github: FakeGitHub, tmp_path: Path) -> AsyncIterator[Context]:
    async with fake_github_context(fake_github, tmp_path) as context:
        yield context


def run_of(fake: FakeGitHub, repo: str) -> Run:
    """A run of the branch tip, cloned over HTTP from the fake with a code token."""
    installation = fake.world.installation_for(repo, fake.app_id)
    assert installation is not None
    state = fake.repo(repo)
    return Run(
        id=1,
        repo=repo,
        repo_id=state.id,
        sha=state.git.branch_sha("main") or "",
        installation_id=installation.id,
        clone_url=f"{fake.base_url}/{repo}.git",
        event="push",
        ref="main",
        base_ref="",
        before_sha="",
        pr_number=None,
        status=Status.QUEUED,
        conclusion=None,
        note=None,
        aggregate_check_id=None,
        trusted=True,
        fork=False,
    )


@pytest.mark.parametrize("case", sorted(CASES))
async def test_the_commit_says_what_the_contents_api_says(
    context: Context, fake_github: FakeGitHub, tmp_path: Path, case: str
) -> None:
    fake_github.git_over_http = True
    repo = f"octo/{case}"
    fake_github.create_repo(repo, CASES[case])
    run = run_of(fake_github, repo)
    reader = CommitReader(GitCache(tmp_path / "cache"), TicketMaker(context, {}))

    from_git = config_from_text(await reader.file_text(run, CONFIG))
    assert fake_github.request_counts[CONTENTS] == 0  # git alone
    client = context.github.installation(run.installation_id or 0)
    from_api = await read_config(client, repo, run.sha)

    assert from_git == from_api
    assert kind(from_git) == {"no-config": "none", "errors": "errors"}.get(case, "config")
    if isinstance(from_git, ConfigErrors):  # annotated on the offending line, as before
        assert [error.line for error in from_git.errors] == [4, 5]


async def test_without_the_code_the_api_is_asked(
    context: Context, fake_github: FakeGitHub, tmp_path: Path
) -> None:
    """A token git is refused with: the pipeline falls back to the contents API."""
    from bot.pipeline.service import Pipeline

    fake_github.git_over_http = True
    repo = "octo/hello"
    fake_github.create_repo(repo, CASES["config"])
    run = run_of(fake_github, repo)
    pipeline = Pipeline(context)
    try:
        config = await pipeline.config_at(run)
        assert isinstance(config, Config)
        assert fake_github.request_counts[CONTENTS] == 0
        # The repository's id is unknown now: no code token can be made for it.
        moved = Run(**{**run.__dict__, "repo_id": None, "sha": run.sha})
        pipeline.cache = GitCache(tmp_path / "empty-cache")
        pipeline.commits = CommitReader(pipeline.cache, pipeline.tickets)
        assert await pipeline.config_at(moved) == config
        assert fake_github.request_counts[CONTENTS] == 1
    finally:
        await pipeline.stop()


def kind(config: RepoConfig) -> str:
    if config == NO_CONFIG:
        return "none"
    return "errors" if isinstance(config, ConfigErrors) else "config"
