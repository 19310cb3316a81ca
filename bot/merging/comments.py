"""Greenlight's own comments on a pull request: found again by their hidden marker.

A reply that restates state (`/status`, `/help`, a refused merge) is edited in place on
the next request, as CPython's bedevere does, so a busy pull request does not fill up
with copies.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.markdown import MAX_COMMENT_BYTES, truncate
from bot.github.client import InstallationClient
from bot.github.models import Comment

_TRUNCATED = "\n\n… (shortened to fit GitHub's comment limit)\n\n"


async def upsert_marked(
    client: InstallationClient, repo: str, number: int, *, marker: str, body: str, bot_login: str
) -> None:
    """Edit the bot's latest comment carrying `marker`, or post one."""
    body = fit(body, marker)
    existing = find_marked(await client.comments(repo, number), marker, bot_login)
    if existing is None:
        await client.comment(repo, number, body)
    else:
        await client.edit_comment(repo, existing.id, body)


def find_marked(comments: Sequence[Comment], marker: str, bot_login: str) -> Comment | None:
    """The newest comment by the bot whose body carries `marker`."""
    login = bot_login.lower()
    mine = [c for c in comments if c.author.lower() == login and marker in c.body]
    return mine[-1] if mine else None


def fit(body: str, marker: str) -> str:
    """The body within GitHub's comment limit, keeping the marker at the end."""
    return truncate(body, MAX_COMMENT_BYTES, marker=_TRUNCATED + marker)
