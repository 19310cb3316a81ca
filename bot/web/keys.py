"""Typed keys of the aiohttp application's state."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from bot.dispatch.queue import Dispatcher
from bot.github.client import GitHubApp
from bot.metrics import Metrics
from bot.recovery.service import Recovery
from bot.settings import Settings
from bot.store import Store
from bot.wiring import Services

SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", Metrics)
STORE = web.AppKey("store", Store)
GITHUB = web.AppKey("github", GitHubApp)
SERVICES = web.AppKey("services", Services)
DISPATCHER: web.AppKey[Dispatcher[Services]] = web.AppKey("dispatcher")
RECOVERY = web.AppKey("recovery", Recovery)
# The time the services read (freeze windows, timers, leases); tests move it forward.
CLOCK: web.AppKey[Callable[[], float]] = web.AppKey("clock")
