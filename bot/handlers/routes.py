"""All feature routers, composed in one place."""

from __future__ import annotations

from bot.context import Context
from bot.dispatch.router import Router
from bot.handlers import buttons, ci, commands, deploys, installations, merging


def build_router() -> Router[Context]:
    return Router(
        installations.router,
        ci.router,
        commands.router,
        merging.router,
        buttons.router,
        deploys.router,
    )
