"""Keep the store's list of installations and their repositories current."""

from __future__ import annotations

import logging

from bot.context import Context
from bot.dispatch.events import WebhookEvent
from bot.dispatch.payloads import Installation
from bot.dispatch.router import Router

router: Router[Context] = Router()
log = logging.getLogger("greenlight.installations")


def _repos(installation: Installation) -> list[tuple[int, str, bool]]:
    return [(r.id, r.full_name, r.private) for r in installation.repositories]


@router.register("installation", "created", "new_permissions_accepted", "unsuspend")
async def remember_installation(event: WebhookEvent, context: Context) -> None:
    installation = Installation.of(event)
    await context.store.installations.save(
        installation.id, installation.account, now=context.clock()
    )
    await context.store.installations.add_repositories(installation.id, _repos(installation))


@router.register("installation", "deleted")
async def forget_installation(event: WebhookEvent, context: Context) -> None:
    installation_id = Installation.of(event).id
    await context.store.installations.forget(installation_id)
    context.github.forget_tokens(installation_id)


@router.register("installation", "suspend")
async def suspend_installation(event: WebhookEvent, context: Context) -> None:
    installation_id = Installation.of(event).id
    await context.store.installations.set_suspended(installation_id, True)
    context.github.forget_tokens(installation_id)


@router.register("installation_repositories", "added", "removed")
async def update_repositories(event: WebhookEvent, context: Context) -> None:
    installation = Installation.of(event)
    if await context.store.installations.get(installation.id) is None:
        # An installation we never saw created (e.g. the app was down): record it now.
        await context.store.installations.save(
            installation.id, installation.account, now=context.clock()
        )
    await context.store.installations.add_repositories(installation.id, _repos(installation))
    await context.store.installations.remove_repositories(list(installation.removed))
