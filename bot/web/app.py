"""The application factory: every resource opened and closed in one cleanup context."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable

import aiohttp
from aiohttp import web

from bot.context import Context
from bot.dispatch.queue import Dispatcher
from bot.github.client import GitHubApp
from bot.github.conditional import ConditionalGitHubAPI
from bot.handlers.routes import build_router
from bot.housekeeping import pruning
from bot.metrics import Metrics
from bot.recovery.service import Recovery
from bot.replica import beat_seconds, beating, leave
from bot.settings import Settings
from bot.store import open_store
from bot.store.exclusive import only_web_process
from bot.web import pages, setup
from bot.web.keys import CLOCK, DISPATCHER, GITHUB, METRICS, RECOVERY, SERVICES, SETTINGS, STORE
from bot.web.webhook import MAX_PAYLOAD_BYTES, receive
from bot.wiring import build_services, running


def create_app(settings: Settings, *, clock: Callable[[], float] = time.time) -> web.Application:
    """The whole service as one aiohttp application; `clock` tells its time."""
    app = web.Application(client_max_size=MAX_PAYLOAD_BYTES + 1024)
    app[SETTINGS] = settings
    app[CLOCK] = clock
    app[METRICS] = Metrics()
    app[setup.SETUP_STATE] = set()
    app[setup.SETUP_CODE] = setup.new_setup_code()  # `python -m bot` prints it
    app.cleanup_ctx.append(_only_web_process)
    app.cleanup_ctx.append(_services)
    app.router.add_post("/webhook", receive)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/", setup.home)
    app.router.add_get("/setup/callback", setup.callback)
    pages.add_routes(app)
    return app


async def _only_web_process(app: web.Application) -> AsyncIterator[None]:
    """On SQLite, refuse to start beside another web process on the same file."""
    with only_web_process(app[SETTINGS].database_url):
        yield


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
    context = Context(
        settings=settings, store=store, github=github, metrics=app[METRICS], clock=app[CLOCK]
    )
    services = build_services(context)
    dispatcher = Dispatcher(
        store,
        build_router(),
        services,
        app[METRICS],
        clock=context.clock,
        replica_id=context.replica_id,
        backlog=github.backlog,
    )
    app[STORE], app[GITHUB], app[SERVICES], app[DISPATCHER] = store, github, services, dispatcher
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(store.close)
        stack.push_async_callback(session.close)
        await store.replicas.beat(context.replica_id, now=context.clock())
        stack.push_async_callback(leave, store, context.replica_id)
        beats = beating(
            store,
            context.replica_id,
            clock=context.clock,
            interval=beat_seconds(settings.replica_timeout),
        )
        beats.start()
        stack.push_async_callback(beats.stop)
        await stack.enter_async_context(running(services))
        await dispatcher.start()
        stack.push_async_callback(dispatcher.release)  # once stopped, what it did not handle
        stack.push_async_callback(dispatcher.stop)
        housekeeping = pruning(store, settings.delivery_retention_days, clock=context.clock)
        housekeeping.start()
        stack.push_async_callback(housekeeping.stop)
        if settings.recovery_interval > 0:
            api = ConditionalGitHubAPI(session, base_url=settings.api_url, metrics=app[METRICS])
            app[RECOVERY] = recovery = Recovery(services, dispatcher, api)
            recovering = recovery.periodic(settings.recovery_interval)
            recovering.start()
            stack.push_async_callback(recovering.stop)
        yield


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
