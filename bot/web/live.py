"""What a run's or a repository's page needs to refresh itself while something runs: the
statuses on it, as JSON, polled by `static/live.js` every two seconds.

Polling a small document rather than holding a stream open: these pages change a few
times a minute (a job finishing, a deploy starting), a poll costs one indexed read, and a
page left open in a tab stops asking once nothing on it is running. The log pages, which
change many times a second, stream instead (`bot.web.follow`). Readers are let in as
for the pages themselves: the same signed token, or a signed-in viewer who may read.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.store import overview
from bot.store.deployments import Deployments
from bot.store.records import Status
from bot.web import messages
from bot.web.access import require_reader
from bot.web.keys import STORE
from bot.web.repo_pages import run_filter
from bot.web.run_pages import stages
from bot.web.templating import status_icon, status_key, status_word, tone

POLL_MILLISECONDS = 2_000
NO_STORE = {"Cache-Control": "no-store"}


def add_routes(app: web.Application) -> None:
    app.router.add_get("/runs/{run_id:\\d{1,18}}/live", run_statuses)
    app.router.add_get("/repos/{owner}/{name}/live", repo_statuses)


def badge(key: str) -> dict[str, str]:
    """A status as the page draws it: colour family, icon and word."""
    return {"key": key, "tone": tone(key), "icon": status_icon(key), "word": status_word(key)}


async def run_statuses(request: web.Request) -> web.Response:
    """The statuses of a run's page: the run, each job, each group of matrix jobs."""
    run_id = int(request.match_info["run_id"])
    store = request.app[STORE]
    run = await store.runs.get(run_id)
    await require_reader(request, "run", run_id, run.repo if run else None, messages.NO_SUCH_RUN)
    assert run is not None
    jobs = await store.runs.jobs(run_id)
    groups = [group for stage in stages(jobs, "") for group in stage]
    answer: dict[str, Any] = {
        "running": run.status != Status.COMPLETED,
        "done": messages.LIVE_RUN_DONE,
        "badges": {
            "run": {str(run.id): badge(status_key(run.status, run.conclusion))},
            "job": {str(job.id): badge(status_key(job.status, job.conclusion)) for job in jobs},
            "group": {group.name: badge(group.key) for group in groups},
        },
    }
    return web.json_response(answer, headers=NO_STORE)


async def repo_statuses(request: web.Request) -> web.Response:
    """The statuses of a repository's page: its listed runs and its deployments."""
    repo = f"{request.match_info['owner']}/{request.match_info['name']}"
    await require_reader(request, "repo", repo, repo, "")
    engine = request.app[STORE].engine
    summaries = await overview.run_summaries(engine, repo, run_filter(request.query))
    deployments = await Deployments(engine).history(repo, limit=50)
    running = any(s.run.status != Status.COMPLETED for s in summaries) or any(
        not d.state.is_finished for d in deployments
    )
    answer: dict[str, Any] = {
        "running": running,
        "done": messages.LIVE_REPO_DONE,
        "newest": max((s.run.id for s in summaries), default=0),
        "badges": {
            "run": {
                str(s.run.id): badge(status_key(s.run.status, s.run.conclusion)) for s in summaries
            },
            "deployment": {str(d.id): badge(d.state.value) for d in deployments},
        },
    }
    return web.json_response(answer, headers=NO_STORE)
