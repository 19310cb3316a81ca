"""Pages linked from check runs: a run and a job's full log (followed live while it runs).

Every link carries a signed token (see `bot.links`), so logs of private repositories are
readable only by whoever got the link from GitHub.
"""

from __future__ import annotations

import html
import json

from aiohttp import web

from bot import links
from bot.store.deployments import DeploymentRecord, Deployments, DeployState
from bot.store.records import Status
from bot.web.keys import SETTINGS, STORE

FOLLOW_SCRIPT = """
<script>
let after = %(after)d;
async function follow() {
  const r = await fetch("%(url)s&after=" + after);
  if (!r.ok) return;
  const data = await r.json();
  if (data.text) { document.getElementById("log").textContent += data.text; }
  after = data.after;
  if (!data.done) setTimeout(follow, 1000); else location.reload();
}
setTimeout(follow, 1000);
</script>
"""


def add_routes(app: web.Application) -> None:
    app.router.add_get("/jobs/{job_id:\\d+}/log", job_log)
    app.router.add_get("/jobs/{job_id:\\d+}/log.json", job_log_chunk)
    app.router.add_get("/runs/{run_id:\\d+}", run_page)
    app.router.add_get("/repos/{owner}/{name}", repo_page)


def _authorized(request: web.Request, kind: str, ident: int | str) -> None:
    secret = request.app[SETTINGS].link_secret
    if not links.is_signed(kind, ident, request.query.get("token", ""), secret):
        raise web.HTTPForbidden(text="This link is not valid; open it from the check run.")


async def job_log(request: web.Request) -> web.Response:
    job_id = int(request.match_info["job_id"])
    _authorized(request, "job", job_id)
    store = request.app[STORE]
    job = await store.runs.job(job_id)
    if job is None:
        raise web.HTTPNotFound(text="No such job.")
    run = await store.runs.get(job.run_id)
    text, last = await store.runs.read_log(job_id)
    token = request.query["token"]
    state = job.conclusion or job.status
    follow = (
        FOLLOW_SCRIPT % {"after": last, "url": f"/jobs/{job_id}/log.json?token={token}"}
        if job.status != Status.COMPLETED
        else ""
    )
    # Step names from the job's results, which are masked, not from its spec: a name can
    # hold a secret as written in the config. While the job runs, the log names each step.
    steps = ", ".join(f"{s['name']} {s['status']}" for s in json.loads(job.steps or "[]"))
    title = f"{job.name} — {run.repo if run else ''} @ {run.sha[:7] if run else ''}"
    body = (
        f"<p>Attempt {job.attempt}: <b>{html.escape(state)}</b>"
        f"{' — ' + html.escape(job.skip_reason) if job.skip_reason else ''}."
        f"{' Steps: ' + html.escape(steps) + '.' if steps else ''}</p>"
        f"<pre id='log' style='background:#111;color:#eee;padding:1em;white-space:pre-wrap'>"
        f"{html.escape(text)}</pre>{follow}"
    )
    return page(title, body)


async def job_log_chunk(request: web.Request) -> web.Response:
    job_id = int(request.match_info["job_id"])
    _authorized(request, "job", job_id)
    store = request.app[STORE]
    job = await store.runs.job(job_id)
    if job is None:
        raise web.HTTPNotFound()
    after = int(request.query.get("after", "0") or 0)
    text, last = await store.runs.read_log(job_id, after=after)
    return web.json_response({"text": text, "after": last, "done": job.status == Status.COMPLETED})


