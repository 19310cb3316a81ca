"""Charts drawn on the server as numbers for inline SVG: no chart library in the browser.

The default branch's recent runs as bars (height: duration; colour and title: outcome),
and each job's duration over the same runs as a line, so a slowing suite or a flaky job
shows at a glance. Coordinates are in the SVG's own box; the page scales it to the width.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.store.overview import JobTime, RunSummary
from bot.web.templating import duration, status_icon, status_key, status_word, tone

WIDTH, HEIGHT = 600, 120
ICONS = 16  # a strip under the bars with each run's status icon: not colour alone
MIN_SLOTS = 20  # a few runs make narrow bars, not a wall of colour
TREND_WIDTH, TREND_HEIGHT = 240, 36
GAP = 2


@dataclass(frozen=True)
class Bar:
    run_id: int
    x: float
    y: float
    width: float
    height: float
    tone: str
    title: str
    icon: str


@dataclass(frozen=True)
class Trend:
    name: str
    points: str  # the polyline's "x,y x,y …"
    dots: tuple[tuple[float, float, str, str], ...]  # x, y, tone, title
    latest: str
    slowest: str


def run_bars(summaries: Sequence[RunSummary]) -> list[Bar]:
    """One bar per run, oldest on the left; a run without a duration yet gets a stub."""
    ordered = list(reversed(summaries))
    longest = max((s.duration or 0.0 for s in ordered), default=0.0) or 1.0
    slot = WIDTH / max(len(ordered), MIN_SLOTS)
    bars = []
    for index, summary in enumerate(ordered):
        key = status_key(summary.run.status, summary.run.conclusion)
        height = max(2.0, (summary.duration or 0.0) / longest * (HEIGHT - 4))
        title = f"{summary.run.sha[:7]}: {status_word(key)}, {duration(summary.duration) or '—'}"
        bars.append(
            Bar(summary.run.id, round(index * slot + GAP / 2, 1), round(HEIGHT - height, 1),
                round(max(slot - GAP, 1.0), 1), round(height, 1), tone(key), title,
                status_icon(key))
        )  # fmt: skip
    return bars


def job_trends(times: Sequence[JobTime], run_ids: Sequence[int]) -> list[Trend]:
    """Each job's duration across `run_ids` (oldest first), by job name."""
    position = {run_id: index for index, run_id in enumerate(run_ids)}
    by_name: dict[str, list[JobTime]] = {}
    for time in times:
        if time.run_id in position and time.duration is not None:
            by_name.setdefault(time.name, []).append(time)
    step = TREND_WIDTH / max(len(run_ids) - 1, 1)
    return [
        _trend(name, sorted(found, key=lambda t: position[t.run_id]), position, step)
        for name, found in sorted(by_name.items())
    ]


def _trend(name: str, found: list[JobTime], position: dict[int, int], step: float) -> Trend:
    slowest = max(t.duration or 0.0 for t in found) or 1.0
    dots = tuple(
        (
            round(position[t.run_id] * step, 1),
            round(TREND_HEIGHT - 3 - (t.duration or 0.0) / slowest * (TREND_HEIGHT - 6), 1),
            tone(status_key(None, t.conclusion)),
            f"{duration(t.duration)}, {status_word(status_key(None, t.conclusion))}",
        )
        for t in found
    )
    return Trend(
        name,
        " ".join(f"{x},{y}" for x, y, _, _ in dots),
        dots,
        duration(found[-1].duration),
        duration(slowest),
    )
