"""Auto-merge triggers (DESIGN.md sections 4 and 7): each one re-evaluates from fresh facts,
once per burst of events on a pull request (`Merging.evaluate_soon`)."""

from __future__ import annotations

from bot.dispatch.events import WebhookEvent
from bot.dispatch.payloads import Checked, PullRequest, status_sha
from bot.dispatch.router import Router
from bot.wiring import Services

router: Router[Services] = Router()


@router.register(
    "pull_request",
    "opened",
    "reopened",
    "synchronize",
    "edited",
    "ready_for_review",
    "labeled",
    "unlabeled",
)
@router.register("pull_request_review", "submitted", "dismissed")
async def evaluate_pull_request(event: WebhookEvent, services: Services) -> None:
    """A pull request or its reviews changed: decide again whether to merge it."""
    if event.installation_id is None or event.repo is None:
        return
    number = PullRequest.of(event).number
    services.merging.evaluate_soon(event.installation_id, event.repo, number)


@router.register("check_run", "completed")
@router.register("check_suite", "completed")
async def evaluate_checked_commit(event: WebhookEvent, services: Services) -> None:
    """Another app's check finished; our own runs are covered by the pipeline's hook."""
    if event.installation_id is None or event.repo is None:
        return
    checked = Checked.of(event)
    if checked.is_from(services.own_app_id):
        return
    await services.merging.evaluate_commit_soon(event.installation_id, event.repo, checked.head_sha)


@router.register("status")
async def evaluate_status_commit(event: WebhookEvent, services: Services) -> None:
    """A commit status changed: decide again for the pull requests at that commit."""
    if event.installation_id is None or event.repo is None:
        return
    await services.merging.evaluate_commit_soon(
        event.installation_id, event.repo, status_sha(event)
    )
