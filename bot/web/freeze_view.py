"""The freeze windows a repository page shows: those in force now, with their end, and the
next ones, with what each holds, read from the config on the default branch (the one
freezes are decided by, `bot.repo_config.freeze_windows`).

The config is read at the default branch's newest built commit, and remembered per
commit: a push that edits the windows shows at once (its build is the newest), and a page
asked again costs GitHub nothing. With no build of the default branch yet it is read at
the branch itself, remembered a minute. The page waits a few seconds for GitHub at most.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiohttp import web
from cachetools import TTLCache

from bot.core.freeze import MERGE, FreezeWindow, upcoming
from bot.github.errors import GitHubError
from bot.repo_config import freeze_windows
from bot.store import overview
from bot.web import messages
from bot.web.keys import GITHUB, STORE

log = logging.getLogger("greenlight.web")
CONFIG_SECONDS = 60
# The page waits this long for GitHub at most (the client's retries take far longer): a
# repository page stays up, saying the windows could not be read, while GitHub is down.
READ_SECONDS = 3.0
LOOKAHEAD_SECONDS = 30 * 86_400  # windows starting within a month are shown
WINDOWS = web.AppKey("freeze_windows", TTLCache[tuple[str, str], tuple[FreezeWindow, ...]])


@dataclass(frozen=True)
class WindowSpan:
    """One window's current or next span, as the page shows it."""

    name: str
    starts: float
    ends: float
    holds: str  # what it applies to, in words
    in_force: bool

    @property
    def key(self) -> str:
        """The status shown for it (colour, icon and word)."""
        return "frozen" if self.in_force else "upcoming"


@dataclass(frozen=True)
class Calendar:
    """What the page says about freezes; `unread`: GitHub could not be asked just now."""

    spans: tuple[WindowSpan, ...] = ()
    configured: int = 0  # windows in the config, shown or not
    unread: bool = False


def add_cache(app: web.Application) -> None:
    app[WINDOWS] = TTLCache(maxsize=2_000, ttl=CONFIG_SECONDS)


def calendar(windows: tuple[FreezeWindow, ...], now: float) -> Calendar:
    """The spans of `windows` in force at `now` or starting within the look-ahead."""
    spans = tuple(
        WindowSpan(window.name, start, end, holds(window), start <= now)
        for window, start, end in upcoming(windows, now, within=LOOKAHEAD_SECONDS)
    )
    return Calendar(spans, len(windows))


def holds(window: FreezeWindow) -> str:
    """What a window applies to, for people: "merges and deploys to production"."""
    if not window.applies_to:
        return messages.FREEZE_EVERYTHING
    return messages.freeze_holds(
        merges=MERGE in window.applies_to,
        environments=[target for target in window.applies_to if target != MERGE],
    )


async def repository_calendar(
    request: web.Request, repo: str, tip: str | None, now: float
) -> Calendar:
    """The repository's freeze calendar at `now`, from its config at `tip` (the default
    branch's newest built commit; None: the default branch, asked of GitHub); empty where
    the app cannot read it."""
    cache = request.app.get(WINDOWS)
    github = request.app.get(GITHUB)
    if cache is None or github is None:
        return Calendar()
    windows = cache.get((repo, tip or ""))
    if windows is None:
        entry = await overview.repository_entry(request.app[STORE].engine, repo)
        if entry is None:
            return Calendar()
        client = github.installation(entry.installation_id)
        try:
            async with asyncio.timeout(READ_SECONDS):
                ref = tip or (await client.repository(repo)).default_branch
                windows = cache[(repo, tip or "")] = await freeze_windows(client, repo, ref)
        except (GitHubError, TimeoutError) as error:
            reason = str(error) or f"no answer within {READ_SECONDS:.0f} s"
            log.warning("could not read the freeze windows of %s: %s", repo, reason)
            return Calendar(unread=True)
    return calendar(windows, now)
