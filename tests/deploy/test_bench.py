"""The deploy benchmark runs end to end (its shape, never its speed)."""

from __future__ import annotations

import pytest

from bench.deploy import bench, work_seconds


@pytest.mark.parametrize("reuse", [True, False])
async def test_the_deploy_benchmark_times_a_merge_to_production(reuse: bool) -> None:
    (elapsed,) = await bench(1, pace=False, reuse=reuse)
    # The deploys (and the build when it is not reused) ran inside the measure; the
    # benchmark itself checks that the build was reused exactly when asked.
    assert elapsed > work_seconds(reuse=reuse)
