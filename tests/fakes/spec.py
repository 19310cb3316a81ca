"""GitHub's OpenAPI description (the committed subset): routing and validation.

Paths are matched on the *raw* request path, one template variable per path segment, as
the spec's templates say: ``contents/a%2Fb.txt`` matches ``contents/{path}``, while
``contents/a/b.txt`` (an f-string URL) does not. Real GitHub accepts both; the fake is
stricter on purpose so clients build URLs from the documented templates.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.validation.request.exceptions import ParametersError
from openapi_core.validation.schemas.exceptions import InvalidSchemaValue
from werkzeug.datastructures import Headers, ImmutableMultiDict

SPEC_PATH = Path(__file__).resolve().parent.parent / "fixtures" / "openapi" / "github-subset.json"
# The spec's only server; validation runs as if the request went there.
SPEC_HOST = "https://api.github.com"

Json = Any


@functools.cache
def spec_document() -> dict[str, Json]:
    """The subset as a plain dict (loaded once per process)."""
    return json.loads(SPEC_PATH.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


# GitHub's text media types: openapi-core would hand their bodies over as bytes.
TEXT_MEDIA_TYPES = (
    "application/vnd.github.raw",
    "application/vnd.github.diff",
    "application/vnd.github.patch",
)


def _text(value: bytes) -> str:
    return value.decode("utf-8", "replace")


@functools.cache
def openapi() -> OpenAPI:
    """The openapi-core object; the spec itself is checked once in the fake's own tests."""
    config = Config(
        spec_validator_cls=None,
        extra_media_type_deserializers=dict.fromkeys(TEXT_MEDIA_TYPES, _text),
    )
    return OpenAPI.from_dict(spec_document(), config=config)


@dataclass(frozen=True)
class Route:
    """A matched operation: method, template and decoded path parameters."""

    method: str
    template: str
    params: dict[str, str]


class Router:
    """Match raw request paths against the spec's templates, segment by segment."""

    def __init__(self, document: Mapping[str, Json]) -> None:
        self._templates: list[tuple[str, list[str], set[str]]] = []
        for template, item in document["paths"].items():
            methods = {m for m in item if m in {"get", "post", "put", "patch", "delete"}}
            self._templates.append((template, template.strip("/").split("/"), methods))
        # Literal segments beat variables, as in GitHub's router.
        self._templates.sort(key=lambda entry: entry[0].count("{"))

    def match(self, method: str, raw_path: str) -> Route | None:
        """The route for ``method raw_path``, or None when the spec has no such operation."""
        segments = raw_path.strip("/").split("/")
        for template, parts, methods in self._templates:
            params = _match_segments(parts, segments)
            if params is not None and method.lower() in methods:
                return Route(method.lower(), template, params)
        return None


def _match_segments(parts: list[str], segments: list[str]) -> dict[str, str] | None:
    if len(parts) != len(segments):
        return None
    params: dict[str, str] = {}
    for part, segment in zip(parts, segments, strict=True):
        if part.startswith("{") and part.endswith("}"):
            if not segment:
                return None
            params[part[1:-1]] = unquote(segment)
        elif part != segment:
            return None
    return params


@dataclass
class SpecRequest:
    """A request in the shape openapi-core reads (its ``Request`` protocol)."""

    method: str
    path: str
    path_pattern: str
    parameters: RequestParameters
    body: bytes | None
    content_type: str
    host_url: str = SPEC_HOST


@dataclass
class SpecResponse:
    """A response in the shape openapi-core reads."""

    status_code: int
    data: bytes
    content_type: str
    headers: Headers


def make_request(
    route: Route,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
    content_type: str,
) -> SpecRequest:
    """Wrap the parts of an HTTP request for validation."""
    parameters = RequestParameters(
        path=dict(route.params),
        query=ImmutableMultiDict(list(query.items())),
        header=Headers(list(headers.items())),
        cookie=ImmutableMultiDict(),
    )
    return SpecRequest(
        method=route.method,
        path=route.template,
        path_pattern=route.template,
        parameters=parameters,
        body=body or None,
        content_type=content_type if body else "application/json",
    )


def request_errors(request: SpecRequest) -> list[str]:
    """Every way the request departs from the spec, as readable lines."""
    return [
        line
        for error in openapi().request_validator.iter_errors(request)
        for line in explain(error)
    ]


def response_errors(request: SpecRequest, response: SpecResponse) -> list[str]:
    """Every way the response departs from the spec (GitHub documents no body: skipped)."""
    errors = openapi().response_validator.iter_errors(request, response)
    return [line for error in errors for line in explain(error)]


def explain(error: BaseException) -> Iterator[str]:
    """Flatten openapi-core's nested exceptions into messages."""
    if isinstance(error, ParametersError):
        for inner in error.errors:
            yield from explain(inner)
        return
    cause = error.__cause__
    if isinstance(cause, InvalidSchemaValue):
        for schema_error in cause.schema_errors:
            where = "/".join(str(p) for p in getattr(schema_error, "absolute_path", []))
            message = getattr(schema_error, "message", str(schema_error))
            yield f"{type(error).__name__}: {where or '(root)'}: {message[:300]}"
        return
    yield str(error) if cause is None else f"{error}: {cause}"


# ----------------------------------------------------------------------------- skeletons

_FORMAT_SAMPLES = {
    "date-time": "2011-01-26T19:01:12Z",
    "uri": "https://api.github.com/",
    "email": "octocat@github.com",
}


def resolve(node: Json) -> Json:
    """Follow a local ``$ref`` (repeatedly) in the subset."""
    while isinstance(node, dict) and "$ref" in node:
        target: Json = spec_document()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


@functools.cache
def _skeleton(schema_name: str) -> str:
    return json.dumps(fill(spec_document()["components"]["schemas"][schema_name], depth=0))


def skeleton(schema_name: str) -> dict[str, Json]:
    """A minimal valid instance of a component schema: required fields with plain values."""
    return json.loads(_skeleton(schema_name))  # type: ignore[no-any-return]


def fill(schema: Json, depth: int) -> Json:
    """A minimal value valid for ``schema`` (nullable fields become null)."""
    schema = resolve(schema)
    if "allOf" in schema:
        merged: dict[str, Json] = {}
        for part in schema["allOf"]:
            value = fill(part, depth)
            if isinstance(value, dict):
                merged.update(value)
        return merged
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return fill(schema[key][0], depth)
    if schema.get("nullable") and depth > 0:
        return None
    return _fill_typed(schema, depth)


def _fill_typed(schema: Json, depth: int) -> Json:
    kind = schema.get("type", "object")
    if "enum" in schema:
        return copy.deepcopy(schema["enum"][0])
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: fill(properties[name], depth + 1) for name in schema.get("required", [])}
    if kind == "array":
        return []
    if kind == "string":
        return _FORMAT_SAMPLES.get(schema.get("format", ""), "")
    if kind in {"integer", "number"}:
        return schema.get("minimum", 0)
    if kind == "boolean":
        return False
    raise ValueError(f"cannot fill schema of type {kind!r}")


SHA_RE = re.compile(r"^[0-9a-f]{40}$")
