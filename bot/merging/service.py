"""The merging service of one running app: the app's identity, permissions, the evaluator.

Built once at start-up by `bot.wiring`, which also hooks `on_run_completed` to the end of
Greenlight's own runs; handlers get it in the `Services` they are given.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable

from bot.context import Context
from bot.core.checks import check_run_actions
from bot.core.merge import Block, Decision, Wait
from bot.executor.workspace import GitCache
from bot.github.backlog import is_worth_retrying
from bot.github.client import InstallationClient
from bot.github.errors import GitHubError
from bot.merging.access import PermissionCache
from bot.merging.evaluator import THAWED, Evaluator, pull_numbers
from bot.store.records import Run
from bot.store.timers import Timer
from bot.timekeeper import Timekeeper

log = logging.getLogger("greenlight.merging")
# GitHub sends the events of one change together (a review, a label and a check suite,
# say): the first one waits this long for the others, then one evaluation reads the facts.
SETTLE_SECONDS = 0.25

PullKey = tuple[str, int]  # (repository, lower-case; pull request number)


class Merging:
    """`sleep` is what the settling waits by (tests replace it)."""

    def __init__(
        self,
        context: Context,
        timekeeper: Timekeeper,
        *,
        cache: GitCache | None = None,
        settle_seconds: float = SETTLE_SECONDS,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.context = context
        self.timekeeper = timekeeper
        timekeeper.handle(THAWED, self._thawed)
        self.permissions = PermissionCache()
        self._slug: str | None = None
        self._slug_lock = asyncio.Lock()
        self._evaluator: Evaluator | None = None
        self._cache = cache
        self._settle_seconds = settle_seconds
        self._sleep = sleep
        self._settling: set[PullKey] = set()  # an evaluation starts after the burst
        self._soon: set[asyncio.Task[None]] = set()
        self._stopped = False

    async def app_slug(self) -> str:
        """The app's slug from `GET /app`, asked once per process."""
        async with self._slug_lock:
            if self._slug is None:
                self._slug = (await self.context.github.app_info()).slug
            return self._slug

    async def bot_login(self) -> str:
        return f"{await self.app_slug()}[bot]"

    async def evaluator(self) -> Evaluator:
        if self._evaluator is None:
            self._evaluator = Evaluator(
                self.context, self.permissions, self.bot_login, self.timekeeper, cache=self._cache
            )
        return self._evaluator

    async def evaluate(self, installation_id: int, repo: str, number: int) -> Decision | None:
        return await (await self.evaluator()).evaluate(installation_id, repo, number)

    def evaluate_soon(self, installation_id: int, repo: str, number: int) -> None:
        """Evaluate once the burst of events this one belongs to has arrived: one
        evaluation for all of them, which reads the facts after the last one.

        An event that arrives while that evaluation runs starts another, which waits for
        it (the evaluator's lock), so the last event is never missed. Off the delivery's
        path: a replica that dies before it ran leaves it to the start-up reconciliation,
        which evaluates every green pull request.
        """
        key = (repo.lower(), number)
        if self._stopped:
            return  # shutting down: the restart's reconciliation evaluates it
        if key in self._settling:
            return  # the pending evaluation has not read the facts yet: it covers this event
        self._settling.add(key)
        task = asyncio.create_task(
            self._settle_then_evaluate(key, installation_id, repo, number),
            name=f"evaluate {repo}#{number}",
        )
        self._soon.add(task)
        task.add_done_callback(self._soon.discard)

    async def _settle_then_evaluate(
        self, key: PullKey, installation_id: int, repo: str, number: int
    ) -> None:
        try:
            await self._sleep(self._settle_seconds)
        finally:
            # From here on the facts may be read: a later event needs an evaluation of its own.
            self._settling.discard(key)
        try:
            await self.evaluate_or_later(installation_id, repo, number)
        except Exception:  # off any delivery: nothing else would log it
            log.exception("the merge evaluation of %s#%d failed", repo, number)

    async def wait_idle(self) -> None:
        """Until the evaluations asked for so far (and those they led to) have run."""
        while self._soon:
            await asyncio.gather(*self._soon, return_exceptions=True)

    async def stop(self) -> None:
        """Cancel the evaluations still settling or running (a restart's reconciliation
        evaluates green pull requests again)."""
        self._stopped = True
        for task in list(self._soon):
            task.cancel()
        await asyncio.gather(*self._soon, return_exceptions=True)

    async def _thawed(self, timer: Timer) -> None:
        """A freeze that held a pull request ended: evaluate it again."""
        installation_id, repo, number = json.loads(timer.data)
        await self.evaluate(int(installation_id), str(repo), int(number))

    async def evaluate_or_later(self, installation_id: int, repo: str, number: int) -> None:
        """Evaluate now; if GitHub keeps failing, evaluate again later (for a command or a
        button, which are not run again themselves: a merge asked for is never lost)."""
        try:
            await self.evaluate(installation_id, repo, number)
        except GitHubError as error:
            if not is_worth_retrying(error):
                raise
            await self.context.github.backlog.again(
                f"evaluate:{repo}#{number}",
                "evaluate",
                {"installation_id": installation_id, "repo": repo, "number": number},
                what=f"the merge evaluation of {repo}#{number}",
                error=error,
            )

    async def announce_merged(
        self, installation_id: int, repo: str, number: int, body: str
    ) -> None:
        """Post the merge comment `body` of a merge made, unless an earlier try did."""
        client = self.context.github.installation(installation_id)
        await (await self.evaluator()).announce_once(client, repo, number, body)

    async def evaluate_commit(self, installation_id: int, repo: str, sha: str) -> None:
        """Evaluate every open pull request whose head is `sha` (forks included).

        A check run's `pull_requests` is empty for a fork's head, so the commit is mapped
        to pull requests through the API instead.
        https://docs.github.com/en/rest/commits/commits#list-pull-requests-associated-with-a-commit
        """
        client = self.context.github.installation(installation_id)
        for number in pull_numbers(await client.pull_requests_for_commit(repo, sha), sha):
            await self.evaluate(installation_id, repo, number)

    async def evaluate_commit_soon(self, installation_id: int, repo: str, sha: str) -> None:
        """`evaluate_soon` every open pull request whose head is `sha` (see `evaluate_commit`)."""
        client = self.context.github.installation(installation_id)
        for number in pull_numbers(await client.pull_requests_for_commit(repo, sha), sha):
            self.evaluate_soon(installation_id, repo, number)

    async def on_run_completed(self, run: Run) -> None:
        """After one of our own runs: its pull request may be mergeable now."""
        if run.installation_id is None:
            return
        if run.pr_number is not None:
            decision = await self.evaluate(run.installation_id, run.repo, run.pr_number)
            if run.conclusion == "success" and waits_for_a_person_to_merge(decision):
                await self._add_merge_button(run)
        elif run.event == "push":
            await self.evaluate_commit(run.installation_id, run.repo, run.sha)

    def client(self, installation_id: int) -> InstallationClient:
        return self.context.github.installation(installation_id)

    async def _add_merge_button(self, run: Run) -> None:
        """ "Merge when ready" on a green run whose pull request nobody asked to merge."""
        if run.aggregate_check_id is None or run.installation_id is None:
            return
        actions = check_run_actions(can_rerun_failed=False, deploy_env=None, can_merge=True)
        try:
            await self.client(run.installation_id).update_check_run(
                run.repo, run.aggregate_check_id, {"actions": list(actions)}
            )
        except GitHubError as error:
            log.warning("could not add the merge button to %s: %s", run.sha[:7], error)


def waits_for_a_person_to_merge(decision: Decision | None) -> bool:
    """Auto-merge is off for this pull request and nobody asked for a merge yet."""
    return isinstance(decision, Wait | Block) and any(
        reason.code == "auto_off" for reason in decision.reasons
    )
