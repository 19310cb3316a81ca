"""Steps shared by the slash-command and auto-merge tests: a repo, a PR, comments."""

from __future__ import annotations

import textwrap

from tests.e2e.conftest import Greenlight
from tests.fakes.github import FakeGitHub
from tests.fakes.state import IssueComment, PullRequest
from tests.helpers import wait_until

REPO = "octo/hello"
CONFIG = ".github/greenlight.yml"
BOT = "greenlight[bot]"
MERGE = ("PUT", "/repos/{owner}/{repo}/pulls/{pull_number}/merge")


def config(text: str) -> dict[str, str]:
    return {CONFIG: textwrap.dedent(text).lstrip("\n")}


async def open_pull_request(
    greenlight: Greenlight,
    config_text: str,
    *,
    files: dict[str, str] | None = None,
    user: str | None = None,
    branch: str = "feature",
) -> PullRequest:
    """A repository with `config_text`, a branch changing `files` and its PR, announced."""
    fake = greenlight.fake
    fake.create_repo(REPO, config(config_text))
    fake.commit(REPO, branch, files or {"a.txt": "a\n"}, author=user)
    pr = fake.open_pull_request(REPO, branch, user=user)
    await fake.send("pull_request", fake.pull_request_event("opened", REPO, pr.number))
    return pr


async def comment(greenlight: Greenlight, number: int, user: str, body: str) -> IssueComment:
    """`user` comments `body` on the PR; returns once Greenlight has handled it."""
    fake = greenlight.fake
    payload = fake.issue_comment_event(REPO, number, user, body)
    await fake.send("issue_comment", payload)
    await greenlight.settle()
    return fake.world.comments[int(payload["comment"]["id"])]


def bot_comments(fake: FakeGitHub, number: int) -> list[IssueComment]:
    return [c for c in fake.comments(REPO, number) if c.user.login == BOT]


def reactions(fake: FakeGitHub, comment: IssueComment) -> list[str]:
    return [r.content for r in fake.reactions(comment.id)]


async def wait_merged(greenlight: Greenlight, number: int, *, deadline: float = 30.0) -> None:
    fake = greenlight.fake

    async def merged() -> bool:
        await greenlight.settle()
        return fake.pull(REPO, number).merged

    await wait_until(merged, deadline=deadline, message=f"#{number} to be merged")


async def wait_bot_comment(
    greenlight: Greenlight, number: int, marker: str, *, deadline: float = 30.0
) -> IssueComment:
    fake = greenlight.fake

    def posted() -> bool:
        return any(marker in c.body for c in bot_comments(fake, number))

    await wait_until(posted, deadline=deadline, message=f"a comment with {marker}")
    return next(c for c in bot_comments(fake, number) if marker in c.body)


def merge_attempts(fake: FakeGitHub) -> int:
    return fake.request_counts[MERGE]
