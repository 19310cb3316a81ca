"""Who may do what: repository permissions read from GitHub, cached briefly.

Never from payload text (`author_association` says nothing about write access). A short
TTL keeps a burst of commands and reviews from asking GitHub again and again, while a
revoked permission stops working within a minute.
https://docs.github.com/en/rest/collaborators/collaborators#get-repository-permissions-for-a-user
"""

from __future__ import annotations

import time
from collections.abc import Callable

from cachetools import TTLCache

from bot.core.permissions import Permission
from bot.github.client import InstallationClient

PERMISSION_TTL = 60.0  # seconds
_MAX_ENTRIES = 4096


class PermissionCache:
    def __init__(
        self, *, ttl: float = PERMISSION_TTL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._cache: TTLCache[tuple[int, str, str], Permission] = TTLCache(
            maxsize=_MAX_ENTRIES, ttl=ttl, timer=clock
        )

    async def permission(self, client: InstallationClient, repo: str, login: str) -> Permission:
        """`login`'s access to `repo` (GitHub logins and repository names ignore case)."""
        key = (client.installation_id, repo.lower(), login.lower())
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        permission, role = await client.permission(repo, login)
        level = Permission.from_github(permission, role)
        self._cache[key] = level
        return level

    def forget(self) -> None:
        """Drop every cached answer (tests; a `member` or `installation` change)."""
        self._cache.clear()
