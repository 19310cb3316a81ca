"""The application factory: every resource opened and closed in one cleanup context."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from bot.context import Context
from bot.dispatch.queue import Dispatcher
from bot.github.client import GitHubApp
from bot.handlers.routes import build_router
from bot.housekeeping import keep_pruning
from bot.metrics import Metrics
from bot.replica import keep_beating, leave
from bot.settings import Settings
from bot.store import open_store
from bot.web import deploy_pages, pages, setup
from bot.web.keys import DISPATCHER, GITHUB, METRICS, SERVICES, SETTINGS, STORE
from bot.web.webhook import MAX_PAYLOAD_BYTES, receive
from bot.wiring import build_services, running


def create_app(settings: Settings) -> web.Application:
    """The whole service as one aiohttp application."""
    app = web.Application(client_max_size=MAX_PAYLOAD_BYTES + 1024)
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    app[setup.SETUP_STATE] = set()
    app[setup.SETUP_CODE] = setup.new_setup_code()  # `python -m bot` prints it
    app.cleanup_ctx.append(_services)
    app.router.add_post("/webhook", receive)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/", setup.home)
    app.router.add_get("/setup/callback", setup.callback)
    pages.add_routes(app)
    deploy_pages.add_routes(app)
    return app


async def _services(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    store = await open_store(settings.database_url)
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
    github = GitHubApp(
        session,
        api_url=settings.api_url,
        credentials=settings.credentials,
        metrics=app[METRICS],
        # Replicas on one PostgreSQL database share each installation's write budget.
        budget=store.write_budget if store.is_shared else None,
    )
    context = Context(settings=settings, store=store, github=github, metrics=app[METRICS])
    services = build_services(context)
    dispatcher = Dispatcher(store, build_router(), services, app[METRICS], backlog=github.backlog)
    app[STORE], app[GITHUB], app[SERVICES], app[DISPATCHER] = store, github, services, dispatcher
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(store.close)
        stack.push_async_callback(session.close)
        stack.push_async_callback(github.backlog.close)
        await store.replicas.beat(context.replica_id, now=context.clock())
        stack.push_async_callback(leave, store, context.replica_id)
        beating = asyncio.create_task(
            keep_beating(store, context.replica_id, clock=context.clock), name="replica beat"
        )
        stack.push_async_callback(_cancel, beating)
        await stack.enter_async_context(running(services))
        await dispatcher.start()
        stack.push_async_callback(dispatcher.stop)
        pruning = asyncio.create_task(
            keep_pruning(store, settings.delivery_retention_days, clock=context.clock),
            name="prune deliveries",
        )
        stack.push_async_callback(_cancel, pruning)
        yield


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def healthz(request: web.Request) -> web.Response:
    """200 when the store answers, 503 when it does not."""
    if await request.app[STORE].is_healthy():
        return web.json_response({"status": "ok"})
    return web.json_response({"status": "store unreachable"}, status=503)


async def metrics(request: web.Request) -> web.Response:
    return web.Response(
        body=request.app[METRICS].render(),
        headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
    )
