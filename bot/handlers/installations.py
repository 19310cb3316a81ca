"""Keep the store's list of installations and their repositories current."""

from __future__ import annotations

import logging

from bot.dispatch.events import WebhookEvent
from bot.dispatch.payloads import Installation
from bot.dispatch.router import Router
from bot.wiring import Services

router: Router[Services] = Router()
log = logging.getLogger("greenlight.installations")


def _repos(installation: Installation) -> list[tuple[int, str, bool]]:
    return [(r.id, r.full_name, r.private) for r in installation.repositories]


@router.register("installation", "created", "new_permissions_accepted", "unsuspend")
async def remember_installation(event: WebhookEvent, services: Services) -> None:
    """Record a new (or resumed) installation and its repositories."""
    context = services.context
    installation = Installation.of(event)
    await context.store.installations.save(
        installation.id, installation.account, now=context.clock()
    )
    await context.store.installations.add_repositories(installation.id, _repos(installation))


@router.register("installation", "deleted")
async def forget_installation(event: WebhookEvent, services: Services) -> None:
    """Forget an uninstalled installation and drop its tokens."""
    context = services.context
    installation_id = Installation.of(event).id
    await context.store.installations.forget(installation_id)
    context.github.forget_tokens(installation_id)


@router.register("installation", "suspend")
async def suspend_installation(event: WebhookEvent, services: Services) -> None:
    """Mark an installation suspended and drop its tokens."""
    context = services.context
    installation_id = Installation.of(event).id
    await context.store.installations.set_suspended(installation_id, True)
    context.github.forget_tokens(installation_id)


@router.register("installation_repositories", "added", "removed")
async def update_repositories(event: WebhookEvent, services: Services) -> None:
    """Follow repositories added to or removed from an installation."""
    context = services.context
    installation = Installation.of(event)
    if await context.store.installations.get(installation.id) is None:
        # An installation we never saw created (e.g. the app was down): record it now.
        await context.store.installations.save(
            installation.id, installation.account, now=context.clock()
        )
    await context.store.installations.add_repositories(installation.id, _repos(installation))
    await context.store.installations.remove_repositories(list(installation.removed))
