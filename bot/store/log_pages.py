"""Reading a job's or a deploy's log a page at a time, never whole: a log can be 50 MB.

A log is stored as numbered chunks (as the executor flushed them). Pages look up the
chunks' sizes (`LogIndex`, learned once per chunk), then read only the chunks they show; a
follower reads from a character offset on, then only the chunks added after the last one
it read.
"""

from __future__ import annotations

import bisect
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import sqlalchemy as sa
from cachetools import LRUCache
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.schema import deployment_logs, log_chunks


@dataclass(frozen=True)
class LogSource:
    """Where one kind of log is kept: its table and the column naming its owner."""

    table: sa.Table
    owner: sa.Column[int]


JOB_LOGS = LogSource(log_chunks, log_chunks.c.job_id)
DEPLOYMENT_LOGS = LogSource(deployment_logs, deployment_logs.c.deployment_id)


@dataclass(frozen=True)
class LogWindow:
    """The end of a log, as much as a page shows."""

    text: str  # starts at a line's start
    first_line: int  # the number (from 1) of the text's first line in the whole log
    skipped: int  # characters of the log before `text`, not shown
    total: int  # characters in the whole log


@dataclass
class ChunkStats:
    """A log's chunks as far as known: numbers, and characters and newlines up to each."""

    seqs: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)  # characters up to the end of each chunk
    lines: list[int] = field(default_factory=list)  # newlines up to the end of each chunk

    @property
    def total(self) -> int:
        """Characters in the log, as far as known."""
        return self.ends[-1] if self.ends else 0


class LogIndex:
    """The sizes and newline counts of logs' chunks, each learned once (a chunk never
    changes once stored), so a page of a 50 MB log does not read the 50 MB to find its end.
    One per process; every replica learns its own."""

    def __init__(self, engine: AsyncEngine, *, logs: int = 512) -> None:
        self.engine = engine
        self._known: LRUCache[tuple[str, int], ChunkStats] = LRUCache(maxsize=logs)

    async def stats(self, source: LogSource, owner: int) -> ChunkStats:
        """What is known of the log, brought up to date with the chunks stored since."""
        key = (source.table.name, owner)
        known = self._known.get(key) or ChunkStats()
        text = source.table.c.text
        newlines = sa.func.length(text) - sa.func.length(sa.func.replace(text, "\n", ""))
        query = (
            sa.select(source.table.c.seq, sa.func.length(text), newlines)
            .where((source.owner == owner) & (source.table.c.seq > (known.seqs or [0])[-1]))
            .order_by(source.table.c.seq)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        for seq, size, count in rows:
            if known.seqs and seq <= known.seqs[-1]:
                continue  # learned meanwhile by another reader
            known.seqs.append(int(seq))
            known.ends.append(known.total + int(size or 0))
            known.lines.append((known.lines or [0])[-1] + int(count or 0))
        self._known[key] = known
        return known


async def read_window(
    index: LogIndex, source: LogSource, owner: int, *, max_chars: int
) -> LogWindow:
    """The whole log when it fits in `max_chars`, else its last lines that fit."""
    stats = await index.stats(source, owner)
    total = stats.total
    if total <= max_chars:
        text, _ = await read_after(index.engine, source, owner, after=0)
        return LogWindow(text, 1, 0, total)
    # The fewest last chunks that cover the budget and the character before it (which says
    # whether the window starts a line).
    first = bisect.bisect_right(stats.ends, total - max_chars - 1)
    first = min(first, len(stats.seqs) - 1)
    after = stats.seqs[first - 1] if first > 0 else 0
    lines_before = stats.lines[first - 1] if first > 0 else 0
    text, _ = await read_after(index.engine, source, owner, after=after)
    cut = _line_start_from(text, len(text) - max_chars)
    return LogWindow(
        text[cut:], lines_before + text[:cut].count("\n") + 1, total - len(text) + cut, total
    )


def _line_start_from(text: str, position: int) -> int:
    """The first line start at or after `position`; `position` itself in a line too long."""
    if position <= 0 or text[position - 1] == "\n":
        return max(position, 0)
    newline = text.find("\n", position)
    return position if newline < 0 or newline == len(text) - 1 else newline + 1


async def read_from(
    index: LogIndex, source: LogSource, owner: int, *, offset: int
) -> tuple[str, int]:
    """The log from character `offset` on, and the number of the last chunk read."""
    stats = await index.stats(source, owner)
    first = bisect.bisect_right(stats.ends, offset)  # the chunk holding character `offset`
    after = stats.seqs[first - 1] if first > 0 else 0
    start = stats.ends[first - 1] if first > 0 else 0
    text, last = await read_after(index.engine, source, owner, after=after)
    return text[max(0, offset - start) :], last


async def read_after(
    engine: AsyncEngine, source: LogSource, owner: int, *, after: int
) -> tuple[str, int]:
    """The chunks numbered above `after`, joined, and the number of the last (or `after`)."""
    query = (
        sa.select(source.table.c.seq, source.table.c.text)
        .where((source.owner == owner) & (source.table.c.seq > after))
        .order_by(source.table.c.seq)
    )
    async with engine.connect() as connection:
        rows = (await connection.execute(query)).all()
    if not rows:
        return "", after
    return "".join(row.text for row in rows), rows[-1].seq


async def chunks(
    engine: AsyncEngine, source: LogSource, owner: int, *, batch: int = 64
) -> AsyncIterator[str]:
    """The whole log, chunk by chunk, `batch` chunks per query: for the raw download."""
    after = 0
    while True:
        query = (
            sa.select(source.table.c.seq, source.table.c.text)
            .where((source.owner == owner) & (source.table.c.seq > after))
            .order_by(source.table.c.seq)
            .limit(batch)
        )
        async with engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        for row in rows:
            yield row.text
        if len(rows) < batch:
            return
        after = rows[-1].seq
