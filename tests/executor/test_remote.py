"""What the service and Celery workers share: when a silent worker counts as lost."""

from __future__ import annotations

from bot.executor.remote import HEARTBEAT_TTL_SECONDS, Liveness


def test_a_worker_is_lost_only_after_a_whole_ttl_of_silence() -> None:
    liveness = Liveness()
    assert not liveness.lost(beating=False, now=100.0)  # silence starts here
    assert not liveness.lost(beating=False, now=100.0 + HEARTBEAT_TTL_SECONDS - 1)
    assert liveness.lost(beating=False, now=100.0 + HEARTBEAT_TTL_SECONDS)


def test_a_beat_starts_the_silence_over() -> None:
    liveness = Liveness()
    assert not liveness.lost(beating=False, now=0.0)
    assert not liveness.lost(beating=True, now=HEARTBEAT_TTL_SECONDS - 1)
    assert not liveness.lost(beating=False, now=HEARTBEAT_TTL_SECONDS + 1)
    assert liveness.lost(beating=False, now=2 * HEARTBEAT_TTL_SECONDS + 1)
