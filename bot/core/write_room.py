"""Room for one more write to GitHub under its per-installation limits (pure)."""

from __future__ import annotations

from collections.abc import Sequence

Limits = Sequence[tuple[int, float]]  # (writes, in seconds)


def room_delay(sent: Sequence[float], *, now: float, limits: Limits) -> float:
    """Seconds until one more write fits every limit, given the times of earlier writes
    (oldest first); 0 when it fits now."""
    delay = 0.0
    for limit, window in limits:
        recent = [t for t in sent if now - t < window]
        if len(recent) >= limit:
            delay = max(delay, recent[len(recent) - limit] + window - now)
    return delay
