"""Failures injected into the fake's answers: GitHub's 5xx, rate limits and dropped
connections, for the next ``times`` requests of an operation that match.

A fault answers either instead of the handler (GitHub refused or failed before acting)
or after it (``after_applying``: the write landed, then the answer was lost, as a 502 from
GitHub's front end can do), or drops the connection without any answer (``reset``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from tests.fakes.server import Call

Json = Any
DOCS = "https://docs.github.com/rest"
PHRASES = {
    403: "You have exceeded a secondary rate limit. "
    "Please wait a few minutes before you try again.",
    429: "You have exceeded a secondary rate limit. "
    "Please wait a few minutes before you try again.",
    500: "Server Error",
    502: "Server Error",
    503: "Service Unavailable",
    504: "We couldn't respond to your request in time. Sorry about that.",
}


@dataclass(frozen=True)
class Fault:
    """One injected answer."""

    status: int = 502
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | Json | None = None  # None: GitHub's JSON error body for the status
    after_applying: bool = False  # the handler runs (the write lands) before this answer
    reset: bool = False  # drop the connection instead of answering
    where: Callable[[Call], bool] | None = None  # only requests this accepts

    def matches(self, call: Call) -> bool:
        """Whether this fault is for `call`."""
        return self.where is None or self.where(call)

    def response(self) -> web.Response:
        """The answer this fault gives."""
        if isinstance(self.body, bytes):
            return web.Response(status=self.status, body=self.body, headers=self.headers)
        body = self.body
        if body is None:
            message = PHRASES.get(self.status, "Server Error")
            body = {"message": message, "documentation_url": DOCS, "status": str(self.status)}
        return web.Response(
            status=self.status,
            body=json.dumps(body).encode(),
            content_type="application/json",
            charset="utf-8",
            headers=self.headers,
        )


@dataclass
class Faults:
    """Faults waiting for the next requests of each operation, in order."""

    pending: dict[tuple[str, str], list[Fault]] = field(default_factory=dict)
    injected: list[tuple[str, str, int]] = field(default_factory=list)  # (method, path, status)

    def add(self, method: str, template: str, fault: Fault, times: int = 1) -> None:
        """Answer the next ``times`` matching calls of ``method template`` with ``fault``."""
        self.pending.setdefault((method.lower(), template), []).extend([fault] * times)

    def take(self, call: Call) -> Fault | None:
        """The fault due for this call, if any (it is used up)."""
        queue = self.pending.get((call.route.method, call.route.template)) or []
        for index, fault in enumerate(queue):
            if fault.matches(call):
                del queue[index]
                path = call.request.rel_url.raw_path
                self.injected.append((call.route.method, path, 0 if fault.reset else fault.status))
                return fault
        return None

    def left(self) -> int:
        """How many injected faults have not been used yet."""
        return sum(len(queue) for queue in self.pending.values())


def drop_connection(request: web.Request) -> web.Response:
    """Close the connection without an answer, as a reset does; the client sees it dropped."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    return web.Response(status=502)  # never sent: the connection is gone
