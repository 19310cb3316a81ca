"""The merge evaluation reads the config at the head from the pipeline's git cache when
the commit is there, and through the contents API when it is not: the same decision."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.context import Context
from bot.core.merge import Block, MergeNow, Wait, decide_merge
from bot.executor.workspace import GitCache, NotCached
from bot.merging.access import PermissionCache
from bot.merging.evaluator import Evaluator
from bot.merging.facts import PullRequest, Snapshot, gather
from bot.store.runs import NewRun
from bot.timekeeper import Timekeeper
from tests.fakes.github import FakeGitHub
from tests.merging.conftest import client_for
from tests.merging.flows import REPO, config

CONTENTS = ("GET", "/repos/{owner}/{repo}/contents/{path}")
CONFIG = "merge: {approvals: 1, method: squash}\njobs:\n  t:\n    run: echo\n"
AUTO = "merge: {auto: true, approvals: 1}\njobs:\n  t:\n    run: echo\n"


def clone_url(fake: FakeGitHub) -> str:
    repo = fake.world.repo(REPO)
    assert repo is not None
    return repo.clone_url


async def built(context: Context, fake: FakeGitHub, sha: str) -> None:
    """The pipeline's record of a run of `sha` (its clone URL is what the cache is keyed by)."""
    new = NewRun(REPO, sha, 1, clone_url(fake), "pull_request", "refs/heads/feature")
    await context.store.runs.start(new, now=context.clock())


async def snapshot_of(
    context: Context, fake: FakeGitHub, number: int, cache: GitCache | None
) -> Snapshot | None:
    client = client_for(context, fake)
    data = await client.pull_request(REPO, number)
    pull = PullRequest.from_github(REPO, data)
    return await gather(
        client, context.store, PermissionCache(), pull, data, now=context.clock(), cache=cache
    )


def open_pull_request(fake: FakeGitHub, text: str) -> tuple[int, str]:
    fake.create_repo(REPO, config(text))
    sha = fake.commit(REPO, "feature", {"a.txt": "a\n"})
    fake.set_permission(REPO, "wendy", "write")
    pr = fake.open_pull_request(REPO, "feature")
    fake.add_review(REPO, pr.number, "wendy")
    fake.add_check_run(REPO, sha, "greenlight", app="greenlight-test")
    return pr.number, sha


@pytest.mark.parametrize("text", [CONFIG, "mode: deployment\njobs: 3\n"])
async def test_the_cached_commit_gives_the_decision_the_api_gives(
    context: Context, fake_github: FakeGitHub, tmp_path: Path, text: str
) -> None:
    number, sha = open_pull_request(fake_github, text)
    await built(context, fake_github, sha)
    cache = GitCache(tmp_path / "cache")
    assert await cache.read_file(clone_url(fake_github), sha, "a.txt") == b"a\n"  # fetched

    through_api = await snapshot_of(context, fake_github, number, None)
    asked = fake_github.request_counts[CONTENTS]
    from_git = await snapshot_of(context, fake_github, number, cache)

    assert through_api is not None
    assert from_git is not None
    assert from_git.config == through_api.config
    assert from_git.facts == through_api.facts
    assert decide_merge(from_git.facts) == decide_merge(through_api.facts)
    # Only the default branch's freeze windows were asked for this time.
    assert fake_github.request_counts[CONTENTS] == asked + 1


async def test_a_broken_config_read_from_git_still_blocks(
    context: Context, fake_github: FakeGitHub, tmp_path: Path
) -> None:
    number, sha = open_pull_request(fake_github, "mode: deployment\njobs: 3\n")
    await built(context, fake_github, sha)
    cache = GitCache(tmp_path / "cache")
    await cache.read_file(clone_url(fake_github), sha, "a.txt")
    snapshot = await snapshot_of(context, fake_github, number, cache)
    assert snapshot is not None
    assert snapshot.config is None
    decision = decide_merge(snapshot.facts)
    assert isinstance(decision, Block)
    assert "auto_off" in [reason.code for reason in decision.reasons]


