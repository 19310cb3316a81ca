"""A repository: its runs (filterable by branch, pull request and status), charts of the
default branch's runs and of each job's duration, and its environments: what is live,
the deploy history, and the deploy `/rollback` would go back to."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from aiohttp import web

from bot import links
from bot.core.deploy import PastDeploy, rollback_target
from bot.store import overview
from bot.store.deployments import DeploymentRecord, Deployments, DeployState
from bot.store.records import Status
from bot.web import charts, messages
from bot.web.access import require_reader
from bot.web.actions import may_act
from bot.web.freeze_view import repository_calendar
from bot.web.keys import CLOCK, SETTINGS, STORE
from bot.web.templating import render

CHART_RUNS = 30
OUTCOMES = ("success", "failure", "cancelled", "timed_out", "in_progress", "queued")


@dataclass(frozen=True)
class Environment:
    name: str
    live: DeploymentRecord | None
    rollback_to: int | None  # the deployment `/rollback` would deploy again


def add_routes(app: web.Application) -> None:
    app.router.add_get("/repos/{owner}/{name}", repo_page)


async def repo_page(request: web.Request) -> web.Response:
    """A repository's runs, charts and environments."""
    repo = f"{request.match_info['owner']}/{request.match_info['name']}"
    token = await require_reader(request, "repo", repo, repo, "")
    engine = request.app[STORE].engine
    secret = request.app[SETTINGS].link_secret
    chosen = run_filter(request.query)
    facts = await overview.repository_facts(engine, repo)
    default = facts.default_branch or "main"
    history = await overview.branch_runs(engine, repo, default, limit=CHART_RUNS)
    run_ids = [s.run.id for s in reversed(history)]
    deployments = await Deployments(engine).history(repo, limit=50)
    runs = await overview.run_summaries(engine, repo, chosen)
    # Freezes are decided by the default branch's tip: its newest build is that, or soon.
    tip = history[0].run.sha if history and facts.default_branch else None
    now = request.app.get(CLOCK, time.time)()
    return render(
        request,
        "repo.html",
        repo=repo,
        token=token,
        chosen=chosen,
        outcomes=OUTCOMES,
        runs=runs,
        run_url=lambda run_id: links.run_url("", run_id, secret),
        deployment_url=lambda deployment_id: links.deployment_log_url("", deployment_id, secret),
        facts=facts,
        default_branch=default,
        bars=charts.run_bars(history),
        trends=charts.job_trends(await overview.job_times(engine, run_ids), run_ids),
        chart=charts,
        environments=environments(deployments),
        deployments=deployments,
        can_act=await may_act(request, repo),
        freeze=await repository_calendar(request, repo, tip, now),
        freeze_unread=messages.FREEZE_UNREAD,
        live_url=live_url(repo, token, request.query, runs, deployments),
        live_text=messages.LIVE,
        new_runs=(messages.LIVE_NEW_RUNS, messages.LIVE_SHOW),
        now=now,
        deploy_sha=next((s.run.sha for s in history if s.run.conclusion == "success"), ""),
    )


def live_url(
    repo: str,
    token: str,
    query: Mapping[str, str],
    runs: list[overview.RunSummary],
    deployments: list[DeploymentRecord],
) -> str | None:
    """Where the page asks for its statuses while something on it runs (else None)."""
    running = any(s.run.status != Status.COMPLETED for s in runs) or any(
        not d.state.is_finished for d in deployments
    )
    if not running:
        return None
    kept = {key: query[key] for key in ("branch", "pr", "status") if query.get(key)}
    return f"/repos/{repo}/live?{urlencode({'token': token, **kept})}"


def run_filter(query: Mapping[str, str]) -> overview.RunFilter:
    """The filter the query asks for; a value that cannot be one is ignored."""
    pr = query.get("pr", "").lstrip("#")
    outcome = query.get("status", "")
    return overview.RunFilter(
        ref=query.get("branch") or None,
        pr_number=int(pr) if pr.isdigit() and len(pr) < 10 else None,
        outcome=outcome if outcome in OUTCOMES else None,
    )


def environments(history: list[DeploymentRecord]) -> list[Environment]:
    """Each environment deployed to, with what is live and the rollback target."""
    by_name: dict[str, list[DeploymentRecord]] = {}
    for record in history:  # newest first
        by_name.setdefault(record.environment, []).append(record)
    found = []
    for name, records in sorted(by_name.items()):
        live = next((r for r in records if r.state == DeployState.SUCCESS), None)
        past = [PastDeploy(r.sha, r.state.value, r.rollback) for r in records]
        target = rollback_target(past)
        target_id = records[past.index(target)].id if isinstance(target, PastDeploy) else None
        found.append(Environment(name, live, target_id))
    return found
