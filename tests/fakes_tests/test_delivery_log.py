"""The app's delivery log: failed deliveries kept, listed newest first, fetched, redelivered."""

from __future__ import annotations

import contextlib
from typing import Any

import gidgethub
import pytest
from gidgethub.aiohttp import GitHubAPI

from tests.fakes.github import FakeGitHub
from tests.fakes.plugin import WebhookReceiver

Json = Any
UNREACHABLE = "http://127.0.0.1:9/webhook"  # the discard port: nothing listens


async def send_comments(fake: FakeGitHub, repo: str, count: int) -> list[str]:
    """``count`` comment deliveries; their GUIDs, oldest first."""
    guids = []
    for index in range(count):
        payload = fake.issue_comment_event(repo, 1, "alice", f"comment {index}")
        guid = f"guid-{index}"
        with contextlib.suppress(ConnectionError):
            await fake.send("issue_comment", payload, delivery_id=guid)
        guids.append(guid)
    return guids


async def every_page(gh: GitHubAPI, jwt: str, url: str) -> list[Json]:
    return [item async for item in gh.getiter(url, jwt=jwt)]


@pytest.fixture
def pull(fake_github: FakeGitHub, repo: str) -> int:
    fake_github.commit(repo, "feature", {"a.txt": "a\n"})
    return fake_github.open_pull_request(repo, "feature", user="alice").number


async def test_deliveries_to_an_unreachable_app_are_logged_as_failed(
    fake_github: FakeGitHub, repo: str, pull: int, gh: GitHubAPI, app_jwt: str
) -> None:
    fake_github.configure_webhooks(UNREACHABLE, "secret")
    await send_comments(fake_github, repo, 1)
    [item] = await every_page(gh, app_jwt, "/app/hook/deliveries")
    assert item["guid"] == "guid-0"
    assert (item["status"], item["status_code"]) == ("failed to connect", 502)
    assert (item["event"], item["action"]) == ("issue_comment", "created")
    assert item["repository_id"] == fake_github.repo(repo).id
    installation = fake_github.world.installation_for(repo, fake_github.app_id)
    assert installation is not None
    assert item["installation_id"] == installation.id
    assert "request" not in item  # the list has no payloads


async def test_the_list_is_newest_first_in_cursor_pages(
    fake_github: FakeGitHub, repo: str, pull: int, gh: GitHubAPI, app_jwt: str
) -> None:
    fake_github.configure_webhooks(UNREACHABLE, "secret")
    guids = await send_comments(fake_github, repo, 7)
    first = await gh.getitem("/app/hook/deliveries?per_page=3", jwt=app_jwt)
    assert [item["guid"] for item in first] == ["guid-6", "guid-5", "guid-4"]
    items = await every_page(gh, app_jwt, "/app/hook/deliveries?per_page=3")
    assert [item["guid"] for item in items] == list(reversed(guids))
    assert fake_github.request_counts[("GET", "/app/hook/deliveries")] == 1 + 3


async def test_pages_cut_short_still_lead_to_every_delivery(
    fake_github: FakeGitHub, repo: str, pull: int, gh: GitHubAPI, app_jwt: str
) -> None:
    fake_github.configure_webhooks(UNREACHABLE, "secret")
    guids = await send_comments(fake_github, repo, 5)
    fake_github.delivery_page_limit = 2
    items = await every_page(gh, app_jwt, "/app/hook/deliveries?per_page=100")
    assert [item["guid"] for item in items] == list(reversed(guids))
    assert fake_github.request_counts[("GET", "/app/hook/deliveries")] == 3


async def test_one_delivery_has_the_original_request(
    fake_github: FakeGitHub,
    repo: str,
    pull: int,
    gh: GitHubAPI,
    app_jwt: str,
    webhook_receiver: WebhookReceiver,
) -> None:
    fake_github.configure_webhooks(webhook_receiver.url, "secret")
    await send_comments(fake_github, repo, 1)
    [item] = await gh.getitem("/app/hook/deliveries", jwt=app_jwt)
    assert (item["status"], item["status_code"]) == ("OK", 202)
    delivery = await gh.getitem(
        "/app/hook/deliveries/{delivery_id}", {"delivery_id": item["id"]}, jwt=app_jwt
    )
    assert delivery["request"]["payload"]["comment"]["body"] == "comment 0"
    assert delivery["request"]["headers"]["X-GitHub-Delivery"] == "guid-0"
    with pytest.raises(gidgethub.BadRequest) as missing:
        await gh.getitem("/app/hook/deliveries/{delivery_id}", {"delivery_id": 1}, jwt=app_jwt)
    assert missing.value.status_code == 404


