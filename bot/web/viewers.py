"""What a signed-in viewer may see, as GitHub says: their permission on each repository.

Asked with the app's installation token (`GET …/collaborators/{username}/permission`, the
same question slash-commands ask) and remembered for a minute, so a viewer who loses
access is refused within a minute, even with their session still valid.
"""

from __future__ import annotations

import logging

from aiohttp import web
from cachetools import TTLCache

from bot.core.permissions import Permission
from bot.github.errors import GitHubError
from bot.store import overview
from bot.web.keys import GITHUB, STORE
from bot.web.sessions import Viewer

log = logging.getLogger("greenlight.web")
PERMISSION_SECONDS = 60
PERMISSIONS = web.AppKey("viewer_permissions", TTLCache[tuple[str, str], Permission])


def add_cache(app: web.Application) -> None:
    app[PERMISSIONS] = TTLCache(maxsize=20_000, ttl=PERMISSION_SECONDS)


async def permission(request: web.Request, viewer: Viewer, repo: str) -> Permission:
    """The viewer's permission on `repo`, as GitHub says."""
    cache = request.app[PERMISSIONS]
    key = (viewer.login.lower(), repo.lower())
    if key in cache:
        return cache[key]
    entry = await overview.repository_entry(request.app[STORE].engine, repo)
    if entry is None:
        return Permission.NONE  # not a repository of any installation: nothing to show
    try:
        level, role = (
            await request.app[GITHUB]
            .installation(entry.installation_id)
            .permission(repo, viewer.login)
        )
    except GitHubError as error:
        log.warning("could not read %s's permission on %s: %s", viewer.login, repo, error)
        return Permission.NONE  # not remembered: asked again on the next page
    cache[key] = Permission.from_github(level, role)
    return cache[key]


async def may_read(request: web.Request, viewer: Viewer | None, repo: str) -> bool:
    """Whether this viewer may see the repository's pages: public, or GitHub says so."""
    private = await request.app[STORE].installations.is_private(repo)
    if private is False:
        return True
    if viewer is None:
        return False
    return await permission(request, viewer, repo) >= Permission.READ
