"""The rollback benchmark runs end to end (its shape, never its speed)."""

from __future__ import annotations

from bench.rollback import DEPLOY_SECONDS, FOR, bench


async def test_the_rollback_benchmark_times_a_failed_check_to_the_last_good_release() -> None:
    (elapsed,), (by_hand,) = await bench(1, sandboxed=False)
    assert elapsed > DEPLOY_SECONDS + FOR  # the step and the whole health check ran again
    assert by_hand > DEPLOY_SECONDS + FOR
