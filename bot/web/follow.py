"""Following a running log with server-sent events: new lines reach the reader within a
second, whichever replica wrote them (followers read the store, not a process's memory).

One stream per reader: it starts at the character offset where the page stopped, sends
complete lines (rendered, numbered, with the section each one opens), polls the store for
new chunks, and ends with a `done` event once the log's owner finished.
https://html.spec.whatwg.org/multipage/server-sent-events.html
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.store import log_pages
from bot.store.log_pages import LogSource
from bot.web import ansi, logview, messages
from bot.web.keys import STORE
from bot.web.templating import badge

POLL_SECONDS = 0.25
KEEPALIVE_SECONDS = 15.0  # a comment line, so proxies keep an idle stream open
MAX_EVENT_CHARS = 256 * 1024  # one event's share of a burst; the rest follows at once

# The owner's status key once it finished, None while it runs.
Finished = Callable[[], Awaitable[str | None]]
# Set when the service shuts down: streams end, instead of holding the shutdown up.
STOPPING = web.AppKey("streams_stopping", asyncio.Event)


def add_shutdown(app: web.Application) -> None:
    """End every open stream when `app` shuts down."""
    app[STOPPING] = asyncio.Event()

    async def stop(app: web.Application) -> None:
        app[STOPPING].set()

    app.on_shutdown.append(stop)


def _is_gone(request: web.Request) -> bool:
    """Whether the reader left (aiohttp does not cancel a handler when it does) or the
    service is stopping."""
    stopping = request.app.get(STOPPING)
    transport = request.transport
    return (
        transport is None or transport.is_closing() or (stopping is not None and stopping.is_set())
    )


@dataclass
class Position:
    offset: int  # characters of the log already sent (or shown by the page)
    line: int  # the number of the next line
    state: logview.SectionState


def position_from(request: web.Request) -> Position:
    """Where to start: after the last event a reconnecting reader got, else where the page
    stopped (from the stream's query); bad values start from the top."""
    query: dict[str, str] = dict(request.query)
    resumed = request.headers.get("Last-Event-ID", "").split("-")
    if len(resumed) == 3:
        query.update(at=resumed[0], line=resumed[1], section=resumed[2])
    state = query.get("section", "none")
    return Position(
        offset=whole_number(query.get("at")),
        line=max(1, whole_number(query.get("line"))),
        state=state if state in ("none", "step", "step_ended", "other") else "none",  # type: ignore[arg-type]
    )


def whole_number(text: str | None) -> int:
    """A query's count, 0 when it is missing or not a reasonable whole number."""
    return int(text) if text and text.isdigit() and len(text) < 16 else 0


async def stream(
    request: web.Request, source: LogSource, owner: int, finished: Finished
) -> web.StreamResponse:
    """Send the log's new lines as they are stored, until its owner finishes."""
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    engine = request.app[STORE].engine
    follower = _Follower(position_from(request))
    text, last = await log_pages.read_from(engine, source, owner, offset=follower.offset)
    quiet = 0.0
    try:
        while True:
            outcome = (
                await finished()
            )  # asked before reading: nothing stored before the end is missed
            more, last = await log_pages.read_after(engine, source, owner, after=last)
            sent = await follower.send(response, text + more, final=outcome is not None)
            if outcome is not None:
                await _event(response, "done", {"badge": str(badge(outcome)), "status": outcome})
                return response
            quiet = 0.0 if sent else quiet + POLL_SECONDS
            if quiet >= KEEPALIVE_SECONDS:
                await response.write(b": still running\n\n")
                quiet = 0.0
            await asyncio.sleep(POLL_SECONDS)
            if _is_gone(request):
                return response
            text = ""
    except ConnectionResetError:  # the reader left
        return response


class _Follower:
    """One reader's place: the partial line not sent yet, line numbers, sections."""

    def __init__(self, position: Position) -> None:
        self.offset = position.offset  # characters of the log sent as whole lines
        self._line = position.line
        self._sectioner = logview.Sectioner(position.state)
        self._style = ansi.Style()
        self._partial = ""  # the start of a line whose end has not been written yet
        self._dropped = 0  # characters of that line beyond what a page shows

    @property
    def event_id(self) -> str:
        """Where a reconnecting reader resumes (EventSource sends it as Last-Event-ID)."""
        return f"{self.offset}-{self._line}-{self._sectioner.state}"

    async def send(self, response: web.StreamResponse, text: str, *, final: bool) -> bool:
        """Send every line `text` completes (and the last one when `final`); True if any."""
        batch: list[dict[str, Any]] = []
        size = 0
        lines = self._complete(text, final=final)
        for raw, dropped, consumed in lines:
            item = self._item(raw, dropped)
            self.offset += consumed
            batch.append(item)
            size += len(item["html"])
            if size >= MAX_EVENT_CHARS:
                await _event(response, "lines", {"lines": batch}, self.event_id)
                batch, size = [], 0
        if batch:
            await _event(response, "lines", {"lines": batch}, self.event_id)
        return bool(lines)

    def _complete(self, text: str, *, final: bool) -> list[tuple[str, int, int]]:
        """The lines `text` completes: each with its characters cut and the characters of
        the log it consumed."""
        pieces = (self._partial + text).split("\n")
        partial = pieces.pop()
        whole = [(raw, 0, len(raw) + 1) for raw in pieces]
        dropped = self._dropped
        if whole:
            raw, _, consumed = whole[0]
            whole[0] = (raw, dropped, consumed + dropped)
            dropped = 0
        if final and (partial or dropped):
            whole.append((partial, dropped, len(partial) + dropped))
            partial, dropped = "", 0
        if len(partial) > logview.MAX_LINE_CHARS:  # keep a long line's head only
            dropped += len(partial) - logview.MAX_LINE_CHARS
            partial = partial[: logview.MAX_LINE_CHARS]
        self._partial, self._dropped = partial, dropped
        return whole

    def _item(self, raw: str, dropped: int) -> dict[str, Any]:
        line, marker, self._style = logview.render_line(
            self._line, raw, self._style, dropped=dropped
        )
        self._line += 1
        opened = self._sectioner.place(marker)
        return {
            "n": line.number,
            "html": str(line.html),
            "cut": messages.line_cut(line.cut) if line.cut else None,
            "opens": None if opened is None else {"name": opened.name, "step": opened.is_step},
            "ends": str(badge(marker.outcome)) if marker.outcome else None,
            "took": marker.took,
        }


async def _event(
    response: web.StreamResponse, name: str, data: dict[str, Any], event_id: str | None = None
) -> None:
    head = f"id: {event_id}\n" if event_id else ""
    await response.write(f"{head}event: {name}\ndata: {json.dumps(data)}\n\n".encode())
