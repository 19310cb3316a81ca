"""The deploy log page that deployment statuses link to (`log_url`), signed like job logs."""

from __future__ import annotations

import html

from aiohttp import web

from bot import links
from bot.store.deployments import Deployments
from bot.web.keys import SETTINGS, STORE
from bot.web.pages import page


def add_routes(app: web.Application) -> None:
    app.router.add_get("/deployments/{deployment_id:\\d+}/log", deployment_log)


async def deployment_log(request: web.Request) -> web.Response:
    deployment_id = int(request.match_info["deployment_id"])
    secret = request.app[SETTINGS].link_secret
    if not links.is_signed("deployment", deployment_id, request.query.get("token", ""), secret):
        raise web.HTTPForbidden(text="This link is not valid; open it from the deployment.")
    store = Deployments(request.app[STORE].engine)
    record = await store.get(deployment_id)
    if record is None:
        raise web.HTTPNotFound(text="No such deployment.")
    text = await store.read_log(deployment_id)
    title = f"{record.repo}: {record.environment} @ {record.sha[:7]}"
    body = (
        f"<p><b>{html.escape(record.state.value)}</b> — {html.escape(record.description)}</p>"
        "<pre style='background:#111;color:#eee;padding:1em;white-space:pre-wrap'>"
        f"{html.escape(text)}</pre>"
    )
    return page(title, body)
