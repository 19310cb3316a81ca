"""After a deploy's steps succeeded: its health check, and what a failed one calls for.

The check holds the environment's lease (the deployer runs it inside its turn), probes
where steps run (`bot.deploy.health`), and ends the deploy; a failed one rolls back to the
environment's last good release through the deployer's queue, as `/rollback` does, unless
the environment turned that off or the failed deploy was itself a rollback (no loop).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from typing import Any, Protocol, assert_never

from bot.context import Context
from bot.core.deploy import NeverBuilt, NotQueued
from bot.core.health import HealthCheck, Resume, Rollback, StayFailed, Unhealthy, resume
from bot.deploy import health, messages
from bot.deploy.notices import Notices
from bot.deploy.requests import DeployRequest
from bot.executor.base import Ticket
from bot.store.deployments import DeploymentRecord, Deployments

RunSteps = Callable[[Ticket, asyncio.Event], Awaitable[str]]
Submit = Callable[[DeployRequest], Awaitable[DeploymentRecord | NotQueued]]
FollowUps = list[Coroutine[Any, Any, None]]


class PostStatus(Protocol):
    async def __call__(
        self, record: DeploymentRecord, state: str, *, description: str, **extra: Any
    ) -> None: ...


class Checkup:
    def __init__(
        self,
        context: Context,
        store: Deployments,
        notices: Notices,
        *,
        run_steps: RunSteps,
        post_status: PostStatus,
        submit: Submit,
        log_url: Callable[[int], str],
    ) -> None:
        self._context = context
        self._store = store
        self._notices = notices
        self._run_steps = run_steps
        self._post_status = post_status
        self._submit = submit
        self._log_url = log_url

    async def check(
        self, record: DeploymentRecord, ticket: Ticket, check: HealthCheck, cancel: asyncio.Event
    ) -> tuple[str, str | None]:
        """Probe the environment where the steps ran: how the deploy ends, and what the
        failed probe saw if it was unhealthy."""
        await self._post_status(
            record, "in_progress", description=messages.status_checking_health()
        )
        # The steps' lines are not probes: the check's own begin here, which a replica
        # taking the deploy over reads (`resume`). Its conclusion is the probe loop's.
        start = len(await self._store.read_log(record.id))
        await self._store.update(record.id, conclusion=None, health_from=start)
        extra_ca = self._context.settings.health_ca
        ended = await self._run_steps(
            health.health_ticket(ticket, check, extra_ca=extra_ca), cancel
        )
        if cancel.is_set():
            return ended, None
        verdict = health.verdict_from_log(check, (await self._store.read_log(record.id))[start:])
        if isinstance(verdict, Unhealthy):
            detail = verdict.probe.detail
            await self._store.append_log(record.id, messages.health_failed_log(detail))
            return "failure", detail
        await self._store.append_log(record.id, messages.health_passed_log(verdict.probes))
        return "success", None

    async def resume(
        self, record: DeploymentRecord, ticket: Ticket, check: HealthCheck, cancel: asyncio.Event
    ) -> tuple[str, str | None]:
        """Go on with the health check a stopped replica was running: a probe that failed
        before it stopped decides; otherwise probe again for what remains of the period."""
        assert record.health_from is not None
        log = (await self._store.read_log(record.id))[record.health_from :]
        started, probes = health.read_probes(check, log)
        decision = resume(check, started, probes)
        match decision:
            case Unhealthy(probe=probe):
                await self._store.append_log(record.id, messages.health_failed_log(probe.detail))
                return "failure", probe.detail
            case Resume(for_seconds=remaining):
                await self._store.append_log(record.id, messages.health_resumed_log(remaining))
                return await self.check(
                    record, ticket, replace(check, for_seconds=remaining), cancel
                )
            case _:
                assert_never(decision)

    async def after_unhealthy(
        self,
        record: DeploymentRecord,
        request: DeployRequest,
        detail: str,
        since: DeploymentRecord | None,
    ) -> FollowUps:
        """Roll back to the last good deploy (unless that is off, or this was a rollback);
        what tells the deployment log, the commit and the merged pull requests."""
        rollback_to, because = await self._roll_back_if_due(record, request)
        note = messages.rolling_back_log(rollback_to) if rollback_to else None
        await self._store.append_log(record.id, note or messages.not_rolling_back_log(because))
        log_url, env = self._log_url(record.id), request.environment
        output = messages.unhealthy_check(
            env.name, record.sha, detail, log_url, rollback_to=rollback_to, because=because
        )
        follow_ups: FollowUps = [
            self._notices.failed_check(record, conclusion="failure", log_url=log_url, output=output)
        ]
        if not request.rollback:  # a rollback's PRs were told when their change first went
            follow_ups.append(
                self._notices.tell(
                    record,
                    url=env.url,
                    log_url=log_url,
                    since=since.sha if since else None,
                    order=tuple(e.name for e in request.environments),
                    extra_pr=request.pr_number,
                    detail=messages.notice_unhealthy(detail, rollback_to),
                )
            )
        return follow_ups

    async def _roll_back_if_due(
        self, record: DeploymentRecord, request: DeployRequest
    ) -> tuple[str | None, str]:
        """The SHA a rollback was queued for, or None and why not."""
        decision = await health.after_failed_health(self._store, record, request.environment)
        match decision:
            case Rollback(to_sha=sha):
                refusal = await self._roll_back(request, sha)
                return (sha, "") if refusal is None else (None, refusal)
            case StayFailed(because=because):
                return None, because
            case _:
                assert_never(decision)

    async def _roll_back(self, request: DeployRequest, sha: str) -> str | None:
        """Queue the redeploy of `sha`, the environment's last good release; why not, if
        it could not be."""
        run = await self._context.store.runs.for_sha(request.run.repo, sha)
        if run is None:
            return messages.refusal(NeverBuilt(sha[:7]))
        back = DeployRequest(run, request.environment, request.environments, rollback=True)
        queued = await self._submit(back)
        return None if isinstance(queued, DeploymentRecord) else messages.not_queued(queued)
