"""The delivery being handled, so every log line about it names it (see `bot.serve`)."""

from __future__ import annotations

import logging
from contextvars import ContextVar

# (delivery id, installation id, repository) of the delivery the current task handles.
current_delivery: ContextVar[tuple[str, int | None, str | None] | None] = ContextVar(
    "current_delivery", default=None
)


class DeliveryContextFilter(logging.Filter):
    """Add `context` (" [delivery=… installation=… repo=…]") to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        delivery = current_delivery.get()
        values = {
            "delivery": getattr(record, "delivery", None) or (delivery and delivery[0]),
            "installation": getattr(record, "installation", None) or (delivery and delivery[1]),
            "repo": getattr(record, "repo", None) or (delivery and delivery[2]),
        }
        parts = [f"{key}={value}" for key, value in values.items() if value]
        record.context = f" [{' '.join(parts)}]" if parts else ""
        return True
