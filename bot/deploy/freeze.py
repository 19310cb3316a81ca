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

from bot.context import Context
from bot.core.freeze import freeze_at
from bot.deploy import decide, messages
from bot.deploy.facts import Facts
from bot.deploy.requests import DeployRequest
from bot.github.errors import GitHubError
from bot.store.deployments import DeploymentRecord
from bot.store.records import Run
from bot.store.timers import Timer
from bot.timekeeper import Timekeeper

log = logging.getLogger("greenlight.deploy")
THAWED = "deploy-thawed"
Submit = Callable[[DeployRequest], Awaitable[DeploymentRecord | str]]


def timer_name(repo: str, environment: str) -> str:
    return f"{THAWED}:{repo.lower()}:{environment}"


class FreezeGate:
    def __init__(self, context: Context, timekeeper: Timekeeper, submit: Submit) -> None:
        self._context = context
        self._timekeeper = timekeeper
        self._submit = submit
        timekeeper.handle(THAWED, self._thawed)

    async def hold(self, run: Run, environment: str, chain: tuple[str, ...]) -> decide.Hold | None:
        """Hold an automatic deploy of `run` to `environment` if a window of the default
        branch's tip freezes it now (a pull request cannot lift a freeze by editing it)."""
        facts = Facts(self._context, run.installation_id or 0, run.repo)
        tip = await facts.config(await facts.default_branch())
        windows = tip.freeze if tip is not None else ()
        freeze = freeze_at(windows, environment, self._context.clock())
        verdict = decide.through_freeze(environment, freeze, asked_by_person=False)
        if not isinstance(verdict, decide.Hold):
            return None
        log.info(
            "holding the deploy of %s of %s to %s: %s", run.sha[:7], run.repo, environment,
            verdict.reason,
        )  # fmt: skip
        data = json.dumps([run.id, environment, list(chain)])
        await self._timekeeper.set(
            Timer(timer_name(run.repo, environment), THAWED, verdict.until, data)
        )
        await self._show(run, environment, verdict)
        return verdict

    async def _thawed(self, timer: Timer) -> None:
        """The freeze ended: submit the held deploy again, which looks at the calendar
        again (a window added or extended meanwhile holds it once more)."""
        run_id, environment, chain = json.loads(timer.data)
        run = await self._context.store.runs.get(int(run_id))
        if run is None or run.installation_id is None:
            return
        config = await Facts(self._context, run.installation_id, run.repo).config(run.sha)
        target = config.deploy.environment(str(environment)) if config is not None else None
        if config is None or target is None:
            return
        chain = tuple(str(name) for name in chain)
        request = DeployRequest(run, target, config.deploy.environments, chain=chain)
        outcome = await self._submit(request)
        if isinstance(outcome, str):
            log.info(
                "not deploying %s of %s to %s: %s", run.sha[:7], run.repo, target.name, outcome
            )

    async def _show(self, run: Run, environment: str, held: decide.Hold) -> None:
        title, summary = messages.held_check(environment, run.sha, held.reason)
        client = self._context.github.installation(run.installation_id or 0)
        try:
            await client.create_check_run(
                run.repo,
                {
                    "name": messages.check_name(environment),
                    "head_sha": run.sha,
                    "external_id": f"held:{environment}",
                    "status": "completed",
                    "conclusion": "neutral",
                    "output": {"title": title, "summary": summary},
                },
            )
        except GitHubError as error:
            log.warning("could not show the held deploy of %s: %s", run.sha[:7], error)
