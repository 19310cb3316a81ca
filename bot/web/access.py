"""Who may read a page: the holder of a signed link (from a check run or deployment), or
a viewer signed in with GitHub who may read the repository (anyone, for a public one)."""

from __future__ import annotations

from aiohttp import web

from bot import links
from bot.web import messages
from bot.web.keys import SETTINGS
from bot.web.sessions import Viewer, can_sign_in, login_url, viewer_of
from bot.web.templating import SECURITY_HEADERS, environment
from bot.web.viewers import may_read


def has_link(request: web.Request, kind: str, ident: int | str) -> bool:
    """Whether the request's token signs (`kind`, `ident`)."""
    token = request.query.get("token", "")
    return links.is_signed(kind, ident, token, request.app[SETTINGS].link_secret)


async def require_reader(
    request: web.Request, kind: str, ident: int | str, repo: str | None, missing: str
) -> str:
    """Let through the holder of a signed link for this page, anyone for a public
    repository and a signed-in viewer GitHub says may read it; refuse everyone else (a
    page that does not exist is "not found" only to a link holder: no one probes ids).
    Returns a token signing the page, for the links it makes to itself."""
    if has_link(request, kind, ident):
        if repo is None:
            raise not_found(missing)
        return request.query["token"]
    viewer = viewer_of(request)
    if repo is not None and await may_read(request, viewer, repo):
        return links.sign(kind, ident, request.app[SETTINGS].link_secret)
    if "token" in request.query:
        raise refused(web.HTTPForbidden, messages.LINK_INVALID, messages.LINK_INVALID_DETAIL)
    if viewer is None:
        raise refused(
            web.HTTPForbidden,
            messages.SIGN_IN_NEEDED,
            messages.SIGN_IN_NEEDED_DETAIL,
            sign_in=login_url(request.path_qs) if can_sign_in(request) else None,
        )
    raise refused(web.HTTPForbidden, messages.NO_ACCESS, messages.NO_ACCESS_DETAIL, viewer=viewer)


def refused(
    kind: type[web.HTTPException],
    title: str,
    detail: str,
    *,
    sign_in: str | None = None,
    viewer: Viewer | None = None,
) -> web.HTTPException:
    """An HTTP error whose body is a page saying what went wrong (and where to sign in)."""
    page = environment().get_template("message.html")
    text = page.render(title=title, detail=detail, sign_in=sign_in, viewer=viewer, now=0)
    return kind(text=text, content_type="text/html", headers=SECURITY_HEADERS)


def not_found(detail: str) -> web.HTTPException:
    return refused(web.HTTPNotFound, messages.NOT_FOUND, detail)
