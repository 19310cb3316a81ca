"""Webhook deliveries: GitHub's headers and signature, payloads built from real examples."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.fakes.github import FakeGitHub
from tests.fakes.gitrepo import ZERO_SHA
from tests.fakes.plugin import WebhookReceiver, serving_receiver
from tests.fakes.webhooks import fixture

Json = Any
REPO = "octo/hello"


@pytest.fixture
def world(fake_github: FakeGitHub, repo: str) -> FakeGitHub:
    """A PR #1 from ``feature`` with a label, a review, a check run and a status."""
    fake_github.commit(repo, "feature", {"a.txt": "a\n"})
    pr = fake_github.open_pull_request(repo, "feature", user="alice")
    fake_github.add_label(repo, pr.number, "ready")
    fake_github.add_review(repo, pr.number, "bob")
    fake_github.add_check_run(repo, pr.head_sha, "lint")
    fake_github.add_status(repo, pr.head_sha, "legacy")
    return fake_github


BUILDERS: list[tuple[str, str, Callable[[FakeGitHub], Json]]] = [
    ("pull_request", "pull_request.opened", lambda f: f.pull_request_event("opened", REPO, 1)),
    (
        "pull_request",
        "pull_request.synchronize",
        lambda f: f.pull_request_event("synchronize", REPO, 1, before="a" * 40),
    ),
    ("pull_request", "pull_request.closed", lambda f: f.pull_request_event("closed", REPO, 1)),
    (
        "pull_request",
        "pull_request.labeled",
        lambda f: f.pull_request_event("labeled", REPO, 1, label="ready"),
    ),
    ("pull_request", "pull_request.reopened", lambda f: f.pull_request_event("reopened", REPO, 1)),
    (
        "pull_request",
        "pull_request.ready_for_review",
        lambda f: f.pull_request_event("ready_for_review", REPO, 1),
    ),
    (
        "push",
        "push",
        lambda f: f.push_event(
            REPO, "feature", f.repo(REPO).git.branch_sha("main"), f.pull(REPO, 1).head_sha
        ),
    ),
    (
        "issue_comment",
        "issue_comment.created",
        lambda f: f.issue_comment_event(REPO, 1, "alice", "/status"),
    ),
    (
        "pull_request_review",
        "pull_request_review.submitted",
        lambda f: f.review_event("submitted", f.world.reviews[0].id),
    ),
    (
        "pull_request_review",
        "pull_request_review.dismissed",
        lambda f: f.review_event("dismissed", f.dismiss_review(f.world.reviews[0].id).id),
    ),
    (
        "check_run",
        "check_run.completed",
        lambda f: f.check_run_event("completed", f.check_runs(REPO)[0].id),
    ),
    (
        "check_run",
        "check_run.rerequested",
        lambda f: f.check_run_event("rerequested", f.check_runs(REPO)[0].id),
    ),
    (
        "check_run",
        "check_run.requested_action",
        lambda f: f.check_run_event("requested_action", f.check_runs(REPO)[0].id, "rerun-failed"),
    ),
    (
        "check_suite",
        "check_suite.completed",
        lambda f: f.check_suite_event("completed", f.check_suites(REPO)[0].id),
    ),
    (
        "check_suite",
        "check_suite.rerequested",
        lambda f: f.check_suite_event("rerequested", f.check_suites(REPO)[0].id),
    ),
    ("status", "status", lambda f: f.status_event(f.statuses(REPO)[0].id)),
    (
        "installation",
        "installation.created",
        lambda f: f.installation_event("created", _installation(f)),
    ),
    (
        "installation",
        "installation.deleted",
        lambda f: f.installation_event("deleted", _installation(f)),
    ),
    (
        "installation",
        "installation.suspend",
        lambda f: f.installation_event("suspend", _installation(f)),
    ),
    (
        "installation_repositories",
        "installation_repositories.added",
        lambda f: f.installation_repositories_event("added", _installation(f), [REPO]),
    ),
    (
        "installation_repositories",
        "installation_repositories.removed",
        lambda f: f.installation_repositories_event("removed", _installation(f), [REPO]),
    ),
    ("merge_group", "merge_group.checks_requested", lambda f: f.merge_group_event(REPO, 1)),
    ("ping", "ping", lambda f: f.ping_event()),
]


def _installation(fake: FakeGitHub) -> int:
    installation = fake.world.installation_for(REPO, fake.app_id)
    assert installation is not None
    return installation.id


@pytest.mark.parametrize(("event", "name", "build"), BUILDERS, ids=[b[1] for b in BUILDERS])
async def test_builders_keep_the_real_payload_shape_and_fill_in_state(
    world: FakeGitHub,
    webhook_receiver: WebhookReceiver,
    event: str,
    name: str,
    build: Callable[[FakeGitHub], Json],
) -> None:
    payload = build(world)
    real = fixture(name)
    expected_keys = set(real) - {"organization"} - ({"repository"} if event == "ping" else set())
    if event not in {"ping", "installation", "installation_repositories"}:
        expected_keys.add("installation")
    assert set(payload) >= expected_keys
    if "repository" in payload:
        assert payload["repository"]["full_name"] == REPO
        assert set(payload["repository"]) >= set(real["repository"]) - {"custom_properties"}
    if "pull_request" in payload:
        assert payload["pull_request"]["head"]["sha"] == world.pull(REPO, 1).head_sha
    world.configure_webhooks(webhook_receiver.url, "s3cret")
    assert await world.send(event, payload) == 202
    [delivery] = webhook_receiver.received
    assert delivery.event == event


