"""Automatic deploys held by a freeze window, and sent again when it ends.

A green build's deploy (or its promotion) to an environment a window freezes waits: a
timer kept in the store, one per repository and environment, fires when the freeze is
due to end, on whichever replica holds the timers then, even with no webhook arriving.
Setting it again replaces it, so only the newest held deploy goes out (the queue's rule:
a newer deploy supersedes an older waiting one). When it fires, the deploy is submitted
again, which looks at the calendar again: a window that begins as another ends holds it
once more.

The wait shows as a completed `neutral` check run `deploy: ENV` on the commit, beside the
aggregate check (whose conclusion it does not change), saying which window holds it and
until when: the commit is where people look for why their change has not gone out, and a
GitHub deployment left `queued` for a weekend would have to be cleaned up if a newer
commit replaced it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.context import Context
from bot.core import deploy as decide
from bot.core.freeze import freeze_at
from bot.deploy import messages
from bot.deploy.facts import Facts
from bot.deploy.requests import DeployRequest
from bot.github.errors import GitHubError
from bot.store.deployments import DeploymentRecord
from bot.store.records import Run
from bot.store.timers import Timer
from bot.timekeeper import Timekeeper

log = logging.getLogger("greenlight.deploy")
THAWED = "deploy-thawed"
Submit = Callable[[DeployRequest], Awaitable[DeploymentRecord | decide.NotQueued]]


def timer_name(repo: str, environment: str) -> str:
    return f"{THAWED}:{repo.lower()}:{environment}"


class FreezeGate:
    def __init__(self, context: Context, timekeeper: Timekeeper, submit: Submit) -> None:
        self._context = context
        self._timekeeper = timekeeper
        self._submit = submit
        timekeeper.handle(THAWED, self._thawed)

    async def hold(self, run: Run, environment: str, chain: tuple[str, ...]) -> decide.Wait | None:
        """Hold an automatic deploy of `run` to `environment` if a window of the default
        branch's tip freezes it now (a pull request cannot lift a freeze by editing it)."""
        facts = Facts(self._context, run.installation_id or 0, run.repo)
        tip = await facts.config(await facts.default_branch())
        windows = tip.freeze if tip is not None else ()
        freeze = freeze_at(windows, environment, self._context.clock())
        verdict = decide.through_freeze(environment, freeze, asked_by_person=False)
        if freeze is None or not isinstance(verdict, decide.Wait):
            return None
        log.info(
            "holding the deploy of %s of %s to %s: %s", run.sha[:7], run.repo, environment,
            messages.waiting(verdict),
        )  # fmt: skip
        name = timer_name(run.repo, environment)
        before = _Held.read(await self._context.store.timers.get(name))
        if before is not None and await self._is_behind(facts, before, run):
            return verdict  # a newer build waits already: this one never goes by itself
        output = messages.held_check(
            environment, run.sha, freeze.windows, freeze.until, open_ended=freeze.open_ended
        )
        check_id = await self._show(run, environment, output, before)
        held = _Held(run.id, environment, chain, check_id)
        await self._timekeeper.set(Timer(name, THAWED, verdict.until, held.dump()))
        return verdict

    async def _is_behind(self, facts: Facts, held: _Held, run: Run) -> bool:
        """Whether `run` is not newer than the build already held (the queue's rule)."""
        if held.run_id == run.id:
            return False
        other = await self._context.store.runs.get(held.run_id)
        if other is None:
            return False
        ancestry = await facts.ancestry(other.sha, run.sha)
        return ancestry in {decide.Ancestry.OLDER, decide.Ancestry.SAME}

    async def _thawed(self, timer: Timer) -> None:
        """The freeze ended: submit the held deploy again, which looks at the calendar
        again (a window added or extended meanwhile holds it once more)."""
        held = _Held.read(timer)
        assert held is not None
        run = await self._context.store.runs.get(held.run_id)
        if run is None or run.installation_id is None:
            return
        config = await Facts(self._context, run.installation_id, run.repo).config(run.sha)
        target = config.deploy.environment(held.environment) if config is not None else None
        if config is None or target is None:
            return
        request = DeployRequest(run, target, config.deploy.environments, chain=held.chain)
        outcome = await self._submit(request)
        again = await self._context.store.timers.get(timer.name)
        if again is not None and again.due_at != timer.due_at:
            return  # held once more: its check run says until when already
        reason = None if isinstance(outcome, DeploymentRecord) else messages.not_queued(outcome)
        if reason is not None:
            log.info("not deploying %s of %s to %s: %s", run.sha[:7], run.repo, target.name, reason)
        await self._update(run, held.check_id, messages.held_over(target.name, run.sha, reason))

    async def _show(
        self, run: Run, environment: str, output: tuple[str, str], before: _Held | None
    ) -> int | None:
        """Show the wait on the commit: the check run of an earlier wait of the same build
        is updated; one of an older build says a newer one replaced it."""
        if before is not None and before.run_id == run.id and before.check_id is not None:
            await self._update(run, before.check_id, output)
            return before.check_id
        if before is not None and before.check_id is not None:
            await self._update(run, before.check_id, messages.held_replaced(environment, run.sha))
        client = self._context.github.installation(run.installation_id or 0)
        try:
            created = await client.create_check_run(
                run.repo,
                {
                    "name": messages.check_name(environment),
                    "head_sha": run.sha,
                    "external_id": f"held:{environment}",
                    "status": "completed",
                    "conclusion": "neutral",
                    "output": {"title": output[0], "summary": output[1]},
                },
            )
        except GitHubError as error:
            log.warning("could not show the held deploy of %s: %s", run.sha[:7], error)
            return None
        return created.id

    async def _update(self, run: Run, check_id: int | None, output: tuple[str, str]) -> None:
        if check_id is None:
            return
        client = self._context.github.installation(run.installation_id or 0)
        body = {"output": {"title": output[0], "summary": output[1]}}
        try:
            await client.update_check_run(run.repo, check_id, body)
        except GitHubError as error:
            log.warning("could not update the held deploy's check %s: %s", check_id, error)


@dataclass(frozen=True)
class _Held:
    """What a freeze's timer keeps of the deploy it holds."""

    run_id: int
    environment: str
    chain: tuple[str, ...]
    check_id: int | None  # the check run that shows the wait on the commit

    def dump(self) -> str:
        return json.dumps([self.run_id, self.environment, list(self.chain), self.check_id])

    @classmethod
    def read(cls, timer: Timer | None) -> _Held | None:
        if timer is None:
            return None
        run_id, environment, chain, *rest = json.loads(timer.data)
        check_id = rest[0] if rest and isinstance(rest[0], int) else None
        return cls(int(run_id), str(environment), tuple(str(n) for n in chain), check_id)
