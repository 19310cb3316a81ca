"""The one gidgethub client of the app: one try per request, counted in the metrics.

Retries are decided above it, in `bot.github.client` with `bot.github.retry`, where the
client knows whether a failed write may have been applied and how to look it up.
"""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp
from gidgethub.aiohttp import GitHubAPI

from bot.metrics import Metrics

USER_AGENT = "greenlight-app"


class MeteredGitHubAPI(GitHubAPI):
    """gidgethub over aiohttp, counting requests by method and status."""

    def __init__(self, session: aiohttp.ClientSession, *, base_url: str, metrics: Metrics) -> None:
        super().__init__(session, USER_AGENT, base_url=base_url)
        self._metrics = metrics

    async def _request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes = b""
    ) -> tuple[int, Mapping[str, str], bytes]:
        try:
            status, response_headers, response_body = await super()._request(
                method, url, headers, body
            )
        except (TimeoutError, aiohttp.ClientError):
            self._metrics.github_requests.labels(method, "error").inc()
            raise
        self._metrics.github_requests.labels(method, str(status)).inc()
        return status, response_headers, response_body
