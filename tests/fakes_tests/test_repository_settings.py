"""Comments, reactions, permissions, branch protection, rulesets and deployments."""

from __future__ import annotations

import gidgethub
import pytest
from gidgethub.aiohttp import GitHubAPI

from tests.fakes.github import FakeGitHub
from tests.fakes.plugin import WebhookReceiver

R = {"owner": "octo", "repo": "hello"}


async def test_comments_reactions_and_edits(
    fake_github: FakeGitHub, gh: GitHubAPI, repo: str, token: str, webhook_receiver: WebhookReceiver
) -> None:
    fake_github.commit(repo, "feature", {"a.txt": "a\n"})
    pr = fake_github.open_pull_request(repo, "feature")
    command = fake_github.issue_comment_event(repo, pr.number, "alice", "/retest")
    fake_github.configure_webhooks(webhook_receiver.url, "s3cret")
    comment_id = command["comment"]["id"]
    reaction_url = "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions"
    eyes = await gh.post(
        reaction_url, {**R, "comment_id": comment_id}, data={"content": "eyes"}, oauth_token=token
    )
    again = await gh.post(
        reaction_url, {**R, "comment_id": comment_id}, data={"content": "eyes"}, oauth_token=token
    )
    assert eyes["id"] == again["id"]
    assert [r.content for r in fake_github.reactions(comment_id)] == ["eyes"]
    reply = await gh.post(
        "/repos/{owner}/{repo}/issues/{issue_number}/comments",
        {**R, "issue_number": pr.number},
        data={"body": "<!-- status -->\nok"},
        oauth_token=token,
    )
    assert reply["user"]["login"] == "greenlight[bot]"
    assert reply["performed_via_github_app"]["id"] == fake_github.app_id
    await gh.patch(
        "/repos/{owner}/{repo}/issues/comments/{comment_id}",
        {**R, "comment_id": reply["id"]},
        data={"body": "<!-- status -->\nbetter"},
        oauth_token=token,
    )
    listed = [
        c
        async for c in gh.getiter(
            "/repos/{owner}/{repo}/issues/{issue_number}/comments",
            {**R, "issue_number": pr.number},
            oauth_token=token,
        )
    ]
    assert [c["body"] for c in listed] == ["/retest", "<!-- status -->\nbetter"]
    await fake_github.settle()
    assert webhook_receiver.events() == ["issue_comment.created", "issue_comment.edited"]


async def test_long_comment_is_refused(
    fake_github: FakeGitHub, gh: GitHubAPI, repo: str, token: str
) -> None:
    fake_github.commit(repo, "feature", {"a.txt": "a\n"})
    pr = fake_github.open_pull_request(repo, "feature")
    with pytest.raises(gidgethub.BadRequest) as raised:
        await gh.post(
            "/repos/{owner}/{repo}/issues/{issue_number}/comments",
            {**R, "issue_number": pr.number},
            data={"body": "x" * 65537},
            oauth_token=token,
        )
    assert raised.value.status_code == 422
    assert [v.kind for v in fake_github.take_violations()] == ["request"]


@pytest.mark.parametrize(
    ("role", "permission"),
    [
        ("admin", "admin"),
        ("maintain", "write"),
        ("write", "write"),
        ("triage", "read"),
        ("read", "read"),
    ],
)
async def test_collaborator_permission(
    fake_github: FakeGitHub, gh: GitHubAPI, repo: str, token: str, role: str, permission: str
) -> None:
    fake_github.set_permission(repo, "bob", role)
    url = "/repos/{owner}/{repo}/collaborators/{username}/permission"
    data = await gh.getitem(url, {**R, "username": "bob"}, oauth_token=token)
    assert (data["permission"], data["role_name"]) == (permission, role)
    owner = await gh.getitem(url, {**R, "username": "octo"}, oauth_token=token)
    assert owner["permission"] == "admin"


async def test_protection_and_rulesets(
    fake_github: FakeGitHub, gh: GitHubAPI, repo: str, token: str
) -> None:
    protection = "/repos/{owner}/{repo}/branches/{branch}/protection/required_status_checks"
    with pytest.raises(gidgethub.BadRequest) as raised:
        await gh.getitem(protection, {**R, "branch": "main"}, oauth_token=token)
    assert raised.value.status_code == 404
    fake_github.set_required_checks(repo, "main", ["greenlight"], strict=True)
    fake_github.set_ruleset_checks(repo, "main", ["security"])
    checks = await gh.getitem(protection, {**R, "branch": "main"}, oauth_token=token)
    assert (checks["contexts"], checks["strict"]) == (["greenlight"], True)
    rules = await gh.getitem(
        "/repos/{owner}/{repo}/rules/branches/{branch}", {**R, "branch": "main"}, oauth_token=token
    )
    assert rules[0]["parameters"]["required_status_checks"] == [{"context": "security"}]


