"""Freeze windows: the calendar logic, pure, with clock changes, year ends and overlaps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.freeze import HORIZON_SECONDS, MERGE, FreezeWindow, freeze_at, occurrence, upcoming

BERLIN = ZoneInfo("Europe/Berlin")
WEEKEND = FreezeWindow(
    "weekend",
    applies_to=(MERGE, "production"),
    cron="0 18 * * FRI",
    duration_seconds=62 * 3600,
    timezone="Europe/Berlin",
)


def at(*fields: int, zone: ZoneInfo | type[UTC] = BERLIN) -> float:
    return datetime(*fields, tzinfo=zone).timestamp()  # type: ignore[arg-type]


def test_a_weekend_window_holds_merges_from_friday_evening_to_monday_morning() -> None:
    assert freeze_at((WEEKEND,), MERGE, at(2026, 11, 27, 17, 59)) is None
    frozen = freeze_at((WEEKEND,), MERGE, at(2026, 11, 27, 18, 0))  # its first instant
    assert frozen is not None
    assert frozen.windows == ("weekend",)
    assert frozen.until == at(2026, 11, 30, 8, 0)
    assert not frozen.open_ended
    assert freeze_at((WEEKEND,), MERGE, at(2026, 11, 30, 8, 0)) is None  # ends on the hour


@pytest.mark.parametrize(
    ("friday", "monday", "real_hours"),
    [
        ((2026, 10, 23), (2026, 10, 26), 63),  # clocks go back on Sunday 25 October
        ((2026, 3, 27), (2026, 3, 30), 61),  # clocks go forward on Sunday 29 March
    ],
)
def test_a_window_across_a_clock_change_ends_at_the_local_hour_it_names(
    friday: tuple[int, int, int], monday: tuple[int, int, int], real_hours: int
) -> None:
    frozen = freeze_at((WEEKEND,), "production", at(*friday, 20, 0))
    assert frozen is not None
    assert frozen.until == at(*monday, 8, 0)
    assert frozen.until - at(*friday, 18, 0) == real_hours * 3600


def test_a_window_holds_only_what_it_applies_to() -> None:
    now = at(2026, 11, 28, 12, 0)
    assert freeze_at((WEEKEND,), "staging", now) is None
    everything = FreezeWindow("all", cron="0 18 * * FRI", duration_seconds=3600 * 62)
    assert freeze_at((everything,), "staging", now) is not None


def test_a_one_off_window_across_the_year_end() -> None:
    year_end = FreezeWindow(
        "year-end", starts=at(2026, 12, 20, 0, 0, zone=UTC), ends=at(2027, 1, 4, 0, 0, zone=UTC)
    )
    frozen = freeze_at((year_end,), MERGE, at(2026, 12, 31, 23, 59, zone=UTC))
    assert frozen is not None
    assert frozen.until == at(2027, 1, 4, 0, 0, zone=UTC)
    assert freeze_at((year_end,), MERGE, at(2027, 1, 4, 0, 0, zone=UTC)) is None


def test_a_recurring_window_across_the_year_end() -> None:
    new_year = FreezeWindow("new-year", cron="0 12 31 12 *", duration_seconds=36 * 3600)
    frozen = freeze_at((new_year,), MERGE, at(2027, 1, 1, 6, 0, zone=UTC))
    assert frozen is not None
    assert frozen.until == at(2027, 1, 2, 0, 0, zone=UTC)


def test_overlapping_and_touching_windows_hold_until_the_last_ends() -> None:
    year_end = FreezeWindow(
        "year-end", starts=at(2026, 12, 20, 0, 0), ends=at(2026, 12, 25, 18, 0)
    )  # Friday 25 December, 18:00: the weekend window starts as this one ends
    frozen = freeze_at((year_end, WEEKEND), MERGE, at(2026, 12, 22, 9, 0))
    assert frozen is not None
    assert frozen.windows == ("year-end", "weekend")
    assert frozen.until == at(2026, 12, 28, 8, 0)


def test_a_window_that_begins_after_the_gap_does_not_extend_the_freeze() -> None:
    short = FreezeWindow("short", starts=at(2026, 12, 21, 0, 0), ends=at(2026, 12, 25, 17, 0))
    frozen = freeze_at((short, WEEKEND), MERGE, at(2026, 12, 22, 9, 0))
    assert frozen is not None
    assert (frozen.windows, frozen.until) == (("short",), at(2026, 12, 25, 17, 0))


def test_windows_that_never_leave_a_gap_hold_open_ended_to_the_horizon() -> None:
    always = FreezeWindow("always", cron="0 * * * *", duration_seconds=2 * 3600)
    now = at(2026, 12, 1, 10, 30)
    frozen = freeze_at((always,), MERGE, now)
    assert frozen is not None
    assert frozen.open_ended
    assert now < frozen.until <= now + HORIZON_SECONDS


def test_upcoming_lists_current_and_next_spans_soonest_first() -> None:
    year_end = FreezeWindow("year-end", starts=at(2026, 12, 20, 0, 0), ends=at(2027, 1, 4, 0, 0))
    now = at(2026, 12, 1, 9, 0)  # a Tuesday
    spans = upcoming((year_end, WEEKEND), now, within=30 * 86_400)
    assert [(window.name, start) for window, start, _ in spans] == [
        ("weekend", at(2026, 12, 4, 18, 0)),
        ("year-end", at(2026, 12, 20, 0, 0)),
    ]
    assert upcoming((year_end,), now, within=86_400) == []


ZONES = st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"])
CRONS = st.sampled_from(["0 18 * * FRI", "30 2 * * *", "0 0 1 * *", "15 */6 * * *", "0 0 29 2 *"])
WINDOWS = st.builds(
    FreezeWindow,
    name=st.sampled_from(["a", "b", "c"]),
    cron=CRONS,
    duration_seconds=st.integers(min_value=60, max_value=4 * 86_400).map(float),
    timezone=ZONES,
)
INSTANTS = st.integers(
    min_value=int(datetime(2026, 1, 1, tzinfo=UTC).timestamp()),
    max_value=int(datetime(2030, 1, 1, tzinfo=UTC).timestamp()),
).map(float)


@settings(max_examples=150, deadline=None)
@given(windows=st.lists(WINDOWS, min_size=1, max_size=3).map(tuple), now=INSTANTS)
def test_a_freeze_holds_now_and_lifts_when_it_says(
    windows: tuple[FreezeWindow, ...], now: float
) -> None:
    frozen = freeze_at(windows, MERGE, now)
    inside = [w for w in windows if occurrence(w, now) is not None]
    if frozen is None:
        assert inside == []
        return
    assert inside
    assert frozen.until > now
    if not frozen.open_ended:
        assert freeze_at(windows, MERGE, frozen.until) is None
        assert freeze_at(windows, MERGE, frozen.until - 1) is not None


@settings(max_examples=150, deadline=None)
@given(window=WINDOWS, now=INSTANTS)
def test_a_span_contains_its_instant_and_lasts_its_wall_clock_duration(
    window: FreezeWindow, now: float
) -> None:
    span = occurrence(window, now)
    if span is None:
        return
    start, end = span
    assert start <= now < end
    zone = ZoneInfo(window.timezone)
    local_start = datetime.fromtimestamp(start, zone).replace(tzinfo=None)
    local_end = datetime.fromtimestamp(end, zone).replace(tzinfo=None)
    wall = local_end - local_start
    # Equal on the wall clock, unless the end falls in a gap the clocks skipped.
    assert abs(wall - timedelta(seconds=window.duration_seconds)) <= timedelta(hours=1)
