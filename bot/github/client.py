"""Typed calls to GitHub: the only module that calls gidgethub's getitem/post/patch/put/delete.

`GitHubApp` authenticates as the app (JWT) and hands out an `InstallationClient` per
installation, which authenticates with the installation's cached token.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import gidgethub

from bot.github.api import MeteredGitHubAPI
from bot.github.auth import InstallationToken, TokenCache, app_jwt, parse_expiry
from bot.github.backlog import Backlog
from bot.github.calls import LookUp
from bot.github.errors import GitHubError, map_error
from bot.github.models import App
from bot.github.pacing import Budget, MemoryBudget, Priority, WritePacer
from bot.github.retry import Attempts, RetryPolicy, with_retries
from bot.github.writes import Writes
from bot.metrics import Metrics
from bot.settings import AppCredentials

RepositoryKey = tuple[int, int]  # (installation id, repository id)
# Reads, edits and deletions may be sent again as they are; a POST or PUT that may have
# been applied is looked up first (see `bot.github.retry`).
REPEATABLE_METHODS = frozenset({"get", "patch", "delete"})


class GitHubApp:
    """The app's identity on GitHub, with one HTTP session for the app's life.

    `clock` and `sleep` are what the retries and the write pacing wait by; tests replace
    them to measure waits without waiting. `budget` counts writes per installation: in
    memory for one process, in the store when replicas share it.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        api_url: str,
        credentials: AppCredentials | None,
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        retry: RetryPolicy | None = None,
        budget: Budget | None = None,
    ) -> None:
        self.api = MeteredGitHubAPI(session, base_url=api_url, metrics=metrics)
        self.session = session  # also for the OAuth web flow, on the web host (bot.github.oauth)
        self.credentials = credentials
        self.clock = clock
        self.sleep = sleep
        self.retry = retry or RetryPolicy()
        self.budget: Budget = budget if budget is not None else MemoryBudget()
        self.metrics = metrics
        # Work that failed after its retries; kept in the store's timers (see `bot.wiring`).
        self.backlog = Backlog(metrics=metrics)
        self.tokens = TokenCache[int](self._fetch_token, clock=self.now)
        self.code_tokens = TokenCache[RepositoryKey](self._fetch_code_token, clock=self.now)
        self._clients: dict[int, InstallationClient] = {}

    def now(self) -> float:
        """The current time by `clock` (epoch s)."""
        return self.clock()

    async def wait(self, seconds: float) -> None:
        """Wait by `sleep`."""
        await self.sleep(seconds)

    def jwt(self) -> str:
        """The app's JWT, for the calls made as the app itself."""
        if self.credentials is None:
            raise GitHubError("the app has no credentials yet; finish the setup page first")
        return app_jwt(self.credentials.app_id, self.credentials.private_key, now=self.now())

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
        # A second token made because the first answer was lost costs nothing: repeatable.
        data = await self.call(
            "post",
            "/app/installations/{installation_id}/access_tokens",
            {"installation_id": installation_id},
            data=dict(scope),
            jwt=self.jwt(),
            repeatable=True,
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

    def attempts(
        self,
        method: str,
        url: str,
        *,
        repeatable: bool | None = None,
        look_up: LookUp | None = None,
        on_rate_limited: Callable[[float], Awaitable[None]] | None = None,
    ) -> Attempts[Any]:
        """How a request is tried again (see `bot.github.retry`)."""
        return Attempts(
            describe=f"{method.upper()} {url}",
            policy=self.retry,
            clock=self.now,
            sleep=self.wait,
            repeatable=method in REPEATABLE_METHODS if repeatable is None else repeatable,
            look_up=look_up,
            on_rate_limited=on_rate_limited,
            on_retry=self._count_retry,
        )

    def _count_retry(self, reason: str) -> None:
        self.metrics.github_retries.labels(reason).inc()

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
        repeatable: bool | None = None,
        look_up: LookUp | None = None,
    ) -> Any:
        """One request, tried again within bounds, with errors mapped to our family."""

        async def send() -> Any:
            return await self.send_once(
                method, url, url_vars, data=data, accept=accept, jwt=jwt, oauth_token=oauth_token
            )

        how = self.attempts(method, url, repeatable=repeatable, look_up=look_up)
        return await with_retries(send, how)

    async def send_once(
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
        """One try of one request, with errors mapped to our family."""
        kwargs: dict[str, Any] = {"accept": accept}
        if jwt is not None:
            kwargs["jwt"] = jwt
        if oauth_token is not None:
            kwargs["oauth_token"] = oauth_token
        try:
            if method == "get":
                return await self.api.getitem(url, url_vars, **kwargs)
            if method == "delete":
                await self.api.delete(url, url_vars, **kwargs)
                return None
            return await getattr(self.api, method)(url, url_vars, data=data, **kwargs)
        except (gidgethub.GitHubException, aiohttp.ClientError, TimeoutError) as error:
            raise map_error(error, now=self.now()) from error
        except ValueError as error:  # an answer that is not the JSON it says it is
            raise map_error(error, now=self.now()) from error

    async def iterate(
        self, url: str, url_vars: Mapping[str, Any], *, oauth_token: str, key: str | None = None
    ) -> AsyncIterator[Any]:
        """Every item of a paginated list (following `Link: next`), in one try."""
        try:
            async for item in self.api.getiter(
                url, url_vars, oauth_token=oauth_token, iterable_key=key
            ):
                yield item
        except (gidgethub.GitHubException, aiohttp.ClientError, TimeoutError, ValueError) as error:
            raise map_error(error, now=self.now()) from error


class InstallationClient(Writes):
    """Calls made as one installation: its token, its write pacing, tries within bounds."""

    def __init__(self, app: GitHubApp, installation_id: int) -> None:
        self._app = app
        self.installation_id = installation_id
        self.writes = WritePacer(installation_id, budget=app.budget, clock=app.now, sleep=app.wait)

    @property
    def app_id(self) -> str | None:
        """The app's id (None before the setup page has registered the app)."""
        credentials = self._app.credentials
        return credentials.app_id if credentials is not None else None

    async def token(self) -> str:
        """The installation's access token (cached until shortly before it expires)."""
        return await self._app.tokens.token(self.installation_id)

    async def code_token(self, repository_id: int) -> str:
        """A token that can only read the code of one repository: the one git fetches with."""
        return await self._app.code_tokens.token((self.installation_id, repository_id))

    async def _call(
        self,
        method: str,
        url: str,
        url_vars: Mapping[str, Any],
        *,
        look_up: LookUp | None = None,
        repeatable: bool | None = None,
        priority: Priority = Priority.FEEDBACK,
        **kwargs: Any,
    ) -> Any:
        token = await self.token()

        async def send() -> Any:
            if method != "get":
                await self.writes.wait(priority)  # every try counts against GitHub's write limit
            return await self._app.send_once(method, url, url_vars, oauth_token=token, **kwargs)

        how = self._app.attempts(
            method,
            url,
            repeatable=repeatable,
            look_up=look_up,
            on_rate_limited=self.writes.pause_until,
        )
        return await with_retries(send, how)

    async def _list(
        self, url: str, url_vars: Mapping[str, Any], key: str | None = None
    ) -> list[Any]:
        token = await self.token()

        async def send() -> list[Any]:
            pages = self._app.iterate(url, url_vars, oauth_token=token, key=key)
            return [item async for item in pages]

        return await with_retries(send, self._app.attempts("get", url))

    async def update_check_run(self, repo: str, check_run_id: int, body: Mapping[str, Any]) -> None:
        """Change a check run: status, conclusion, output or buttons."""
        owner, name = repo.split("/", 1)
        await self._call(
            "patch",
            "/repos/{owner}/{repo}/check-runs/{check_run_id}",
            {"owner": owner, "repo": name, "check_run_id": check_run_id},
            data=dict(body),
        )

    async def delete_branch(self, repo: str, branch: str) -> None:
        """Delete a branch (the head of a merged pull request)."""
        owner, name = repo.split("/", 1)
        await self._call(
            "delete",
            "/repos/{owner}/{repo}/git/refs/{ref}",
            {"owner": owner, "repo": name, "ref": f"heads/{branch}"},
            priority=Priority.DEFERRABLE,
        )

    async def edit_comment(self, repo: str, comment_id: int, body: str) -> None:
        """Replace the text of a comment."""
        owner, name = repo.split("/", 1)
        await self._call(
            "patch",
            "/repos/{owner}/{repo}/issues/comments/{comment_id}",
            {"owner": owner, "repo": name, "comment_id": comment_id},
            data={"body": body},
            priority=Priority.DEFERRABLE,
        )

    async def react(self, repo: str, comment_id: int, content: str) -> None:
        """Add a reaction (`eyes`, `+1`…) to a comment."""
        owner, name = repo.split("/", 1)
        await self._call(
            "post",
            "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions",
            {"owner": owner, "repo": name, "comment_id": comment_id},
            data={"content": content},
            repeatable=True,  # GitHub answers an existing reaction with 200, not a second one
            priority=Priority.DEFERRABLE,
        )
