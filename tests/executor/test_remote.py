"""What the service and Celery workers share: tickets as JSON, when a silent worker is lost."""

from __future__ import annotations

import json

from bot.core.config import Step
from bot.executor.base import Target, Ticket
from bot.executor.remote import HEARTBEAT_TTL_SECONDS, Liveness, ticket_from_json, ticket_to_json

JOB_TICKET = Ticket(
    Target.job(7),
    "https://github.com/o/r.git",
    "a" * 40,
    (Step("test", "make test"),),
    {"CI": "true"},
    60.0,
    {"K": "v"},
    "t",
    reports=("junit.xml",),
)
DEPLOY_TICKET = Ticket(
    target=Target.deploy(7),
    clone_url="https://github.com/octo/hello.git",
    sha="a" * 40,
    steps=(Step("migrate", "make migrate"), Step("ship", "make ship")),
    env={"CI": "true", "GREENLIGHT_ENVIRONMENT": "production"},
    timeout_seconds=90.0,
    secrets={"PROD_KEY": "s3cret"},
    token="ghs_token",
    secret_files={"SSH_KEY": "-----BEGIN KEY-----\nfile-s3cret\n-----END KEY-----\n"},
)


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


def test_job_and_deploy_tickets_survive_json() -> None:
    for ticket in (JOB_TICKET, DEPLOY_TICKET):
        assert ticket_from_json(json.loads(json.dumps(ticket_to_json(ticket)))) == ticket


def test_a_ticket_never_shows_its_secrets_in_its_repr() -> None:
    assert "s3cret" not in repr(DEPLOY_TICKET)  # neither the variable nor the file
    assert "ghs_token" not in repr(DEPLOY_TICKET)
