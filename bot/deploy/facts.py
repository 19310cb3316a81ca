"""What a deploy decision needs to know, read from GitHub and the store."""

from __future__ import annotations

import logging

from bot.check_facts import check_facts
from bot.context import Context
from bot.core.config import Config
from bot.core.deploy import Ancestry, ShaFacts
from bot.core.merge import results_by_name
from bot.core.replan import lacks_plan
from bot.github.client import InstallationClient
from bot.github.errors import GitHubError, NotFound
from bot.repo_config import read_config, usable

log = logging.getLogger("greenlight.deploy")
MAX_COMMITS_FOR_NOTICES = 50  # PRs told about one deploy: the commits since the last live SHA


class Facts:
    """Reads for one repository as one installation."""

    def __init__(self, context: Context, installation_id: int, repo: str) -> None:
        self._context = context
        self.repo = repo
        self.client: InstallationClient = context.github.installation(installation_id)

    async def default_branch(self) -> str:
        return (await self.client.repository(self.repo)).default_branch

    async def ancestry(self, live: str | None, candidate: str) -> Ancestry:
        """Where `candidate` stands against `live` (GitHub compare `live...candidate`)."""
        if live is None:
            return Ancestry.NOTHING_LIVE
        if live == candidate:
            return Ancestry.SAME
        return Ancestry((await self.client.compare(self.repo, live, candidate)).status)

    async def compare_commits(self, base: str, head: str) -> list[str]:
        """SHAs of the commits in `head` that `base` lacks, oldest first."""
        return list((await self.client.compare(self.repo, base, head)).commits)

    async def in_default_history(self, sha: str, default_branch: str) -> bool:
        try:
            comparison = await self.client.compare(self.repo, default_branch, sha)
        except NotFound:
            return False
        return comparison.status in {"identical", "behind"}

    async def config(self, ref: str) -> Config | None:
        """The repository config at `ref`; None when absent or invalid."""
        try:
            return usable(await read_config(self.client, self.repo, ref))
        except GitHubError as error:
            log.warning("config of %s at %s unreadable: %s", self.repo, ref, error)
            return None

    async def sha_facts(
        self, sha: str, default_branch: str, *, head_of: int | None = None
    ) -> ShaFacts:
        """Greenlight's own build of `sha` and every required check on it; `head_of`, the
        open pull request whose head `sha` is, whose own plan the run must include."""
        run = await self._context.store.runs.for_sha(self.repo, sha)
        required = await self.client.required_checks(self.repo, default_branch)
        results: dict[str, str | None] = {}
        if required:
            check_runs = await self.client.check_runs_for_ref(self.repo, sha)
            statuses = await self.client.commit_statuses(self.repo, sha)
            results = results_by_name(check_facts(check_runs, statuses))
        return ShaFacts(
            sha=sha,
            run_conclusion=None if run is None else (run.conclusion or "pending"),
            trusted=run is not None and run.trusted,
            fork=run is not None and run.fork,
            required=required,
            results=results,
            plan_pending=run is not None and head_of is not None and lacks_plan(run.plans, head_of),
        )

    async def merged_pull_requests(self, sha: str, since: str | None) -> list[int]:
        """Numbers of the merged PRs whose change a deploy of `sha` (after `since`) carries."""
        commits = [sha]
        if since is not None and since != sha:
            try:
                commits = (await self.compare_commits(since, sha))[-MAX_COMMITS_FOR_NOTICES:]
            except GitHubError as error:
                log.info(
                    "compare %s...%s failed, telling only the PR of %s: %s", since, sha, sha, error
                )
        numbers: dict[int, None] = {}
        for commit in commits:
            for pr in await self.client.pull_requests_for_commit(self.repo, commit):
                if pr.merged_at and pr.merge_commit_sha in set(commits):
                    numbers[pr.number] = None
        return list(numbers)
