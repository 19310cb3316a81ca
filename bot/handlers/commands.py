"""Slash-commands in pull request comments (DESIGN.md section 5)."""

from __future__ import annotations

from bot.context import Context
from bot.core.commands import is_command_comment_event, parse_commands
from bot.dispatch.events import WebhookEvent
from bot.dispatch.router import Router
from bot.merging.commands import CommandRunner, CommentContext
from bot.merging.service import merging_for

router: Router[Context] = Router()


@router.register("issue_comment", "created")
async def run_commands(event: WebhookEvent, context: Context) -> None:
    """A new comment by a person on a pull request: carry out its commands."""
    comment = command_comment(event)
    if comment is None:
        return
    merging = merging_for(context)
    sender = event.payload.get("sender") or {}
    slug = await merging.app_slug()
    if not is_command_comment_event(
        event.action or "", str(sender.get("type") or ""), event.sender, slug
    ):
        return
    parsed = parse_commands(str(event.payload["comment"].get("body") or ""))
    if parsed:
        await CommandRunner(merging, comment).run(parsed)


def command_comment(event: WebhookEvent) -> CommentContext | None:
    """Where a comment was made, if it is on a pull request (not a plain issue)."""
    issue = event.payload.get("issue") or {}
    if event.installation_id is None or event.repo is None or not issue.get("pull_request"):
        return None
    return CommentContext(
        installation_id=event.installation_id,
        repo=event.repo,
        number=int(issue["number"]),
        comment_id=int(event.payload["comment"]["id"]),
        actor=event.sender,
        pr_author=str((issue.get("user") or {}).get("login") or ""),
    )
