"""Variants of the app for finding where intake time goes: `--servers app:VARIANT,...`.

Each variant patches the app inside the benchmark's server process only (nothing in
`bot/` changes); the README and the lead's report carry the matching diffs.

- `no-dispatch`   deliveries are recorded but never handed to the dispatcher
- `no-store`      nothing is written: `record` answers "new" at once (dispatcher still runs)
- `bare-handler`  both: what is left is signature, JSON parse, summarize, metrics
- `switch`        `sys.setswitchinterval(0.0005)`: a thread waiting for the GIL (aiosqlite's,
                  with a result for the event loop) gets it after 0.5 ms instead of 5 ms
- `stdlib-json`   the webhook parses with the standard library's `json`, as it did before
                  orjson became a dependency (on 2026-11-26)
- `inline`        each SQLite batch committed on the event loop's thread (no thread hop);
                  with `raw` or `lean`, their statements on the event loop's thread
- `raw`           each SQLite batch through the sqlite3 module in a thread, as five
                  statements (a SELECT of the ids already there, one multi-row INSERT, one
                  UPDATE … FROM VALUES for the marks) instead of SQLAlchemy's per-row steps
- `lean`          `raw` with the "handled" marks in a table of their own (a mark no longer
                  rewrites the 25 KB row) and each batch one autocommit `INSERT OR IGNORE`

Variants combine with `+`: `app:no-dispatch+stdlib-json`. Every app variant also counts the
batches the delivery writer commits (`batch_stats`). The `upsert`, `fast` and `thread`
variants measured on 2026-11-26 have since landed in `bot/store/deliveries.py` and
`bot/dispatch/queue.py`, and were removed from here.
"""

from __future__ import annotations

import sys
from typing import Any

VARIANTS = (
    *("no-dispatch", "no-store", "bare-handler", "stdlib-json", "switch", "inline", "raw", "lean"),
)
batch_sizes: list[int] = []


def apply(variant: str) -> None:
    parts = {part for part in variant.split("+") if part}
    unknown = parts - set(VARIANTS)
    if unknown:
        raise SystemExit(f"unknown app variant {unknown}; choose from {', '.join(VARIANTS)}")
    if parts & {"no-dispatch", "bare-handler"}:
        _no_dispatch()
    if parts & {"no-store", "bare-handler"}:
        _no_store()
    if "stdlib-json" in parts:
        _stdlib_json()
    inline = "inline" in parts
    if "raw" in parts:
        _raw(inline=inline)
    elif "lean" in parts:
        _lean(inline=inline)
    elif inline:
        _inline()
    if "switch" in parts:
        sys.setswitchinterval(0.0005)  # the GIL changes hands every 0.5 ms, not 5 ms
    _count_batches()


def batch_stats() -> dict[str, float]:
    """Transactions the delivery writer committed and their mean size."""
    count = len(batch_sizes)
    return {"batches": count, "mean_batch": sum(batch_sizes) / count if count else 0.0}


def _count_batches() -> None:
    from bot.store.deliveries import DeliveryLog

    commit = DeliveryLog._commit

    async def counted(self: Any, rows: list[Any], marks: list[Any]) -> Any:
        if rows:
            batch_sizes.append(len(rows))  # new deliveries committed in one transaction
        return await commit(self, rows, marks)

    DeliveryLog._commit = counted  # type: ignore[method-assign]


def _stdlib_json() -> None:
    import json

    from bot.web import webhook

    class _Json:
        loads = staticmethod(json.loads)
        JSONDecodeError = ValueError

    webhook.orjson = _Json  # type: ignore[assignment]


def _no_dispatch() -> None:
    from bot.dispatch.queue import Dispatcher

    def submit(self: Any, *args: Any, **kwargs: Any) -> None:
        return None

    Dispatcher.submit = submit  # type: ignore[method-assign]


def _no_store() -> None:
    from bot.store.deliveries import DeliveryLog

    async def record(self: Any, delivery: Any, **claim: Any) -> bool:
        return True

    DeliveryLog.record = record  # type: ignore[method-assign]


def _inline() -> None:
    from bot.store import deliveries

    async def commit(self: Any, rows: list[Any], marks: list[Any]) -> Any:
        return deliveries._commit_sqlite(self._sqlite, rows, marks)

    deliveries.DeliveryLog._commit = commit  # type: ignore[method-assign]


_COLUMNS = ("id", "event", "action", "installation_id", "repo", "payload", "received_at")
_COLUMNS += ("status", "claimed_by", "claim_expires")


