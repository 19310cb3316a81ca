"""What a trigger asks to build: its plan from its own facts, its skip marker, its trust.

A push and a pull request sharing a head each plan from their own facts (`plan_for`); the
pipeline adds what a later plan asks for to the commit's run (`bot.core.replan`).
"""

from __future__ import annotations

from bot import messages
from bot.core.config import Config
from bot.core.plan import (
    PlanContext,
    PlannedJob,
    honours_skip_markers,
    plan_jobs,
    skip_all,
    skip_marker,
)
from bot.core.trust import may_run
from bot.pipeline.commits import CommitReader
from bot.pipeline.requests import BuildRequest
from bot.store import Store
from bot.store.records import Run


class Planner:
    def __init__(self, store: Store, commits: CommitReader) -> None:
        self._store = store
        self._commits = commits

    async def skip_marker(self, run: Run, config: Config, message: str | None) -> str | None:
        if message is None:
            message = await self._commits.message(run)
        if message is None:
            return None  # unreadable: build it rather than skip it
        return skip_marker(config.skip_markers, message)

    async def may_run(self, request: BuildRequest, config: Config) -> bool:
        assert request.pr_number is not None
        state = await self._store.pull_requests.get(request.repo, request.pr_number)
        return may_run(
            config.trust,
            author_association=request.author_association,
            approved_sha=state.trusted_sha,
            head_sha=request.sha,
        )

    async def plan_for(
        self, run: Run, config: Config, request: BuildRequest, marker: str | None
    ) -> tuple[PlannedJob, ...]:
        """The jobs `request` asks for, from its own facts (a pull request's `paths` compare
        its head with the merge base of its base branch); all skipped by an honoured marker."""
        if marker is not None and honours_skip_markers(request.event):
            plan = plan_jobs(config, PlanContext(event=request.event, branch=request.ref))
            return skip_all(plan, messages.skipped_by_marker_reason(marker))
        return await self.plan(
            run,
            config,
            event=request.event,
            branch=request.ref,
            base=request.base_ref,
            since=request.before_sha,
        )

    async def plan(
        self,
        run: Run,
        config: Config,
        *,
        event: str,
        branch: str,
        base: str | None = None,
        since: str | None,
    ) -> tuple[PlannedJob, ...]:
        """Plan with these facts; `since` (else the run's own base) is what `paths` compare."""
        # Only `paths` asks which files changed, and git takes tens of milliseconds to say:
        # a config without them plans (and shows its first check run) without asking.
        uses_paths = any(job.paths for job in config.jobs)
        context = PlanContext(
            event=event,
            branch=branch,
            base=run.base_ref if base is None else base,
            mode=config.mode,
            changed_files=(
                await self._commits.changed_files(run, since=since) if uses_paths else None
            ),
        )
        return plan_jobs(config, context)
