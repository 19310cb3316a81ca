"""Facts for the merge decision, read from the fake GitHub as GitHub would answer."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.context import Context
from bot.core.config import MergeMethod
from bot.core.merge import Block, CheckFact, decide_merge
from bot.merging.access import PermissionCache
from bot.merging.facts import PullRequest, Snapshot, fingerprint, gather
from tests.fakes.github import FakeGitHub
from tests.merging.conftest import client_for
from tests.merging.flows import REPO, config

CONFIG = "merge: {approvals: 1, method: squash}\njobs:\n  t:\n    run: echo\n"


async def snapshot_of(
    context: Context, fake: FakeGitHub, permissions: PermissionCache, number: int
) -> Snapshot | None:
    client = client_for(context, fake)
    data = await client.pull_request(REPO, number)
    pull = PullRequest.from_github(REPO, data)
    return await gather(client, context.store, permissions, pull, data, now=context.clock())


async def test_facts_gather_reviews_checks_statuses_and_rules(
    context: Context, fake_github: FakeGitHub, permissions: PermissionCache
) -> None:
    fake = fake_github
    fake.create_repo(REPO, config(CONFIG))
    fake.set_required_checks(REPO, "main", ["greenlight"])
    fake.set_ruleset_checks(REPO, "main", ["security-scan"])
    fake.commit(REPO, "feature", {"a.txt": "a\n"})
    pr = fake.open_pull_request(REPO, "feature")
    fake.add_label(REPO, pr.number, "wip")
    fake.set_permission(REPO, "wendy", "write")
    fake.add_review(REPO, pr.number, "wendy")
    fake.add_review(REPO, pr.number, "rita")  # read access
    fake.add_review(REPO, pr.number, "carl", state="COMMENTED")
    fake.add_check_run(REPO, pr.head_sha, "lint", status="in_progress", conclusion=None)
    fake.add_status(REPO, pr.head_sha, "ci/legacy", "failure")
    await context.store.pull_requests.update(
        REPO, pr.number, held_by="octo", merge_requested_by="wendy", merge_method="rebase"
    )

    snapshot = await snapshot_of(context, fake, permissions, pr.number)

    assert snapshot is not None
    facts = snapshot.facts
    assert (facts.state, facts.head_sha, facts.base_ref) == ("open", pr.head_sha, "main")
    assert facts.labels == ("wip",)
    assert {(r.reviewer, r.reviewer_can_write) for r in facts.reviews} == {
        ("wendy", True),
        ("rita", False),
    }
    assert CheckFact("lint", "other-ci", "in_progress", None) in facts.checks
    assert CheckFact.from_status("ci/legacy", "failure") in facts.checks
    assert facts.required_checks == ("greenlight", "security-scan")
    assert (facts.held_by, facts.merge_requested_by) == ("octo", "wendy")
    assert facts.requested_method is MergeMethod.REBASE
    assert facts.config.method is MergeMethod.SQUASH
    assert facts.own_check_names == ("greenlight",)
    assert not facts.is_fork
    assert facts.head_trusted


async def test_no_config_means_no_snapshot(
    context: Context, fake_github: FakeGitHub, permissions: PermissionCache
) -> None:
    fake_github.create_repo(REPO, {"README.md": "hi\n"})
    fake_github.commit(REPO, "feature", {"a.txt": "a\n"})
    pr = fake_github.open_pull_request(REPO, "feature")
    assert await snapshot_of(context, fake_github, permissions, pr.number) is None


async def test_an_invalid_config_never_merges_by_itself(
    context: Context, fake_github: FakeGitHub, permissions: PermissionCache
) -> None:
    fake_github.create_repo(REPO, config("mode: deployment\njobs: 3\n"))
    fake_github.commit(REPO, "feature", {"a.txt": "a\n"})
    pr = fake_github.open_pull_request(REPO, "feature")
    snapshot = await snapshot_of(context, fake_github, permissions, pr.number)
    assert snapshot is not None
    assert snapshot.config is None
    assert not snapshot.facts.config.auto
    decision = decide_merge(snapshot.facts)
    assert isinstance(decision, Block)
    assert "auto_off" in [reason.code for reason in decision.reasons]


async def test_a_fork_is_a_fork(
    context: Context, fake_github: FakeGitHub, permissions: PermissionCache
) -> None:
    fake = fake_github
    fake.create_repo(REPO, config(CONFIG))
    fork = fake.fork(REPO, "stranger")
    fake.commit(fork.full_name, "patch", {"a.txt": "a\n"}, author="stranger")
    pr = fake.open_pull_request(REPO, "patch", head_repo=fork.full_name, user="stranger")
    snapshot = await snapshot_of(context, fake, permissions, pr.number)
    assert snapshot is not None
    assert snapshot.facts.is_fork
    assert snapshot.pull.is_fork


@pytest.mark.parametrize(
    ("change", "same"),
    [
        ({"mergeable_state": "behind"}, True),
        ({"mergeable": None}, True),
        ({"labels": ("wip",)}, False),
        ({"head_sha": "f" * 40}, False),
        ({"held_by": "octo"}, False),
        ({"checks": (CheckFact("lint", "other-ci", "completed", "success"),)}, False),
    ],
)
async def test_a_refusal_is_retried_only_when_the_facts_change(
    context: Context,
    fake_github: FakeGitHub,
    permissions: PermissionCache,
    change: dict[str, object],
    same: bool,
) -> None:
    fake_github.create_repo(REPO, config(CONFIG))
    fake_github.commit(REPO, "feature", {"a.txt": "a\n"})
    pr = fake_github.open_pull_request(REPO, "feature")
    snapshot = await snapshot_of(context, fake_github, permissions, pr.number)
    assert snapshot is not None
    before = fingerprint(snapshot.facts)
    after = fingerprint(replace(snapshot.facts, **change))  # type: ignore[arg-type]
    assert (before == after) is same
    assert before.startswith(pr.head_sha)