def _connections(*setup: str) -> Any:
    """A function giving the delivery log's own sqlite3 connection to its database file."""
    import sqlite3

    connections: dict[str, sqlite3.Connection] = {}

    def connection(log: Any) -> sqlite3.Connection:
        path = log._sqlite.url.database
        if path not in connections:
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
            for statement in ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", *setup):
                db.execute(statement)
            connections[path] = db
        return connections[path]

    return connection


def _raw(*, inline: bool = False) -> None:
    """SQLite batches through the sqlite3 module, few statements per batch, in a thread."""
    import asyncio
    import sqlite3

    from bot.store import deliveries

    columns = _COLUMNS
    connection = _connections()

    def commit_sync(db: sqlite3.Connection, rows: list[Any], marks: list[Any]) -> set[str]:
        db.execute("BEGIN IMMEDIATE")
        try:
            new: set[str] = set()
            if rows:
                ids = [row["id"] for row in rows]
                marks_sql = ",".join("?" * len(ids))
                seen = {
                    r[0]
                    for r in db.execute(f"SELECT id FROM deliveries WHERE id IN ({marks_sql})", ids)  # noqa: S608 (placeholders only)
                }
                fresh = [row for row in rows if row["id"] not in seen]
                if fresh:
                    values = ",".join(["(" + ",".join("?" * len(columns)) + ")"] * len(fresh))
                    params = [row[c] for row in fresh for c in columns]
                    db.execute(
                        f"INSERT INTO deliveries ({','.join(columns)}) VALUES {values}",  # noqa: S608
                        params,
                    )
                new = {row["id"] for row in fresh}
            if marks:
                values = ",".join(["(?,?,?,?)"] * len(marks))
                params = [
                    v
                    for m in marks
                    for v in (m["delivery_id"], m["new_status"], m["new_error"], m["now"])
                ]
                db.execute(
                    f"WITH m(id, status, error, now) AS (VALUES {values}) "  # noqa: S608
                    "UPDATE deliveries SET status = m.status, error = m.error, handled_at = m.now "
                    "FROM m WHERE deliveries.id = m.id",
                    params,
                )
            db.execute("COMMIT")
            return new
        except BaseException:
            db.execute("ROLLBACK")
            raise

    async def commit(self: Any, rows: list[Any], marks: list[Any]) -> Any:
        if inline:
            return commit_sync(connection(self), rows, marks)
        return await asyncio.to_thread(commit_sync, connection(self), rows, marks)

    deliveries.DeliveryLog._commit = commit  # type: ignore[method-assign]


def _lean(*, inline: bool = False) -> None:
    """`raw` with the outcome marks in a table of their own (no 25 KB row rewritten per
    mark) and each batch as one autocommit multi-row INSERT OR IGNORE (two GIL hand-offs)."""
    import asyncio
    import sqlite3

    from bot.store import deliveries

    columns = _COLUMNS
    connection = _connections(
        "CREATE TABLE IF NOT EXISTS delivery_outcomes (id TEXT PRIMARY KEY, "
        "status TEXT NOT NULL, error TEXT, handled_at REAL)"
    )

    def commit_sync(db: sqlite3.Connection, rows: list[Any], marks: list[Any]) -> set[str]:
        new: set[str] = set()
        if rows:
            values = ",".join(["(" + ",".join("?" * len(columns)) + ")"] * len(rows))
            params = [row[c] for row in rows for c in columns]
            cursor = db.execute(
                f"INSERT OR IGNORE INTO deliveries ({','.join(columns)}) VALUES {values}",  # noqa: S608
                params,
            )
            if cursor.rowcount == len(rows):
                new = {row["id"] for row in rows}
            else:  # some were there before: ours carry our received_at
                ours = {row["id"]: row["received_at"] for row in rows}
                marks_sql = ",".join("?" * len(ours))
                found = db.execute(
                    f"SELECT id, received_at FROM deliveries WHERE id IN ({marks_sql})",  # noqa: S608
                    list(ours),
                )
                new = {i for i, at in found if ours[i] == at}
        if marks:
            values = ",".join(["(?,?,?,?)"] * len(marks))
            params = [
                v
                for m in marks
                for v in (m["delivery_id"], m["new_status"], m["new_error"], m["now"])
            ]
            db.execute(f"INSERT OR REPLACE INTO delivery_outcomes VALUES {values}", params)  # noqa: S608
        return new

    async def commit(self: Any, rows: list[Any], marks: list[Any]) -> Any:
        if inline:
            return commit_sync(connection(self), rows, marks)
        return await asyncio.to_thread(commit_sync, connection(self), rows, marks)

    deliveries.DeliveryLog._commit = commit  # type: ignore[method-assign]
