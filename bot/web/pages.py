"""The pages linked from check runs and deployments, and the page shell they share.

Every link carries a signed token (see `bot.links`), so logs of private repositories are
readable only by whoever got the link from GitHub.
"""

from __future__ import annotations

from aiohttp import web
from markupsafe import Markup

from bot.web import (
    actions,
    deploy_pages,
    freeze_view,
    job_pages,
    live,
    repo_pages,
    run_pages,
    sign_in,
    viewers,
)
from bot.web.templating import STATIC, environment

# The setup pages post a form to GitHub and run no script.
PLAIN_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
}


def add_routes(app: web.Application) -> None:
    """The log, run, repository and deployment pages, and the stylesheet and script."""
    job_pages.add_routes(app)
    run_pages.add_routes(app)
    repo_pages.add_routes(app)
    deploy_pages.add_routes(app)
    sign_in.add_routes(app)
    viewers.add_cache(app)
    freeze_view.add_cache(app)
    actions.add_routes(app)
    live.add_routes(app)
    app.router.add_static("/static", STATIC, append_version=False)


def page(title: str, body: str, *, status: int = 200) -> web.Response:
    """One HTML page of this service: `body` is already escaped markup."""
    text = (
        environment()
        .get_template("plain.html")
        .render(title=title, body=Markup(body), viewer=None, sign_in=None, now=0)  # noqa: S704 - callers escape `body`
    )
    response = web.Response(status=status, text=text, content_type="text/html")
    response.headers.update(PLAIN_HEADERS)
    return response