async def run_page(request: web.Request) -> web.Response:
    run_id = int(request.match_info["run_id"])
    _authorized(request, "run", run_id)
    store = request.app[STORE]
    run = await store.runs.get(run_id)
    if run is None:
        raise web.HTTPNotFound(text="No such run.")
    settings = request.app[SETTINGS]
    rows = []
    for job in await store.runs.jobs(run_id):
        url = links.job_log_url("", job.id, settings.link_secret)
        duration = (
            f"{job.finished_at - job.started_at:.1f} s"
            if job.finished_at is not None and job.started_at is not None
            else ""
        )
        steps = json.loads(job.steps or "[]")
        rows.append(
            f"<tr><td><a href='{html.escape(url)}'>{html.escape(job.name)}</a></td>"
            f"<td>{html.escape(job.conclusion or job.status)}</td><td>{duration}</td>"
            f"<td>{html.escape(', '.join(s['name'] + ' ' + s['status'] for s in steps))}</td></tr>"
        )
    body = (
        f"<p>{html.escape(run.event)} on {html.escape(run.ref)}: "
        f"<b>{html.escape(run.conclusion or run.status)}</b>"
        f"{' — ' + html.escape(run.note) if run.note else ''}</p>"
        "<table border=1 cellpadding=4><tr><th>job</th><th>result</th><th>time</th>"
        f"<th>steps</th></tr>{''.join(rows)}</table>"
    )
    repo_link = links.repo_url("", run.repo, settings.link_secret)
    body += f"<p><a href='{html.escape(repo_link)}'>All runs of {html.escape(run.repo)}</a></p>"
    return page(f"{run.repo} @ {run.sha[:7]}", body)


async def repo_page(request: web.Request) -> web.Response:
    """A repository's recent runs, newest first."""
    repo = f"{request.match_info['owner']}/{request.match_info['name']}"
    _authorized(request, "repo", repo)
    settings = request.app[SETTINGS]
    rows = []
    for run in await request.app[STORE].runs.recent(repo, limit=50):
        url = links.run_url("", run.id, settings.link_secret)
        where = f"#{run.pr_number}" if run.pr_number else run.ref
        rows.append(
            f"<tr><td><a href='{html.escape(url)}'>{run.sha[:7]}</a></td>"
            f"<td>{html.escape(run.event)}</td><td>{html.escape(where)}</td>"
            f"<td>{html.escape(run.conclusion or run.status)}</td>"
            f"<td>{html.escape(run.note or '')}</td></tr>"
        )
    body = (
        await _deployments_section(request, repo)
        + "<h2>Runs</h2><table border=1 cellpadding=4><tr><th>commit</th><th>event</th>"
        "<th>branch or PR</th><th>result</th><th>note</th></tr>"
        f"{''.join(rows) or '<tr><td colspan=5>no runs yet'}</table>"
    )
    return page(f"{repo}: runs and deployments", body)


async def _deployments_section(request: web.Request, repo: str) -> str:
    """What is live where, then the deployment history (rollback targets among it)."""
    secret = request.app[SETTINGS].link_secret
    history = await Deployments(request.app[STORE].engine).history(repo, limit=50)
    if not history:
        return ""
    live: dict[str, DeploymentRecord] = {}
    for record in reversed(history):  # oldest first: the last success per environment wins
        if record.state == DeployState.SUCCESS:
            live[record.environment] = record
    live_rows = "".join(
        f"<tr><td>{html.escape(env)}</td><td>{record.sha[:7]}</td></tr>"
        for env, record in sorted(live.items())
    )
    rows = "".join(
        f"<tr><td><a href='{html.escape(links.deployment_log_url('', r.id, secret))}'>"
        f"{r.id}</a></td><td>{html.escape(r.environment)}</td><td>{r.sha[:7]}</td>"
        f"<td>{html.escape(r.state.value)}</td><td>{html.escape(r.description)}</td></tr>"
        for r in history
    )
    return (
        "<h2>Live</h2><table border=1 cellpadding=4><tr><th>environment</th><th>commit</th>"
        f"</tr>{live_rows or '<tr><td colspan=2>nothing deployed successfully yet'}</table>"
        "<h2>Deployments</h2><table border=1 cellpadding=4><tr><th>#</th><th>environment</th>"
        f"<th>commit</th><th>state</th><th>description</th></tr>{rows}</table>"
    )


def page(title: str, body: str, *, status: int = 200) -> web.Response:
    """One HTML page of this service: `body` is already escaped markup."""
    return web.Response(
        status=status,
        text=(
            "<!doctype html><html><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title></head><body style='font-family:sans-serif;"
            f"margin:2em'><h1>{html.escape(title)}</h1>{body}</body></html>"
        ),
        content_type="text/html",
    )
