"""Webhook deliveries with the headers GitHub sends.

https://docs.github.com/en/webhooks/webhook-events-and-payloads#delivery-headers
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

Json = Any
USER_AGENT = "GitHub-Hookshot/f1e2d3c"
# github.com gives up on a delivery after 10 seconds.
TIMEOUT = aiohttp.ClientTimeout(total=10)


@dataclass
class Delivery:
    """One webhook delivery and how the receiver answered."""

    event: str
    payload: Json
    delivery_id: str
    status: int | None = None
    error: str | None = None
    redelivery: bool = False

    @property
    def action(self) -> str | None:
        """The payload's ``action``, if any."""
        return self.payload.get("action") if isinstance(self.payload, dict) else None


@dataclass
class WebhookTarget:
    """Where and how deliveries go."""

    url: str
    secret: str
    app_id: int
    hook_id: int = 424242
    events: frozenset[str] | None = None  # None: every event


def signed_headers(
    target: WebhookTarget, event: str, delivery_id: str, body: bytes
) -> dict[str, str]:
    """The headers of a GitHub App delivery, signature included."""
    sha256 = hmac.new(target.secret.encode(), body, hashlib.sha256).hexdigest()
    sha1 = hmac.new(target.secret.encode(), body, hashlib.sha1).hexdigest()
    return {
        "User-Agent": USER_AGENT,
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id,
        "X-GitHub-Hook-ID": str(target.hook_id),
        "X-GitHub-Hook-Installation-Target-ID": str(target.app_id),
        "X-GitHub-Hook-Installation-Target-Type": "integration",
        "X-Hub-Signature": f"sha1={sha1}",
        "X-Hub-Signature-256": f"sha256={sha256}",
    }


@dataclass
class LoggedDelivery:
    """One attempt in the app's delivery log, as ``GET /app/hook/deliveries`` lists it.

    https://docs.github.com/en/rest/apps/webhooks#list-deliveries-for-an-app-webhook
    """

    id: int
    guid: str
    delivered_at: datetime
    redelivery: bool
    duration: float
    status: str  # "OK", "Invalid HTTP Response: 503", "failed to connect"
    status_code: int
    event: str
    action: str | None
    installation_id: int | None
    repository_id: int | None
    url: str
    headers: dict[str, str]
    payload: Json  # None when GitHub no longer has a readable body

    def summary(self) -> Json:
        """The list item (``hook-delivery-item``)."""
        return {
            "id": self.id,
            "guid": self.guid,
            "delivered_at": self.delivered_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "redelivery": self.redelivery,
            "duration": self.duration,
            "status": self.status,
            "status_code": self.status_code,
            "event": self.event,
            "action": self.action,
            "installation_id": self.installation_id,
            "repository_id": self.repository_id,
            "throttled_at": None,
        }

    def detail(self) -> Json:
        """The whole delivery (``hook-delivery``): the request GitHub made, and the answer."""
        return {
            **self.summary(),
            "url": self.url,
            "request": {"headers": self.headers, "payload": self.payload},
            "response": {"headers": {}, "payload": None},
        }


def _id_of(payload: Json, key: str) -> int | None:
    value = payload.get(key) if isinstance(payload, dict) else None
    found = value.get("id") if isinstance(value, dict) else None
    return found if isinstance(found, int) else None


@dataclass
class DeliveryLog:
    """Every attempt GitHub made, newest last; kept three days like GitHub's (`keep`)."""

    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    entries: list[LoggedDelivery] = field(default_factory=list)
    keep: timedelta = timedelta(days=3)  # a test may keep more, to list what is older
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(12_000_000_001))

    def add(self, delivery: Delivery, url: str, headers: dict[str, str], duration: float) -> None:
        """Record one attempt and how it ended."""
        if delivery.status is None:
            status, code = "failed to connect", 502
        elif 200 <= delivery.status < 300:
            status, code = "OK", delivery.status
        else:
            status, code = f"Invalid HTTP Response: {delivery.status}", delivery.status
        self.entries.append(
            LoggedDelivery(
                id=next(self._ids),
                guid=delivery.delivery_id,
                delivered_at=self.clock(),
                redelivery=delivery.redelivery,
                duration=round(duration, 2),
                status=status,
                status_code=code,
                event=delivery.event,
                action=delivery.action,
                installation_id=_id_of(delivery.payload, "installation"),
                repository_id=_id_of(delivery.payload, "repository"),
                url=url,
                headers=dict(headers),
                payload=delivery.payload,
            )
        )

    def kept(self) -> list[LoggedDelivery]:
        """The entries GitHub still keeps (three days), newest first."""
        now = self.clock()
        return [e for e in reversed(self.entries) if now - e.delivered_at < self.keep]

    def get(self, delivery_id: int) -> LoggedDelivery | None:
        """One kept entry by its id."""
        return next((e for e in self.kept() if e.id == delivery_id), None)


@dataclass
class Outbox:
    """Sends deliveries: directly (``send``) or in order in the background (``emit``)."""

    target: WebhookTarget | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    log: DeliveryLog = field(default_factory=DeliveryLog)
    _queue: asyncio.Queue[Delivery] | None = None
    _worker: asyncio.Task[None] | None = None
    _session: aiohttp.ClientSession | None = None

    async def send(self, event: str, payload: Json, delivery_id: str | None = None) -> int:
        """Deliver now; return the receiver's HTTP status."""
        delivery = Delivery(event, payload, delivery_id or str(uuid.uuid4()))
        self.deliveries.append(delivery)
        await self._post(delivery)
        if delivery.status is None:
            raise ConnectionError(f"webhook delivery failed: {delivery.error}")
        return delivery.status

    def wants(self, event: str) -> bool:
        """Whether ``event`` would be delivered (webhooks set up and subscribed)."""
        if self.target is None:
            return False
        return self.target.events is None or event in self.target.events

    def emit(self, event: str, payload: Json) -> None:
        """Queue a delivery GitHub would make after an action, in order."""
        self._enqueue(Delivery(event, payload, str(uuid.uuid4())))

    def redeliver(self, entry: LoggedDelivery) -> None:
        """Deliver a logged delivery again, with the same GUID, in the background."""
        self._enqueue(Delivery(entry.event, entry.payload, entry.guid, redelivery=True))

    def _enqueue(self, delivery: Delivery) -> None:
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._worker = asyncio.get_running_loop().create_task(self._work())
        self.deliveries.append(delivery)
        self._queue.put_nowait(delivery)

    async def settle(self) -> None:
        """Wait until every queued delivery has been answered."""
        if self._queue is not None:
            await self._queue.join()

    async def close(self) -> None:
        """Stop the worker and the HTTP session."""
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
            self._worker = self._queue = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _work(self) -> None:
        assert self._queue is not None
        while True:
            delivery = await self._queue.get()
            try:
                await self._post(delivery)
            finally:
                self._queue.task_done()

    async def _post(self, delivery: Delivery) -> None:
        if self.target is None:
            raise RuntimeError("call configure_webhooks(url, secret) first")
        body = json.dumps(delivery.payload, separators=(",", ":")).encode()
        headers = signed_headers(self.target, delivery.event, delivery.delivery_id, body)
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT)
        started = time.monotonic()
        try:
            async with self._session.post(self.target.url, data=body, headers=headers) as response:
                await response.read()
                delivery.status = response.status
        except (aiohttp.ClientError, TimeoutError) as error:
            delivery.error = repr(error)
        self.log.add(delivery, self.target.url, headers, time.monotonic() - started)
