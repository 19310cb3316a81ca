"""The one gidgethub client of the app: bounded retries, request metrics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import aiohttp
import gidgethub
from gidgethub.aiohttp import GitHubAPI

from bot.metrics import Metrics

MAX_ATTEMPTS = 4
MAX_RETRY_WAIT_SECONDS = 60.0
USER_AGENT = "greenlight-app"


class RetryingGitHubAPI(GitHubAPI):
    """gidgethub over aiohttp, retrying 5xx and secondary rate limits with a bound.

    Secondary rate limits answer 403 or 429 with `Retry-After`; GitHub asks clients to
    wait that long before trying again.
    https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        metrics: Metrics,
        backoff_base: float = 0.5,
    ) -> None:
        super().__init__(session, USER_AGENT, base_url=base_url)
        self._metrics = metrics
        self._backoff_base = backoff_base

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

    async def handle_rate_limit_error(
        self, *, method: str, url: str, exception: gidgethub.HTTPException, attempt: int
    ) -> bool:
        if attempt >= MAX_ATTEMPTS:
            return False
        wait = retry_wait(exception, attempt=attempt, backoff_base=self._backoff_base)
        if wait is None:
            return False
        await asyncio.sleep(wait)
        return True


def retry_wait(
    exception: gidgethub.HTTPException, *, attempt: int, backoff_base: float
) -> float | None:
    """How long to wait before retrying, or None when retrying cannot help."""
    status = int(exception.status_code)
    headers: Any = getattr(exception, "headers", None) or {}
    retry_after = headers.get("retry-after")
    if status in (403, 429) and retry_after is not None:
        try:
            return min(MAX_RETRY_WAIT_SECONDS, max(0.0, float(retry_after)))
        except ValueError:
            return None
    if status in (403, 429) and headers.get("x-ratelimit-remaining") == "0":
        reset = float(headers.get("x-ratelimit-reset", "0") or 0)
        wait = reset - time.time()
        return wait if 0 <= wait <= MAX_RETRY_WAIT_SECONDS else None
    if status >= 500:
        return float(min(MAX_RETRY_WAIT_SECONDS, backoff_base * 2 ** (attempt - 1)))
    return None
