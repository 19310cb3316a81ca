"""The benchmarks run: each in a very short mode, checked for the shape of its results.

Speed is never asserted here (the benchmarks print figures and ratios; see bench/README.md).
"""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bench import intake, percentile, pipeline, scale
from tests.e2e.executors import BROKER, SharedWorker
from tests.services import POSTGRES_HOST, POSTGRES_PORT, REDIS_HOST, REDIS_PORT, require_service


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


def test_recovery_measures_a_restart_and_the_cost_of_a_pass() -> None:
    from bench import recovery

    summary = recovery.run(recovery.parser().parse_args(["--rounds", "1", "--repos", "2"]))
    for key in ("live_s", "serving_s", "recovered_s"):
        assert finite_positive(summary[key])
    steady = summary["steady_pass"]
    # One log page, then three reads of each repository, every one unchanged: 304 (the
    # log page too while the app's JWT, which its ETag is tied to, is the same).
    assert (steady["requests"], steady["reported"]) == (7, 7)
    assert steady["not_modified"] >= 6
    assert summary["first_pass"]["requests"] >= steady["requests"]


@pytest.mark.postgres
@pytest.mark.redis
def test_scale_measures_one_and_two_workers_and_replicas(shared_worker: SharedWorker) -> None:
    require_service("PostgreSQL", POSTGRES_HOST, POSTGRES_PORT)
    require_service("Redis", REDIS_HOST, REDIS_PORT)
    shared_worker.stop()  # it would take the benchmark's tickets, sealed with another key
    summary = scale.main(
        ["--jobs", "4", "--seconds", "0.1", "--rounds", "1", "--requests", "30",
         "--warmup", "4", "--intake-concurrency", "4", "--broker", BROKER]
    )  # fmt: skip
    assert set(summary["jobs_per_second"]) == {1, 2}
    assert all(finite_positive(value) for value in summary["jobs_per_second"].values())
    assert finite_positive(summary["two_workers_vs_one"])
    assert finite_positive(summary["two_replicas_vs_one"])
    assert summary["every_delivery_recorded_once"]


def test_the_delivery_writer_measures_both_ways_of_committing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bench import delivery_writer

    assert delivery_writer.main(["--deliveries", "16", "--batch", "8", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    for line in ("dbapi insert + mark", "sqlalchemy insert + mark", "sqlalchemy / dbapi"):
        assert line in out
