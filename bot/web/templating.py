"""The pages' templates (Jinja2, autoescaped) and the filters they share.

Every page is sent with a Content-Security-Policy that allows only this service's own
script and stylesheet: text from a log or a pull request title can never run as script,
even if something escaped it wrongly.
"""

from __future__ import annotations

import functools
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web
from markupsafe import Markup, escape

from bot.web import logview, messages
from bot.web.sessions import can_sign_in, login_url, viewer_of

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"
CODE_SPAN = re.compile(r"`([^`\n]+)`")
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # signed links stay on this site
}


@functools.cache
def environment() -> jinja2.Environment:
    """The template environment, autoescaping everything (one per process)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(ago=ago, exact=exact, exact_minute=exact_minute, duration=duration)
    env.filters.update(short=short_sha, code_spans=code_spans)
    env.globals.update(status_key=status_key, status_word=status_word, status_icon=status_icon)
    env.globals.update(tone=tone, badge=badge, lines_html=logview.lines_html)
    return env


def render(
    request: web.Request, template: str, *, status: int = 200, **values: Any
) -> web.Response:
    """A page from `template` with `values`, sent with the security headers."""
    sign_in = login_url(request.path_qs) if can_sign_in(request) else None
    now = values.pop("now", None) or time.time()
    text = (
        environment()
        .get_template(template)
        .render(now=now, viewer=viewer_of(request), sign_in=sign_in, **values)
    )
    response = web.Response(status=status, text=text, content_type="text/html")
    response.headers.update(SECURITY_HEADERS)
    return response


def refusal(request: web.Request, status: int, title: str, detail: str) -> web.Response:
    """A plain page saying what went wrong and where to go instead."""
    return render(request, "message.html", status=status, title=title, detail=detail)


# Filters ---------------------------------------------------------------------------------


def exact(timestamp: float | None) -> str:
    """A moment as UTC, to the second."""
    if timestamp is None:
        return ""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def exact_minute(timestamp: float) -> str:
    """A moment as UTC, to the minute, with the weekday: "Fri 2026-12-04 17:00 UTC"."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%a %Y-%m-%d %H:%M UTC")


def ago(timestamp: float | None, now: float) -> str:
    """A moment relative to `now`: "just now", "5 min ago", "3 h ago", "2 days ago"; one
    to come: "in 5 min", "in 2 days"."""
    if timestamp is None:
        return ""
    seconds = now - timestamp
    if -5 < seconds < 5:
        return "just now"
    span = _span(abs(seconds))
    return f"{span} ago" if seconds > 0 else f"in {span}"


def _span(seconds: float) -> str:
    for limit, unit, name in ((60, 1, "s"), (3600, 60, "min"), (86400, 3600, "h")):
        if seconds < limit:
            return f"{int(seconds // unit)} {name}"
    days = int(seconds // 86400)
    return f"{days} day{'s' if days != 1 else ''}"


def duration(seconds: float | None) -> str:
    """A duration as people say it: "0.4 s", "42 s", "3 min 5 s", "1 h 2 min"."""
    if seconds is None:
        return ""
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


def code_spans(text: str) -> Markup:
    """`text` escaped, its `code spans` (the commands' answers are Markdown) as <code>."""
    escaped = str(escape(text))
    return Markup(CODE_SPAN.sub(r"<code>\1</code>", escaped))  # noqa: S704 - escaped above


def short_sha(sha: str) -> str:
    return sha[:7]


def status_key(status: str | None, conclusion: str | None = None) -> str:
    """The one word the pages show for a status and conclusion: the conclusion once done."""
    key = conclusion or status or "unknown"
    return key if key in messages.STATUS else "unknown"


def status_word(key: str) -> str:
    return messages.STATUS.get(key, messages.STATUS["unknown"])[0]


def status_icon(key: str) -> str:
    return messages.STATUS.get(key, messages.STATUS["unknown"])[1]


def tone(key: str) -> str:
    """The colour family of a status: good, bad, warn, busy, idle or quiet."""
    return messages.TONE.get(key, "quiet")


def badge(key: str) -> Markup:
    """A status in colour, icon and word: never colour alone."""
    return Markup('<span class="badge {tone}" data-status="{key}">{icon} {word}</span>').format(
        tone=tone(key), key=key, icon=status_icon(key), word=status_word(key)
    )