async def test_delivery_carries_githubs_headers_and_a_valid_signature(
    world: FakeGitHub, webhook_receiver: WebhookReceiver
) -> None:
    world.configure_webhooks(webhook_receiver.url, "s3cret")
    await world.send("pull_request", world.pull_request_event("opened", REPO, 1))
    [delivery] = webhook_receiver.received
    headers = delivery.headers
    assert headers["User-Agent"].startswith("GitHub-Hookshot/")
    assert uuid.UUID(headers["X-GitHub-Delivery"])
    assert headers["X-GitHub-Hook-ID"].isdigit()
    assert headers["X-GitHub-Hook-Installation-Target-ID"] == str(world.app_id)
    assert headers["X-GitHub-Hook-Installation-Target-Type"] == "integration"
    expected = "sha256=" + hmac.new(b"s3cret", delivery.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Hub-Signature-256"], expected)


async def test_redelivery_reuses_the_delivery_id_and_status_is_returned(
    world: FakeGitHub, webhook_receiver: WebhookReceiver
) -> None:
    world.configure_webhooks(webhook_receiver.url, "s3cret")
    payload = world.pull_request_event("opened", REPO, 1)
    webhook_receiver.status = 200
    await world.send("pull_request", payload, delivery_id="fixed-id")
    await world.send("pull_request", payload, delivery_id="fixed-id")
    assert [d.headers["X-GitHub-Delivery"] for d in webhook_receiver.received] == [
        "fixed-id",
        "fixed-id",
    ]
    assert [d.status for d in world.deliveries] == [200, 200]


async def test_comment_payload_is_on_a_pull_request_and_recorded(world: FakeGitHub) -> None:
    payload = world.issue_comment_event(REPO, 1, "alice", "/merge squash")
    assert payload["issue"]["pull_request"]["url"].endswith("/pulls/1")
    assert payload["comment"]["user"]["login"] == "alice"
    assert [c.body for c in world.comments(REPO, 1)] == ["/merge squash"]
    edited = world.issue_comment_edited_event(payload["comment"]["id"], "/merge")
    assert edited["changes"] == {"body": {"from": "/merge squash"}}


async def test_push_payload_lists_the_commits(world: FakeGitHub) -> None:
    base = world.repo(REPO).git.branch_sha("main")
    assert base is not None
    head = world.commit(REPO, "feature", {"b.txt": "b\n", "a.txt": None}, message="Second")
    payload = world.push_event(REPO, "feature", base, head)
    assert (payload["ref"], payload["after"]) == ("refs/heads/feature", head)
    assert [c["message"] for c in payload["commits"]] == ["Update files", "Second"]
    assert (payload["head_commit"]["added"], payload["head_commit"]["removed"]) == (
        ["b.txt"],
        ["a.txt"],
    )
    created = world.push_event(REPO, "new", ZERO_SHA, head)
    assert created["created"] is True


async def test_merge_group_event_builds_the_queue_commit(world: FakeGitHub) -> None:
    payload = world.merge_group_event(REPO, 1)
    group = payload["merge_group"]
    git = world.repo(REPO).git
    assert git.resolve(group["head_ref"]) == group["head_sha"]
    assert git.commit_info(group["head_sha"]).parents == (
        group["base_sha"],
        world.pull(REPO, 1).head_sha,
    )


async def test_user_push_sends_push_then_synchronize(
    world: FakeGitHub, webhook_receiver: WebhookReceiver
) -> None:
    world.configure_webhooks(webhook_receiver.url, "s3cret")
    sha = await world.push(REPO, "feature", {"c.txt": "c\n"}, author="alice")
    assert world.pull(REPO, 1).head_sha == sha
    assert webhook_receiver.events() == ["push", "pull_request.synchronize"]
    synchronize = json.loads(webhook_receiver.received[1].body)
    assert synchronize["after"] == synchronize["pull_request"]["head"]["sha"] == sha


async def test_subscribed_events_only(world: FakeGitHub, webhook_receiver: WebhookReceiver) -> None:
    world.configure_webhooks(webhook_receiver.url, "s3cret", events=["check_run"])
    world.add_status(REPO, world.pull(REPO, 1).head_sha, "other")
    world.add_check_run(REPO, world.pull(REPO, 1).head_sha, "other", conclusion="neutral")
    await world.settle()
    assert set(webhook_receiver.events()) == {"check_run.created", "check_run.completed"}


async def test_deliveries_alternate_between_several_urls(
    world: FakeGitHub, webhook_receiver: WebhookReceiver
) -> None:
    """Several replicas, each with its own URL, as a round-robin balancer shares them out."""
    async with serving_receiver() as other:
        world.configure_webhooks(webhook_receiver.url, "s3cret", also=[other.url])
        for _ in range(3):
            await world.send("pull_request", world.pull_request_event("opened", REPO, 1))
        world.emit("pull_request", lambda: world.pull_request_event("closed", REPO, 1))
        await world.settle()
    assert len(webhook_receiver.received) == 2
    assert len(other.received) == 2
    assert [d.url for d in world.deliveries] == [webhook_receiver.url, other.url] * 2
    ids = {d.headers["X-GitHub-Delivery"] for d in webhook_receiver.received + other.received}
    assert ids == {d.delivery_id for d in world.deliveries}
