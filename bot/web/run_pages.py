"""A run: its jobs as stages of the `needs` graph, matrix combinations grouped, each with
its status and duration, and links to the pull request and commit on GitHub."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot import links
from bot.store import overview
from bot.store.records import Job, Status
from bot.web import messages
from bot.web.access import require_reader
from bot.web.actions import may_act
from bot.web.keys import SETTINGS, STORE
from bot.web.templating import render, status_key

WORST_FIRST = ("failure", "timed_out", "cancelled", "action_required", "in_progress", "queued")


@dataclass
class JobGroup:
    """The jobs of one configured job: one, or one per matrix combination."""

    name: str
    jobs: list[tuple[Job, str, str]] = field(default_factory=list)  # job, status key, log URL

    @property
    def key(self) -> str:
        """The group's status: its worst job's (a failure outshines a success)."""
        keys = [key for _, key, _ in self.jobs]
        return min(keys, key=lambda key: WORST_FIRST.index(key) if key in WORST_FIRST else 99)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/runs/{run_id:\\d{1,18}}", run_page)


async def run_page(request: web.Request) -> web.Response:
    """One run's jobs, stage by stage."""
    run_id = int(request.match_info["run_id"])
    store = request.app[STORE]
    summary = await overview.run_summary(store.engine, run_id)
    repo = summary.run.repo if summary else None
    token = await require_reader(request, "run", run_id, repo, messages.NO_SUCH_RUN)
    assert summary is not None
    settings = request.app[SETTINGS]
    run = summary.run
    facts = await overview.repository_facts(store.engine, run.repo)
    jobs = await store.runs.jobs(run_id)
    return render(
        request,
        "run.html",
        summary=summary,
        run=run,
        key=status_key(run.status, run.conclusion),
        stages=stages(jobs, settings.link_secret),
        title=facts.titles.get(run.pr_number) if run.pr_number else None,
        sender=facts.senders.get(run.sha),
        repo_url=links.repo_url("", run.repo, settings.link_secret),
        github=f"{settings.web_url}/{run.repo}",
        can_act=await may_act(request, run.repo, run),
        live_url=f"/runs/{run_id}/live?token={token}" if run.status != Status.COMPLETED else None,
        live_text=messages.LIVE,
    )


def stages(jobs: list[Job], secret: str) -> list[list[JobGroup]]:
    """The jobs grouped by configured job, in stages: a job comes after all it needs."""
    groups: dict[str, JobGroup] = {}
    needs: dict[str, list[str]] = {}
    for job in jobs:
        spec = _spec(job)
        base = str(spec.get("base_name") or job.name)
        group = groups.setdefault(base, JobGroup(base))
        url = links.job_log_url("", job.id, secret)
        group.jobs.append((job, status_key(job.status, job.conclusion), url))
        needs[base] = [str(n) for n in spec.get("needs", [])]
    depth: dict[str, int] = {}
    for name in groups:
        _depth(name, needs, depth, set())
    ordered: list[list[JobGroup]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for name, group in groups.items():
        ordered[depth[name]].append(group)
    return ordered


def _depth(name: str, needs: dict[str, list[str]], depth: dict[str, int], seen: set[str]) -> int:
    """The stage of `name`: 0 without needs, else one after its latest need."""
    if name in depth:
        return depth[name]
    seen.add(name)
    before = [
        _depth(n, needs, depth, seen) for n in needs.get(name, []) if n in needs and n not in seen
    ]
    depth[name] = 1 + max(before) if before else 0
    return depth[name]


def _spec(job: Job) -> dict[str, Any]:
    try:
        spec = json.loads(job.spec)
    except ValueError:
        return {}
    return spec if isinstance(spec, dict) else {}
