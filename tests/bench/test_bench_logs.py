"""The log benchmark runs in a very short mode and reports every figure (never asserts a
speed: see bench/README.md)."""

from __future__ import annotations

import math

from bench import logs


def test_the_log_benchmark_reports_pages_and_followers() -> None:
    summary = logs.main(
        ["--megabytes", "0.3", "--rounds", "1", "--followers", "3", "--seconds", "0.6",
         "--rate", "50"]
    )  # fmt: skip
    big = summary["big_log"]
    for name in ("page", "raw download", "whole log in the page (before)"):
        assert big[name]["bytes"] > 0
        assert 0 < big[name]["ttfb_ms"] <= big[name]["total_ms"]
    follow = summary["follow"]
    assert follow["every_reader_got_every_line"]
    assert follow["lines_written"] > 0
    assert math.isfinite(follow["delay_p99_ms"])
