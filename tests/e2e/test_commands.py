"""Slash-commands as people use them: comment on a pull request, see Greenlight answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.merge_messages import STATUS_MARKER
from bot.merging.messages import HELP_MARKER
from bot.store.records import Status
from tests.e2e.conftest import Greenlight
from tests.helpers import wait_until
from tests.merging.flows import (
    REPO,
    bot_comments,
    comment,
    open_pull_request,
    reactions,
    wait_merged,
)


def flaky_job(tmp_path: Path) -> str:
    """A job that fails the first time and passes when run again."""
    marker = tmp_path / "ran-once"
    return f"""
        trust: {{authors: everyone}}
        jobs:
          flaky:
            run: 'if [ -e {marker} ]; then echo second; else touch {marker}; exit 1; fi'
          steady:
            run: echo steady
    """


async def test_retest_by_the_author_reruns_the_failed_job(greenlight: Greenlight) -> None:
    fake = greenlight.fake
    fake.user("alice")
    pr = await open_pull_request(greenlight, flaky_job(greenlight.tmp_path), user="alice")
    run = await greenlight.run_for(REPO, pr.head_sha)
    assert run.conclusion == "failure"

    note = await comment(greenlight, pr.number, "alice", "/retest")

    run = await greenlight.run_for(REPO, pr.head_sha)
    jobs = await greenlight.jobs(run)
    assert (jobs["flaky"].attempt, jobs["flaky"].conclusion) == (2, "success")
    assert jobs["steady"].attempt == 1  # only what failed runs again
    assert run.conclusion == "success"
    assert reactions(fake, note) == ["eyes", "+1"]
    assert bot_comments(fake, pr.number) == []


@pytest.mark.one_executor("command authorization")
async def test_retest_by_a_stranger_is_refused_with_the_permission(greenlight: Greenlight) -> None:
    fake = greenlight.fake
    pr = await open_pull_request(greenlight, flaky_job(greenlight.tmp_path))
    run = await greenlight.run_for(REPO, pr.head_sha)

    note = await comment(greenlight, pr.number, "mallory", "/retest")

    (reply,) = bot_comments(fake, pr.number)
    assert "`/retest [JOB…]` refused" in reply.body
    assert "write access" in reply.body
    assert "`@mallory` has read access" in reply.body
    assert reactions(fake, note) == ["eyes"]
    assert (await greenlight.jobs(run))["flaky"].attempt == 1


async def test_retest_with_nothing_failed_or_by_name(greenlight: Greenlight) -> None:
    fake = greenlight.fake
    pr = await open_pull_request(greenlight, "jobs:\n  ok:\n    run: echo ok\n")
    await greenlight.run_for(REPO, pr.head_sha)
    await comment(greenlight, pr.number, "octo", "/retest")
    await comment(greenlight, pr.number, "octo", "/retest nope")
    first, second = bot_comments(fake, pr.number)
    assert "Nothing failed on" in first.body
    assert "No job called `nope`" in second.body
    assert "`ok`" in second.body

    note = await comment(greenlight, pr.number, "octo", "/retest ok")  # by name: runs again
    run = await greenlight.run_for(REPO, pr.head_sha)
    assert (await greenlight.jobs(run))["ok"].attempt == 2
    assert reactions(fake, note) == ["eyes", "+1"]


async def test_cancel_stops_the_running_jobs(greenlight: Greenlight) -> None:
    pr = await open_pull_request(greenlight, "jobs:\n  slow:\n    run: sleep 60\n")
    await greenlight.settle()

    async def running() -> bool:
        run = await greenlight.store.runs.for_sha(REPO, pr.head_sha)
        jobs = await greenlight.store.runs.jobs(run.id) if run else []
        return any(job.status == Status.IN_PROGRESS for job in jobs)

    await wait_until(running, message="the job to start")
    note = await comment(greenlight, pr.number, "octo", "/cancel")
    run = await greenlight.run_for(REPO, pr.head_sha)
    assert run.conclusion == "cancelled"
    assert greenlight.checks(REPO, pr.head_sha)["slow"].conclusion == "cancelled"
    assert reactions(greenlight.fake, note) == ["eyes", "+1"]


@pytest.mark.one_executor("a reply from the store's state")
async def test_status_is_one_comment_edited_in_place(greenlight: Greenlight) -> None:
    fake = greenlight.fake
    pr = await open_pull_request(greenlight, "jobs:\n  ok:\n    run: echo ok\n")
    await greenlight.run_for(REPO, pr.head_sha)

    await comment(greenlight, pr.number, "mallory", "/status")  # anyone may ask
    (first,) = bot_comments(fake, pr.number)
    assert STATUS_MARKER in first.body
    assert "auto-merge is off" in first.body
    fake.add_label(REPO, pr.number, "wip")
    await comment(greenlight, pr.number, "octo", "/status")

    (status,) = bot_comments(fake, pr.number)
    assert status.id == first.id
    assert 'the label "wip" blocks merging' in status.body


@pytest.mark.one_executor("a reply from the config")
async def test_help_lists_the_commands_and_the_config(greenlight: Greenlight) -> None:
    fake = greenlight.fake
    pr = await open_pull_request(
        greenlight, "mode: deployment\nmerge: {method: squash}\njobs:\n  ok:\n    run: echo\n"
    )
    await comment(greenlight, pr.number, "mallory", "/help")
    await comment(greenlight, pr.number, "mallory", "/help")
    # Edited in place; the build may have ended by now, merged and said so in a comment.
    (help_comment,) = [c for c in bot_comments(fake, pr.number) if HELP_MARKER in c.body]
    assert HELP_MARKER in help_comment.body
    assert "`/retest [JOB…]`" in help_comment.body
    assert "Mode: deployment" in help_comment.body
    assert "Auto-merge: on, method squash" in help_comment.body


@pytest.mark.one_executor("command authorization; nothing deploys")
async def test_deploy_is_permission_checked_then_answered(greenlight: Greenlight) -> None:
    fake = greenlight.fake
    pr = await open_pull_request(greenlight, "jobs:\n  ok:\n    run: echo\n")
    await comment(greenlight, pr.number, "mallory", "/deploy staging")
    await comment(greenlight, pr.number, "octo", "/deploy staging\n/rollback staging")
    refused, answered = bot_comments(fake, pr.number)
    assert "refused" in refused.body
    assert "write access" in refused.body
    assert answered.body.count("Not deployed:") == 2  # no such environment in this config
    assert "configures no `deploy.environments`" in answered.body


@pytest.mark.one_executor("command parsing")
async def test_unknown_commands_and_bad_arguments_get_a_reply(greenlight: Greenlight) -> None:
    fake = greenlight.fake
    pr = await open_pull_request(greenlight, "jobs:\n  ok:\n    run: echo\n")
    note = await comment(
        greenlight, pr.number, "octo", "/retset\n/merge sideways\n/usr/bin is fine"
    )
    (reply,) = bot_comments(fake, pr.number)
    assert "did you mean /retest?" in reply.body
    assert "/merge takes nothing or one of merge, squash, rebase or cancel" in reply.body
    assert "usr" not in reply.body
    assert reactions(fake, note) == ["eyes"]


@pytest.mark.one_executor("command parsing")
@pytest.mark.parametrize(
    ("user", "body", "edited"),
    [
        ("octo", "> /hold\nquoted, not a command", False),
        ("octo", "```\n/hold\n```", False),
        ("octo", "please /hold this", False),
        ("renovate[bot]", "/hold", False),
        ("greenlight[bot]", "/hold", False),
        ("octo", "/hold", True),
    ],
    ids=["quote", "code-block", "mid-line", "other-bot", "itself", "edited"],
)
async def test_never_a_command(greenlight: Greenlight, user: str, body: str, edited: bool) -> None:
    fake = greenlight.fake
    pr = await open_pull_request(greenlight, "jobs:\n  ok:\n    run: echo\n")
    if user.endswith("[bot]"):
        fake.user(user, kind="Bot")
    if edited:
        note = fake.issue_comment_event(REPO, pr.number, user, "thanks")
        await fake.send(
            "issue_comment", fake.issue_comment_edited_event(note["comment"]["id"], body)
        )
    else:
        await fake.send("issue_comment", fake.issue_comment_event(REPO, pr.number, user, body))
    await greenlight.settle()
    state = await greenlight.store.pull_requests.get(REPO, pr.number)
    assert state.held_by is None
    (only,) = fake.comments(REPO, pr.number)  # the comment itself, no answer
    assert fake.reactions(only.id) == []


@pytest.mark.one_executor("no config: no job runs")
async def test_no_config_means_no_answer(greenlight: Greenlight) -> None:
    fake = greenlight.fake
    fake.create_repo(REPO, {"README.md": "hi\n"})
    fake.commit(REPO, "feature", {"a.txt": "a\n"})
    pr = fake.open_pull_request(REPO, "feature")
    note = await comment(greenlight, pr.number, "octo", "/status")
    assert bot_comments(fake, pr.number) == []
    assert reactions(fake, note) == []


async def test_rerun_failed_button_needs_write_access(greenlight: Greenlight) -> None:
    fake = greenlight.fake
    pr = await open_pull_request(greenlight, flaky_job(greenlight.tmp_path))
    run = await greenlight.run_for(REPO, pr.head_sha)
    aggregate = greenlight.checks(REPO, pr.head_sha)["greenlight"]
    assert [a["identifier"] for a in aggregate.actions] == ["rerun-failed"]

    press = fake.check_run_event("requested_action", aggregate.id, "rerun-failed", sender="mallory")
    await fake.send("check_run", press)
    await greenlight.settle()
    summary = fake.world.check_runs[aggregate.id].output["summary"]
    assert summary.startswith("**Re-run failed refused**")
    assert "`@mallory` has read access" in summary
    assert (await greenlight.jobs(run))["flaky"].attempt == 1

    fake.set_permission(REPO, "wendy", "write")
    press = fake.check_run_event("requested_action", aggregate.id, "rerun-failed", sender="wendy")
    await fake.send("check_run", press)
    await greenlight.settle()

    async def rerun_passed() -> bool:
        jobs = await greenlight.jobs(run)
        return jobs["flaky"].attempt == 2 and jobs["flaky"].conclusion == "success"

    await wait_until(rerun_passed, deadline=30, message="the failed job to pass on re-run")


@pytest.mark.one_executor("a refusal's text")
async def test_a_refusal_on_a_full_summary_stays_within_githubs_byte_limit(
    greenlight: Greenlight,
) -> None:
    fake = greenlight.fake
    pr = await open_pull_request(greenlight, flaky_job(greenlight.tmp_path))
    await greenlight.run_for(REPO, pr.head_sha)
    aggregate = greenlight.checks(REPO, pr.head_sha)["greenlight"]
    # As long as GitHub allows, in two-byte characters: the refusal on top has to push
    # some of it out, counted in bytes, or GitHub refuses the update.
    fake.world.check_runs[aggregate.id].output["summary"] = "é" * 32_767

    press = fake.check_run_event("requested_action", aggregate.id, "rerun-failed", sender="mallory")
    await fake.send("check_run", press)
    await greenlight.settle()
    summary = fake.world.check_runs[aggregate.id].output["summary"]
    assert summary.startswith("**Re-run failed refused**")
    assert 65_000 < len(summary.encode()) <= 65_535


async def test_the_merge_button_asks_for_a_merge_like_the_command(greenlight: Greenlight) -> None:
    fake = greenlight.fake
    pr = await open_pull_request(greenlight, "jobs:\n  test:\n    run: echo green\n")
    await greenlight.run_for(REPO, pr.head_sha)
    aggregate = greenlight.checks(REPO, pr.head_sha)["greenlight"]

    def has_buttons() -> bool:
        return bool(fake.world.check_runs[aggregate.id].actions)

    await wait_until(has_buttons, deadline=30, message="the merge button")
    aggregate = greenlight.checks(REPO, pr.head_sha)["greenlight"]
    assert [a["identifier"] for a in aggregate.actions] == ["merge"]  # auto-merge is off
    assert [a["label"] for a in aggregate.actions] == ["Merge when ready"]

    press = fake.check_run_event("requested_action", aggregate.id, "merge", sender="mallory")
    await fake.send("check_run", press)
    await greenlight.settle()
    summary = fake.world.check_runs[aggregate.id].output["summary"]
    assert summary.startswith("**Merge when ready refused**")
    assert not fake.pull(REPO, pr.number).merged

    fake.set_permission(REPO, "wendy", "write")
    press = fake.check_run_event("requested_action", aggregate.id, "merge", sender="wendy")
    await fake.send("check_run", press)
    await wait_merged(greenlight, pr.number)
    summary = fake.world.check_runs[aggregate.id].output["summary"]
    assert summary.startswith("**Merge requested** by `@wendy`")
    assert fake.world.check_runs[aggregate.id].actions == []  # pressed: the button is gone
    state = await greenlight.context.store.pull_requests.get(REPO, pr.number)
    assert state.merge_requested_by == "wendy"


async def test_no_merge_button_when_greenlight_merges_by_itself(greenlight: Greenlight) -> None:
    pr = await open_pull_request(
        greenlight, "merge: {auto: true, approvals: 1}\njobs:\n  test:\n    run: echo green\n"
    )
    fake = greenlight.fake
    await greenlight.run_for(REPO, pr.head_sha)
    evaluator = await greenlight.services.merging.evaluator()
    await wait_until(lambda: evaluator.evaluations >= 1, deadline=30, message="an evaluation")
    assert not fake.pull(REPO, pr.number).merged  # waiting for an approval
    fake.set_permission(REPO, "wendy", "write")
    review = fake.add_review(REPO, pr.number, "wendy")
    await fake.send("pull_request_review", fake.review_event("submitted", review.id))
    await wait_merged(greenlight, pr.number)
    assert greenlight.checks(REPO, pr.head_sha)["greenlight"].actions == []


async def test_merge_group_gets_check_runs_on_the_queue_commit(greenlight: Greenlight) -> None:
    fake = greenlight.fake
    pr = await open_pull_request(greenlight, "jobs:\n  test:\n    run: echo queued\n")
    await greenlight.run_for(REPO, pr.head_sha)
    payload = fake.merge_group_event(REPO, pr.number)
    queue_sha = payload["merge_group"]["head_sha"]
    await fake.send("merge_group", payload)
    run = await greenlight.run_for(REPO, queue_sha)
    assert run.event == "merge_group"
    checks = greenlight.checks(REPO, queue_sha)
    assert {name: check.conclusion for name, check in checks.items()} == {
        "test": "success",
        "greenlight": "success",
    }
