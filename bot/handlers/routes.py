"""All feature routers, composed in one place."""

from __future__ import annotations

from bot.dispatch.router import Router
from bot.handlers import buttons, ci, commands, deploys, installations, merging
from bot.wiring import Services


def build_router() -> Router[Services]:
    """Every feature's router in one."""
    return Router(
        installations.router,
        ci.router,
        commands.router,
        merging.router,
        buttons.router,
        deploys.router,
    )