async def test_deployments_and_inactive_older_ones(
    fake_github: FakeGitHub, gh: GitHubAPI, repo: str, token: str
) -> None:
    first = fake_github.repo(repo).git.branch_sha("main")
    second = fake_github.commit(repo, "main", {"v.txt": "2\n"})
    ids = []
    for sha in (first, second):
        deployment = await gh.post(
            "/repos/{owner}/{repo}/deployments",
            R,
            data={
                "ref": sha,
                "environment": "staging",
                "required_contexts": [],
                "auto_merge": False,
            },
            oauth_token=token,
        )
        url = "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses"
        await gh.post(
            url,
            {**R, "deployment_id": deployment["id"]},
            data={"state": "in_progress"},
            oauth_token=token,
        )
        await gh.post(
            url,
            {**R, "deployment_id": deployment["id"]},
            data={
                "state": "success",
                "environment_url": "https://staging.example.com",
                "log_url": "https://ci/log",
            },
            oauth_token=token,
        )
        ids.append(deployment["id"])
    assert [s.state for s in fake_github.deployment_statuses(ids[0])] == [
        "in_progress",
        "success",
        "inactive",
    ]
    assert [s.state for s in fake_github.deployment_statuses(ids[1])] == ["in_progress", "success"]
    listed = await gh.getitem(
        "/repos/{owner}/{repo}/deployments?environment=staging", R, oauth_token=token
    )
    assert [d["id"] for d in listed] == ids[::-1]


async def test_deployment_waits_for_required_contexts(
    fake_github: FakeGitHub, gh: GitHubAPI, repo: str, token: str
) -> None:
    sha = fake_github.repo(repo).git.branch_sha("main")
    assert sha is not None
    fake_github.add_check_run(repo, sha, "lint", conclusion="failure")
    with pytest.raises(gidgethub.BadRequest) as raised:
        await gh.post("/repos/{owner}/{repo}/deployments", R, data={"ref": sha}, oauth_token=token)
    assert raised.value.status_code == 409
    await gh.post(
        "/repos/{owner}/{repo}/deployments",
        R,
        data={"ref": sha, "required_contexts": []},
        oauth_token=token,
    )
    assert len(fake_github.deployments(repo)) == 1


async def test_deploying_a_branch_behind_the_default_merges_it_first(
    fake_github: FakeGitHub, gh: GitHubAPI, repo: str, token: str
) -> None:
    topic = fake_github.commit(repo, "topic", {"t.txt": "t\n"})
    fake_github.commit(repo, "main", {"m.txt": "m\n"})
    answer = await gh.post(
        "/repos/{owner}/{repo}/deployments", R, data={"ref": "topic"}, oauth_token=token
    )
    assert answer == {"message": "Auto-merged main into topic on deployment."}
    assert fake_github.read_file(repo, "topic", "m.txt") == b"m\n"
    assert fake_github.repo(repo).git.branch_sha("topic") != topic
    assert fake_github.deployments(repo) == []


async def test_lists_paginate_with_link_headers(
    fake_github: FakeGitHub, gh: GitHubAPI, repo: str, token: str
) -> None:
    fake_github.commit(repo, "feature", {"a.txt": "a\n"})
    pr = fake_github.open_pull_request(repo, "feature")
    for n in range(35):
        fake_github.issue_comment_event(repo, pr.number, "alice", f"comment {n}")
    url_vars = {**R, "issue_number": pr.number}
    first_page = await gh.getitem(
        "/repos/{owner}/{repo}/issues/{issue_number}/comments", url_vars, oauth_token=token
    )
    assert len(first_page) == 30
    everything = [
        c
        async for c in gh.getiter(
            "/repos/{owner}/{repo}/issues/{issue_number}/comments", url_vars, oauth_token=token
        )
    ]
    assert [c["body"] for c in everything] == [f"comment {n}" for n in range(35)]


async def test_pull_list_filters_by_state_head_and_base(
    fake_github: FakeGitHub, gh: GitHubAPI, repo: str, token: str
) -> None:
    for branch in ("one", "two"):
        fake_github.commit(repo, branch, {f"{branch}.txt": "x\n"})
        fake_github.open_pull_request(repo, branch, title=branch)
    fake_github.pull(repo, 1).state = "closed"
    open_titles = [
        p["title"] async for p in gh.getiter("/repos/{owner}/{repo}/pulls", R, oauth_token=token)
    ]
    assert open_titles == ["two"]
    by_head = await gh.getitem(
        "/repos/{owner}/{repo}/pulls{?state,head}",
        {**R, "state": "all", "head": "octo:one"},
        oauth_token=token,
    )
    assert [p["number"] for p in by_head] == [1]
    of_commit = await gh.getitem(
        "/repos/{owner}/{repo}/commits/{commit_sha}/pulls",
        {**R, "commit_sha": fake_github.pull(repo, 2).head_sha},
        oauth_token=token,
    )
    assert [p["number"] for p in of_commit] == [2]
