"""The two ways an installation's client calls GitHub, which its reads and writes use.

`bot.github.client.InstallationClient` implements them (tokens, pacing, retries); the
typed calls live in `reads` and `writes`, by what they do.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from bot.github.pacing import Priority

LookUp = Callable[[], Awaitable[Any]]


class Calls:
    """A request (tried again within bounds) and a paginated list, as one installation."""

    @property
    def app_id(self) -> str | None:
        """The app's id, which tells its own check runs from other apps'."""
        return None

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
        raise NotImplementedError

    async def _list(
        self, url: str, url_vars: Mapping[str, Any], key: str | None = None
    ) -> list[Any]:
        raise NotImplementedError
