"""Routes events to handlers by event name and action; one handler's failure stops no other."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from bot.dispatch.events import WebhookEvent

ContextT = TypeVar("ContextT")
Handler = Callable[[WebhookEvent, ContextT], Awaitable[None]]


class Router(Generic[ContextT]):
    """Like gidgethub's Router, but composable and keeping every handler's failure apart."""

    def __init__(self, *routers: Router[ContextT]) -> None:
        self._routes: dict[tuple[str, str | None], list[Handler[ContextT]]] = {}
        for router in routers:
            for key, handlers in router._routes.items():
                self._routes.setdefault(key, []).extend(handlers)

    def register(
        self, event: str, *actions: str
    ) -> Callable[[Handler[ContextT]], Handler[ContextT]]:
        """Decorator: call the handler for `event` (with one of `actions`, or any action)."""

        def add(handler: Handler[ContextT]) -> Handler[ContextT]:
            for action in actions or (None,):
                self._routes.setdefault((event, action), []).append(handler)
            return handler

        return add

    def handlers(self, event: str, action: str | None) -> list[Handler[ContextT]]:
        found = list(self._routes.get((event, None), []))
        if action is not None:
            found += self._routes.get((event, action), [])
        return found

    def events(self) -> set[str]:
        """Every event name some handler listens to (app.yml must subscribe to them)."""
        return {event for event, _ in self._routes}
