"""The deploy benchmark runs end to end (its shape, never its speed)."""

from __future__ import annotations

from bench.deploy import WORK_SECONDS, bench


async def test_the_deploy_benchmark_times_a_merge_to_production() -> None:
    (elapsed,) = await bench(1, pace=False)
    assert elapsed > WORK_SECONDS  # the build and both deploys ran inside the measure
