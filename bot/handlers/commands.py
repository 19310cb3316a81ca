"""Slash-commands in pull request comments (DESIGN.md section 5)."""

from __future__ import annotations

from bot.core.commands import is_command_comment_event, parse_commands
from bot.dispatch.events import WebhookEvent
from bot.dispatch.router import Router
from bot.merging.commands import CommentContext
from bot.wiring import Services

router: Router[Services] = Router()


@router.register("issue_comment", "created")
async def run_commands(event: WebhookEvent, services: Services) -> None:
    """A new comment by a person on a pull request: carry out its commands."""
    comment = command_comment(event)
    if comment is None:
        return
    sender = event.payload.get("sender") or {}
    slug = await services.merging.app_slug()
    if not is_command_comment_event(
        event.action or "", str(sender.get("type") or ""), event.sender, slug
    ):
        return
    parsed = parse_commands(str(event.payload["comment"].get("body") or ""))
    if parsed:
        await services.commands.run(comment, parsed)


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
