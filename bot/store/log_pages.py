"""Reading a job's or a deploy's log a page at a time, never whole: a log can be 50 MB.

A log is stored as numbered chunks (as the executor flushed them). Pages read the sizes
first (one small query), then only the chunks they show; a follower reads from a
character offset on, then only the chunks added after the last one it read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import sqlalchemy as sa
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


async def read_window(
    engine: AsyncEngine, source: LogSource, owner: int, *, max_chars: int
) -> LogWindow:
    """The whole log when it fits in `max_chars`, else its last lines that fit."""
    sizes = await _sizes(engine, source, owner)
    total = sum(size for _, size in sizes)
    if total <= max_chars:
        text, _ = await read_after(engine, source, owner, after=0)
        return LogWindow(text, 1, 0, total)
    first, kept = len(sizes), 0
    while first > 0 and kept < max_chars:  # the fewest last chunks that cover the budget
        first -= 1
        kept += sizes[first][1]
    after = sizes[first - 1][0] if first > 0 else 0
    text, _ = await read_after(engine, source, owner, after=after)
    cut = _line_start_from(text, len(text) - max_chars)
    lines_before = await _newlines_up_to(engine, source, owner, seq=after)
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
    engine: AsyncEngine, source: LogSource, owner: int, *, offset: int
) -> tuple[str, int]:
    """The log from character `offset` on, and the number of the last chunk read."""
    sizes = await _sizes(engine, source, owner)
    after, start = 0, 0
    for seq, size in sizes:
        if start + size > offset:
            break
        after, start = seq, start + size
    text, last = await read_after(engine, source, owner, after=after)
    return text[offset - start :], last


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


async def _sizes(engine: AsyncEngine, source: LogSource, owner: int) -> list[tuple[int, int]]:
    query = (
        sa.select(source.table.c.seq, sa.func.length(source.table.c.text))
        .where(source.owner == owner)
        .order_by(source.table.c.seq)
    )
    async with engine.connect() as connection:
        return [(int(seq), int(size or 0)) for seq, size in (await connection.execute(query))]


async def _newlines_up_to(engine: AsyncEngine, source: LogSource, owner: int, *, seq: int) -> int:
    """How many lines end in the chunks numbered up to `seq`, counted by the database."""
    text = source.table.c.text
    newlines = sa.func.length(text) - sa.func.length(sa.func.replace(text, "\n", ""))
    query = sa.select(sa.func.coalesce(sa.func.sum(newlines), 0)).where(
        (source.owner == owner) & (source.table.c.seq <= seq)
    )
    async with engine.connect() as connection:
        return int((await connection.execute(query)).scalar() or 0)
