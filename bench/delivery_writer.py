"""The delivery writer's transaction alone: CPU per 25 KB delivery committed to SQLite.

    .venv/bin/python -m bench.delivery_writer [--deliveries 4000] [--batch 8] [--rounds 5]

Intake commits each batch of new deliveries, with the "handled" marks of earlier ones, in
one transaction on the writer's thread (`bot.store.deliveries._commit_sqlite`, through
SQLite's DBAPI). The baseline is the same transaction as SQLAlchemy Core sent it before
(one `INSERT … ON CONFLICT DO NOTHING RETURNING id` per batch, an executemany `UPDATE` for
the marks), on the same kind of database, in the same run. Figures are the process's CPU
time per delivery (median of rounds): steadier than wall time on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from bench.intake import payload_body
from bot.store import open_store
from bot.store.deliveries import _MARK, _commit_sqlite, _insert_new, _mark, _rows
from bot.store.engine import sync_sqlite_engine
from bot.store.records import Claim, Delivery, DeliveryStatus

Commit = Callable[[sa.Engine, list[dict[str, Any]], list[dict[str, Any]]], set[str]]


def sqlalchemy_core(
    engine: sa.Engine, rows: list[dict[str, Any]], marks: list[dict[str, Any]]
) -> set[str]:
    """The writer's transaction as it was before issue 13 (SQLAlchemy Core)."""
    with engine.begin() as connection:
        inserted = set(connection.execute(_insert_new(sqlite), rows).scalars()) if rows else set()
        if marks:
            connection.execute(_MARK, marks)
        return inserted


def cpu_per_delivery(
    engine: sa.Engine, commit: Commit, payload: str, *, count: int, batch: int, marks: bool
) -> float:
    """Milliseconds of process CPU per delivery, `count` of them in batches of `batch`."""
    claim = Claim("bench", time.time() + 30)
    earlier: list[str] = []
    started = time.process_time()
    for _ in range(0, count, batch):
        new = [
            Delivery(
                id=str(uuid.uuid4()),
                event="pull_request",
                action="opened",
                installation_id=None,
                repo="octo/bench",
                payload=payload,
                received_at=time.time(),
            )
            for _ in range(batch)
        ]
        done = [_mark(i, DeliveryStatus.DONE, time.time(), None) for i in earlier] if marks else []
        inserted = commit(engine, _rows([(d, claim) for d in new]), done)
        assert len(inserted) == batch
        earlier = [d.id for d in new]
    return (time.process_time() - started) / count * 1000


async def measure(args: argparse.Namespace) -> dict[str, list[float]]:
    payload = payload_body().decode()
    figures: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="greenlight-writer-") as tmp:
        for number in range(args.rounds):
            for name, commit in (("dbapi", _commit_sqlite), ("sqlalchemy", sqlalchemy_core)):
                store = await open_store(f"sqlite:///{Path(tmp) / f'{name}-{number}.db'}")
                engine = sync_sqlite_engine(store.engine)
                assert engine is not None
                for marks in (False, True):
                    key = f"{name} {'insert + mark' if marks else 'insert'}"
                    figures.setdefault(key, []).append(
                        cpu_per_delivery(
                            engine,
                            commit,
                            payload,
                            count=args.deliveries,
                            batch=args.batch,
                            marks=marks,
                        )
                    )
                engine.dispose()
                await store.close()
    return figures


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.delivery_writer", description=__doc__)
    p.add_argument("--deliveries", type=int, default=4000)
    p.add_argument("--batch", type=int, default=8, help="deliveries per transaction")
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args(argv)
    figures = asyncio.run(measure(args))
    medians = {key: statistics.median(values) for key, values in figures.items()}
    print(f"{args.deliveries} deliveries of 25 KB, {args.batch} a transaction, median of rounds")
    for key, value in medians.items():
        print(f"  {key:<26} {value:.3f} ms CPU per delivery")
    for what in ("insert", "insert + mark"):
        ratio = medians[f"sqlalchemy {what}"] / medians[f"dbapi {what}"]
        print(f"  sqlalchemy / dbapi, {what}: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
