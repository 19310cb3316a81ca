"""Deployments: a green default-branch commit may become deployable only when another app's
required check finishes after Greenlight's own run, so those events re-consider it.

Greenlight's own check runs are left out: the end of its run already triggers the deploy
(`bot.deploy.service.install` hooks it to the pipeline).
"""

from __future__ import annotations

from bot.context import Context
from bot.deploy.service import deployer_for
from bot.dispatch.events import WebhookEvent
from bot.dispatch.router import Router

router: Router[Context] = Router()


def _is_ours(event: WebhookEvent, context: Context, key: str) -> bool:
    app = (event.payload.get(key) or {}).get("app") or {}
    credentials = context.github.credentials
    return credentials is not None and str(app.get("id")) == credentials.app_id


@router.register("check_run", "completed")
async def reconsider_after_check_run(event: WebhookEvent, context: Context) -> None:
    if event.repo is None or _is_ours(event, context, "check_run"):
        return
    await deployer_for(context).reconsider(event.repo, event.payload["check_run"]["head_sha"])


@router.register("check_suite", "completed")
async def reconsider_after_check_suite(event: WebhookEvent, context: Context) -> None:
    if event.repo is None or _is_ours(event, context, "check_suite"):
        return
    await deployer_for(context).reconsider(event.repo, event.payload["check_suite"]["head_sha"])


@router.register("status")
async def reconsider_after_status(event: WebhookEvent, context: Context) -> None:
    if event.repo is not None:
        await deployer_for(context).reconsider(event.repo, event.payload["sha"])
