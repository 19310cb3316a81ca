"""What the service and Celery workers share: when a silent worker counts as lost."""

from __future__ import annotations

import json

from bot.executor.base import JobTicket
from bot.executor.remote import HEARTBEAT_TTL_SECONDS, Liveness, ticket_from_json, ticket_to_json


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


def test_a_job_ticket_survives_json_and_older_tickets_still_read() -> None:
    ticket = JobTicket(7, "https://github.com/o/r.git", "a" * 40, {"CI": "true"}, {"K": "v"}, "t")
    assert ticket_from_json(json.loads(json.dumps(ticket_to_json(ticket)))) == ticket
    older = {**ticket_to_json(ticket), "kind": "build"}  # sent by a service before 2026-11-26
    assert ticket_from_json(older) == ticket
