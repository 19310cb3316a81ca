"""An installation's writes that create something, each made once.

A write whose answer was lost (a 5xx, a dropped connection) may have been applied all the
same; each of these carries what finds it again, and is looked up before it is sent again
(see `bot.github.retry` and `bot.github.lookups`).
https://docs.github.com/en/rest/using-the-rest-api/troubleshooting-the-rest-api
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.github import lookups
from bot.github.errors import NotMergeable
from bot.github.models import CheckRun, Comment
from bot.github.reads import Reads


class Writes(Reads):
    """Check runs, merges, comments and deployments, created once."""

    async def create_check_run(self, repo: str, body: Mapping[str, Any]) -> CheckRun:
        """Create a check run on a commit (once: an answer lost is looked up by
        `external_id` before the request is sent again)."""
        owner, name = repo.split("/", 1)
        external_id = body.get("external_id")

        async def look_up() -> Any:
            found = await self.find_check_run(
                repo, body["head_sha"], body["name"], str(external_id)
            )
            return None if found is None else {"id": found.id, "name": found.name}

        return CheckRun.from_json(
            await self._call(
                "post",
                "/repos/{owner}/{repo}/check-runs",
                {"owner": owner, "repo": name},
                data=dict(body),
                look_up=look_up if external_id else None,
            )
        )

    async def find_check_run(
        self, repo: str, sha: str, name: str, external_id: str
    ) -> CheckRun | None:
        """This app's check run called `name` on `sha` that carries `external_id`, if any."""
        return lookups.check_run_with(
            await self.check_runs_named(repo, sha, name),
            external_id=external_id,
            app_id=self.app_id,
        )

    async def merge(
        self, repo: str, number: int, *, method: str, sha: str, title: str | None = None
    ) -> None:
        """Merge at exactly `sha`: GitHub answers 409 when the head moved meanwhile."""
        owner, name = repo.split("/", 1)
        body: dict[str, Any] = {"merge_method": method, "sha": sha}
        if title is not None:
            body["commit_title"] = title

        async def look_up() -> Any:
            return True if (await self.pull_request(repo, number)).merged else None

        try:
            await self._call(
                "put",
                "/repos/{owner}/{repo}/pulls/{pull_number}/merge",
                {"owner": owner, "repo": name, "pull_number": number},
                data=body,
                look_up=look_up,
            )
        except NotMergeable:
            # aiohttp sends a PUT again by itself when a reused connection drops: a 405
            # then answers the second try of a merge the first one made.
            if await look_up() is None:
                raise

    async def update_branch(self, repo: str, number: int, *, expected_head: str) -> None:
        """Merge the base into the pull request's branch, if its head is still `expected_head`."""
        owner, name = repo.split("/", 1)

        async def look_up() -> Any:
            return (
                True if (await self.pull_request(repo, number)).head_sha != expected_head else None
            )

        await self._call(
            "put",
            "/repos/{owner}/{repo}/pulls/{pull_number}/update-branch",
            {"owner": owner, "repo": name, "pull_number": number},
            data={"expected_head_sha": expected_head},
            look_up=look_up,
        )

    async def comment(self, repo: str, number: int, body: str) -> Comment:
        """Post a comment on an issue or pull request (once: it carries a hidden marker
        of its own, looked up before the request is sent again)."""
        owner, name = repo.split("/", 1)
        marker = lookups.request_marker()

        async def look_up() -> Any:
            found = lookups.comment_with(await self.comments(repo, number), marker)
            return None if found is None else {"id": found.id, "body": found.body}

        return Comment.from_json(
            await self._call(
                "post",
                "/repos/{owner}/{repo}/issues/{issue_number}/comments",
                {"owner": owner, "repo": name, "issue_number": number},
                data={"body": lookups.with_marker(body, marker)},
                look_up=look_up,
            )
        )

    async def create_deployment(self, repo: str, body: Mapping[str, Any]) -> int:
        """Create a GitHub Deployment; its id."""
        owner, name = repo.split("/", 1)
        payload = body.get("payload")

        async def look_up() -> Any:
            found = lookups.deployment_with(
                await self._list(
                    "/repos/{owner}/{repo}/deployments{?ref,environment,per_page}",
                    {
                        "owner": owner,
                        "repo": name,
                        "ref": body["ref"],
                        "environment": body.get("environment", "production"),
                        "per_page": 100,
                    },
                ),
                body["payload"],
            )
            return None if found is None else {"id": found}

        created = await self._call(
            "post",
            "/repos/{owner}/{repo}/deployments",
            {"owner": owner, "repo": name},
            data=dict(body),
            look_up=look_up if isinstance(payload, Mapping) else None,
        )
        return int(created["id"])

    async def create_deployment_status(
        self, repo: str, deployment_id: int, body: Mapping[str, Any], *, look_first: bool = False
    ) -> None:
        """Add a status (`in_progress`, `success`…) to a GitHub Deployment (`look_first`:
        unless its newest status already is this one, as after an earlier failed try)."""
        owner, name = repo.split("/", 1)
        where = {"owner": owner, "repo": name, "deployment_id": deployment_id}

        async def look_up() -> Any:
            statuses = await self._call(
                "get",
                "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses{?per_page}",
                {**where, "per_page": 1},
            )
            return True if lookups.has_status(statuses, body) else None

        if look_first and await look_up():
            return
        await self._call(
            "post",
            "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses",
            where,
            data=dict(body),
            look_up=look_up,
        )
