"""Start the service: settings from the environment and `.env`, then the aiohttp app."""

from __future__ import annotations

import logging
import sys

from aiohttp import web

from bot.logcontext import DeliveryContextFilter
from bot.settings import SettingsError, load_settings


def configure_logging() -> None:
    handler = logging.StreamHandler()
    handler.addFilter(DeliveryContextFilter())
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s%(context)s: %(message)s")
    )
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def serve() -> int:
    """Run until interrupted; report every settings problem at once and exit 2."""
    configure_logging()
    try:
        settings = load_settings()
    except SettingsError as error:
        print("Greenlight cannot start; fix these settings:", file=sys.stderr)
        for problem in error.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    from bot.web.app import create_app

    print(
        f"Greenlight listening on {settings.host} port {settings.port}; open {settings.public_url}/"
    )
    web.run_app(create_app(settings), host=settings.host, port=settings.port, print=None)
    return 0