async def test_a_commit_not_in_the_cache_is_read_through_the_api(
    context: Context, fake_github: FakeGitHub, tmp_path: Path
) -> None:
    number, sha = open_pull_request(fake_github, CONFIG)
    await built(context, fake_github, sha)
    cache = GitCache(tmp_path / "cache")  # never fetched
    snapshot = await snapshot_of(context, fake_github, number, cache)
    assert snapshot is not None
    assert snapshot.config is not None
    assert snapshot.facts.config.approvals == 1
    assert fake_github.request_counts[CONTENTS] == 2  # the head's config and the windows
    assert cache.command_counts["fetch"] == 0  # never fetched for it: that takes a token


async def test_a_head_without_a_run_is_read_through_the_api(
    context: Context, fake_github: FakeGitHub, tmp_path: Path
) -> None:
    number, sha = open_pull_request(fake_github, CONFIG)
    cache = GitCache(tmp_path / "cache")
    await cache.read_file(clone_url(fake_github), sha, "a.txt")
    snapshot = await snapshot_of(context, fake_github, number, cache)
    assert snapshot is not None
    assert snapshot.facts.config.approvals == 1
    assert fake_github.request_counts[CONTENTS] == 2


async def test_reading_a_cached_file_never_fetches(fake_github: FakeGitHub, tmp_path: Path) -> None:
    fake_github.create_repo(REPO, config(CONFIG))
    sha = fake_github.commit(REPO, "feature", {"a.txt": "a\n"})
    cache = GitCache(tmp_path / "cache")
    with pytest.raises(NotCached):
        await cache.read_cached_file(clone_url(fake_github), sha, "a.txt")
    assert cache.command_counts["fetch"] == 0
    await cache.read_file(clone_url(fake_github), sha, "a.txt")
    assert cache.command_counts["fetch"] > 0  # the count does see fetches
    assert await cache.read_cached_file(clone_url(fake_github), sha, "a.txt") == b"a\n"
    assert await cache.read_cached_file(clone_url(fake_github), sha, "gone.txt") is None


async def test_an_evaluation_held_by_its_reviews_spares_the_check_reads(
    context: Context, fake_github: FakeGitHub
) -> None:
    """No approval yet: the evaluation waits without reading checks, rules or freezes;
    `/status` (the snapshot) still reads them and lists every reason."""
    fake = fake_github
    fake.create_repo(REPO, config(AUTO))
    sha = fake.commit(REPO, "feature", {"a.txt": "a\n"})
    pr = fake.open_pull_request(REPO, "feature")
    fake.add_check_run(REPO, sha, "lint", status="completed", conclusion="failure")
    installation = client_for(context, fake).installation_id
    evaluator = Evaluator(context, PermissionCache(), bot_login, Timekeeper(context.store, "t"))
    check_runs = ("GET", "/repos/{owner}/{repo}/commits/{ref}/check-runs")

    decision = await evaluator.evaluate(installation, REPO, pr.number)

    assert isinstance(decision, Wait)
    assert [reason.code for reason in decision.reasons] == ["approvals"]
    assert fake.request_counts[check_runs] == 0
    assert fake.request_counts[CONTENTS] == 1  # the config at the head; no freeze windows
    _, full = await evaluator.snapshot(client_for(context, fake), REPO, pr.number)
    assert isinstance(full, Block)
    codes = [reason.code for reason in full.reasons]
    assert codes == ["check_failed:lint", "approvals", "check_missing:greenlight"]
    assert fake.request_counts[check_runs] == 1


async def test_an_approved_evaluation_reads_the_checks(
    context: Context, fake_github: FakeGitHub
) -> None:
    number, _ = open_pull_request(fake_github, AUTO)
    installation = client_for(context, fake_github).installation_id
    evaluator = Evaluator(context, PermissionCache(), bot_login, Timekeeper(context.store, "t"))
    decision = await evaluator.evaluate(installation, REPO, number)
    assert isinstance(decision, MergeNow)
    assert fake_github.pull(REPO, number).merged


async def bot_login() -> str:
    return "greenlight[bot]"
