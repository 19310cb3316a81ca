"""An installation's reads of GitHub, returning the frozen models of `models`."""

from __future__ import annotations

import base64

from bot.github.calls import Calls
from bot.github.errors import NotFound
from bot.github.models import (
    CheckRun,
    CheckRunOutput,
    Comment,
    CommitStatus,
    Comparison,
    PullRequest,
    Repository,
    Review,
)


class Reads(Calls):
    """What an installation reads: repositories, checks, pull requests, comments."""

    async def repository(self, repo: str) -> Repository:
        """The repository itself: its default branch."""
        owner, name = repo.split("/", 1)
        return Repository.from_json(
            await self._call("get", "/repos/{owner}/{repo}", {"owner": owner, "repo": name})
        )

    async def check_run_output(self, repo: str, check_run_id: int) -> CheckRunOutput:
        """What one check run shows now (to add to it without losing what it says)."""
        owner, name = repo.split("/", 1)
        return CheckRunOutput.from_json(
            await self._call(
                "get",
                "/repos/{owner}/{repo}/check-runs/{check_run_id}",
                {"owner": owner, "repo": name, "check_run_id": check_run_id},
            )
        )

    async def compare(self, repo: str, base: str, head: str) -> Comparison:
        """Where `head` stands against `base`, and the commits it has that `base` lacks."""
        owner, name = repo.split("/", 1)
        return Comparison.from_json(
            await self._call(
                "get",
                "/repos/{owner}/{repo}/compare/{basehead}",
                {"owner": owner, "repo": name, "basehead": f"{base}...{head}"},
            )
        )

    async def file_text(self, repo: str, path: str, ref: str | None) -> str | None:
        """The text of `path` at `ref` (None: the default branch's tip, without asking
        which branch that is), or None when the file does not exist there.
        https://docs.github.com/en/rest/repos/contents#get-repository-content"""
        owner, name = repo.split("/", 1)
        where = {"owner": owner, "repo": name, "path": path}
        try:
            data = await self._call(
                "get",
                "/repos/{owner}/{repo}/contents/{path}{?ref}",
                where if ref is None else {**where, "ref": ref},
            )
        except NotFound:
            return None
        if not isinstance(data, dict) or data.get("type") != "file":
            return None
        return base64.b64decode(data.get("content") or "").decode("utf-8", errors="replace")

    async def check_runs_named(self, repo: str, ref: str, check_name: str) -> tuple[CheckRun, ...]:
        """Every check run called `check_name` on a commit, older attempts included."""
        owner, name = repo.split("/", 1)
        items = await self._list(
            "/repos/{owner}/{repo}/commits/{ref}/check-runs{?check_name,filter,per_page}",
            {
                "owner": owner,
                "repo": name,
                "ref": ref,
                "check_name": check_name,
                "filter": "all",
                "per_page": 100,
            },
            key="check_runs",
        )
        return tuple(map(CheckRun.from_json, items))

    async def check_runs_for_ref(self, repo: str, ref: str) -> tuple[CheckRun, ...]:
        """Every check run on a commit, from every app."""
        owner, name = repo.split("/", 1)
        items = await self._list(
            "/repos/{owner}/{repo}/commits/{ref}/check-runs{?per_page}",
            {"owner": owner, "repo": name, "ref": ref, "per_page": 100},
            key="check_runs",
        )
        return tuple(map(CheckRun.from_json, items))

    async def commit_statuses(self, repo: str, ref: str) -> tuple[CommitStatus, ...]:
        """The latest status of each context on `ref` (the statuses API, not check runs)."""
        owner, name = repo.split("/", 1)
        data = await self._call(
            "get",
            "/repos/{owner}/{repo}/commits/{ref}/status{?per_page}",
            {"owner": owner, "repo": name, "ref": ref, "per_page": 100},
        )
        return tuple(map(CommitStatus.from_json, data.get("statuses") or []))

    async def pull_request(self, repo: str, number: int) -> PullRequest:
        """One pull request."""
        owner, name = repo.split("/", 1)
        return PullRequest.from_json(
            await self._call(
                "get",
                "/repos/{owner}/{repo}/pulls/{pull_number}",
                {"owner": owner, "repo": name, "pull_number": number},
            )
        )

    async def pull_requests_for_commit(self, repo: str, sha: str) -> tuple[PullRequest, ...]:
        """Pull requests that contain the commit: merged ones, and open ones at any head."""
        owner, name = repo.split("/", 1)
        items = await self._list(
            "/repos/{owner}/{repo}/commits/{commit_sha}/pulls",
            {"owner": owner, "repo": name, "commit_sha": sha},
        )
        return tuple(map(PullRequest.from_json, items))

    async def open_pull_requests(self, repo: str) -> tuple[PullRequest, ...]:
        """Every open pull request of the repository."""
        owner, name = repo.split("/", 1)
        items = await self._list(
            "/repos/{owner}/{repo}/pulls{?state,per_page}",
            {"owner": owner, "repo": name, "state": "open", "per_page": 100},
        )
        return tuple(map(PullRequest.from_json, items))

    async def reviews(self, repo: str, number: int) -> tuple[Review, ...]:
        """Every review of a pull request, oldest first."""
        owner, name = repo.split("/", 1)
        items = await self._list(
            "/repos/{owner}/{repo}/pulls/{pull_number}/reviews{?per_page}",
            {"owner": owner, "repo": name, "pull_number": number, "per_page": 100},
        )
        return tuple(map(Review.from_json, items))

    async def required_checks(self, repo: str, branch: str) -> tuple[str, ...]:
        """Check names the branch requires, from classic protection and from rulesets."""
        owner, name = repo.split("/", 1)
        names: list[str] = []
        try:
            protection = await self._call(
                "get",
                "/repos/{owner}/{repo}/branches/{branch}/protection/required_status_checks",
                {"owner": owner, "repo": name, "branch": branch},
            )
            names += [c["context"] for c in protection.get("checks") or []]
            names += list(protection.get("contexts") or [])
        except NotFound:
            pass  # no classic protection on this branch
        rules = await self._list(
            "/repos/{owner}/{repo}/rules/branches/{branch}",
            {"owner": owner, "repo": name, "branch": branch},
        )
        for rule in rules:
            if rule.get("type") == "required_status_checks":
                checks = (rule.get("parameters") or {}).get("required_status_checks") or []
                names += [check["context"] for check in checks]
        return tuple(dict.fromkeys(names))

    async def comments(self, repo: str, number: int) -> tuple[Comment, ...]:
        """Every comment on an issue or pull request, oldest first."""
        owner, name = repo.split("/", 1)
        items = await self._list(
            "/repos/{owner}/{repo}/issues/{issue_number}/comments{?per_page}",
            {"owner": owner, "repo": name, "issue_number": number, "per_page": 100},
        )
        return tuple(map(Comment.from_json, items))

    async def permission(self, repo: str, user: str) -> tuple[str, str | None]:
        """The user's (permission, role_name) on the repository; ("none", None) if unknown."""
        owner, name = repo.split("/", 1)
        try:
            data = await self._call(
                "get",
                "/repos/{owner}/{repo}/collaborators/{username}/permission",
                {"owner": owner, "repo": name, "username": user},
            )
        except NotFound:
            return "none", None
        return str(data.get("permission") or "none"), data.get("role_name")
