"""Slash-commands in pull request comments (DESIGN.md section 5)."""

from __future__ import annotations

from dataclasses import replace

from bot.commands.runner import CommentContext
from bot.core.commands import is_command_comment_event, parse_commands
from bot.core.recovery import is_stale
from bot.dispatch.events import WebhookEvent
from bot.dispatch.payloads import IssueComment
from bot.dispatch.router import Router
from bot.wiring import Services

router: Router[Services] = Router()


@router.register("issue_comment", "created")
async def run_commands(event: WebhookEvent, services: Services) -> None:
    """A new comment by a person on a pull request: carry out its commands."""
    payload = IssueComment.of(event)
    comment = command_comment(event, payload)
    if comment is None:
        return
    parsed = parse_commands(payload.body)
    if not parsed:
        return  # most comments (the bot's own merge comment among them): no `GET /app`
    slug = await services.merging.app_slug()
    if is_command_comment_event(event.action or "", payload.sender_type, event.sender, slug):
        now = services.context.clock()
        stale = is_stale(recovered=event.recovered, sent_at=event.sent_at, now=now)
        await services.commands.run(replace(comment, stale=stale), parsed)


def command_comment(event: WebhookEvent, payload: IssueComment) -> CommentContext | None:
    """Where a comment was made, if it is on a pull request (not a plain issue)."""
    if event.installation_id is None or event.repo is None or not payload.on_pull_request:
        return None
    return CommentContext(
        installation_id=event.installation_id,
        repo=event.repo,
        number=payload.number,
        comment_id=payload.comment_id,
        actor=event.sender,
        pr_author=payload.issue_author,
    )
