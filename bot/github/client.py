"""Typed calls to GitHub: the only module that calls gidgethub's getitem/post/patch/put/delete.

`GitHubApp` authenticates as the app (JWT) and hands out an `InstallationClient` per
installation, which authenticates with the installation's cached token.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import aiohttp
import gidgethub

from bot.github.api import RetryingGitHubAPI
from bot.github.auth import InstallationToken, TokenCache, app_jwt, parse_expiry
from bot.github.errors import GitHubError, NotFound, map_error
from bot.github.models import (
    App,
    CheckRun,
    Comment,
    CommitStatus,
    Comparison,
    PullRequest,
    Repository,
    Review,
)
from bot.github.pacing import WritePacer
from bot.metrics import Metrics
from bot.settings import AppCredentials

MAX_NETWORK_ATTEMPTS = 3
RepositoryKey = tuple[int, int]  # (installation id, repository id)


class GitHubApp:
    """The app's identity on GitHub, with one HTTP session for the app's life."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        api_url: str,
        credentials: AppCredentials | None,
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api = RetryingGitHubAPI(session, base_url=api_url, metrics=metrics)
        self.credentials = credentials
        self._clock = clock
        self.tokens = TokenCache[int](self._fetch_token, clock=clock)
        self.code_tokens = TokenCache[RepositoryKey](self._fetch_code_token, clock=clock)
        self._clients: dict[int, InstallationClient] = {}

    def jwt(self) -> str:
        """The app's JWT, for the calls made as the app itself."""
        if self.credentials is None:
            raise GitHubError("the app has no credentials yet; finish the setup page first")
        return app_jwt(self.credentials.app_id, self.credentials.private_key, now=self._clock())

    async def _fetch_token(self, installation_id: int) -> InstallationToken:
        return await self._issue_token(installation_id, {})

    async def _fetch_code_token(self, key: RepositoryKey) -> InstallationToken:
        # Narrowed to one repository and read access to its code: this token goes to git,
        # next to a build, and must not be able to write or reach another repository.
        # https://docs.github.com/en/rest/apps/apps#create-an-installation-access-token-for-an-app
        installation_id, repository_id = key
        scope = {"repository_ids": [repository_id], "permissions": {"contents": "read"}}
        return await self._issue_token(installation_id, scope)

    async def _issue_token(
        self, installation_id: int, scope: Mapping[str, Any]
    ) -> InstallationToken:
        data = await self.call(
            "post",
            "/app/installations/{installation_id}/access_tokens",
            {"installation_id": installation_id},
            data=dict(scope),
            jwt=self.jwt(),
        )
        return InstallationToken(token=data["token"], expires_at=parse_expiry(data["expires_at"]))

    def forget_tokens(self, installation_id: int) -> None:
        """Drop the installation's tokens: GitHub refuses them from now on (deleted, suspended)."""
        self.tokens.forget(installation_id)
        self.code_tokens.forget_where(lambda key: key[0] == installation_id)

    def installation(self, installation_id: int) -> InstallationClient:
        """The client acting as the given installation."""
        client = self._clients.get(installation_id)
        if client is None:
            client = self._clients[installation_id] = InstallationClient(self, installation_id)
        return client

    async def app_info(self) -> App:
        """GET /app: the app itself."""
        return App.from_json(await self.call("get", "/app", {}, jwt=self.jwt()))

    async def convert_manifest(self, code: str) -> dict[str, Any]:
        """Exchange the manifest flow's code for the new app's id, key and secret."""
        return dict(
            await self.call("post", "/app-manifests/{code}/conversions", {"code": code}, data={})
        )

    async def call(
        self,
        method: str,
        url: str,
        url_vars: Mapping[str, Any],
        *,
        data: Any = b"",
        accept: str = "application/vnd.github+json",
        jwt: str | None = None,
        oauth_token: str | None = None,
    ) -> Any:
        """One request, with errors mapped to our family."""
        kwargs: dict[str, Any] = {"accept": accept}
        if jwt is not None:
            kwargs["jwt"] = jwt
        if oauth_token is not None:
            kwargs["oauth_token"] = oauth_token
        for attempt in range(1, MAX_NETWORK_ATTEMPTS + 1):
            try:
                if method == "get":
                    return await self.api.getitem(url, url_vars, **kwargs)
                if method == "delete":
                    await self.api.delete(url, url_vars, **kwargs)
                    return None
                return await getattr(self.api, method)(url, url_vars, data=data, **kwargs)
            except (aiohttp.ClientConnectionError, TimeoutError) as error:
                # Reads are safe to repeat; a write may have landed, so it is not repeated.
                if method != "get" or attempt == MAX_NETWORK_ATTEMPTS:
                    raise map_error(error, now=self._clock()) from error
                await asyncio.sleep(0.2 * 2**attempt)
            except (gidgethub.GitHubException, aiohttp.ClientError) as error:
                raise map_error(error, now=self._clock()) from error
        raise AssertionError("unreachable")

    async def iterate(
        self, url: str, url_vars: Mapping[str, Any], *, oauth_token: str, key: str | None = None
    ) -> AsyncIterator[Any]:
        """Every item of a paginated list (following `Link: next`)."""
        try:
            async for item in self.api.getiter(
                url, url_vars, oauth_token=oauth_token, iterable_key=key
            ):
                yield item
        except (gidgethub.GitHubException, aiohttp.ClientError, TimeoutError) as error:
            raise map_error(error, now=self._clock()) from error


