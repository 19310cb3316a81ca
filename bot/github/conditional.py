"""Reads for the recovery pass: conditional (ETag) requests, counted, and the delivery log.

The recovery pass reads the same few things of every repository on each interval; GitHub
answers `304 Not Modified` to a request that carries the ETag of an unchanged answer, and
a 304 does not count against the rate limit. Every client of the app sends its reads
conditionally, with ETags kept per token (`bot.github.etags`); this one also counts.
https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api#use-conditional-requests-if-appropriate
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import gidgethub
from yarl import URL

from bot.github.api import MeteredGitHubAPI
from bot.github.client import GitHubApp
from bot.github.errors import map_error
from bot.metrics import Metrics

ACCEPT = "application/vnd.github+json"


@dataclass
class RequestCount:
    """Requests one pass made: all of them, and those answered 304 (free of rate limit)."""

    requests: int = 0
    not_modified: int = 0


_current_count: contextvars.ContextVar[RequestCount | None] = contextvars.ContextVar(
    "recovery_request_count", default=None
)


class ConditionalGitHubAPI(MeteredGitHubAPI):
    """The app's metered client, counting into the current pass (one try per request: a
    read that fails is read again on the next pass)."""

    def __init__(self, session: aiohttp.ClientSession, *, base_url: str, metrics: Metrics) -> None:
        super().__init__(session, base_url=base_url, metrics=metrics)

    def answered(self, status: int) -> None:
        count = _current_count.get()
        if count is not None:
            count.requests += 1
            count.not_modified += status == 304

    def counting(self) -> RequestCount:
        """Count the requests made from here on in this task (and tasks it starts)."""
        count = RequestCount()
        _current_count.set(count)
        return count

    async def page(
        self,
        url: str,
        url_vars: Mapping[str, Any],
        *,
        jwt: str | None = None,
        oauth_token: str | None = None,
    ) -> tuple[Any, str | None]:
        """One page and the URL of the next (`Link: rel="next"`), errors mapped."""
        try:
            data, next_url, _ = await self._make_request(
                "GET", url, url_vars, b"", ACCEPT, jwt=jwt, oauth_token=oauth_token
            )
        except (gidgethub.GitHubException, aiohttp.ClientError, TimeoutError) as error:
            raise map_error(error, now=time.time()) from error
        return data, next_url


class AppReads:
    """What the recovery pass reads as the app (JWT): the delivery log, installations."""

    def __init__(self, app: GitHubApp, api: ConditionalGitHubAPI) -> None:
        self._app = app
        self._api = api

    async def deliveries(self, *, cursor: str | None, per_page: int) -> tuple[Any, str | None]:
        """One page of `GET /app/hook/deliveries`, newest first, and the next page's cursor.
        https://docs.github.com/en/rest/apps/webhooks#list-deliveries-for-an-app-webhook"""
        url_vars: dict[str, Any] = {"per_page": per_page}
        if cursor is not None:
            url_vars["cursor"] = cursor
        data, next_url = await self._api.page(
            "/app/hook/deliveries{?per_page,cursor}", url_vars, jwt=self._app.jwt()
        )
        return data, _cursor_of(next_url)

    async def delivery(self, delivery_id: int) -> Any:
        """`GET /app/hook/deliveries/{delivery_id}`: with `request.payload`, the original body."""
        data, _ = await self._api.page(
            "/app/hook/deliveries/{delivery_id}", {"delivery_id": delivery_id}, jwt=self._app.jwt()
        )
        return data

    async def installation(self, installation_id: int) -> Any:
        """`GET /app/installations/{installation_id}` (NotFound once it was uninstalled)."""
        data, _ = await self._api.page(
            "/app/installations/{installation_id}",
            {"installation_id": installation_id},
            jwt=self._app.jwt(),
        )
        return data


def _cursor_of(next_url: str | None) -> str | None:
    if next_url is None:
        return None
    cursor = URL(next_url).query.get("cursor")
    return cursor or None


class RepositoryReads:
    """What reconciliation reads of a repository, as its installation, conditionally."""

    def __init__(self, app: GitHubApp, api: ConditionalGitHubAPI) -> None:
        self._app = app
        self._api = api

    async def _get(self, installation_id: int, url: str, url_vars: Mapping[str, Any]) -> Any:
        token = await self._app.installation(installation_id).token()
        data, _ = await self._api.page(url, url_vars, oauth_token=token)
        return data

    async def repository(self, installation_id: int, repo: str) -> Any:
        """`GET /repos/{owner}/{repo}`: id, clone URL, default branch."""
        owner, name = repo.split("/", 1)
        return await self._get(
            installation_id, "/repos/{owner}/{repo}", {"owner": owner, "repo": name}
        )

    async def branch_tip(self, installation_id: int, repo: str, branch: str) -> str:
        """The SHA a branch points at (`GET /repos/{owner}/{repo}/git/ref/heads/{branch}`)."""
        owner, name = repo.split("/", 1)
        data = await self._get(
            installation_id,
            "/repos/{owner}/{repo}/git/ref/{ref}",
            {"owner": owner, "repo": name, "ref": f"heads/{branch}"},
        )
        return str(((data or {}).get("object") or {}).get("sha") or "")

    async def open_pull_requests(self, installation_id: int, repo: str, *, limit: int) -> Any:
        """The most recently updated open pull requests, at most `limit` (one page)."""
        owner, name = repo.split("/", 1)
        return await self._get(
            installation_id,
            "/repos/{owner}/{repo}/pulls{?state,sort,direction,per_page}",
            {
                "owner": owner,
                "repo": name,
                "state": "open",
                "sort": "updated",
                "direction": "desc",
                "per_page": min(limit, 100),
            },
        )

    async def check_runs(self, installation_id: int, repo: str, sha: str, *, app_id: str) -> Any:
        """One page (100) of the app's latest check runs on commit `sha`.
        https://docs.github.com/en/rest/checks/runs#list-check-runs-for-a-git-reference"""
        owner, name = repo.split("/", 1)
        return await self._get(
            installation_id,
            "/repos/{owner}/{repo}/commits/{ref}/check-runs{?app_id,filter,per_page}",
            {
                "owner": owner,
                "repo": name,
                "ref": sha,
                "app_id": app_id,
                "filter": "latest",
                "per_page": 100,
            },
        )
