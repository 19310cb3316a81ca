"""The benchmarks run: each in a very short mode, checked for the shape of its results.

Speed is never asserted here (the benchmarks print figures and ratios; see bench/README.md).
"""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from bench import intake, percentile, pipeline


def finite_positive(value: Any) -> bool:
    return isinstance(value, float) and math.isfinite(value) and value > 0


def test_intake_measures_the_app_and_both_baselines() -> None:
    args = intake.parser().parse_args(
        ["--requests", "24", "--warmup", "4", "--rounds", "1", "--rate", "200",
         "--rate-requests", "10"]
    )  # fmt: skip
    summary = intake.run(args)
    servers = {"app", "gidgethub+sqlite", "gidgethub", "bare"}
    assert set(summary["servers"]) == set(summary["paced"]) == servers
    for figures in [*summary["servers"].values(), *summary["paced"].values()]:
        assert figures["all_202"]  # signed, unique deliveries: every server accepted them all
        assert figures["p50_ms"] <= figures["p99_ms"]
        for key in ("requests_per_second", "p50_ms", "p99_ms"):
            assert finite_positive(figures[key])
    assert finite_positive(summary["app_vs_peer"])
    assert finite_positive(summary["app_vs_gidgethub"])
    assert finite_positive(summary["app_vs_bare"])


def test_the_intake_payload_is_a_realistic_unsigned_installationless_pull_request() -> None:
    body = intake.payload_body()
    assert 25 * 1024 <= len(body) < 27 * 1024
    assert b'"installation"' not in body  # handlers return early: no build is started
    assert b'"action":"opened"' in body


def test_pipeline_reports_every_figure() -> None:
    summary = pipeline.main(
        ["--runs", "2", "--installations", "1", "--e2e-runs", "1", "--rounds", "1",
         "--checkout-rounds", "1", "--steps", "2", "--sleep", "0.05",
         "--commits", "20", "--files", "5"]
    )  # fmt: skip
    for key in (
        "webhook_to_in_progress_ms",
        "executor_vs_bash",
        "app_e2e_vs_bash",
        "app_job_vs_bash",
        "fresh_clone_vs_cached",
    ):
        assert finite_positive(summary[key]), key


def test_the_checkout_repository_has_the_commits_asked_for(tmp_path: Any) -> None:
    import subprocess

    tip = pipeline.make_repository(tmp_path / "repo.git", 30, 4)
    count = subprocess.run(
        ["git", "rev-list", "--count", tip],
        cwd=tmp_path / "repo.git", capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert count.stdout.strip() == "30"


def test_percentile_is_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert (percentile(values, 0.5), percentile(values, 0.99), percentile(values, 1.0)) == (
        50.0,
        99.0,
        100.0,
    )


async def test_the_fair_peer_keeps_every_delivery_once(tmp_path: Path) -> None:
    """The peer must do the work it is compared for: each delivery committed, once."""
    body = intake.payload_body()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "pull_request",
        "X-Hub-Signature-256": intake.signature(body),
    }
    async with TestClient(TestServer(intake.gidgethub_sqlite_app(tmp_path))) as client:
        for delivery in ("a", "b", "a"):
            answer = await client.post(
                "/webhook", data=body, headers={**headers, "X-GitHub-Delivery": delivery}
            )
            assert answer.status == 202
    with sqlite3.connect(tmp_path / "peer.db") as database:
        rows = database.execute("SELECT id, length(payload) FROM deliveries ORDER BY id").fetchall()
    assert rows == [("a", len(body)), ("b", len(body))]
