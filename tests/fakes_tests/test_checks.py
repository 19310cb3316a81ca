"""Check runs, suites and statuses: state, listing and the webhooks they cause."""

from __future__ import annotations

import json

from gidgethub.aiohttp import GitHubAPI

from tests.fakes.github import FakeGitHub
from tests.fakes.plugin import WebhookReceiver

R = {"owner": "octo", "repo": "hello"}
ANNOTATION = {
    "path": "a.py",
    "start_line": 1,
    "end_line": 1,
    "annotation_level": "failure",
    "message": "boom",
}


async def test_check_run_lifecycle_is_recorded_and_announced(
    fake_github: FakeGitHub, gh: GitHubAPI, repo: str, token: str, webhook_receiver: WebhookReceiver
) -> None:
    sha = fake_github.repo(repo).git.branch_sha("main")
    fake_github.configure_webhooks(webhook_receiver.url, "s3cret")
    created = await gh.post(
        "/repos/{owner}/{repo}/check-runs",
        R,
        data={"name": "greenlight", "head_sha": sha, "status": "queued"},
        oauth_token=token,
    )
    url = "/repos/{owner}/{repo}/check-runs/{check_run_id}"
    ids = {**R, "check_run_id": created["id"]}
    await gh.patch(
        url,
        ids,
        data={
            "status": "in_progress",
            "output": {"title": "t", "summary": "s", "annotations": [ANNOTATION] * 50},
        },
        oauth_token=token,
    )
    done = await gh.patch(
        url,
        ids,
        data={
            "conclusion": "failure",
            "output": {"title": "1 failed", "summary": "**boom**", "annotations": [ANNOTATION] * 3},
            "actions": [
                {
                    "label": "Re-run failed",
                    "description": "Run the failed jobs again",
                    "identifier": "rerun-failed",
                }
            ],
        },
        oauth_token=token,
    )
    assert (done["status"], done["conclusion"], done["output"]["annotations_count"]) == (
        "completed",
        "failure",
        53,
    )
    [run] = fake_github.check_runs(repo, head_sha=sha)
    assert run.app_id == fake_github.app_id
    assert run.output["title"] == "1 failed"
    assert len(run.annotations) == 53
    assert run.actions[0]["identifier"] == "rerun-failed"
    await webhook_receiver.wait_for(3)
    assert webhook_receiver.events() == [
        "check_run.created",
        "check_run.completed",
        "check_suite.completed",
    ]
    completed = json.loads(webhook_receiver.received[1].body)
    assert completed["check_run"]["app"]["id"] == fake_github.app_id
    installation = fake_github.world.installation_for(repo, fake_github.app_id)
    assert installation is not None
    assert completed["installation"]["id"] == installation.id


async def test_listing_shows_latest_runs_of_every_app(
    fake_github: FakeGitHub, gh: GitHubAPI, repo: str, token: str
) -> None:
    sha = fake_github.repo(repo).git.branch_sha("main")
    assert sha is not None
    fake_github.add_check_run(repo, sha, "lint", conclusion="failure")
    fake_github.add_check_run(repo, sha, "lint", conclusion="success")
    await gh.post(
        "/repos/{owner}/{repo}/check-runs",
        R,
        data={"name": "test", "head_sha": sha},
        oauth_token=token,
    )
    url = "/repos/{owner}/{repo}/commits/{ref}/check-runs"
    runs = [
        r
        async for r in gh.getiter(
            url, {**R, "ref": "main"}, iterable_key="check_runs", oauth_token=token
        )
    ]
    assert sorted((r["name"], r["conclusion"]) for r in runs) == [
        ("lint", "success"),
        ("test", None),
    ]
    everything = await gh.getitem(url + "?filter=all", {**R, "ref": sha}, oauth_token=token)
    assert everything["total_count"] == 3
    suites = await gh.getitem(
        "/repos/{owner}/{repo}/commits/{ref}/check-suites", {**R, "ref": sha}, oauth_token=token
    )
    assert sorted(s["app"]["slug"] for s in suites["check_suites"]) == ["greenlight", "other-ci"]


async def test_other_apps_check_runs_emit_webhooks(
    fake_github: FakeGitHub, repo: str, webhook_receiver: WebhookReceiver
) -> None:
    sha = fake_github.repo(repo).git.branch_sha("main")
    assert sha is not None
    fake_github.configure_webhooks(webhook_receiver.url, "s3cret")
    fake_github.add_check_run(repo, sha, "external", conclusion="success", app="circle")
    await fake_github.settle()
    assert webhook_receiver.events() == [
        "check_run.created",
        "check_run.completed",
        "check_suite.completed",
    ]
    assert json.loads(webhook_receiver.received[1].body)["check_run"]["app"]["slug"] == "circle"


async def test_statuses_combine_per_context(
    fake_github: FakeGitHub, gh: GitHubAPI, repo: str, token: str
) -> None:
    sha = fake_github.repo(repo).git.branch_sha("main")
    assert sha is not None
    fake_github.add_status(repo, sha, "ci/legacy", "failure")
    await gh.post(
        "/repos/{owner}/{repo}/statuses/{sha}",
        {**R, "sha": sha},
        data={"state": "pending", "context": "greenlight"},
        oauth_token=token,
    )
    fake_github.add_status(repo, sha, "ci/legacy", "success")
    combined = await gh.getitem(
        "/repos/{owner}/{repo}/commits/{ref}/status", {**R, "ref": sha}, oauth_token=token
    )
    assert combined["state"] == "pending"
    assert {s["context"]: s["state"] for s in combined["statuses"]} == {
        "ci/legacy": "success",
        "greenlight": "pending",
    }
    assert [s.context for s in fake_github.statuses(repo, sha)] == [
        "ci/legacy",
        "greenlight",
        "ci/legacy",
    ]
