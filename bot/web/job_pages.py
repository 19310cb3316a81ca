"""A job's log: steps as sections, the failed one in view, colours, line permalinks,
followed live while the job runs, and the raw text for download.

A log of a private repository is readable with the job's signed link (see `bot.links`),
or by a viewer signed in with GitHub who may read the repository (`bot.web.access`).
"""

from __future__ import annotations

import json

from aiohttp import web

from bot import links
from bot.store import log_pages
from bot.store.log_pages import JOB_LOGS, LogSource
from bot.store.records import Job, Status
from bot.web import follow, logview, messages
from bot.web.access import require_reader
from bot.web.keys import SETTINGS, STORE
from bot.web.templating import render, status_key

MAX_PAGE_CHARS = 512 * 1024  # a page shows at most the last half megabyte of a log


def add_routes(app: web.Application) -> None:
    follow.add_state(app)
    app.router.add_get("/jobs/{job_id:\\d{1,18}}/log", job_log)
    app.router.add_get("/jobs/{job_id:\\d{1,18}}/log.json", job_log_chunk)
    app.router.add_get("/jobs/{job_id:\\d{1,18}}/log.txt", raw_log)
    app.router.add_get("/jobs/{job_id:\\d{1,18}}/log/events", log_events)


async def _job(request: web.Request) -> tuple[Job, str]:
    job_id = int(request.match_info["job_id"])
    store = request.app[STORE]
    job = await store.runs.job(job_id)
    run = await store.runs.get(job.run_id) if job else None
    token = await require_reader(
        request, "job", job_id, run.repo if run else None, messages.NO_SUCH_JOB
    )
    assert job is not None
    return job, token


async def job_log(request: web.Request) -> web.Response:
    """The log page of one job."""
    job, token = await _job(request)
    store = request.app[STORE]
    run = await store.runs.get(job.run_id)
    secret = request.app[SETTINGS].link_secret
    log = await log_view(request, JOB_LOGS, job.id, running=job.status != Status.COMPLETED)
    return render(
        request,
        "job.html",
        job=job,
        run=run,
        key=status_key(job.status, job.conclusion),
        run_url=links.run_url("", job.run_id, secret),
        repo_url=links.repo_url("", run.repo, secret) if run else None,
        log=log,
        raw_url=f"/jobs/{job.id}/log.txt?token={token}",
        events_url=f"/jobs/{job.id}/log/events?token={token}",
    )


async def log_view(
    request: web.Request, source: LogSource, owner: int, *, running: bool
) -> dict[str, object]:
    """What a log page shows: the sections of the log's end, and where a follower starts."""
    window = await log_pages.read_window(
        follow.log_index(request), source, owner, max_chars=MAX_PAGE_CHARS
    )
    text = window.text
    if running and not text.endswith("\n"):  # the last line is not whole: the stream sends it
        text = text[: text.rfind("\n") + 1]
    sections = logview.sections(text, window.first_line)
    return {
        "sections": sections,
        "failed": logview.failed_section(sections),
        "truncated": _truncation(window) if window.skipped else None,
        "at": window.skipped + len(text),
        "line": window.first_line + text.count("\n"),
        "section": logview.state_after(sections),
        "running": running,
    }


def _truncation(window: log_pages.LogWindow) -> str:
    return messages.truncated(_megabytes(window.total - window.skipped), _megabytes(window.total))


def _megabytes(characters: int) -> str:
    return (
        f"{characters / 1_000_000:.1f} MB"
        if characters >= 100_000
        else f"{characters:,} characters"
    )


async def job_log_chunk(request: web.Request) -> web.Response:
    """The log's chunks after `after`, as JSON (for scripts; the page follows by events)."""
    job, _ = await _job(request)
    after = follow.whole_number(request.query.get("after"))
    text, last = await log_pages.read_after(
        request.app[STORE].engine, JOB_LOGS, job.id, after=after
    )
    return web.json_response(
        {"text": logview.clean(text), "after": last, "done": job.status == Status.COMPLETED},
        dumps=json.dumps,
    )


async def raw_log(request: web.Request) -> web.StreamResponse:
    """The whole log as plain text, streamed from the store a few chunks at a time."""
    job, _ = await _job(request)
    return await stream_raw(request, JOB_LOGS, job.id, f"job-{job.id}.log")


async def stream_raw(
    request: web.Request, source: LogSource, owner: int, filename: str
) -> web.StreamResponse:
    """A log as a text/plain download that a browser never renders as a page."""
    disposition = "attachment" if "download" in request.query else "inline"
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/plain; charset=utf-8",
            "Content-Disposition": f'{disposition}; filename="{filename}"',
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        }
    )
    await response.prepare(request)
    async for chunk in log_pages.chunks(request.app[STORE].engine, source, owner):
        await response.write(logview.clean(chunk).encode())
    await response.write_eof()
    return response


async def log_events(request: web.Request) -> web.StreamResponse:
    """New lines of the log as server-sent events while the job runs."""
    job, _ = await _job(request)
    runs = request.app[STORE].runs

    async def finished() -> str | None:
        now = await runs.job(job.id)
        if now is None or now.status == Status.COMPLETED:
            return status_key(Status.COMPLETED, now.conclusion if now else None)
        return None

    return await follow.stream(request, JOB_LOGS, job.id, finished)
