"""The one gidgethub client of the app: one try per request, counted in the metrics, reads
sent conditionally (`bot.github.etags`).

Retries are decided above it, in `bot.github.client` with `bot.github.retry`, where the
client knows whether a failed write may have been applied and how to look it up.
"""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp
from gidgethub.aiohttp import GitHubAPI

from bot.github.etags import EtagCache
from bot.metrics import Metrics

USER_AGENT = "greenlight-app"


class MeteredGitHubAPI(GitHubAPI):
    """gidgethub over aiohttp, counting requests by method and status (a `304` is counted
    as such, then answered with the kept body)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        metrics: Metrics,
        etags: EtagCache | None = None,
    ) -> None:
        super().__init__(session, USER_AGENT, base_url=base_url)
        self._metrics = metrics
        self.etags = etags if etags is not None else EtagCache()

    async def _request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes = b""
    ) -> tuple[int, Mapping[str, str], bytes]:
        key = self.etags.key(method, url, headers)
        kept, sent = self.etags.ask(key, headers)
        try:
            answer = await super()._request(method, url, sent, body)
        except (TimeoutError, aiohttp.ClientError):
            self._metrics.github_requests.labels(method, "error").inc()
            raise
        self._metrics.github_requests.labels(method, str(answer[0])).inc()
        self.answered(answer[0])
        return self.etags.settle(key, kept, answer)

    def answered(self, status: int) -> None:
        """GitHub answered a request with `status` (before a 304 is replayed)."""
