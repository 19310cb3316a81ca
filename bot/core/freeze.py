"""Freeze windows: when merges and deploys wait, decided from the calendar in the config.

A window is either recurring (`cron` gives each start, in `timezone`, and `duration` how
long it lasts) or one-off (`from`, `until`). Durations are wall-clock: a window that
starts on Friday at 18:00 and lasts 62h ends on Monday at 08:00 local time, whether or not
the clocks changed over the weekend (`datetime` arithmetic on local times, as a person
reading the calendar means it). Windows that overlap or touch hold as one freeze, lifted
when the last of them ends.

Pure: the time comes in as `now` (seconds since the epoch); zone data from `zoneinfo`
(the `tzdata` package where the system has none).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from cronsim import CronSim

MERGE = "merge"  # the target `applies_to` names for merges; the others are environments
# A chain of windows is followed this far at most: a freeze that would last longer reads
# "until at least" its end at the horizon, and is looked at again then.
HORIZON_SECONDS = 366 * 86_400
_CHAIN_LIMIT = 64


@dataclass(frozen=True)
class FreezeWindow:
    name: str
    applies_to: tuple[str, ...] = ()  # MERGE and/or environment names; empty: everything
    cron: str | None = None  # recurring: when each window starts
    duration_seconds: float = 0.0
    timezone: str = "UTC"
    starts: float | None = None  # one-off: `from` and `until`, as epoch seconds
    ends: float | None = None
    line: int = 0

    def applies(self, target: str) -> bool:
        """True when this window holds `target` (MERGE or an environment's name)."""
        return not self.applies_to or target in self.applies_to


@dataclass(frozen=True)
class Freeze:
    """Merges or deploys to one target are held until `until`."""

    windows: tuple[str, ...]  # the names of the windows holding it, in config order
    until: float
    open_ended: bool = False  # True when `until` is only the horizon: it lasts at least that


def occurrence(window: FreezeWindow, at: float) -> tuple[float, float] | None:
    """The span of `window` that contains the instant `at`, or None."""
    if window.cron is None:
        if window.starts is None or window.ends is None:
            return None
        return (window.starts, window.ends) if window.starts <= at < window.ends else None
    zone = ZoneInfo(window.timezone)
    local = datetime.fromtimestamp(at, zone)
    # The latest start at or before `at` ends last: later starts end later in wall time.
    start = next(CronSim(window.cron, local + timedelta(seconds=1), reverse=True), None)
    if start is None:
        return None
    end = _wall_clock_end(start, window.duration_seconds, zone)
    return (start.timestamp(), end) if start.timestamp() <= at < end else None


def next_start(window: FreezeWindow, after: float) -> float | None:
    """When `window` next starts after the instant `after`; None if never."""
    if window.cron is None:
        return window.starts if window.starts is not None and window.starts > after else None
    zone = ZoneInfo(window.timezone)
    start = next(CronSim(window.cron, datetime.fromtimestamp(after, zone)), None)
    return None if start is None else start.timestamp()


def freeze_at(windows: tuple[FreezeWindow, ...], target: str, now: float) -> Freeze | None:
    """The freeze holding `target` at `now`, or None when it may go ahead."""
    relevant = tuple(window for window in windows if window.applies(target))
    holding, until = _spans_at(relevant, now)
    if not holding:
        return None
    for _ in range(_CHAIN_LIMIT):  # windows that begin before the freeze lifts extend it
        later, later_end = _spans_at(relevant, until)
        if not later:
            return Freeze(_in_order(relevant, holding), until)
        holding, until = holding | later, later_end
        if until - now >= HORIZON_SECONDS:
            break
    return Freeze(_in_order(relevant, holding), min(until, now + HORIZON_SECONDS), True)


def _spans_at(windows: tuple[FreezeWindow, ...], at: float) -> tuple[set[str], float]:
    """The names of the windows holding at `at`, and when the last of them ends."""
    names, end = set(), at
    for window in windows:
        if (span := occurrence(window, at)) is not None:
            names.add(window.name)
            end = max(end, span[1])
    return names, end


def upcoming(
    windows: tuple[FreezeWindow, ...], now: float, *, within: float
) -> list[tuple[FreezeWindow, float, float]]:
    """Each window's current or next span starting within `within` seconds: (window,
    start, end), soonest first, for pages that show the calendar."""
    spans = []
    for window in windows:
        span = occurrence(window, now)
        if span is None and (start := next_start(window, now)) is not None:
            span = occurrence(window, start)
        if span is not None and span[0] <= now + within:
            spans.append((window, *span))
    return sorted(spans, key=lambda item: item[1])


@dataclass(frozen=True)
class Span:
    """One occurrence of a window: from `starts` to `ends`."""

    window: FreezeWindow
    starts: float
    ends: float


@dataclass(frozen=True)
class Calendar:
    """What people are shown of the windows: those in force, and the next one coming."""

    in_force: tuple[Span, ...] = ()
    coming: Span | None = None

    @property
    def is_empty(self) -> bool:
        return not self.in_force and self.coming is None


def calendar(windows: tuple[FreezeWindow, ...], now: float, *, within: float) -> Calendar:
    """The windows in force at `now` (each with its own end), and the first of the others to
    begin within `within` seconds."""
    spans = [
        Span(window, starts, ends) for window, starts, ends in upcoming(windows, now, within=within)
    ]
    in_force = tuple(span for span in spans if span.starts <= now)
    coming = next((span for span in spans if span.starts > now), None)
    return Calendar(in_force, coming)


def _wall_clock_end(start: datetime, seconds: float, zone: ZoneInfo) -> float:
    """The instant the local clock shows `start` + `seconds`, across any clock change."""
    naive = start.replace(tzinfo=None) + timedelta(seconds=seconds)
    return naive.replace(tzinfo=zone).timestamp()


def _in_order(windows: tuple[FreezeWindow, ...], names: set[str]) -> tuple[str, ...]:
    return tuple(window.name for window in windows if window.name in names)


def until_text(until: float, *, open_ended: bool = False) -> str:
    """When a freeze lifts, for people: "2026-12-28 07:00 UTC" ("at least …" when open)."""
    moment = datetime.fromtimestamp(until, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"at least {moment}" if open_ended else moment
