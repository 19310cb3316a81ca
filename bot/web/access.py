"""Who may read a page: the holder of a signed link (from a check run or deployment)."""

from __future__ import annotations

from aiohttp import web

from bot import links
from bot.web import messages
from bot.web.keys import SETTINGS
from bot.web.templating import SECURITY_HEADERS, environment


def require_link(request: web.Request, kind: str, ident: int | str) -> str:
    """The request's token when it signs (`kind`, `ident`); otherwise refuse with a page."""
    token = request.query.get("token", "")
    if not links.is_signed(kind, ident, token, request.app[SETTINGS].link_secret):
        raise refused(web.HTTPForbidden, messages.LINK_INVALID, messages.LINK_INVALID_DETAIL)
    return token


def refused(kind: type[web.HTTPException], title: str, detail: str) -> web.HTTPException:
    """An HTTP error whose body is a page saying what went wrong."""
    text = environment().get_template("message.html").render(title=title, detail=detail, now=0)
    return kind(text=text, content_type="text/html", headers=SECURITY_HEADERS)


def not_found(detail: str) -> web.HTTPException:
    return refused(web.HTTPNotFound, messages.NOT_FOUND, detail)
