"""Telling people where their change is: one comment per merged PR, edited in place, and a
failed check run on the commit when a deploy fails."""

from __future__ import annotations

import asyncio
import logging

from bot.context import Context
from bot.deploy import messages
from bot.deploy.facts import Facts
from bot.github.errors import GitHubError
from bot.store.deployments import DeploymentRecord, Deployments

log = logging.getLogger("greenlight.deploy")


class Notices:
    def __init__(self, context: Context, store: Deployments) -> None:
        self._context = context
        self._store = store
        self._locks: dict[str, asyncio.Lock] = {}

    async def tell(
        self,
        record: DeploymentRecord,
        *,
        url: str | None,
        log_url: str,
        since: str | None,
        order: tuple[str, ...],
        extra_pr: int | None,
        detail: str | None = None,
    ) -> None:
        """Update the deploy comment of every PR this deployment carries."""
        facts = Facts(self._context, record.installation_id or 0, record.repo)
        async with self._locks.setdefault(record.repo, asyncio.Lock()):
            try:
                numbers = await facts.merged_pull_requests(record.sha, since)
                if extra_pr is not None and extra_pr not in numbers:
                    numbers.append(extra_pr)
                line: dict[str, object] = {
                    "state": record.state.value,
                    "sha": record.sha,
                    "url": url,
                    "log_url": log_url,
                    "detail": detail,
                }
                for number in numbers:
                    await self._update(facts, number, record.environment, line, order)
            except GitHubError as error:
                log.warning("could not tell the PRs of %s: %s", record.sha[:7], error)

    async def _update(
        self, facts: Facts, number: int, env: str, line: dict[str, object], order: tuple[str, ...]
    ) -> None:
        comment_id, lines = await self._store.notice(facts.repo, number)
        lines[env] = line
        body = messages.notice(lines, order)
        if comment_id is None:
            comment_id = (await facts.client.comment(facts.repo, number, body)).id
        else:
            await facts.client.edit_comment(facts.repo, comment_id, body)
        await self._store.save_notice(facts.repo, number, comment_id=comment_id, lines=lines)

    async def failed_check(
        self,
        record: DeploymentRecord,
        *,
        conclusion: str,
        log_url: str,
        output: tuple[str, str] | None = None,
    ) -> None:
        """A failed deploy shows on the commit too, where people look for red."""
        title, summary = output or messages.failed_check(
            record.environment, record.sha, conclusion, log_url
        )
        client = self._context.github.installation(record.installation_id or 0)
        try:
            await client.create_check_run(
                record.repo,
                {
                    "name": messages.check_name(record.environment),
                    "head_sha": record.sha,
                    "external_id": f"deploy:{record.id}",
                    "details_url": log_url,
                    "status": "completed",
                    "conclusion": "failure",
                    "output": {"title": title, "summary": summary},
                },
            )
        except GitHubError as error:
            log.warning("could not report the failed deploy of %s: %s", record.sha[:7], error)
