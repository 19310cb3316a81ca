"""Typed keys of the aiohttp application's state."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.context import Context
from bot.dispatch.queue import Dispatcher
from bot.github.client import GitHubApp
from bot.metrics import Metrics
from bot.settings import Settings
from bot.store import Store

SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", Metrics)
STORE = web.AppKey("store", Store)
GITHUB = web.AppKey("github", GitHubApp)
CONTEXT = web.AppKey("context", Context)
DISPATCHER: web.AppKey[Dispatcher[Any]] = web.AppKey("dispatcher")