class InstallationClient:
    """Calls made as one installation. Reads return the frozen models of `models`."""

    def __init__(self, app: GitHubApp, installation_id: int) -> None:
        self._app = app
        self.installation_id = installation_id
        self.writes = WritePacer()

    async def token(self) -> str:
        """The installation's access token (cached until shortly before it expires)."""
        return await self._app.tokens.token(self.installation_id)

    async def code_token(self, repository_id: int) -> str:
        """A token that can only read the code of one repository: the one git fetches with."""
        return await self._app.code_tokens.token((self.installation_id, repository_id))

    async def _call(self, method: str, url: str, url_vars: Mapping[str, Any], **kwargs: Any) -> Any:
        if method != "get":
            await self.writes.wait()
        return await self._app.call(method, url, url_vars, oauth_token=await self.token(), **kwargs)

    async def _list(
        self, url: str, url_vars: Mapping[str, Any], key: str | None = None
    ) -> list[Any]:
        token = await self.token()
        return [item async for item in self._app.iterate(url, url_vars, oauth_token=token, key=key)]

    # Repositories and their contents ---------------------------------------------------

    async def repository(self, repo: str) -> Repository:
        """The repository itself: its default branch."""
        owner, name = repo.split("/", 1)
        return Repository.from_json(
            await self._call("get", "/repos/{owner}/{repo}", {"owner": owner, "repo": name})
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

    async def file_text(self, repo: str, path: str, ref: str) -> str | None:
        """The text of `path` at `ref`, or None when the file does not exist there."""
        owner, name = repo.split("/", 1)
        try:
            data = await self._call(
                "get",
                "/repos/{owner}/{repo}/contents/{path}{?ref}",
                {"owner": owner, "repo": name, "path": path, "ref": ref},
            )
        except NotFound:
            return None
        if not isinstance(data, dict) or data.get("type") != "file":
            return None
        return base64.b64decode(data.get("content") or "").decode("utf-8", errors="replace")

    # Check runs ------------------------------------------------------------------------

    async def create_check_run(self, repo: str, body: Mapping[str, Any]) -> CheckRun:
        """Create a check run on a commit."""
        owner, name = repo.split("/", 1)
        return CheckRun.from_json(
            await self._call(
                "post",
                "/repos/{owner}/{repo}/check-runs",
                {"owner": owner, "repo": name},
                data=dict(body),
            )
        )

    async def update_check_run(self, repo: str, check_run_id: int, body: Mapping[str, Any]) -> None:
        """Change a check run: status, conclusion, output or buttons."""
        owner, name = repo.split("/", 1)
        await self._call(
            "patch",
            "/repos/{owner}/{repo}/check-runs/{check_run_id}",
            {"owner": owner, "repo": name, "check_run_id": check_run_id},
            data=dict(body),
        )

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

    # Pull requests ---------------------------------------------------------------------

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

    async def merge(
        self, repo: str, number: int, *, method: str, sha: str, title: str | None = None
    ) -> None:
        """Merge at exactly `sha`: GitHub answers 409 when the head moved meanwhile."""
        owner, name = repo.split("/", 1)
        body: dict[str, Any] = {"merge_method": method, "sha": sha}
        if title is not None:
            body["commit_title"] = title
        await self._call(
            "put",
            "/repos/{owner}/{repo}/pulls/{pull_number}/merge",
            {"owner": owner, "repo": name, "pull_number": number},
            data=body,
        )

    async def update_branch(self, repo: str, number: int, *, expected_head: str) -> None:
        """Merge the base into the pull request's branch, if its head is still `expected_head`."""
        owner, name = repo.split("/", 1)
        await self._call(
            "put",
            "/repos/{owner}/{repo}/pulls/{pull_number}/update-branch",
            {"owner": owner, "repo": name, "pull_number": number},
            data={"expected_head_sha": expected_head},
        )

    async def delete_branch(self, repo: str, branch: str) -> None:
        """Delete a branch (the head of a merged pull request)."""
        owner, name = repo.split("/", 1)
        await self._call(
            "delete",
            "/repos/{owner}/{repo}/git/refs/{ref}",
            {"owner": owner, "repo": name, "ref": f"heads/{branch}"},
        )

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

    # Comments, reactions, permissions ------------------------------------------------------

    async def comment(self, repo: str, number: int, body: str) -> Comment:
        """Post a comment on an issue or pull request."""
        owner, name = repo.split("/", 1)
        return Comment.from_json(
            await self._call(
                "post",
                "/repos/{owner}/{repo}/issues/{issue_number}/comments",
                {"owner": owner, "repo": name, "issue_number": number},
                data={"body": body},
            )
        )

    async def edit_comment(self, repo: str, comment_id: int, body: str) -> None:
        """Replace the text of a comment."""
        owner, name = repo.split("/", 1)
        await self._call(
            "patch",
            "/repos/{owner}/{repo}/issues/comments/{comment_id}",
            {"owner": owner, "repo": name, "comment_id": comment_id},
            data={"body": body},
        )

    async def comments(self, repo: str, number: int) -> tuple[Comment, ...]:
        """Every comment on an issue or pull request, oldest first."""
        owner, name = repo.split("/", 1)
        items = await self._list(
            "/repos/{owner}/{repo}/issues/{issue_number}/comments{?per_page}",
            {"owner": owner, "repo": name, "issue_number": number, "per_page": 100},
        )
        return tuple(map(Comment.from_json, items))

    async def react(self, repo: str, comment_id: int, content: str) -> None:
        """Add a reaction (`eyes`, `+1`…) to a comment."""
        owner, name = repo.split("/", 1)
        await self._call(
            "post",
            "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions",
            {"owner": owner, "repo": name, "comment_id": comment_id},
            data={"content": content},
        )

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

    # Deployments -----------------------------------------------------------------------------

    async def create_deployment(self, repo: str, body: Mapping[str, Any]) -> int:
        """Create a GitHub Deployment; its id."""
        owner, name = repo.split("/", 1)
        created = await self._call(
            "post",
            "/repos/{owner}/{repo}/deployments",
            {"owner": owner, "repo": name},
            data=dict(body),
        )
        return int(created["id"])

    async def create_deployment_status(
        self, repo: str, deployment_id: int, body: Mapping[str, Any]
    ) -> None:
        """Add a status (`in_progress`, `success`…) to a GitHub Deployment."""
        owner, name = repo.split("/", 1)
        await self._call(
            "post",
            "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses",
            {"owner": owner, "repo": name, "deployment_id": deployment_id},
            data=dict(body),
        )
