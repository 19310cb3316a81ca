"""Auto-merge as a maintainer sees it: green pull requests merge themselves, once, safely."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.core.merge_messages import MERGE_REFUSED_MARKER, MERGED_MARKER, STATUS_MARKER
from bot.github.client import InstallationClient
from tests.e2e.conftest import Greenlight
from tests.helpers import wait_until
from tests.merging.flows import (
    REPO,
    bot_comments,
    comment,
    merge_attempts,
    open_pull_request,
    wait_bot_comment,
    wait_merged,
)

AUTO = """
    merge: {auto: true}
    jobs:
      test:
        run: echo ok
"""


def gated_job(tmp_path: Path, merge: str = "{}") -> tuple[str, Path]:
    """A config whose job passes once the returned gate file exists."""
    gate = tmp_path / "gate"
    text = f"""
        merge: {merge}
        jobs:
          test:
            run: 'for i in $(seq 600); do [ -e {gate} ] && exit 0; sleep 0.05; done; exit 1'
    """
    return text, gate


def merged_files(greenlight: Greenlight, *paths: str) -> dict[str, bytes | None]:
    return {path: greenlight.fake.read_file(REPO, "main", path) for path in paths}


async def test_merge_requested_before_the_build_finished(greenlight: Greenlight) -> None:
    fake = greenlight.fake
    text, gate = gated_job(greenlight.tmp_path)
    pr = await open_pull_request(greenlight, text, files={"a.txt": "a\n"})
    note = await comment(greenlight, pr.number, "octo", "/merge squash")
    assert [r.content for r in fake.reactions(note.id)] == ["eyes", "+1"]
    assert not fake.pull(REPO, pr.number).merged
    assert merge_attempts(fake) == 0

    gate.touch()
    await wait_merged(greenlight, pr.number)

    merged = fake.pull(REPO, pr.number)
    main = fake.repo(REPO).git
    info = main.commit_info(merged.merge_commit_sha or "")
    assert len(info.parents) == 1  # a squash merge
    assert info.message.startswith(f"Change things (#{pr.number})")
    assert merged_files(greenlight, "a.txt") == {"a.txt": b"a\n"}
    assert merge_attempts(fake) == 1
    body = (await wait_bot_comment(greenlight, pr.number, MERGED_MARKER)).body
    assert "as a squash merge of" in body
    assert pr.head_sha[:7] in body
    assert "Checks passed: **test**, **greenlight**" in body
    assert "Next: nothing is deployed (integration mode)." in body


async def test_an_approval_arriving_last_merges(greenlight: Greenlight) -> None:
    fake = greenlight.fake
    pr = await open_pull_request(
        greenlight,
        "merge: {auto: true, approvals: 1, method: rebase}\njobs:\n  t:\n    run: echo\n",
    )
    await greenlight.run_for(REPO, pr.head_sha)
    reader = fake.add_review(REPO, pr.number, "rita")  # read access: does not count
    await fake.send("pull_request_review", fake.review_event("submitted", reader.id))
    await greenlight.settle()
    assert not fake.pull(REPO, pr.number).merged

    fake.set_permission(REPO, "wendy", "write")
    review = fake.add_review(REPO, pr.number, "wendy")
    await fake.send("pull_request_review", fake.review_event("submitted", review.id))
    await wait_merged(greenlight, pr.number)

    body = (await wait_bot_comment(greenlight, pr.number, MERGED_MARKER)).body
    assert "as a rebase merge" in body
    assert "Approved by: `@wendy`" in body
    assert "rita" not in body
    assert merge_attempts(fake) == 1


async def test_a_push_during_evaluation_is_never_merged(
    greenlight: Greenlight, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = greenlight.fake
    original = InstallationClient.merge
    pushed: list[str] = []

    async def push_first(self: InstallationClient, *args: Any, **kwargs: Any) -> Any:
        # Someone pushes between Greenlight's read of the facts and its merge request.
        if not pushed:
            pushed.append(fake.commit(REPO, "feature", {"late.txt": "untested\n"}))
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(InstallationClient, "merge", push_first)
    pr = await open_pull_request(greenlight, AUTO)
    first = pr.head_sha

    refused = await wait_bot_comment(greenlight, pr.number, MERGE_REFUSED_MARKER)
    assert "Head branch was modified" in refused.body
    assert not fake.pull(REPO, pr.number).merged
    assert merged_files(greenlight, "late.txt") == {"late.txt": None}

    (late,) = pushed
    synchronize = fake.pull_request_event("synchronize", REPO, pr.number, before=first, after=late)
    await fake.send("pull_request", synchronize)
    await wait_merged(greenlight, pr.number)
    assert greenlight.checks(REPO, late)["greenlight"].conclusion == "success"
    assert merged_files(greenlight, "late.txt") == {"late.txt": b"untested\n"}
    assert merge_attempts(fake) == 2


async def test_a_failing_required_check_of_another_app_blocks(greenlight: Greenlight) -> None:
    fake = greenlight.fake
    fake.create_repo(REPO, {"README.md": "hi\n"})
    fake.set_ruleset_checks(REPO, "main", ["security-scan"])
    fake.repo(REPO).git.commit(
        "main",
        {".github/greenlight.yml": AUTO.replace("\n    ", "\n").strip() + "\n"},
        "Add config",
        fake.identity(fake.user("octo")),
    )
    fake.commit(REPO, "feature", {"a.txt": "a\n"})
    pr = fake.open_pull_request(REPO, "feature")
    await fake.send("pull_request", fake.pull_request_event("opened", REPO, pr.number))
    await greenlight.run_for(REPO, pr.head_sha)
    await greenlight.settle()
    assert not fake.pull(REPO, pr.number).merged  # the required check has not reported

    fake.add_check_run(REPO, pr.head_sha, "security-scan", conclusion="failure")
    await greenlight.settle()
    await comment(greenlight, pr.number, "octo", "/status")
    status = next(c for c in bot_comments(fake, pr.number) if STATUS_MARKER in c.body)
    assert 'check "security-scan" (other-ci) failed: failure' in status.body
    assert not fake.pull(REPO, pr.number).merged
    assert merge_attempts(fake) == 0

    fake.add_check_run(REPO, pr.head_sha, "security-scan", conclusion="success")
    await wait_merged(greenlight, pr.number)


async def test_a_refused_merge_is_reported_once(greenlight: Greenlight) -> None:
    fake = greenlight.fake
    pr = await open_pull_request(greenlight, AUTO)
    fake.set_required_checks(REPO, "main", ["greenlight"], strict=True)
    fake.commit(REPO, "main", {"other.txt": "moved on\n"})  # the PR is now behind
    await greenlight.run_for(REPO, pr.head_sha)
    refused = await wait_bot_comment(greenlight, pr.number, MERGE_REFUSED_MARKER)
    assert "not up to date" in refused.body

    # Triggers that change none of the facts: no new attempt, no new comment.
    await fake.send("pull_request", fake.pull_request_event("edited", REPO, pr.number))
    chat = fake.add_review(REPO, pr.number, "octo", state="COMMENTED", body="nice")
    await fake.send("pull_request_review", fake.review_event("submitted", chat.id))
    await comment(greenlight, pr.number, "octo", "/status")
    assert merge_attempts(fake) == 1

    await comment(greenlight, pr.number, "octo", "/merge")  # asks for one more try
    assert merge_attempts(fake) == 2
    refusals = [c for c in bot_comments(fake, pr.number) if MERGE_REFUSED_MARKER in c.body]
    assert [c.id for c in refusals] == [refused.id]  # edited in place, not posted again
    assert not fake.pull(REPO, pr.number).merged


async def test_a_conflict_waits_without_merge_attempts(greenlight: Greenlight) -> None:
    fake = greenlight.fake
    pr = await open_pull_request(greenlight, AUTO, files={"README.md": "mine\n"})
    fake.commit(REPO, "main", {"README.md": "theirs\n"})
    await greenlight.run_for(REPO, pr.head_sha)
    await comment(greenlight, pr.number, "octo", "/status")
    (status,) = bot_comments(fake, pr.number)
    assert "merge conflicts with main" in status.body
    assert merge_attempts(fake) == 0


async def test_hold_then_unhold(greenlight: Greenlight) -> None:
    fake = greenlight.fake
    text, gate = gated_job(greenlight.tmp_path, merge="{auto: true}")
    pr = await open_pull_request(greenlight, text)
    await comment(greenlight, pr.number, "octo", "/hold waiting for the release")
    gate.touch()
    await greenlight.run_for(REPO, pr.head_sha)
    await greenlight.settle()
    assert not fake.pull(REPO, pr.number).merged
    await comment(greenlight, pr.number, "octo", "/status")
    (status,) = bot_comments(fake, pr.number)
    assert "held by `@octo`" in status.body

    stranger = await comment(greenlight, pr.number, "mallory", "/unhold")
    assert "refused" in bot_comments(fake, pr.number)[-1].body
    assert [r.content for r in fake.reactions(stranger.id)] == ["eyes"]
    await comment(greenlight, pr.number, "octo", "/unhold")
    await wait_merged(greenlight, pr.number)


async def test_merge_cancel_withdraws_the_request(greenlight: Greenlight) -> None:
    fake = greenlight.fake
    text, gate = gated_job(greenlight.tmp_path)
    pr = await open_pull_request(greenlight, text)
    await comment(greenlight, pr.number, "octo", "/merge")
    await comment(greenlight, pr.number, "octo", "/merge cancel")
    gate.touch()
    await greenlight.run_for(REPO, pr.head_sha)
    await greenlight.settle()
    assert not fake.pull(REPO, pr.number).merged
    assert merge_attempts(fake) == 0


async def test_an_out_of_date_branch_is_updated_then_merged(greenlight: Greenlight) -> None:
    fake = greenlight.fake
    config = """
        merge: {auto: true, update_branch: true, delete_branch: true}
        jobs:
          t:
            run: echo
    """
    pr = await open_pull_request(greenlight, config)
    first = pr.head_sha
    fake.set_required_checks(REPO, "main", ["greenlight"], strict=True)
    fake.commit(REPO, "main", {"other.txt": "moved on\n"})
    await wait_merged(greenlight, pr.number)
    merged = fake.pull(REPO, pr.number)
    assert merged.head_sha != first  # merged after the update, built again
    assert greenlight.checks(REPO, merged.head_sha)["greenlight"].conclusion == "success"
    assert (
        fake.request_counts[("PUT", "/repos/{owner}/{repo}/pulls/{pull_number}/update-branch")] == 1
    )

    async def branch_deleted() -> bool:
        await greenlight.settle()
        return fake.repo(REPO).git.branch_sha("feature") is None

    await wait_until(branch_deleted, message="the merged branch to be deleted")


async def test_a_fork_waits_for_ok_to_test_on_each_head(greenlight: Greenlight) -> None:
    fake = greenlight.fake
    fake.create_repo(REPO, {".github/greenlight.yml": "jobs:\n  test:\n    run: echo fork\n"})
    fork = fake.fork(REPO, "stranger")
    fake.commit(fork.full_name, "patch", {"a.txt": "from a fork\n"}, author="stranger")
    pr = fake.open_pull_request(REPO, "patch", head_repo=fork.full_name, user="stranger")
    await fake.send("pull_request", fake.pull_request_event("opened", REPO, pr.number))
    await greenlight.settle()
    run = await greenlight.store.runs.for_sha(REPO, pr.head_sha)
    assert run is not None
    assert not run.trusted
    assert set(greenlight.checks(REPO, pr.head_sha)) == {"greenlight"}

    await comment(greenlight, pr.number, "stranger", "/ok-to-test")
    assert "refused" in bot_comments(fake, pr.number)[-1].body
    await comment(greenlight, pr.number, "octo", "/ok-to-test")
    run = await greenlight.run_for(REPO, pr.head_sha)
    assert run.conclusion == "success"
    assert greenlight.checks(REPO, pr.head_sha)["test"].conclusion == "success"

    second = await fake.push(
        fork.full_name, "patch", {"a.txt": "changed again\n"}, author="stranger"
    )
    await greenlight.settle()

    async def held_again() -> bool:
        again = await greenlight.store.runs.for_sha(REPO, second)
        return again is not None and not again.trusted

    await wait_until(held_again, message="the new head to wait for approval")
    assert "test" not in greenlight.checks(REPO, second)
