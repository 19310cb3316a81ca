"""Deployments: a green default-branch commit may become deployable only when another app's
required check finishes after Greenlight's own run, so those events re-consider it.

Greenlight's own check runs are left out: the end of its run already triggers the deploy
(`bot.deploy.service.install` hooks it to the pipeline).
"""

from __future__ import annotations

from bot.context import Context
from bot.deploy.service import deployer_for
from bot.dispatch.events import WebhookEvent
from bot.dispatch.payloads import Checked, status_sha
from bot.dispatch.router import Router

router: Router[Context] = Router()


def _is_ours(checked: Checked, context: Context) -> bool:
    credentials = context.github.credentials
    return credentials is not None and checked.app_id == credentials.app_id


@router.register("check_run", "completed")
@router.register("check_suite", "completed")
async def reconsider_after_check(event: WebhookEvent, context: Context) -> None:
    checked = Checked.of(event)
    if event.repo is None or _is_ours(checked, context):
        return
    await deployer_for(context).reconsider(event.repo, checked.head_sha)


@router.register("status")
async def reconsider_after_status(event: WebhookEvent, context: Context) -> None:
    if event.repo is not None:
        await deployer_for(context).reconsider(event.repo, status_sha(event))
