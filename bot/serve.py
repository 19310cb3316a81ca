"""Start the service: settings from the environment and `.env`, then the aiohttp app."""

from __future__ import annotations

import errno
import logging
import socket
import sys

from aiohttp import web

from bot.logcontext import DeliveryContextFilter
from bot.settings import DEFAULT_HOST, Settings, SettingsError, load_settings
from bot.store.migrations import SchemaTooNew


def listening(settings: Settings) -> str:
    """The line that says the service answers, and where to open it."""
    return (
        f"Greenlight listening on {settings.host} port {settings.port}; open {settings.public_url}/"
    )


def setup_invitation(url: str) -> str:
    """Where to register the app on a first run: the address holds the setup code."""
    return (
        "No GitHub App yet: register one at this address (its setup code, new at each start,\n"
        "keeps the setup page to whoever can read this console):\n"
        f"    {url}"
    )


def cannot_listen(settings: Settings, error: OSError) -> str:
    """One line on why the service cannot take its address, naming the variables to change."""
    where = f"port {settings.port} (PORT)"
    if settings.host != DEFAULT_HOST:
        where = f"{settings.host} (HOST) {where}"
    if error.errno == errno.EADDRINUSE:
        reason = "another program is using it; stop that program, or set PORT to a free port"
    elif error.errno == errno.EACCES:
        reason = "ports below 1024 need root; set PORT to 1024 or above"
    elif error.errno == errno.EADDRNOTAVAIL or isinstance(error, socket.gaierror):
        reason = "HOST is not an address of this machine; leave it unset to listen on every one"
    else:
        reason = f"{error.strerror or error}; check PORT and HOST"
    return f"Greenlight cannot listen on {where}: {reason}"


def configure_logging() -> None:
    handler = logging.StreamHandler()
    handler.addFilter(DeliveryContextFilter())
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s%(context)s: %(message)s")
    )
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def serve() -> int:
    """Run until interrupted; exit 2 on bad settings (all named at once), 1 on a taken address."""
    configure_logging()
    try:
        settings = load_settings()
    except SettingsError as error:
        print("Greenlight cannot start; fix these settings:", file=sys.stderr)
        for problem in error.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    try:
        sockets = bind(settings.host, settings.port)
    except OSError as error:
        print(cannot_listen(settings, error), file=sys.stderr)
        return 1
    from bot.web.app import create_app
    from bot.web.setup import SETUP_CODE, setup_url

    app = create_app(settings)

    def started(_: str) -> None:  # aiohttp calls it once every socket listens
        print(listening(settings), flush=True)
        if settings.credentials is None:
            print(setup_invitation(setup_url(settings.public_url, app[SETUP_CODE])), flush=True)

    try:
        web.run_app(app, sock=sockets, print=started)
    except SchemaTooNew as error:
        print(f"Greenlight cannot start: {error}", file=sys.stderr)
        return 3
    return 0


def bind(host: str, port: int) -> list[socket.socket]:
    """Sockets bound to every address of `host`, not yet listening.

    Bound before start-up work, so a port in use is reported at once in one line; aiohttp
    makes them listen once the app is ready, as `asyncio.loop.create_server` would.
    """
    bound: list[socket.socket] = []
    addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    try:
        for family, kind, protocol, _, address in dict.fromkeys(addresses):
            sock = socket.socket(family, kind, protocol)
            bound.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restart at once
            if family == socket.AF_INET6:  # "::" alone, as asyncio does; 0.0.0.0 has its own
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
    except OSError:
        for sock in bound:
            sock.close()
        raise
    return bound
