"""Tickets as they cross the Celery broker: sealed with Fernet (GREENLIGHT_TICKET_KEY).

A ticket carries a job's secrets and a token that can fetch the repository's code, and
Redis is often reachable by more than it should be. The whole ticket is sealed, not only
those two fields: Fernet authenticates what it encrypts, so someone who can write to the
broker can neither read a ticket nor change its steps to send the secrets elsewhere, nor
forge one. Only the target stays in clear, so a worker that cannot open a ticket (another
key, an older service) still fails that job or deploy with the reason instead of leaving it
waiting forever.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from bot.executor import messages
from bot.executor.base import Target, Ticket
from bot.executor.remote import target_from_json, target_to_json, ticket_from_json, ticket_to_json


@dataclass(frozen=True)
class Unreadable:
    """A message from the broker that names its target but cannot be run."""

    target: Target
    reason: str


def seal(ticket: Ticket, key: str) -> dict[str, Any]:
    """The task argument for `ticket`: its target in clear, the rest encrypted."""
    body = json.dumps(ticket_to_json(ticket)).encode()
    return {
        "target": target_to_json(ticket.target),
        "sealed": Fernet(key).encrypt(body).decode(),
    }


def unseal(message: dict[str, Any], key: str) -> Ticket | Unreadable:
    """The ticket a worker received; why it cannot be run when it cannot."""
    target = _target(message)
    sealed = message.get("sealed")
    if "target" not in message:
        return Unreadable(target, messages.from_older_service())
    if not isinstance(sealed, str):
        return Unreadable(target, messages.not_sealed())
    try:
        body = Fernet(key).decrypt(sealed.encode())
    except InvalidToken:
        return Unreadable(target, messages.sealed_with_another_key())
    ticket = ticket_from_json(json.loads(body))
    if ticket.target != target:
        return Unreadable(target, messages.target_mismatch())
    return ticket


def _target(message: dict[str, Any]) -> Target:
    if "target" in message:
        return target_from_json(message["target"])
    # Before 2026-12 a ticket was plain JSON that named its row in `job_id` (a build job)
    # or `deployment_id` (a deploy).
    if "deployment_id" in message:
        return Target.deploy(int(message["deployment_id"]))
    return Target.job(int(message["job_id"]))
