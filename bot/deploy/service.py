"""The deployer: a queue per repository and environment, GitHub Deployments, promotion.

At most one deploy runs per repository and environment, on any replica: the one running
it holds the environment's lease in the store, renewed while it runs. Waiting deploys are
in the store too (`queued`): a newer one supersedes every older one that has not started,
whichever replica queued it, and each replica's worker waits for the lease for its own.
A deploy that succeeds promotes its SHA to the next environment of its chain; a failure
stops the chain there.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Mapping
from dataclasses import replace
from typing import Any

from bot import links
from bot.context import Context
from bot.core import deploy as decide
from bot.core.checks import check_run_actions
from bot.deploy import messages
from bot.deploy.checkup import Checkup
from bot.deploy.facts import Facts
from bot.deploy.freeze import FreezeGate
from bot.deploy.notices import Notices
from bot.deploy.requests import DeployRequest
from bot.deploy.turns import Queue, Turns, queue_lock
from bot.executor.base import Executor, Target, TargetKind, Ticket
from bot.github.backlog import is_worth_retrying
from bot.github.client import InstallationClient
from bot.github.errors import GitHubError
from bot.pipeline.tickets import CodeTokenUnavailable, TicketMaker
from bot.store.deployments import DeploymentRecord, Deployments, DeployState, NewDeployment
from bot.store.owners import Work
from bot.store.records import Run
from bot.timekeeper import Timekeeper

log = logging.getLogger("greenlight.deploy")
__all__ = ["DeployRequest", "Deployer"]  # the request, for the commands that make them


class Deployer:
    def __init__(
        self,
        context: Context,
        *,
        executor: Executor,
        tickets: TicketMaker,
        timekeeper: Timekeeper,
    ) -> None:
        self.context = context
        self.store = Deployments(context.store.engine)
        self.notices = Notices(context, self.store)
        self._queues: dict[tuple[str, str], Queue[DeployRequest]] = {}
        self._background: set[asyncio.Task[None]] = set()
        # The steps run on the pipeline's executor, as build jobs do: here or on Celery.
        self._executor = executor
        self._tickets = tickets
        self._executor.listeners.add(TargetKind.DEPLOY, finished=self._steps_ended)
        self._ended: dict[int, asyncio.Event] = {}  # deployment id → its steps ended
        self._turns = Turns(context, self.store)
        self._freezes = FreezeGate(context, timekeeper, self.submit)
        self._checkup = Checkup(
            context,
            self.store,
            self.notices,
            run_steps=self._run_steps,
            post_status=self._status,
            submit=self.submit,
            log_url=self.log_url,
        )

    # Life cycle --------------------------------------------------------------------------------

    async def recover(self) -> None:
        """At start-up: end the deploys no live replica holds (a previous process's)."""
        await self.take_over(await self.context.live_replicas())

    async def take_over(self, live: set[str]) -> None:
        """Deploys of replicas not in `live`: one that was checking its environment's health
        carries on here (its steps are done: the check resumes for what remains of its
        period, then the deploy ends, rolls back or promotes as it would have there).
        Any other ends as `error` on GitHub, saying why: its steps died with a local
        replica; a Celery worker running them is told to stop."""
        if self.context.settings.credentials is None:
            return
        owners, me = self.context.store.owners, self.context.replica_id
        for deployment_id, previous in await owners.abandoned(Work.DEPLOY, live):
            if not await owners.take(Work.DEPLOY, deployment_id, owner=me, previous=previous):
                continue  # it ended meanwhile, or another replica took it
            record = await self.store.get(deployment_id)
            assert record is not None
            if self._may_resume(record):
                if previous is not None:  # the stopped replica's hold on the environment
                    await self._turns.free((record.repo, record.environment), previous)
                self._in_background(self._resume_health(record))
                continue
            await self._executor.abandon(Target.deploy(record.id))
            await self._end_as_restarted(record)
            if previous is not None:  # its environment is free now, not when the lease ends
                await self._turns.free((record.repo, record.environment), previous)

    def _may_resume(self, record: DeploymentRecord) -> bool:
        """A deploy whose steps succeeded and whose health check had begun, on an executor
        whose processes ended with the replica (a Celery worker's probe loop outlives it,
        and one told to stop cannot be told to start again under the same name)."""
        return (
            record.state is DeployState.IN_PROGRESS
            and record.health_from is not None
            and not self._executor.owns_running_jobs
        )

    async def stop(self) -> None:
        for queue in self._queues.values():
            queue.cancel.set()
        await self.wait_idle()

    async def wait_idle(self) -> None:
        """Until no deploy runs or waits and every comment is written."""
        while True:
            tasks = [q.worker for q in self._queues.values() if q.worker and not q.worker.done()]
            tasks += [t for t in self._background if not t.done()]
            if not tasks:
                return
            await asyncio.gather(*tasks, return_exceptions=True)

    # The mode at work ----------------------------------------------------------------------------

    async def on_run_completed(self, run: Run) -> None:
        """A green build of the default branch goes as far as the mode takes it."""
        await self._carry(run, add_button=True)

    async def reconsider(self, repo: str, sha: str) -> None:
        """Checks of other apps changed on `sha`: deploy it if that is allowed now.

        A branch may require checks that finish after Greenlight's own run; their
        `check_suite` / `status` events call this so the deploy is not lost.
        """
        run = await self.context.store.runs.for_sha(repo, sha)
        if run is not None:
            await self._carry(run, add_button=False)

    async def _carry(self, run: Run, *, add_button: bool) -> None:
        if run.conclusion != "success" or run.event != "push" or run.installation_id is None:
            return
        facts = Facts(self.context, run.installation_id, run.repo)
        default_branch = await facts.default_branch()
        if run.ref != default_branch:
            return
        config = await facts.config(run.sha)
        if config is None or not config.deploy.environments:
            return
        environments = config.deploy.environments
        button = decide.button_environment(config.mode, environments)
        if button is not None and add_button:
            await self._add_button(run, button)
        automatic = decide.automatic_environments(config.mode, environments)
        if not automatic:
            return
        verdict = decide.may_deploy(await facts.sha_facts(run.sha, default_branch))
        if isinstance(verdict, decide.Refuse):
            reason = messages.refusal(verdict.reason)
            log.info("not deploying %s of %s: %s", run.sha[:7], run.repo, reason)
            return
        first = config.deploy.environment(automatic[0])
        assert first is not None
        outcome = await self.submit(
            DeployRequest(
                run, first, environments, chain=decide.promotion(automatic, first.name).to
            )
        )
        if not isinstance(outcome, DeploymentRecord):
            log.info(
                "not deploying %s of %s to %s: %s",
                run.sha[:7], run.repo, first.name, messages.not_queued(outcome),
            )  # fmt: skip

    async def _add_button(self, run: Run, environment: str) -> None:
        if run.aggregate_check_id is None:
            return
        client = self.context.github.installation(run.installation_id or 0)
        actions = check_run_actions(can_rerun_failed=False, deploy_env=environment)
        try:
            await client.update_check_run(
                run.repo, run.aggregate_check_id, {"actions": list(actions)}
            )
        except GitHubError as error:
            log.warning("could not add the deploy button to %s: %s", run.sha[:7], error)

    # The queue --------------------------------------------------------------------------------

    async def submit(self, request: DeployRequest) -> DeploymentRecord | decide.NotQueued:
        """Queue a deploy (replacing an older waiting one), or say why it did not.

        An automatic deploy that a freeze window holds waits for the window's end instead.
        """
        if request.automatic:
            held = await self._freezes.hold(request.run, request.environment.name, request.chain)
            if held is not None:
                return held
        queue = self._queues.setdefault(request.key, Queue())
        async with self.context.store.locks.hold(queue_lock(request.key)):
            queued = await self._enqueue(queue, request)
        if isinstance(queued, decide.Skip) and queued.already_live and request.chain:
            return await self.submit(self._next(request))
        return queued

    async def _enqueue(
        self, queue: Queue[DeployRequest], request: DeployRequest
    ) -> DeploymentRecord | decide.Skip | decide.Refuse:
        live = await self.store.live(*request.key)
        skip = (
            await self._failed_before(request)
            or await self._behind_live(request, live)
            or await self._behind_queue(request)
        )
        if skip is not None:
            return skip
        try:
            record = await self._create(request)
        except GitHubError as error:
            if is_worth_retrying(error):
                raise  # the caller's work is put off and asked again (see bot.github.backlog)
            return decide.Refuse(decide.GitHubRefused(str(error)))
        for older in await self.store.of_state(*request.key, DeployState.QUEUED):
            if older.id != record.id:  # waiting here or on another replica
                await self._finish(
                    older, DeployState.SUPERSEDED, messages.superseded_by(request.run.sha)
                )
        queue.waiting = (record, replace(request, live_id=live.id if live else None))
        if queue.worker is None or queue.worker.done():
            queue.worker = asyncio.create_task(
                self._drain(request.key, queue), name=f"deploy-{request.key}"
            )
        return record

    async def _failed_before(self, request: DeployRequest) -> decide.Skip | None:
        """An automatic deploy never repeats a failed one: a person decides to try again.

        Another app's check completing later on the same SHA calls `reconsider`, which
        must not re-run a deploy that failed (a half-applied migration, say).
        """
        if not request.automatic:
            return None
        last = await self.store.last_of_sha(*request.key, request.run.sha)
        if last is None or last.state != DeployState.FAILURE:
            return None
        return decide.Skip(decide.SkipReason.FAILED_BEFORE, request.environment.name)

    async def _behind_live(
        self, request: DeployRequest, live: DeploymentRecord | None
    ) -> decide.Skip | None:
        """An automatic deploy of a SHA not newer than what is live."""
        if not request.automatic:
            return None
        facts = Facts(self.context, request.run.installation_id or 0, request.run.repo)
        ancestry = await facts.ancestry(live.sha if live else None, request.run.sha)
        verdict = decide.may_replace_live(ancestry, request.environment.name, asked_by_person=False)
        return verdict if isinstance(verdict, decide.Skip) else None

    async def _behind_queue(self, request: DeployRequest) -> decide.Skip | None:
        """An automatic deploy must not repeat the running one nor replace a newer waiting
        one (on any replica)."""
        if not request.automatic:
            return None
        running = await self.store.of_state(*request.key, DeployState.IN_PROGRESS)
        if any(record.sha == request.run.sha for record in running):
            return decide.Skip(decide.SkipReason.ALREADY_DEPLOYING, request.environment.name)
        queued = await self.store.of_state(*request.key, DeployState.QUEUED)
        waiting = queued[-1] if queued else None
        if waiting is None or waiting.requested_by is not None:
            return None
        facts = Facts(self.context, request.run.installation_id or 0, request.run.repo)
        ancestry = await facts.ancestry(waiting.sha, request.run.sha)
        if ancestry in {decide.Ancestry.OLDER, decide.Ancestry.SAME}:
            return decide.Skip(decide.SkipReason.OLDER_THAN_WAITING, request.environment.name)
        return None

    def _next(self, request: DeployRequest) -> DeployRequest:
        following = next(e for e in request.environments if e.name == request.chain[0])
        return replace(request, environment=following, chain=request.chain[1:])

    async def _drain(self, key: tuple[str, str], queue: Queue[DeployRequest]) -> None:
        while (taken := await self._turns.take_next(key, queue)) is not None:
            record, request = taken
            try:
                async with self._turns.holding(key):
                    promote, follow_ups = await self._deploy(record, request, queue.cancel)
            except Exception:  # one broken deploy must not stop the queue
                log.exception("deploy %s crashed", record.id)
                await self._finish(record, DeployState.FAILURE, messages.crashed())
                continue
            if promote and request.chain:
                await self.submit(self._next(request))
            # Comments and check runs after the promotion: people wait on production first.
            for work in follow_ups:
                self._in_background(work)

    # One deploy ------------------------------------------------------------------------------

    async def _create(self, request: DeployRequest) -> DeploymentRecord:
        run, env = request.run, request.environment
        description = messages.description(
            env.name, run.sha, actor=request.requested_by, rollback=request.rollback
        )
        record = await self.store.add(
            NewDeployment(
                repo=run.repo,
                environment=env.name,
                sha=run.sha,
                installation_id=run.installation_id,
                run_id=run.id,
                requested_by=request.requested_by,
                rollback=request.rollback,
                description=description,
                owner=self.context.replica_id,
            ),
            now=self.context.clock(),
        )
        client = self.context.github.installation(run.installation_id or 0)
        try:
            github_id = await self._create_on_github(client, request, record)
        except GitHubError as error:
            # Never left queued: a refusal is a failure; an outage is tried again whole.
            failing = is_worth_retrying(error)
            state = DeployState.SKIPPED if failing else DeployState.FAILURE
            text = (messages.github_failing if failing else messages.github_refused)(str(error))
            await self._finish(record, state, text)
            raise
        # No `queued` status: writes are paced (80 a minute), and a deployment without
        # statuses already shows as waiting on GitHub.
        return await self.store.update(record.id, github_id=github_id)

    async def _create_on_github(
        self, client: InstallationClient, request: DeployRequest, record: DeploymentRecord
    ) -> int:
        run, env = request.run, request.environment
        return await client.create_deployment(
            run.repo,
            {
                "ref": run.sha,
                "task": "deploy",
                "environment": env.name,
                "description": record.description,
                # The pipeline already gated the SHA; GitHub must neither merge the default
                # branch in (auto_merge) nor re-check contexts, or it answers 409.
                # https://docs.github.com/en/rest/deployments/deployments#create-a-deployment
                "auto_merge": False,
                "required_contexts": [],
                "production_environment": decide.is_production(request.environments, env.name),
                "payload": {"greenlight_deployment": record.id, "rollback": request.rollback},
            },
        )

    async def _deploy(
        self, record: DeploymentRecord, request: DeployRequest, cancel: asyncio.Event
    ) -> tuple[bool, list[Coroutine[Any, Any, None]]]:
        """Run one deploy: whether its SHA goes on to the next environment, and what to tell."""
        env = request.environment
        since = await self.store.live(*request.key)
        if (since.id if since else None) != request.live_id:  # changed while it waited
            skip = await self._behind_live(request, since)
            if skip is not None:
                await self._finish(record, DeployState.SKIPPED, messages.skipped(skip))
                return skip.already_live, []
        await self._status(record, "in_progress", description=messages.status_started(env.name))
        try:
            ticket = await self._tickets.make_deploy(
                record, request.run, env, pr_number=request.pr_number or request.run.pr_number
            )
        except CodeTokenUnavailable as error:
            await self.store.append_log(record.id, f"{error}\n")
            conclusion = "failure"
        else:
            conclusion = await self._run_steps(ticket, cancel)
        unhealthy: str | None = None  # what the failed probe saw
        if conclusion == "success" and env.health is not None:
            conclusion, unhealthy = await self._checkup.check(record, ticket, env.health, cancel)
            if cancel.is_set() and not self._executor.owns_running_jobs:
                # Stopping: the replica that takes the deploy over carries the check on.
                await self.store.append_log(record.id, messages.health_interrupted_log())
                return False, []
        return await self._conclude(record, request, conclusion, unhealthy, since)

    async def _resume_health(self, record: DeploymentRecord) -> None:
        """Carry on the health check of a deploy a stopped replica was running, holding its
        environment as that replica did, then end it as `_drain` would have."""
        key = (record.repo, record.environment)
        queue = self._queues.setdefault(key, Queue())
        try:
            request = await self._request_of(record)
            if request is None or request.environment.health is None:
                await self._end_as_restarted(record)  # its config is gone: nothing to check
                return
            if not await self._turns.acquire(key, queue.cancel):
                return  # stopping meanwhile: the next replica takes it over
            async with self._turns.holding(key):
                promote, follow_ups = await self._check_again(record, request, queue.cancel)
        except Exception:  # as in `_drain`: never left in progress
            log.exception("resuming the health check of deploy %s crashed", record.id)
            await self._finish(record, DeployState.FAILURE, messages.crashed())
            return
        if promote and request.chain:
            await self.submit(self._next(request))
        for work in follow_ups:
            self._in_background(work)

    async def _check_again(
        self, record: DeploymentRecord, request: DeployRequest, cancel: asyncio.Event
    ) -> tuple[bool, list[Coroutine[Any, Any, None]]]:
        env = request.environment
        assert env.health is not None
        since = await self.store.live(*request.key)  # before this one, still in progress
        unhealthy: str | None = None
        try:
            ticket = await self._tickets.make_deploy(
                record, request.run, env, pr_number=request.run.pr_number
            )
        except CodeTokenUnavailable as error:
            await self.store.append_log(record.id, f"{error}\n")
            conclusion = "failure"
        else:
            conclusion, unhealthy = await self._checkup.resume(record, ticket, env.health, cancel)
            if cancel.is_set():
                await self.store.append_log(record.id, messages.health_interrupted_log())
                return False, []
        return await self._conclude(record, request, conclusion, unhealthy, since)

    async def _request_of(self, record: DeploymentRecord) -> DeployRequest | None:
        """The request a deploy was made from, as far as the store and its config say: who
        asked, whether it rolls back, and where an automatic one promotes to next."""
        run = await self.context.store.runs.get(record.run_id or 0)
        if run is None or run.installation_id is None:
            return None
        config = await Facts(self.context, run.installation_id, run.repo).config(run.sha)
        env = config.deploy.environment(record.environment) if config is not None else None
        if config is None or env is None:
            return None
        environments = config.deploy.environments
        request = DeployRequest(
            run, env, environments, requested_by=record.requested_by, rollback=record.rollback
        )
        if not request.automatic:
            return request
        automatic = decide.automatic_environments(config.mode, environments)
        return replace(request, chain=decide.promotion(automatic, env.name).to)

    async def _end_as_restarted(self, record: DeploymentRecord) -> None:
        await self._status(record, "error", description=messages.restarted())
        await self.store.update(
            record.id,
            state=DeployState.FAILURE,
            description=messages.restarted(),
            finished_at=self.context.clock(),
        )

    async def _conclude(
        self,
        record: DeploymentRecord,
        request: DeployRequest,
        conclusion: str,
        unhealthy: str | None,
        since: DeploymentRecord | None,
    ) -> tuple[bool, list[Coroutine[Any, Any, None]]]:
        """End a deploy that ran (and was checked): its status, and whether it promotes."""
        env = request.environment
        success = conclusion == "success"
        state = DeployState.SUCCESS if success else DeployState.FAILURE
        record = await self.store.update(
            record.id, state=state, conclusion=conclusion, finished_at=self.context.clock()
        )
        extra: dict[str, Any] = {"environment_url": env.url} if success and env.url else {}
        done = messages.status_done(env.name, conclusion)
        if unhealthy is not None:
            done = messages.status_unhealthy(env.name, unhealthy)
        await self._status(record, state.value, description=done, **extra)
        log_url = self.log_url(record.id)
        if unhealthy is not None:
            return False, await self._checkup.after_unhealthy(record, request, unhealthy, since)
        follow_ups: list[Coroutine[Any, Any, None]] = []
        if not request.rollback:  # a rollback's reply says who asked; no PR's change arrives
            follow_ups.append(
                self.notices.tell(
                    record,
                    url=env.url,
                    log_url=log_url,
                    since=since.sha if since else None,
                    order=tuple(e.name for e in request.environments),
                    extra_pr=request.pr_number,
                )
            )
        if not success:
            follow_ups.append(
                self.notices.failed_check(record, conclusion=conclusion, log_url=log_url)
            )
        return success, follow_ups

    async def _run_steps(self, ticket: Ticket, cancel: asyncio.Event) -> str:
        """Run the deploy's steps on the executor, stopped when `cancel` is set; how they ended."""
        deployment_id = ticket.target.id
        ended = self._ended[deployment_id] = asyncio.Event()
        try:
            self._executor.submit(ticket)
            await _first_set(ended, cancel)
            # An executor that no longer knows the deploy has told its end already.
            if not ended.is_set() and self._executor.cancel(ticket.target):
                await ended.wait()
        finally:
            del self._ended[deployment_id]
        record = await self.store.get(deployment_id)
        return (record.conclusion if record else None) or "failure"

    async def _steps_ended(self, deployment_id: int) -> None:
        ended = self._ended.get(deployment_id)
        if ended is not None:
            ended.set()

    async def _finish(self, record: DeploymentRecord, state: DeployState, description: str) -> None:
        await self.store.update(
            record.id, state=state, description=description, finished_at=self.context.clock()
        )
        await self._status(record, "inactive", description=description)

    async def _status(
        self, record: DeploymentRecord, state: str, *, description: str, **extra: Any
    ) -> None:
        if record.github_id is None:
            return
        client = self.context.github.installation(record.installation_id or 0)
        body = {
            "state": state,
            "description": description,
            "log_url": self.log_url(record.id),
            **extra,
        }
        try:
            await client.create_deployment_status(record.repo, record.github_id, body)
        except GitHubError as error:
            if not is_worth_retrying(error):
                log.warning("deployment status %s of %s failed: %s", state, record.github_id, error)
                return
            # Sent again later, once: unless the newest status already says it.
            await self.context.github.backlog.again(
                f"deployment-status:{record.id}:{state}",
                "deployment-status",
                {"deployment_id": record.id, "body": body},
                what=f"deployment status {state} of {record.repo} deployment {record.github_id}",
                error=error,
            )

    async def status_again(self, deployment_id: int, body: Mapping[str, Any]) -> None:
        """Post a deployment status GitHub failed, unless the newest status already says it."""
        record = await self.store.get(deployment_id)
        if record is None or record.github_id is None:
            return
        client = self.context.github.installation(record.installation_id or 0)
        await client.create_deployment_status(record.repo, record.github_id, body, look_first=True)

    def log_url(self, deployment_id: int) -> str:
        settings = self.context.settings
        return links.deployment_log_url(settings.public_url, deployment_id, settings.link_secret)

    def _in_background(self, work: Coroutine[Any, Any, None]) -> None:
        task: asyncio.Task[None] = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


async def _first_set(*events: asyncio.Event) -> None:
    """Until one of `events` is set."""
    waiters = [asyncio.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
