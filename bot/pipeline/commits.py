"""What the pipeline reads from git before it plans a run: the config, the commit's message
(for skip markers), the files it changed (for `paths`) and its tree (for reuse), fetched
with the run's code token.

The message and the files are not essential: when one cannot be read the build goes on
(not skipped, every job planned), so these answer None instead of failing the run. The
config is read from the same fetched commit, which saves a request to the contents API;
when git cannot read it the pipeline asks the contents API instead.
"""

from __future__ import annotations

import logging

from bot.executor.workspace import GitCache, GitError
from bot.pipeline.tickets import CodeTokenUnavailable, TicketMaker
from bot.store.records import Run

log = logging.getLogger("greenlight.pipeline")
NULL_SHA = "0" * 40


class CommitReader:
    def __init__(self, cache: GitCache, tickets: TicketMaker) -> None:
        self._cache = cache
        self._tickets = tickets

    async def file_text(self, run: Run, path: str) -> str | None:
        """The text of `path` at the run's commit (None: no such file), as the contents
        API gives it; GitError or CodeTokenUnavailable when git cannot read it."""
        token = await self._tickets.clone_token(run)
        data = await self._cache.read_file(run.clone_url, run.sha, path, token=token)
        return None if data is None else data.decode("utf-8", errors="replace")

    async def message(self, run: Run) -> str | None:
        """The full message of the run's commit; None when it cannot be read."""
        try:
            token = await self._tickets.clone_token(run)
            return await self._cache.commit_message(run.clone_url, run.sha, token=token)
        except (GitError, CodeTokenUnavailable) as error:
            log.warning("cannot read the message of %s: %s", run.sha, error)
            return None

    async def tree(self, run: Run) -> str | None:
        """The git tree of the run's commit; None when it cannot be read (nothing reused)."""
        try:
            token = await self._tickets.clone_token(run)
            return await self._cache.tree(run.clone_url, run.sha, token=token)
        except (GitError, CodeTokenUnavailable) as error:
            log.warning("cannot read the tree of %s: %s", run.sha, error)
            return None

    async def changed_files(self, run: Run, *, since: str | None = None) -> tuple[str, ...] | None:
        """Paths changed on the run's commit since it forked from `since` (else the run's
        `before_sha`: a push's `before`, a pull request's base); None when unknown (a new
        branch, a lost base)."""
        base = since if since is not None else run.before_sha
        if not base or base == NULL_SHA:
            return None
        try:
            token = await self._tickets.clone_token(run)
            return await self._cache.changed_files(run.clone_url, base, run.sha, token=token)
        except (GitError, CodeTokenUnavailable) as error:
            log.info("changed files of %s unknown, running every job: %s", run.sha[:7], error)
            return None
