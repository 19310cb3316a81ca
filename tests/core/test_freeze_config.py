"""The `freeze:` section: windows as the issue writes them, and each mistake on its line."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.core.freeze import FreezeWindow
from tests.core.test_config_parser import parse_errors, parse_ok

HEAD = """\
jobs:
  test:
    run: make test
deploy:
  environments:
    staging:
      run: ./deploy staging
    production:
      run: ./deploy production
freeze:
"""


def test_the_documented_windows_parse() -> None:
    config = parse_ok(
        HEAD
        + """\
  - name: weekend
    cron: "0 18 * * FRI"
    duration: 62h
    timezone: Europe/Berlin
    applies_to: [merge, production]
  - name: year-end
    from: 2026-12-20T00:00:00Z
    until: 2027-01-04T00:00:00Z
"""
    )
    assert config.freeze == (
        FreezeWindow(
            "weekend",
            applies_to=("merge", "production"),
            cron="0 18 * * FRI",
            duration_seconds=62 * 3600,
            timezone="Europe/Berlin",
            line=11,
        ),
        FreezeWindow(
            "year-end",
            starts=datetime(2026, 12, 20, tzinfo=UTC).timestamp(),
            ends=datetime(2027, 1, 4, tzinfo=UTC).timestamp(),
            line=16,
        ),
    )


def test_times_without_an_offset_are_local_to_the_window_zone() -> None:
    config = parse_ok(
        HEAD
        + """\
  - name: launch
    from: "2026-12-20"
    until: "2026-12-20T12:00"
    timezone: America/New_York
"""
    )
    (window,) = config.freeze
    assert window.starts == datetime(2026, 12, 20, 5, 0, tzinfo=UTC).timestamp()
    assert window.ends == datetime(2026, 12, 20, 17, 0, tzinfo=UTC).timestamp()


def test_no_freeze_section_means_no_windows() -> None:
    assert parse_ok(HEAD.removesuffix("freeze:\n")).freeze == ()
    assert parse_ok(HEAD).freeze == ()  # an empty section too


@pytest.mark.parametrize(
    ("window", "key", "line", "words"),
    [
        ('  - cron: "0 18 * * FRI"\n    duration: 1h\n', "freeze[0]", 11, "needs a `name`"),
        ('  - name: w\n    cron: "61 * * * *"\n    duration: 1h\n', "freeze[0].cron", 12, "cron"),
        ('  - name: w\n    cron: "0 18 * * FRI"\n', "freeze[0]", 11, "`duration`"),
        ("  - name: w\n    duration: 2h\n", "freeze[0]", 11, "`cron`"),
        ('  - name: w\n    cron: "0 1 * * *"\n    duration: 0s\n', "freeze[0].duration", 13, ""),
        ("  - name: w\n    duration: soon\n    cron: '0 1 * * *'\n", "freeze[0].duration", 12, ""),
        ("  - name: w\n    from: 2026-12-20\n", "freeze[0]", 11, "`until`"),
        (
            "  - name: w\n    from: 2027-01-04T00:00:00Z\n    until: 2026-12-20T00:00:00Z\n",
            "freeze[0].until",
            13,
            "before it starts",
        ),
        (
            "  - name: w\n    from: 2026-12-20\n    until: 2026-12-20\n",
            "freeze[0].until",
            13,
            "`until` must be after `from`",
        ),
        ("  - name: w\n    from: next week\n    until: 2027-01-01\n", "freeze[0].from", 12, "date"),
        (
            "  - name: w\n    cron: '0 1 * * *'\n    duration: 1h\n    timezone: Mars/Olympus\n",
            "freeze[0].timezone",
            14,
            "IANA",
        ),
        (
            "  - name: w\n    cron: '0 1 * * *'\n    duration: 1h\n    timezone: ../etc/passwd\n",
            "freeze[0].timezone",
            14,
            "not a time zone",
        ),
        (
            "  - name: w\n    cron: '0 1 * * *'\n    duration: 1h\n    applies_to: [producton]\n",
            "freeze[0].applies_to",
            14,
            "did you mean `production`",
        ),
        (
            "  - name: w\n    cron: '0 1 * * *'\n    duration: 1h\n    from: 2026-12-20\n",
            "freeze[0]",
            11,
            "not both",
        ),
        (
            "  - name: w\n    cron: '0 1 * * *'\n    duration: 1h\n    every: 2\n",
            "freeze[0].every",
            14,
            "",
        ),
        ("  weekend: {}\n", "freeze", 11, "a list of windows"),
    ],
)
def test_each_mistake_is_reported_on_its_line(window: str, key: str, line: int, words: str) -> None:
    (error,) = parse_errors(HEAD + window)
    assert (error.key, error.line) == (key, line)
    assert words in error.message


def test_two_windows_of_one_name_are_refused() -> None:
    (error,) = parse_errors(
        HEAD
        + "  - {name: w, cron: '0 1 * * *', duration: 1h}\n"
        + "  - {name: w, from: 2026-12-20, until: 2026-12-21}\n"
    )
    assert error.key == "freeze[1].name"
    assert "two freeze windows are called `w`" in error.message
