"""The app's JWT and installation tokens: cached until shortly before they expire,
fetched once per installation (or repository) even when many tasks ask at the same time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

import jwt
from cachetools import TLRUCache

# GitHub rejects a JWT whose `iat` is in the future, so it is backdated for clock drift;
# `exp` may be at most 10 minutes ahead.
# https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app
JWT_BACKDATE_SECONDS = 60
JWT_LIFETIME_SECONDS = 9 * 60
# Refresh an installation token this long before GitHub expires it (it lives one hour).
TOKEN_SAFETY_MARGIN_SECONDS = 5 * 60


def app_jwt(app_id: str, private_key: str, *, now: float) -> str:
    """A JWT that authenticates as the app itself (RS256, `iss` the app id as a string)."""
    payload = {
        "iat": int(now) - JWT_BACKDATE_SECONDS,
        "exp": int(now) + JWT_LIFETIME_SECONDS,
        "iss": str(app_id),
    }
    return jwt.encode(payload, private_key, algorithm="RS256")


@dataclass(frozen=True)
class InstallationToken:
    token: str
    expires_at: float  # epoch seconds

    def __repr__(self) -> str:  # never print a token, even in a traceback
        return f"InstallationToken(expires_at={self.expires_at})"


def parse_expiry(expires_at: str) -> float:
    """GitHub's `expires_at` (ISO 8601, `Z` suffix) as epoch seconds."""
    return datetime.fromisoformat(expires_at.replace("Z", "+00:00")).timestamp()


Key = TypeVar("Key", bound=Hashable)


class TokenCache(Generic[Key]):
    """Installation tokens by what they reach (an installation, or one repository of it),
    each refreshed single-flight."""

    def __init__(
        self,
        fetch: Callable[[Key], Awaitable[InstallationToken]],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._cache: TLRUCache[Key, InstallationToken] = TLRUCache(
            maxsize=10_000, ttu=self._use_until, timer=clock
        )
        self._in_flight: dict[Key, asyncio.Future[InstallationToken]] = {}

    @staticmethod
    def _use_until(_key: object, token: InstallationToken, _now: float) -> float:
        return token.expires_at - TOKEN_SAFETY_MARGIN_SECONDS

    async def token(self, key: Key) -> str:
        """A token valid for at least the safety margin."""
        cached = self._cache.get(key)
        if cached is not None:
            return cached.token
        pending = self._in_flight.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._refresh(key))
            self._in_flight[key] = pending
        return (await asyncio.shield(pending)).token

    async def _refresh(self, key: Key) -> InstallationToken:
        try:
            fresh = await self._fetch(key)
            self._cache[key] = fresh
            return fresh
        finally:
            self._in_flight.pop(key, None)

    def forget(self, key: Key) -> None:
        """Drop a token GitHub refused (revoked, installation deleted)."""
        self._cache.pop(key, None)

    def forget_where(self, doomed: Callable[[Key], bool]) -> None:
        """Drop every token whose key is `doomed`."""
        for key in [key for key in self._cache if doomed(key)]:
            self._cache.pop(key, None)
