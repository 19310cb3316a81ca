"""Deployments: a green default-branch commit may become deployable only when another app's
required check finishes after Greenlight's own run, so those events re-consider it.

Greenlight's own check runs are left out: the end of its run already triggers the deploy
(`bot.wiring` hooks it to the pipeline).
"""

from __future__ import annotations

from bot.dispatch.events import WebhookEvent
from bot.dispatch.payloads import Checked, status_sha
from bot.dispatch.router import Router
from bot.wiring import Services

router: Router[Services] = Router()


@router.register("check_run", "completed")
@router.register("check_suite", "completed")
async def reconsider_after_check(event: WebhookEvent, services: Services) -> None:
    """Another app's check run or suite finished: the commit may be deployable now."""
    checked = Checked.of(event)
    if event.repo is None or checked.is_from(services.own_app_id):
        return
    await services.deployer.reconsider(event.repo, checked.head_sha)


@router.register("status")
async def reconsider_after_status(event: WebhookEvent, services: Services) -> None:
    """A commit status changed: the commit may be deployable now."""
    if event.repo is not None:
        await services.deployer.reconsider(event.repo, status_sha(event))
