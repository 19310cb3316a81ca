"""The HTTP side of the fake: one catch-all aiohttp route that matches the spec's templates.

Every request goes through: count → match a template → validate against the spec →
authenticate → injected failures → handler → (optionally) validate the response.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web
from multidict import MultiMapping
from werkzeug.datastructures import Headers

from tests.fakes import git_http, spec
from tests.fakes.auth import (
    AuthError,
    can_access,
    split_authorization,
    verify_app_jwt,
    verify_token,
)
from tests.fakes.faults import Fault, drop_connection
from tests.fakes.permissions import REQUIRED, allows
from tests.fakes.render import Renderer
from tests.fakes.state import App, Installation, Repo, Token, User

if TYPE_CHECKING:
    from tests.fakes.github import FakeGitHub

Json = Any
DOCS = "https://docs.github.com/rest"
FAKE_KEY: web.AppKey[FakeGitHub] = web.AppKey("fake_github")


class ApiError(Exception):
    """Answer the request with GitHub's error body; ``violation`` records it too."""

    def __init__(
        self,
        status: int,
        message: str,
        errors: list[Json] | None = None,
        *,
        violation: bool = False,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.violation = violation
        self.headers = headers or {}


@dataclass(frozen=True)
class Violation:
    """A request GitHub would reject (or a response that breaks the spec)."""

    kind: str  # route | request | auth | response
    method: str
    path: str
    status: int
    messages: list[str]


@dataclass
class Call:
    """One authenticated, validated API call, as handlers see it."""

    fake: FakeGitHub
    request: web.Request
    route: spec.Route
    body: Json
    app: App | None = None
    token: Token | None = None
    repo_: Repo | None = None
    user: User | None = None  # the person a user access token names (``GET /user``)

    @property
    def params(self) -> dict[str, str]:
        """Decoded path parameters."""
        return self.route.params

    @property
    def query(self) -> MultiMapping[str]:
        """Query parameters."""
        return self.request.query

    @property
    def repo(self) -> Repo:
        """The repository of a ``/repos/{owner}/{repo}/…`` call."""
        assert self.repo_ is not None
        return self.repo_

    @property
    def installation(self) -> Installation:
        """The installation whose token made the call."""
        assert self.token is not None
        return self.fake.world.installations[self.token.installation_id]

    @property
    def actor(self) -> User:
        """The bot user of the calling app."""
        return self.fake.world.apps[self.installation.app_id].bot

    @property
    def r(self) -> Renderer:
        """The JSON renderer."""
        return self.fake.renderer()


Handler = Callable[[Call], Awaitable[web.StreamResponse]]


@dataclass
class RouteTable:
    """Handlers by (method, template); the templates must exist in the spec subset."""

    handlers: dict[tuple[str, str], Handler] = field(default_factory=dict)

    def add(self, method: str, template: str) -> Callable[[Handler], Handler]:
        """Decorator registering a handler."""

        def register(handler: Handler) -> Handler:
            self.handlers[(method.lower(), template)] = handler
            return handler

        return register


def json_response(
    data: Json, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON answer with GitHub's content type."""
    return web.Response(
        status=status,
        body=json.dumps(data).encode(),
        content_type="application/json",
        charset="utf-8",
        headers=headers,
    )


def error_response(status: int, message: str, errors: list[Json] | None = None) -> web.Response:
    """GitHub's error body: message, documentation_url, status (and errors for 422)."""
    body: Json = {"message": message, "documentation_url": DOCS, "status": str(status)}
    if errors is not None:
        body["errors"] = errors
    return json_response(body, status)


def create_application(
    fake: FakeGitHub,
    handlers: dict[tuple[str, str], Handler],
    web_routes: tuple[Callable[[web.Application], None], ...] = (),
) -> web.Application:
    """The aiohttp application serving the fake API."""
    application = web.Application()
    application[FAKE_KEY] = fake
    router = spec.Router(spec.spec_document())

    async def dispatch(request: web.Request) -> web.StreamResponse:
        return await _dispatch(fake, router, handlers, request)

    async def serve_git(request: web.Request) -> web.StreamResponse:
        return await git_http.serve(fake, request)

    application.router.add_route("*", git_http.ROUTE, serve_git)
    for add_routes in web_routes:  # pages of GitHub's web host, before the API's catch-all
        add_routes(application)
    application.router.add_route("*", "/{tail:.*}", dispatch)
    return application


async def _dispatch(
    fake: FakeGitHub,
    router: spec.Router,
    handlers: dict[tuple[str, str], Handler],
    request: web.Request,
) -> web.StreamResponse:
    fake.base_url = fake.base_url or str(request.url.origin())
    raw_path = request.rel_url.raw_path
    route = router.match(request.method, raw_path)
    fake.request_counts[(request.method, route.template if route else raw_path)] += 1
    try:
        if route is None or (route.method, route.template) not in handlers:
            raise ApiError(404, "Not Found", violation=True)
        call, spec_request = await _prepare(fake, route, request)
        fault = fake.faults.take(call)
        if fault is not None and not fault.after_applying:
            return _answer_fault(fake, request, fault)
        response = await _respond(fake, handlers[(route.method, route.template)], call)
        if fault is not None:
            return _answer_fault(fake, request, fault)
    except ApiError as failure:
        if failure.violation:
            kind = "route" if route is None else ("auth" if failure.status == 401 else "request")
            # The field errors say what was wrong; the failing test prints them.
            details = [str(error.get("message")) for error in failure.errors or []]
            fake.violations.append(
                Violation(
                    kind, request.method, raw_path, failure.status, [failure.message, *details]
                )
            )
        answer = error_response(failure.status, failure.message, failure.errors)
        answer.headers.update(failure.headers)
        return _finish(fake, request, answer)
    if fake.validate_responses and isinstance(response, web.Response):
        _check_response(fake, request, spec_request, response)
    return _finish(fake, request, _conditional(fake, request, response))


def _conditional(
    fake: FakeGitHub, request: web.Request, response: web.StreamResponse
) -> web.StreamResponse:
    """A GET's answer carries an ETag, tied to the credentials as GitHub's are; asked again
    with `If-None-Match` and unchanged, it is `304 Not Modified` (free of rate limit).
    https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api#use-conditional-requests-if-appropriate
    """
    if request.method == "GET" and "If-None-Match" in request.headers:
        fake.conditional_asks += 1
    if request.method != "GET" or response.status != 200 or not isinstance(response, web.Response):
        return response
    body = response.body if isinstance(response.body, bytes) else b""
    credentials = request.headers.get("Authorization", "").encode()
    etag = '"' + hashlib.sha256(body + b"\0" + credentials).hexdigest()[:40] + '"'
    if request.headers.get("If-None-Match") == etag:
        fake.not_modified += 1
        return web.Response(status=304, headers={"ETag": etag})
    response.headers["ETag"] = etag
    return response


async def _prepare(
    fake: FakeGitHub, route: spec.Route, request: web.Request
) -> tuple[Call, spec.SpecRequest]:
    body = await request.read()
    spec_request = spec.make_request(
        route, request.query, request.headers, body, request.content_type
    )
    problems = spec.request_errors(spec_request) if fake.validate_requests else []
    if problems:
        raise ApiError(422, "Invalid request.\n\n" + "\n".join(problems), violation=True)
    try:
        data = json.loads(body) if body else None
    except ValueError as error:
        raise ApiError(400, "Problems parsing JSON", violation=True) from error
    call = Call(fake, request, route, data if data is not None else {})
    _authenticate(fake, call)
    return call, spec_request


async def _respond(fake: FakeGitHub, handler: Handler, call: Call) -> web.StreamResponse:
    try:
        return await handler(call)
    except ApiError:
        raise
    except Exception as error:
        # A bug in the fake: record it so the test fails, then answer 500 like aiohttp would.
        path = call.request.rel_url.raw_path
        fake.violations.append(
            Violation("fake-error", call.request.method, path, 500, [repr(error)])
        )
        raise


def _authenticate(fake: FakeGitHub, call: Call) -> None:
    template = call.route.template
    if template.startswith("/app-manifests/"):
        return
    credentials = split_authorization(call.request.headers.get("Authorization"))
    if template == "/user":  # a user access token, from the OAuth web flow
        login = fake.oauth.tokens.get(credentials[1]) if credentials else None
        if login is None:
            raise ApiError(401, "Bad credentials", violation=credentials is None)
        call.user = fake.world.user(login)
        return
    try:
        if template.startswith("/app"):
            if credentials is None or credentials[0] != "bearer":
                raise AuthError("A JSON web token could not be decoded")
            call.app = verify_app_jwt(fake.world, credentials[1], fake.now())
            return
        if credentials is None or credentials[0] not in {"token", "bearer"}:
            raise AuthError("Requires authentication")
        call.token = verify_token(fake.world, credentials[1], fake.now())
    except AuthError as error:
        raise ApiError(401, str(error), violation=True) from error
    if template.startswith("/repos/{owner}/{repo}"):
        full_name = f"{call.params['owner']}/{call.params['repo']}"
        repo = fake.world.repo(full_name)
        if repo is None or not can_access(fake.world, call.token, repo.full_name):
            raise ApiError(404, "Not Found")
        call.repo_ = repo
    if not allows(call.token.permissions, REQUIRED[(call.route.method, template)]):
        raise ApiError(403, "Resource not accessible by integration")


def _answer_fault(fake: FakeGitHub, request: web.Request, fault: Fault) -> web.StreamResponse:
    if fault.reset:
        return drop_connection(request)
    return _finish(fake, request, fault.response(), extra=fault.headers)


def _check_response(
    fake: FakeGitHub, request: web.Request, spec_request: spec.SpecRequest, response: web.Response
) -> None:
    documented = spec.spec_document()["paths"][spec_request.path_pattern][spec_request.method]
    entry = documented["responses"].get(str(response.status), {})
    if not entry.get("content"):
        return  # GitHub documents no body for this status: nothing to check against
    body = response.body if isinstance(response.body, bytes) else b""
    wrapped = spec.SpecResponse(
        response.status, body, response.content_type, Headers(list(response.headers.items()))
    )
    problems = spec.response_errors(spec_request, wrapped)
    if problems:
        fake.violations.append(
            Violation(
                "response", request.method, request.rel_url.raw_path, response.status, problems
            )
        )


def _finish(
    fake: FakeGitHub,
    request: web.Request,
    response: web.StreamResponse,
    *,
    extra: dict[str, str] | None = None,
) -> web.StreamResponse:
    remaining = fake.rate_limit_remaining()
    response.headers.update(
        {
            "X-GitHub-Request-Id": uuid.uuid4().hex[:20].upper(),
            "X-GitHub-Media-Type": "github.v3; format=json",
            "X-RateLimit-Limit": "5000",
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Used": str(5000 - remaining),
            "X-RateLimit-Reset": str(int(fake.now().timestamp()) + 3600),
            "X-RateLimit-Resource": "core",
        }
    )
    response.headers.update(extra or {})  # an injected fault's headers win
    return response
