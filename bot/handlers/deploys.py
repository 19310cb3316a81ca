"""Deployments: a green default-branch commit may become deployable only when another app's
required check finishes after Greenlight's own run, so those events re-consider it.

Greenlight's own check runs are left out: the end of its run already triggers the deploy
(`bot.wiring` hooks it to the pipeline).
"""

from __future__ import annotations

from bot.dispatch.events import WebhookEvent
from bot.dispatch.router import Router
from bot.wiring import Services

router: Router[Services] = Router()


def _is_ours(event: WebhookEvent, services: Services, key: str) -> bool:
    app = (event.payload.get(key) or {}).get("app") or {}
    credentials = services.context.github.credentials
    return credentials is not None and str(app.get("id")) == credentials.app_id


@router.register("check_run", "completed")
async def reconsider_after_check_run(event: WebhookEvent, services: Services) -> None:
    """Another app's check run finished: the commit may be deployable now."""
    if event.repo is None or _is_ours(event, services, "check_run"):
        return
    await services.deployer.reconsider(event.repo, event.payload["check_run"]["head_sha"])


@router.register("check_suite", "completed")
async def reconsider_after_check_suite(event: WebhookEvent, services: Services) -> None:
    """Another app's check suite finished: the commit may be deployable now."""
    if event.repo is None or _is_ours(event, services, "check_suite"):
        return
    await services.deployer.reconsider(event.repo, event.payload["check_suite"]["head_sha"])


@router.register("status")
async def reconsider_after_status(event: WebhookEvent, services: Services) -> None:
    """A commit status changed: the commit may be deployable now."""
    if event.repo is not None:
        await services.deployer.reconsider(event.repo, event.payload["sha"])
