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
from cachetools import LRUCache

from bot.store import log_pages
from bot.store.log_pages import LogIndex, LogSource
from bot.web import ansi, logview, messages
from bot.web.keys import STORE
from bot.web.templating import badge

POLL_SECONDS = 0.25
KEEPALIVE_SECONDS = 15.0  # a comment line, so proxies keep an idle stream open
MAX_EVENT_CHARS = 64 * 1024  # one event's share of a burst; the rest follows at once
ITEM_OVERHEAD = 120  # the JSON around one line's HTML, about

# The owner's status key once it finished, None while it runs.
Finished = Callable[[], Awaitable[str | None]]
# What decides a reader's next events: its place (offset, line, section, colour, the
# partial line and its cut).
Snapshot = tuple[int, int, logview.SectionState, ansi.Style, str, int]
RENDERED_EVENTS = 2048  # batches of events kept for readers at the same place
RENDERED: web.AppKey[LRUCache[tuple[object, ...], tuple[list[bytes], Snapshot]]] = web.AppKey(
    "rendered_events"
)
# Set when the service shuts down: streams end, instead of holding the shutdown up.
STOPPING = web.AppKey("streams_stopping", asyncio.Event)


@dataclass
class _Indexes:
    index: LogIndex | None = None


INDEXES = web.AppKey("log_indexes", _Indexes)


def log_index(request: web.Request) -> LogIndex:
    """The process's index of log chunks (made on first use: the store opens at start-up)."""
    holder = request.app[INDEXES]
    if holder.index is None:
        holder.index = LogIndex(request.app[STORE].engine)
    return holder.index


def add_state(app: web.Application) -> None:
    """End every open stream when `app` shuts down; keep one index of log chunks and the
    events rendered lately. Once per app, whichever log pages ask first."""
    if STOPPING in app:
        return
    app[STOPPING] = asyncio.Event()
    app[INDEXES] = _Indexes()
    app[RENDERED] = LRUCache(maxsize=RENDERED_EVENTS)

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
    text, last = await log_pages.read_from(
        log_index(request), source, owner, offset=follower.offset
    )
    read_from: int | None = None  # the first read starts at the reader's offset
    quiet = 0.0
    try:
        while True:
            # Asked before reading: nothing stored before the end is missed.
            outcome = await finished()
            more, last = await log_pages.read_after(engine, source, owner, after=last)
            final = outcome is not None
            key = (source.table.name, owner, read_from, last, final, follower.snapshot())
            events = _rendered(request, key, follower, text + more, final=final)
            for event in events:
                await response.write(event)
            sent = bool(events)
            read_from = last
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

    def snapshot(self) -> Snapshot:
        """Everything that decides what this reader is sent next."""
        state = self._sectioner.state
        return (self.offset, self._line, state, self._style, self._partial, self._dropped)

    def restore(self, snapshot: Snapshot) -> None:
        """Take the place another reader reached."""
        self.offset, self._line, state, self._style, self._partial, self._dropped = snapshot
        self._sectioner = logview.Sectioner(state)

    @property
    def event_id(self) -> str:
        """Where a reconnecting reader resumes (EventSource sends it as Last-Event-ID)."""
        return f"{self.offset}-{self._line}-{self._sectioner.state}"

    def render(self, text: str, *, final: bool) -> list[bytes]:
        """The events for every line `text` completes (and the last one when `final`)."""
        events: list[bytes] = []
        batch: list[dict[str, Any]] = []
        size = 0
        for raw, dropped, consumed in self._complete(text, final=final):
            item = self._item(raw, dropped)
            self.offset += consumed
            batch.append(item)
            size += len(item["html"]) + ITEM_OVERHEAD
            if size >= MAX_EVENT_CHARS:
                events.append(_encoded("lines", {"lines": batch}, self.event_id))
                batch, size = [], 0
        if batch:
            events.append(_encoded("lines", {"lines": batch}, self.event_id))
        return events

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


def _rendered(
    request: web.Request,
    key: tuple[object, ...],
    follower: _Follower,
    text: str,
    *,
    final: bool,
) -> list[bytes]:
    """The follower's next events, rendered once for every reader at the same place: a
    hundred readers of one job cost about one (chunks never change once stored)."""
    cache = request.app[RENDERED]
    found = cache.get(key)
    if found is None:
        events = follower.render(text, final=final)
        cache[key] = (events, follower.snapshot())
        return events
    events, reached = found
    follower.restore(reached)
    return events


def _encoded(name: str, data: dict[str, Any], event_id: str | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {name}\ndata: {json.dumps(data)}\n\n".encode()


async def _event(response: web.StreamResponse, name: str, data: dict[str, Any]) -> None:
    await response.write(_encoded(name, data))
