"""The deploy log page that deployment statuses link to (`log_url`), signed like job logs
and followed live the same way while the deploy runs."""

from __future__ import annotations

from aiohttp import web

from bot import links
from bot.store.deployments import DeploymentRecord, Deployments
from bot.store.log_pages import DEPLOYMENT_LOGS
from bot.web import follow, messages
from bot.web.access import require_reader
from bot.web.job_pages import log_view, stream_raw
from bot.web.keys import SETTINGS, STORE
from bot.web.templating import render


def add_routes(app: web.Application) -> None:
    follow.add_state(app)
    app.router.add_get("/deployments/{deployment_id:\\d{1,18}}/log", deployment_log)
    app.router.add_get("/deployments/{deployment_id:\\d{1,18}}/log.txt", raw_log)
    app.router.add_get("/deployments/{deployment_id:\\d{1,18}}/log/events", log_events)


async def _deployment(request: web.Request) -> tuple[DeploymentRecord, str]:
    deployment_id = int(request.match_info["deployment_id"])
    record = await Deployments(request.app[STORE].engine).get(deployment_id)
    repo = record.repo if record else None
    token = await require_reader(
        request, "deployment", deployment_id, repo, messages.NO_SUCH_DEPLOYMENT
    )
    assert record is not None
    return record, token


async def deployment_log(request: web.Request) -> web.Response:
    """The log page of one deployment."""
    record, token = await _deployment(request)
    secret = request.app[SETTINGS].link_secret
    log = await log_view(request, DEPLOYMENT_LOGS, record.id, running=not record.state.is_finished)
    return render(
        request,
        "deployment.html",
        record=record,
        key=record.state.value,
        repo_url=links.repo_url("", record.repo, secret),
        run_url=links.run_url("", record.run_id, secret) if record.run_id else None,
        log=log,
        raw_url=f"/deployments/{record.id}/log.txt?token={token}",
        events_url=f"/deployments/{record.id}/log/events?token={token}",
    )


async def raw_log(request: web.Request) -> web.StreamResponse:
    """The whole deploy log as plain text."""
    record, _ = await _deployment(request)
    return await stream_raw(request, DEPLOYMENT_LOGS, record.id, f"deployment-{record.id}.log")


async def log_events(request: web.Request) -> web.StreamResponse:
    """New lines of the deploy log as server-sent events while it runs."""
    record, _ = await _deployment(request)
    deployments = Deployments(request.app[STORE].engine)

    async def finished() -> str | None:
        now = await deployments.get(record.id)
        if now is None or now.state.is_finished:
            return now.state.value if now else "unknown"
        return None

    return await follow.stream(request, DEPLOYMENT_LOGS, record.id, finished)
