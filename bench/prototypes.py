"""Variants of the app for finding where intake time goes: `--servers app:VARIANT,...`.

Each variant patches the app inside the benchmark's server process only (nothing in
`bot/` changes); the README and the lead's report carry the matching diffs.

- `no-dispatch`   deliveries are recorded but never handed to the dispatcher
- `no-store`      nothing is written: `record` answers "new" at once (dispatcher still runs)
- `bare-handler`  both: what is left is signature, JSON parse, summarize, metrics
- `switch`        `sys.setswitchinterval(0.0005)`: a thread waiting for the GIL (aiosqlite's,
                  with a result for the event loop) gets it after 0.5 ms instead of 5 ms
- `orjson`        the webhook parses with orjson (only where orjson is importable, e.g.
                  `PYTHONPATH=<a venv with orjson>/lib/python3.11/site-packages`)

Variants combine with `+`: `app:no-dispatch+orjson`. Every app variant also counts the
batches the delivery writer commits (`batch_stats`). The `upsert`, `fast` and `thread`
variants measured on 2026-11-26 have since landed in `bot/store/deliveries.py` and
`bot/dispatch/queue.py`, and were removed from here.
"""

from __future__ import annotations

import sys
from typing import Any

VARIANTS = (*("no-dispatch", "no-store", "bare-handler", "orjson", "switch"),)
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
    if "orjson" in parts:
        _orjson()
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


def _orjson() -> None:
    import orjson

    from bot.web import webhook

    class _Json:
        loads = staticmethod(orjson.loads)

    webhook.json = _Json  # type: ignore[assignment]


def _no_dispatch() -> None:
    from bot.dispatch.queue import Dispatcher

    def submit(self: Any, *args: Any, **kwargs: Any) -> None:
        return None

    Dispatcher.submit = submit  # type: ignore[method-assign]


def _no_store() -> None:
    from bot.store.deliveries import DeliveryLog

    async def record(self: Any, delivery: Any) -> bool:
        return True

    DeliveryLog.record = record  # type: ignore[method-assign]
