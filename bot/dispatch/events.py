"""A webhook delivery as the handlers see it: the few fields every handler needs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.store.records import Delivery


@dataclass(frozen=True)
class WebhookEvent:
    name: str  # X-GitHub-Event
    action: str | None
    delivery_id: str
    installation_id: int | None
    repo: str | None  # full name, "owner/name"
    payload: dict[str, Any]
    # Fetched from GitHub's delivery log after it was missed (bot.recovery): the world may
    # have moved on since, so handlers that act re-read the current state first.
    recovered: bool = False
    sent_at: float | None = None  # when GitHub sent it (received, or tried to deliver it)

    @property
    def sender(self) -> str:
        return str((self.payload.get("sender") or {}).get("login") or "")


def summarize(event: str, payload: Any) -> tuple[str | None, int | None, str | None]:
    """(action, installation id, repository full name) of a payload, read leniently."""
    if not isinstance(payload, dict):
        return None, None, None
    action = payload.get("action")
    installation = payload.get("installation")
    installation_id = installation.get("id") if isinstance(installation, dict) else None
    repository = payload.get("repository")
    repo = repository.get("full_name") if isinstance(repository, dict) else None
    return (
        action if isinstance(action, str) else None,
        installation_id if isinstance(installation_id, int) else None,
        repo if isinstance(repo, str) else None,
    )


def from_delivery(delivery: Delivery, payload: dict[str, Any] | None = None) -> WebhookEvent:
    """The event of a recorded delivery; `payload` is its body when already parsed."""
    return WebhookEvent(
        name=delivery.event,
        action=delivery.action,
        delivery_id=delivery.id,
        installation_id=delivery.installation_id,
        repo=delivery.repo,
        payload=json.loads(delivery.payload) if payload is None else payload,
        recovered=delivery.recovered,
        sent_at=delivery.received_at,
    )