async def test_a_redelivery_carries_the_same_guid_and_is_logged(
    fake_github: FakeGitHub,
    repo: str,
    pull: int,
    gh: GitHubAPI,
    app_jwt: str,
    webhook_receiver: WebhookReceiver,
) -> None:
    fake_github.configure_webhooks(UNREACHABLE, "secret")
    await send_comments(fake_github, repo, 1)
    [failed] = await gh.getitem("/app/hook/deliveries", jwt=app_jwt)
    fake_github.configure_webhooks(webhook_receiver.url, "secret")
    await gh.post(
        "/app/hook/deliveries/{delivery_id}/attempts",
        {"delivery_id": failed["id"]},
        data={},
        jwt=app_jwt,
    )
    [received] = await webhook_receiver.wait_for(1)
    assert received.headers["X-GitHub-Delivery"] == "guid-0"
    await fake_github.settle()
    newest, oldest = await gh.getitem("/app/hook/deliveries", jwt=app_jwt)
    assert (newest["guid"], newest["redelivery"], newest["status"]) == ("guid-0", True, "OK")
    assert (oldest["id"], oldest["redelivery"]) == (failed["id"], False)
    failures = await gh.getitem("/app/hook/deliveries?status=failure", jwt=app_jwt)
    assert [item["id"] for item in failures] == [failed["id"]]


async def test_deliveries_older_than_three_days_are_gone(
    fake_github: FakeGitHub, repo: str, pull: int, gh: GitHubAPI, app_jwt: str
) -> None:
    fake_github.configure_webhooks(UNREACHABLE, "secret")
    await send_comments(fake_github, repo, 1)
    [old] = await gh.getitem("/app/hook/deliveries", jwt=app_jwt)
    fake_github.advance_clock(3 * 86_400 + 60)
    jwt = fake_github_jwt(fake_github)
    assert await gh.getitem("/app/hook/deliveries", jwt=jwt) == []
    with pytest.raises(gidgethub.BadRequest):
        await gh.getitem("/app/hook/deliveries/{delivery_id}", {"delivery_id": old["id"]}, jwt=jwt)


def fake_github_jwt(fake: FakeGitHub) -> str:
    """An app JWT issued by the fake's (advanced) clock."""
    from bot.github.auth import app_jwt

    pem = fake.private_key_pem
    key = pem.decode() if isinstance(pem, bytes) else pem
    return app_jwt(str(fake.app_id), key, now=fake.now().timestamp())


async def test_a_deleted_installation_is_not_found(
    fake_github: FakeGitHub, repo: str, gh: GitHubAPI, app_jwt: str
) -> None:
    installation = fake_github.world.installation_for(repo, fake_github.app_id)
    assert installation is not None
    url = "/app/installations/{installation_id}"
    found = await gh.getitem(url, {"installation_id": installation.id}, jwt=app_jwt)
    assert found["id"] == installation.id
    fake_github.uninstall(installation.id)
    with pytest.raises(gidgethub.BadRequest):
        await gh.getitem(url, {"installation_id": installation.id}, jwt=app_jwt)


async def test_a_branch_reference_names_its_commit(
    fake_github: FakeGitHub, repo: str, gh: GitHubAPI
) -> None:
    from tests.fakes_tests.conftest import installation_token

    token = await installation_token(fake_github, gh, repo)
    tip = fake_github.repo(repo).git.branch_sha("main")
    ref = await gh.getitem(
        "/repos/{owner}/{repo}/git/ref/{ref}",
        {"owner": "octo", "repo": "hello", "ref": "heads/main"},
        oauth_token=token,
    )
    assert ref["object"]["sha"] == tip
