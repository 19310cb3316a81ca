"""The freeze windows on the aggregate check's summary: which hold now and the next to
come, pure, rendered in one place, and replaced (never repeated) when shown again."""

from __future__ import annotations

from datetime import UTC

import pytest

from bot.core.check_messages import FREEZE_MARKER
from bot.core.checks import with_freeze_section
from bot.core.freeze import MERGE, Calendar, FreezeWindow, Span, calendar
from bot.core.markdown import MAX_CHECK_OUTPUT_BYTES, code_span, utf8_size
from tests.core.test_freeze import WEEKEND, at

WEEK = 7 * 86_400
YEAR_END = FreezeWindow(
    "year-end", starts=at(2026, 12, 20, zone=UTC), ends=at(2027, 1, 4, zone=UTC)
)
STAGING = FreezeWindow(
    "staging-maintenance", applies_to=("staging",), cron="0 2 * * *", duration_seconds=3600
)


def test_a_window_in_force_and_the_next_within_a_week() -> None:
    friday_night = at(2026, 12, 18, 20, 0)  # the weekend holds; the year-end begins Sunday
    shown = calendar((YEAR_END, WEEKEND), friday_night, within=WEEK)
    assert [span.window.name for span in shown.in_force] == ["weekend"]
    assert shown.in_force[0].ends == at(2026, 12, 21, 8, 0)
    assert shown.coming is not None
    assert shown.coming.window.name == "year-end"
    assert shown.coming.starts == YEAR_END.starts


@pytest.mark.parametrize(
    ("now", "in_force", "coming"),
    [
        (at(2026, 12, 1, 12, 0), [], "weekend"),  # Tuesday: the weekend is 3 days away
        (at(2026, 11, 3, 12, 0, zone=UTC), [], "weekend"),  # the year-end is too far off
        (at(2026, 12, 28, 9, 0), ["year-end"], "weekend"),  # a weekend inside the year-end
        (at(2026, 12, 26, 12, 0), ["weekend", "year-end"], None),  # both: no other to come
    ],
)
def test_what_is_shown_when(now: float, in_force: list[str], coming: str | None) -> None:
    shown = calendar((WEEKEND, YEAR_END), now, within=WEEK)
    assert sorted(span.window.name for span in shown.in_force) == in_force
    assert (shown.coming.window.name if shown.coming else None) == coming


def test_no_window_soon_shows_nothing() -> None:
    assert calendar((), at(2026, 12, 1, 12, 0), within=WEEK).is_empty
    assert calendar((YEAR_END,), at(2026, 11, 1, 0, 0), within=WEEK).is_empty
    assert with_freeze_section("4 passed", Calendar()) == "4 passed"


SHOWN = Calendar(
    in_force=(Span(WEEKEND, at(2026, 12, 18, 18, 0), at(2026, 12, 21, 8, 0)),),
    coming=Span(YEAR_END, at(2026, 12, 20, zone=UTC), at(2027, 1, 4, zone=UTC)),
)


def test_the_paragraph_says_what_each_window_holds_and_until_when() -> None:
    summary = with_freeze_section("| jobs |\n\n[run](https://x)", SHOWN)
    assert summary.startswith("| jobs |\n\n[run](https://x)\n\n")
    assert (
        "- 🧊 now: `weekend` holds merges and deploys to `production` until 2026-12-21 07:00 UTC"
        in summary
    )
    assert (
        "- 📅 next: `year-end` holds every merge and deploy from 2026-12-20 00:00 UTC until "
        "2027-01-04 00:00 UTC" in summary
    )


@pytest.mark.parametrize(
    ("applies_to", "held"),
    [
        ((), "every merge and deploy"),
        ((MERGE,), "merges"),
        (("staging",), "deploys to `staging`"),
        ((MERGE, "qa", "production"), "merges and deploys to `qa`, `production`"),
    ],
)
def test_what_a_window_holds(applies_to: tuple[str, ...], held: str) -> None:
    window = FreezeWindow("w", applies_to=applies_to, starts=0, ends=10)
    summary = with_freeze_section("", Calendar(in_force=(Span(window, 0, 10),)))
    assert f"`w` holds {held} until" in summary


def test_showing_it_again_replaces_the_paragraph_and_lifting_removes_it() -> None:
    once = with_freeze_section("4 passed", SHOWN)
    later = Calendar(coming=SHOWN.coming)
    twice = with_freeze_section(once, later)
    assert twice.count(FREEZE_MARKER) == 1
    assert "now:" not in twice
    assert with_freeze_section(twice, Calendar()) == "4 passed"


def test_a_summary_at_githubs_limit_keeps_the_paragraph_whole() -> None:
    full = "x" * MAX_CHECK_OUTPUT_BYTES
    summary = with_freeze_section(full, SHOWN)
    assert utf8_size(summary) <= MAX_CHECK_OUTPUT_BYTES
    assert summary.endswith("2027-01-04 00:00 UTC\n")


def test_a_window_name_is_shown_as_code_whatever_it_holds() -> None:
    odd = FreezeWindow("`</details>` @team", starts=0, ends=10)
    summary = with_freeze_section("", Calendar(in_force=(Span(odd, 0, 10),)))
    assert f"- 🧊 now: {code_span(odd.name)} holds" in summary  # never raw Markdown or HTML
