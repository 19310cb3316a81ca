"""Marker comments found again; permissions asked once a minute at most."""

from __future__ import annotations

import pytest

from bot.context import Context
from bot.core.markdown import MAX_COMMENT_BYTES as MAX_COMMENT
from bot.core.permissions import Permission
from bot.github.models import Comment
from bot.merging.access import PermissionCache
from bot.merging.comments import find_marked, fit, upsert_marked
from tests.fakes.github import FakeGitHub
from tests.merging.conftest import client_for
from tests.merging.flows import BOT, REPO

MARKER = "<!-- greenlight:status -->"
PERMISSION = ("GET", "/repos/{owner}/{repo}/collaborators/{username}/permission")


def comment(ident: int, login: str, body: str) -> Comment:
    return Comment.from_json({"id": ident, "user": {"login": login}, "body": body})


@pytest.mark.parametrize(
    ("comments", "found"),
    [
        ([], None),
        ([comment(1, "octo", f"quoting {MARKER}")], None),
        ([comment(1, BOT, "other text")], None),
        ([comment(1, BOT, f"a {MARKER}"), comment(2, BOT, f"b {MARKER}")], 2),
        ([comment(1, "Greenlight[bot]", MARKER)], 1),
    ],
    ids=["none", "a person quoting it", "no marker", "the newest", "login case"],
)
def test_find_marked(comments: list[Comment], found: int | None) -> None:
    match = find_marked(comments, MARKER, BOT)
    assert (match.id if match else None) == found


def test_a_long_body_is_cut_keeping_the_marker() -> None:
    body = fit("x" * (MAX_COMMENT * 2) + MARKER, MARKER)
    assert len(body) <= MAX_COMMENT
    assert body.endswith(MARKER)
    assert fit("short " + MARKER, MARKER) == "short " + MARKER


async def test_upsert_edits_the_bots_own_comment(context: Context, fake_github: FakeGitHub) -> None:
    fake_github.create_repo(REPO, {"README.md": "hi\n"})
    fake_github.commit(REPO, "feature", {"a.txt": "a\n"})
    pr = fake_github.open_pull_request(REPO, "feature")
    client = client_for(context, fake_github)
    await client.comment(REPO, pr.number, f"unrelated {MARKER.replace('status', 'help')}")
    for text in ("first", "second"):
        await upsert_marked(
            client, REPO, pr.number, marker=MARKER, body=f"{text}\n{MARKER}", bot_login=BOT
        )
    bodies = [c.body for c in fake_github.comments(REPO, pr.number)]
    # A posted comment ends with the marker of its request (found again if its answer is lost).
    bodies = [body.split("\n<!-- greenlight-request: ")[0] for body in bodies]
    assert bodies == ["unrelated <!-- greenlight:help -->", f"second\n{MARKER}"]


async def test_permissions_are_cached_for_a_while(
    context: Context, fake_github: FakeGitHub
) -> None:
    fake_github.create_repo(REPO, {"README.md": "hi\n"})
    fake_github.set_permission(REPO, "wendy", "maintain")
    now = [0.0]
    cache = PermissionCache(ttl=60, clock=lambda: now[0])
    client = client_for(context, fake_github)
    assert await cache.permission(client, REPO, "wendy") is Permission.MAINTAIN
    fake_github.set_permission(REPO, "wendy", "read")
    assert await cache.permission(client, REPO, "Wendy") is Permission.MAINTAIN
    assert fake_github.request_counts[PERMISSION] == 1
    now[0] = 61
    assert await cache.permission(client, REPO, "wendy") is Permission.READ
    assert fake_github.request_counts[PERMISSION] == 2
    assert await cache.permission(client, REPO, "nobody-at-all") is Permission.NONE
