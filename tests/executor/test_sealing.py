"""Tickets on the broker: unreadable and unchangeable without GREENLIGHT_TICKET_KEY, and a
ticket a worker cannot open still names the row to fail."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from cryptography.fernet import Fernet

from bot.executor import messages
from bot.executor.base import Target, Ticket
from bot.executor.remote import ticket_to_json
from bot.executor.sealing import Unreadable, seal, unseal
from tests.executor.test_remote import DEPLOY_TICKET, JOB_TICKET

KEY = Fernet.generate_key().decode()


def over_the_wire(message: dict[str, Any]) -> dict[str, Any]:
    """The message as a worker gets it: through JSON, as Celery sends it."""
    decoded: dict[str, Any] = json.loads(json.dumps(message))
    return decoded


@pytest.mark.parametrize("ticket", [JOB_TICKET, DEPLOY_TICKET], ids=["job", "deploy"])
def test_a_sealed_ticket_opens_with_the_key_and_shows_nothing_without_it(ticket: Ticket) -> None:
    ticket = replace(
        ticket,
        secrets={"API_KEY": "sk-live-8c1f0e3a"},
        token="ghs_16C7e42F292c6912E7710c838347Ae178B4a",
        env={"DEPLOY_HOST": "prod.internal.example"},
    )
    message = over_the_wire(seal(ticket, KEY))
    assert unseal(message, KEY) == ticket
    wire = json.dumps(message)
    for value in ("sk-live-8c1f0e3a", ticket.token, "prod.internal.example", ticket.clone_url):
        assert value not in wire
    assert message["target"] == {"kind": ticket.target.kind.value, "id": ticket.target.id}


def test_another_key_cannot_open_it() -> None:
    message = over_the_wire(seal(JOB_TICKET, Fernet.generate_key().decode()))
    assert unseal(message, KEY) == Unreadable(Target.job(7), messages.sealed_with_another_key())


def test_a_changed_ticket_is_refused() -> None:
    message = over_the_wire(seal(JOB_TICKET, KEY))
    token = bytearray(message["sealed"].encode())
    token[60] = ord("A") if token[60] != ord("A") else ord("B")  # one byte of the ciphertext
    changed = {**message, "sealed": token.decode()}
    assert unseal(changed, KEY) == Unreadable(Target.job(7), messages.sealed_with_another_key())


def test_a_sealed_ticket_sent_for_another_row_is_refused() -> None:
    # Someone with broker access replays job 7's ticket as job 9's, to fail or run job 9.
    message = {**over_the_wire(seal(JOB_TICKET, KEY)), "target": {"kind": "job", "id": 9}}
    assert unseal(message, KEY) == Unreadable(Target.job(9), messages.target_mismatch())


def test_a_ticket_in_clear_is_refused_in_its_own_row() -> None:
    message = over_the_wire(ticket_to_json(DEPLOY_TICKET))  # what no service sends any more
    assert unseal(message, KEY) == Unreadable(Target.deploy(7), messages.not_sealed())


@pytest.mark.parametrize(
    ("message", "target"),
    [
        ({"job_id": 7, "kind": "build", "clone_url": "/r", "sha": "a" * 40}, Target.job(7)),
        ({"deployment_id": 8, "clone_url": "/r", "environment": {}}, Target.deploy(8)),
    ],
)
def test_a_ticket_of_an_older_service_is_refused_in_its_own_row(
    message: dict[str, Any], target: Target
) -> None:
    assert unseal(message, KEY) == Unreadable(target, messages.from_older_service())
