"""Keep the store's list of installations and their repositories current."""

from __future__ import annotations

import logging
from typing import Any

from bot.dispatch.events import WebhookEvent
from bot.dispatch.router import Router
from bot.wiring import Services

router: Router[Services] = Router()
log = logging.getLogger("greenlight.installations")


def _repos(items: list[dict[str, Any]] | None) -> list[tuple[int, str, bool]]:
    return [(r["id"], r["full_name"], bool(r.get("private"))) for r in items or []]


@router.register("installation", "created", "new_permissions_accepted", "unsuspend")
async def remember_installation(event: WebhookEvent, services: Services) -> None:
    """Record a new (or resumed) installation and its repositories."""
    context = services.context
    installation = event.payload["installation"]
    account = (installation.get("account") or {}).get("login", "")
    await context.store.installations.save(installation["id"], account, now=context.clock())
    await context.store.installations.add_repositories(
        installation["id"], _repos(event.payload.get("repositories"))
    )


@router.register("installation", "deleted")
async def forget_installation(event: WebhookEvent, services: Services) -> None:
    """Forget an uninstalled installation and drop its tokens."""
    context = services.context
    installation_id = event.payload["installation"]["id"]
    await context.store.installations.forget(installation_id)
    context.github.forget_tokens(installation_id)


@router.register("installation", "suspend")
async def suspend_installation(event: WebhookEvent, services: Services) -> None:
    """Mark an installation suspended and drop its tokens."""
    context = services.context
    installation_id = event.payload["installation"]["id"]
    await context.store.installations.set_suspended(installation_id, True)
    context.github.forget_tokens(installation_id)


@router.register("installation_repositories", "added", "removed")
async def update_repositories(event: WebhookEvent, services: Services) -> None:
    """Follow repositories added to or removed from an installation."""
    context = services.context
    installation = event.payload["installation"]
    if await context.store.installations.get(installation["id"]) is None:
        # An installation we never saw created (e.g. the app was down): record it now.
        account = (installation.get("account") or {}).get("login", "")
        await context.store.installations.save(installation["id"], account, now=context.clock())
    await context.store.installations.add_repositories(
        installation["id"], _repos(event.payload.get("repositories_added"))
    )
    removed = [r["full_name"] for r in event.payload.get("repositories_removed") or []]
    await context.store.installations.remove_repositories(removed)
