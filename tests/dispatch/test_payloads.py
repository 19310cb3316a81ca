"""Payload fields read once at the edge: GitHub's real example payloads, and null fields."""

from __future__ import annotations

from typing import Any

import pytest

from bot.dispatch.events import WebhookEvent
from bot.dispatch.payloads import (
    Checked,
    Installation,
    InstalledRepository,
    IssueComment,
    MergeGroup,
    PullRequest,
    Push,
    Repository,
    requested_action,
    status_sha,
)
from tests.helpers import fixture_payload


def event(payload: dict[str, Any], name: str = "x") -> WebhookEvent:
    return WebhookEvent(name, payload.get("action"), "d", None, None, payload)


@pytest.mark.parametrize(
    "name", ["pull_request.opened", "pull_request.synchronize", "pull_request_review.submitted"]
)
def test_pull_requests_read_as_github_sends_them(name: str) -> None:
    payload = fixture_payload(name)
    raw = payload["pull_request"]
    pr = PullRequest.of(event(payload))
    assert (pr.number, pr.author, pr.head_sha, pr.head_ref) == (
        raw["number"],
        raw["user"]["login"],
        raw["head"]["sha"],
        raw["head"]["ref"],
    )
    assert (pr.base_sha, pr.base_ref, pr.base_repo.full_name) == (
        raw["base"]["sha"],
        raw["base"]["ref"],
        raw["base"]["repo"]["full_name"],
    )
    assert pr.head_repo.clone_url == raw["head"]["repo"]["clone_url"]
    assert pr.author_association == raw["author_association"]


def test_a_deleted_fork_reads_as_the_base_repository() -> None:
    payload = fixture_payload("pull_request.opened")
    payload["pull_request"]["head"]["repo"] = None
    payload["pull_request"]["user"] = None
    pr = PullRequest.of(event(payload))
    assert pr.head_repo == pr.base_repo
    assert pr.author == ""


def test_repository_and_push() -> None:
    payload = fixture_payload("push")
    repository, push = Repository.of(event(payload)), Push.of(event(payload))
    raw = payload["repository"]
    assert repository == Repository(
        raw["id"], raw["full_name"], raw["clone_url"], raw["default_branch"]
    )
    assert (push.ref, push.before, push.after, push.deleted, push.pusher) == (
        payload["ref"],
        payload["before"],
        payload["after"],
        False,
        payload["pusher"]["name"],
    )
    assert push.head_message == payload["head_commit"]["message"]


@pytest.mark.parametrize(
    ("repository", "default_branch"),
    [
        ({"default_branch": "trunk", "master_branch": "old"}, "trunk"),
        ({"master_branch": "old"}, "old"),
        ({"default_branch": None}, "main"),
        ({}, "main"),
    ],
)
def test_the_default_branch(repository: dict[str, Any], default_branch: str) -> None:
    assert Repository.of(event({"repository": repository})).default_branch == default_branch


def test_a_push_without_a_head_commit_has_no_message() -> None:
    push = Push.of(event({"ref": "refs/heads/x", "deleted": True, "head_commit": None}))
    assert (push.head_message, push.deleted, push.after, push.pusher) == (None, True, "", "")


def test_merge_group() -> None:
    payload = fixture_payload("merge_group.checks_requested")
    raw = payload["merge_group"]
    group = MergeGroup.of(event(payload))
    assert group == MergeGroup(
        raw["head_sha"],
        raw["head_ref"],
        raw["base_sha"],
        raw["base_ref"],
        raw["head_commit"]["message"],
    )


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("check_run.requested_action", "check_run"),
        ("check_run.completed", "check_run"),
        ("check_suite.completed", "check_suite"),
    ],
)
def test_check_runs_and_suites(name: str, key: str) -> None:
    payload = fixture_payload(name)
    raw = payload[key]
    checked = Checked.of(event(payload))
    assert (checked.id, checked.head_sha, checked.app_id, checked.app_slug) == (
        raw["id"],
        raw["head_sha"],
        str(raw["app"]["id"]),
        raw["app"].get("slug") or "",  # some real examples have no slug
    )
    assert checked.external_id == (raw.get("external_id") or "")
    assert checked.output_summary == ((raw.get("output") or {}).get("summary") or "")
    # Ours or another app's: by id, never by the renamable slug; no id yet is never ours.
    assert checked.is_from(str(raw["app"]["id"]))
    assert not checked.is_from(str(raw["app"]["id"]) + "0")
    assert not checked.is_from(None)


def test_the_button_and_the_status() -> None:
    payload = fixture_payload("check_run.requested_action")
    assert requested_action(event(payload)) == payload["requested_action"]["identifier"]
    status = fixture_payload("status")
    assert status_sha(event(status)) == status["sha"]
    assert requested_action(event({})) == status_sha(event({})) == ""


def test_issue_comments() -> None:
    payload = fixture_payload("issue_comment.created")
    comment = IssueComment.of(event(payload))
    assert comment == IssueComment(
        comment_id=payload["comment"]["id"],
        body=payload["comment"]["body"],
        number=payload["issue"]["number"],
        on_pull_request=bool(payload["issue"].get("pull_request")),
        issue_author=payload["issue"]["user"]["login"],
        sender_type=payload["sender"]["type"],
    )
    bare = IssueComment.of(event({"issue": {"number": 3, "pull_request": None}}))
    assert (bare.number, bare.on_pull_request, bare.body, bare.comment_id) == (3, False, "", 0)


@pytest.mark.parametrize(
    ("name", "listed", "removed"),
    [
        ("installation.created", "repositories", None),
        ("installation_repositories.removed", None, "repositories_removed"),
    ],
)
def test_installations(name: str, listed: str | None, removed: str | None) -> None:
    payload = fixture_payload(name)
    installation = Installation.of(event(payload))
    assert installation.id == payload["installation"]["id"]
    assert installation.account == payload["installation"]["account"]["login"]
    assert installation.repositories == tuple(
        InstalledRepository(r["id"], r["full_name"], bool(r.get("private")))
        for r in (payload[listed] if listed else [])
    )
    assert installation.removed == tuple(
        r["full_name"] for r in (payload[removed] if removed else [])
    )
