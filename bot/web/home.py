"""The status page `/` once the app exists: the repositories this viewer may see, each
with its default branch's latest run and what is live in each environment.

Without sign-in a viewer sees public repositories only: a private repository's name, runs
and deployments are shown only to a viewer signed in with GitHub who may read it.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from bot import links
from bot.store import overview
from bot.store.deployments import DeploymentRecord, Deployments, DeployState
from bot.store.overview import RepositoryEntry, RunSummary
from bot.web.keys import SERVICES, SETTINGS, STORE
from bot.web.sessions import viewer_of
from bot.web.templating import render
from bot.web.viewers import may_read


@dataclass(frozen=True)
class RepositoryCard:
    entry: RepositoryEntry
    url: str
    default_branch: str
    latest: RunSummary | None
    latest_url: str | None
    live: list[DeploymentRecord]


async def status_page(request: web.Request) -> web.Response:
    """What runs where, for the repositories this viewer may see."""
    engine = request.app[STORE].engine
    viewer = viewer_of(request)
    visible = [
        entry
        for entry in await overview.repository_entries(engine)
        if not entry.private or (viewer and await may_read(request, viewer, entry.full_name))
    ]
    cards = [await _card(request, entry) for entry in visible]
    accounts: dict[str, list[RepositoryCard]] = {}
    for card in cards:
        accounts.setdefault(card.entry.account, []).append(card)
    return render(
        request,
        "home.html",
        accounts=sorted(accounts.items()),
        sandbox=await request.app[SERVICES].pipeline.report_sandbox(),
    )


async def _card(request: web.Request, entry: RepositoryEntry) -> RepositoryCard:
    engine = request.app[STORE].engine
    secret = request.app[SETTINGS].link_secret
    facts = await overview.repository_facts(engine, entry.full_name)
    branch = facts.default_branch or "main"
    latest = next(iter(await overview.branch_runs(engine, entry.full_name, branch, limit=1)), None)
    live: dict[str, DeploymentRecord] = {}
    for record in await Deployments(engine).history(entry.full_name, limit=100):
        if record.state == DeployState.SUCCESS:
            live.setdefault(record.environment, record)  # newest first: the first wins
    return RepositoryCard(
        entry,
        links.repo_url("", entry.full_name, secret),
        branch,
        latest,
        links.run_url("", latest.run.id, secret) if latest else None,
        [live[name] for name in sorted(live)],
    )
