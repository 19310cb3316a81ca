"""``FakeGitHub``: a stateful fake of GitHub's REST API and webhooks for Greenlight's tests.

Serve ``fake.app`` with ``aiohttp.test_utils.TestServer`` (or use the ``fake_github``
fixture from ``tests.fakes.plugin``), point the client's ``GITHUB_API_URL`` at it, sign
app JWTs with ``fake.private_key_pem`` and read the state back from ``fake.world`` or the
query helpers. Requests are checked against GitHub's OpenAPI description; whatever GitHub
would reject lands in ``fake.violations``.

Wiring Greenlight to it: ``GITHUB_API_URL=fake.base_url``, ``GITHUB_APP_ID=fake.app_id``,
``GITHUB_PRIVATE_KEY=fake.private_key_pem.decode()``, and
``fake.configure_webhooks("<app>/webhook", GITHUB_WEBHOOK_SECRET)``. Repositories made with
``create_repo`` are installed for the app; their ``clone_url`` is a local bare repository,
or, with ``git_over_http``, the fake's own URL for it, served only to tokens that may read it.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from yarl import URL

from tests.fakes import (
    routes_app,
    routes_checks,
    routes_comments,
    routes_deployments,
    routes_hooks,
    routes_oauth,
    routes_pulls,
    routes_repos,
)
from tests.fakes.auth import public_pem, shared_key_pair
from tests.fakes.delivery import DeliveryLog, Outbox
from tests.fakes.events import EventsMixin
from tests.fakes.faults import Fault, Faults
from tests.fakes.git_http import GitRequest
from tests.fakes.render import Renderer
from tests.fakes.routes_oauth import OAuthFlow
from tests.fakes.scenario import ScenarioMixin
from tests.fakes.server import Call, Violation, create_application, json_response
from tests.fakes.state import App, World, iso
from tests.fakes.webhooks import Payloads

Json = Any
ROUTE_TABLES = (
    routes_app,
    routes_oauth,
    routes_repos,
    routes_pulls,
    routes_checks,
    routes_comments,
    routes_deployments,
    routes_hooks,
)
# Greenlight's manifest asks for these (bot/app.yml), except `statuses: write`, which lets
# tests play another CI system with the app's token.
DEFAULT_PERMISSIONS = {
    "administration": "read",
    "checks": "write",
    "contents": "write",
    "deployments": "write",
    "issues": "write",
    "merge_queues": "read",
    "metadata": "read",
    "pull_requests": "write",
    "statuses": "write",
}
DEFAULT_EVENTS = [
    "check_run",
    "check_suite",
    "issue_comment",
    "merge_group",
    "pull_request",
    "pull_request_review",
    "push",
    "status",
]


class FakeGitHub(ScenarioMixin, EventsMixin):
    """GitHub as Greenlight sees it: REST API (``app``), git repositories and webhooks."""

    def __init__(
        self,
        root: Path,
        *,
        app_id: int = 4242,
        app_slug: str = "greenlight",
        private_key_pem: bytes | str | None = None,
        validate_responses: bool = True,
        validate_requests: bool = True,
    ) -> None:
        self.root = root
        self.world = World()
        # The app's key pair: the fake keeps the public half, tests sign with the private one.
        if isinstance(private_key_pem, str):
            private_key_pem = private_key_pem.encode()
        self.private_key_pem = private_key_pem or shared_key_pair()[0]
        self.app_id = app_id
        self.github_app = self.add_app(app_id, app_slug, public_pem(self.private_key_pem))
        self.validate_responses = validate_responses
        # False only in benchmarks: checking a request against the spec takes milliseconds.
        self.validate_requests = validate_requests
        self.violations: list[Violation] = []
        self.request_counts: collections.Counter[tuple[str, str]] = collections.Counter()
        self.not_modified = 0  # conditional requests answered 304
        self.conditional_asks = 0  # GETs that carried an If-None-Match, whatever the answer
        self.faults = Faults()
        self.token_lifetime = timedelta(hours=1)
        self.base_url = ""
        # True: clone URLs point at the fake, which serves git over HTTP to tokens that may
        # read the repository (see `git_http`); False: they are the bare repositories' paths.
        self.git_over_http = False
        self.git_requests: list[GitRequest] = []
        self.outbox = Outbox(log=DeliveryLog(clock=self.now))
        # Cut pages of `GET /app/hook/deliveries` to this many items (GitHub may).
        self.delivery_page_limit: int | None = None
        # `GET /app/hook/deliveries/{id}` of these ids answers 502 (a pass failing half way).
        self.failing_deliveries: set[int] = set()
        self.oauth = OAuthFlow()  # "Sign in with GitHub": see routes_oauth
        self.payloads = Payloads(self)
        self._clock_offset = timedelta()
        handlers = {key: h for table in ROUTE_TABLES for key, h in table.routes.handlers.items()}
        self.app = create_application(self, handlers, (routes_oauth.add_web_routes,))

    # ------------------------------------------------------------------ apps and clock

    def add_app(self, app_id: int, slug: str, public_key_pem: bytes | None) -> App:
        """Register a GitHub App (its bot user is ``<slug>[bot]``)."""
        owner = self.world.user("greenlight-owner")
        app = App(
            id=app_id,
            slug=slug,
            name=slug.replace("-", " ").title(),
            owner=owner,
            bot=self.world.user(f"{slug}[bot]", "Bot"),
            client_id=f"Iv1.{app_id:016x}",
            public_key_pem=public_key_pem,
            events=list(DEFAULT_EVENTS),
            permissions=dict(DEFAULT_PERMISSIONS),
        )
        self.world.apps[app_id] = app
        return app

    def now(self) -> datetime:
        """The fake's clock (real time plus ``advance_clock`` offsets)."""
        return datetime.now(UTC) + self._clock_offset

    def now_iso(self) -> str:
        """The fake's clock in GitHub's timestamp format."""
        return iso(self.now())

    def advance_clock(self, seconds: float) -> None:
        """Move the fake's clock forward (tokens and JWTs expire by it)."""
        self._clock_offset += timedelta(seconds=seconds)

    def renderer(self) -> Renderer:
        """JSON renderer using the served base URL."""
        return Renderer(
            self.world, self.base_url or "https://api.github.com", git_over_http=self.git_over_http
        )

    # ------------------------------------------------------------------ checks on the fake

    def take_violations(self) -> list[Violation]:
        """Return and forget the recorded violations (for tests that provoke them)."""
        taken, self.violations = self.violations, []
        return taken

    def assert_no_violations(self) -> None:
        """Fail with every recorded violation, if any."""
        if self.violations:
            lines = [
                f"{v.kind} {v.method} {v.path} → {v.status}: {'; '.join(v.messages)}"
                for v in self.violations
            ]
            raise AssertionError("requests GitHub would reject:\n" + "\n".join(lines))

    def inject(
        self,
        method: str,
        template: str,
        *,
        status: int = 502,
        headers: dict[str, str] | None = None,
        body: bytes | Json | None = None,
        times: int = 1,
        after_applying: bool = False,
        reset: bool = False,
        where: Callable[[Call], bool] | None = None,
    ) -> None:
        """Answer the next ``times`` calls of an operation that ``where`` accepts (all by
        default) with ``status``, ``headers`` and ``body`` (GitHub's error body when None),
        before the fake acts on them, or after (``after_applying``: the write landed, the
        answer was lost); ``reset`` drops the connection instead of answering."""
        fault = Fault(status, dict(headers or {}), body, after_applying, reset, where)
        self.faults.add(method, template, fault, times)

    def fail_next(self, method: str, template: str, *, times: int = 1, status: int = 502) -> None:
        """Make the next ``times`` calls of an operation fail with a server error."""
        self.inject(method, template, status=status, times=times)

    def rate_limit_next(
        self,
        method: str,
        template: str,
        *,
        times: int = 1,
        retry_after: int = 60,
        status: int = 403,
    ) -> None:
        """Make the next ``times`` calls hit a secondary rate limit (403 or 429, Retry-After)."""
        headers = {"Retry-After": str(retry_after)}
        self.inject(method, template, status=status, headers=headers, times=times)

    def rate_limit_remaining(self) -> int:
        """What ``X-RateLimit-Remaining`` says (5,000 an hour, never below 1 here)."""
        return max(1, 5000 - sum(self.request_counts.values()))

    # ------------------------------------------------------------------ helpers for routes

    def paginate(self, call: Call, items: list[Json], *, key: str | None = None) -> web.Response:
        """One page of ``items`` with GitHub's ``Link`` header (``key`` wraps with total_count)."""
        per_page = min(int(call.query.get("per_page", 30)), 100)
        page = max(int(call.query.get("page", 1)), 1)
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        links = []
        url = URL(self.base_url).join(call.request.rel_url) if self.base_url else call.request.url
        for rel, number in (("prev", page - 1), ("next", page + 1), ("last", last), ("first", 1)):
            if (rel in {"prev", "first"} and page > 1) or (rel in {"next", "last"} and page < last):
                links.append(f'<{url.update_query(page=number, per_page=per_page)}>; rel="{rel}"')
        headers = {"Link": ", ".join(links)} if links else None
        body: Json = {"total_count": len(items), key: chunk} if key else chunk
        return json_response(body, headers=headers)

    def outbox_hook_id(self) -> int:
        """The hook id deliveries carry."""
        return self.outbox.target.hook_id if self.outbox.target else 0

    async def close(self) -> None:
        """Stop webhook deliveries and close their HTTP session."""
        await self.outbox.close()
