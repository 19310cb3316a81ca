"""Auto-merge: read the facts, decide, act. Safe to call for any trigger, any number of times.

At most one evaluation runs per pull request, on any replica (a lock in the store); a
trigger that arrives meanwhile queues one more on its replica (further ones fold into it),
which reads the facts after the running one acted. A
merge passes the head SHA it evaluated, so a commit pushed meanwhile is never merged
untested. A refused merge is reported once and recorded with the fingerprint of the facts
it was tried on; it is tried again only when those facts change (never in a loop).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import assert_never

from bot.context import Context
from bot.core.freeze import Freeze
from bot.core.merge import (
    Block,
    Decision,
    MergeNow,
    UpdateBranch,
    Wait,
    decide_merge,
    decided_before_checks,
)
from bot.core.merge_messages import (
    MERGE_REFUSED_MARKER,
    MERGED_MARKER,
    merge_comment,
    merge_refused_comment,
)
from bot.executor.workspace import GitCache
from bot.github import models
from bot.github.backlog import is_worth_retrying
from bot.github.client import InstallationClient
from bot.github.errors import Conflict, GitHubError, NotFound, NotMergeable, ValidationFailed
from bot.merging import messages
from bot.merging.access import PermissionCache
from bot.merging.comments import find_marked, upsert_marked
from bot.merging.facts import (
    PullRequest,
    Snapshot,
    fingerprint,
    gather,
    gather_before_checks,
    read_checks,
)
from bot.store.timers import Timer
from bot.timekeeper import Timekeeper

log = logging.getLogger("greenlight.merging")
_REFUSALS = (NotMergeable, Conflict, ValidationFailed)  # 405, 409, 422
THAWED = "merge-thawed"  # the timer that evaluates a pull request again when a freeze ends


class Evaluator:
    def __init__(
        self,
        context: Context,
        permissions: PermissionCache,
        bot_login: Callable[[], Awaitable[str]],
        timekeeper: Timekeeper,
        *,
        cache: GitCache | None = None,
    ) -> None:
        self.context = context
        self.timekeeper = timekeeper
        self.permissions = permissions
        # "<slug>[bot]": finds the bot's own comments. Asked only when one must be found
        # (`GET /app` the first time), so a merge that goes through never asks it.
        self.bot_login = bot_login
        self.cache = cache  # the pipeline's git cache: the config at the head, when fetched
        self._queued: set[tuple[str, int]] = set()
        self.evaluations = 0  # how many ran to the end (benchmarks and tests read it)

    async def evaluate(self, installation_id: int, repo: str, number: int) -> Decision | None:
        """Decide from fresh facts and act; the decision acted on.

        None for closed pull requests, repos without config, and when another
        evaluation was already queued (that one reads the facts after this trigger).
        """
        key = (repo.lower(), number)
        if key in self._queued:
            return None  # one queued evaluation already reads the facts after the running one
        self._queued.add(key)
        async with self.context.store.locks.hold(f"merge:{key[0]}#{number}"):
            self._queued.discard(key)
            client = self.context.github.installation(installation_id)
            decision = await self._evaluate(client, repo, number)
            self.evaluations += 1
            return decision

    async def snapshot(
        self, client: InstallationClient, repo: str, number: int
    ) -> tuple[Snapshot | None, Decision | None]:
        """The facts and the decision for a pull request, without acting (`/status`)."""
        data = await client.pull_request(repo, number)
        pull = PullRequest.from_github(repo, data)
        snapshot = await gather(
            client,
            self.context.store,
            self.permissions,
            pull,
            data,
            now=self.context.clock(),
            cache=self.cache,
        )
        return snapshot, (decide_merge(snapshot.facts) if snapshot else None)

    async def _evaluate(
        self, client: InstallationClient, repo: str, number: int
    ) -> Decision | None:
        if (await self.context.store.pull_requests.get(repo, number)).merged_by_app:
            return None  # merged here: final (GitHub never reopens a merged pull request)
        data = await client.pull_request(repo, number)
        pull = PullRequest.from_github(repo, data)
        if not pull.is_open:
            return None
        snapshot = await gather_before_checks(
            client, self.context.store, self.permissions, pull, data, cache=self.cache
        )
        if snapshot is None:
            return None
        # Held back whatever the checks say (no approval yet, a draft, auto-merge off):
        # their four reads are spared. `/status` (`snapshot`) still reads every fact.
        decision = decided_before_checks(snapshot.facts)
        if decision is None:
            now = self.context.clock()
            snapshot = snapshot.with_checks(await read_checks(client, pull, data, now=now))
            decision = decide_merge(snapshot.facts)
        match decision:
            case MergeNow():
                await self._merge(client, snapshot, decision)
            case UpdateBranch(sha=sha):
                await self._update_branch(client, pull, sha)
            case Wait() if snapshot.facts.freeze is not None:
                await self._wake_when_thawed(client, pull, snapshot.facts.freeze)
            case Wait() | Block():
                pass  # /status shows the reasons; nothing to do until something changes
            case _:
                assert_never(decision)
        return decision

    async def _wake_when_thawed(
        self, client: InstallationClient, pull: PullRequest, freeze: Freeze
    ) -> None:
        """Evaluate again when the freeze ends, even if no webhook comes then."""
        await self.timekeeper.set(
            Timer(
                name=f"{THAWED}:{pull.repo.lower()}#{pull.number}",
                kind=THAWED,
                due_at=freeze.until,
                data=json.dumps([client.installation_id, pull.repo, pull.number]),
            )
        )

    async def _merge(
        self, client: InstallationClient, snapshot: Snapshot, decision: MergeNow
    ) -> None:
        pull, store = snapshot.pull, self.context.store
        attempt = fingerprint(snapshot.facts)
        if snapshot.state.merge_refused_sha == attempt:
            return  # refused on exactly these facts already; reported once
        try:
            await client.merge(
                pull.repo, pull.number, method=decision.method.value, sha=decision.sha
            )
        except _REFUSALS as refusal:
            log.info("GitHub refused to merge %s#%d: %s", pull.repo, pull.number, refusal)
            await store.pull_requests.update(pull.repo, pull.number, merge_refused_sha=attempt)
            await upsert_marked(
                client,
                pull.repo,
                pull.number,
                marker=MERGE_REFUSED_MARKER,
                body=merge_refused_comment(str(refusal)),
                bot_login=await self.bot_login(),
            )
            return
        await store.pull_requests.update(pull.repo, pull.number, merged_by_app=True)
        await self._announce(client, snapshot, decision)
        if snapshot.config is not None and snapshot.config.merge.delete_branch:
            await self._delete_branch(client, pull)

    async def _announce(
        self, client: InstallationClient, snapshot: Snapshot, decision: MergeNow
    ) -> None:
        pull = snapshot.pull
        next_step = messages.merge_next_step(snapshot.config) if snapshot.config else None
        body = merge_comment(decision, pr_number=pull.number, title=pull.title, next_step=next_step)
        try:
            await client.comment(pull.repo, pull.number, body)
        except GitHubError as error:
            if not is_worth_retrying(error):
                raise
            # Merged: a later evaluation will not announce it again, so the comment is put
            # off by itself, and posted then unless an earlier try did post it.
            # (`Merging.announce_merged`, registered for `merge-comment` in `bot.wiring`)
            await self.context.github.backlog.again(
                f"merge-comment:{pull.repo}#{pull.number}",
                "merge-comment",
                {
                    "installation_id": client.installation_id,
                    "repo": pull.repo,
                    "number": pull.number,
                    "body": body,
                },
                what=f"the merge comment on {pull.repo}#{pull.number}",
                error=error,
            )

    async def announce_once(
        self, client: InstallationClient, repo: str, number: int, body: str
    ) -> None:
        """Post the merge comment `body`, unless a comment with its marker is there."""
        if find_marked(await client.comments(repo, number), MERGED_MARKER, await self.bot_login()):
            return
        await client.comment(repo, number, body)

    async def _delete_branch(self, client: InstallationClient, pull: PullRequest) -> None:
        if pull.is_fork or not pull.head_ref:
            return  # a fork's branch is not ours to delete
        try:
            await client.delete_branch(pull.repo, pull.head_ref)
        except (NotFound, ValidationFailed) as error:
            log.info("branch %s of %s already gone: %s", pull.head_ref, pull.repo, error)

    async def _update_branch(self, client: InstallationClient, pull: PullRequest, sha: str) -> None:
        try:
            await client.update_branch(pull.repo, pull.number, expected_head=sha)
        except GitHubError as error:
            # The head moved or the update conflicts: the next trigger decides again.
            log.info("could not update %s#%d: %s", pull.repo, pull.number, error)


def pull_numbers(pulls: Sequence[models.PullRequest], sha: str) -> list[int]:
    """Open pull requests whose head is `sha` (GitHub's PRs of a commit include others)."""
    return sorted({pr.number for pr in pulls if pr.state == "open" and pr.head_sha == sha})
