"""The committed OpenAPI subset: complete for the fake, fixed as GITHUB-FACTS.md says, fast."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from openapi_core import Config, OpenAPI
from werkzeug.datastructures import Headers

from tests.fakes import spec
from tests.fakes.github import ROUTE_TABLES

ROOT = Path(__file__).resolve().parents[2]


def _load_script(name: str) -> Any:
    path = ROOT / "scripts" / f"{name}.py"
    module_spec = importlib.util.spec_from_file_location(name, path)
    assert module_spec is not None
    assert module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    module_spec.loader.exec_module(module)
    return module


# How long these take (about 0.5 s for the spec check of the subset, 12 s for the whole
# spec) is a figure for a benchmark, not an assertion for a shared, noisy test machine.


def test_subset_passes_the_openapi_spec_check() -> None:
    document = json.loads(spec.SPEC_PATH.read_text())
    OpenAPI.from_dict(document)  # runs openapi-spec-validator, which raises on a bad spec


def test_fake_loads_the_subset_and_validates_a_first_request() -> None:
    document = json.loads(spec.SPEC_PATH.read_text())
    openapi = OpenAPI.from_dict(document, config=Config(spec_validator_cls=None))
    route = spec.Route("post", "/repos/{owner}/{repo}/check-runs", {"owner": "o", "repo": "r"})
    body = json.dumps({"name": "ci", "head_sha": "abc"}).encode()
    request = spec.make_request(route, {}, {}, body, "application/json")
    assert list(openapi.request_validator.iter_errors(request)) == []


def test_subset_holds_exactly_the_listed_operations() -> None:
    script = _load_script("make_openapi_subset")
    document = spec.spec_document()
    present = {
        (method, path)
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }
    assert present == set(script.OPERATIONS)


def test_every_operation_has_a_handler_and_every_handler_an_operation() -> None:
    handled = {key for table in ROUTE_TABLES for key in table.routes.handlers}
    script = _load_script("make_openapi_subset")
    assert handled == set(script.OPERATIONS)


def _walk(node: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(node, dict):
        found.append(node)
        for value in node.values():
            found.extend(_walk(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_walk(item))
    return found


def test_nullable_enums_accept_null() -> None:
    nodes = _walk(spec.spec_document())
    nullable_enums = [
        n for n in nodes if n.get("nullable") is True and isinstance(n.get("enum"), list)
    ]
    assert nullable_enums
    assert all(None in n["enum"] for n in nullable_enums)


def test_request_bodies_forbid_unknown_properties() -> None:
    body = spec.spec_document()["paths"]["/repos/{owner}/{repo}/check-runs"]["post"]["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["output"]["additionalProperties"] is False
    assert (
        schema["properties"]["output"]["properties"]["annotations"]["items"]["additionalProperties"]
        is False
    )


def test_contents_response_has_no_discriminator_and_a_raw_media_type() -> None:
    responses = spec.spec_document()["paths"]["/repos/{owner}/{repo}/contents/{path}"]["get"][
        "responses"
    ]
    assert "discriminator" not in responses["200"]["content"]["application/json"]["schema"]
    assert "application/vnd.github.raw" in responses["200"]["content"]


def test_response_validation_rejects_a_wrong_body() -> None:
    route = spec.Route(
        "get",
        "/repos/{owner}/{repo}/check-runs/{check_run_id}",
        {"owner": "o", "repo": "r", "check_run_id": "1"},
    )
    request = spec.make_request(route, {}, {}, b"", "")
    body = json.dumps({"id": "not a number"}).encode()
    response = spec.SpecResponse(200, body, "application/json", Headers())
    assert spec.response_errors(request, response)


@pytest.mark.parametrize(
    ("method", "raw_path", "template"),
    [
        ("GET", "/repos/o/r/contents/a%2Fb.txt", "/repos/{owner}/{repo}/contents/{path}"),
        ("GET", "/repos/o/r/pulls", "/repos/{owner}/{repo}/pulls"),
        ("GET", "/repos/o/r/pulls/3", "/repos/{owner}/{repo}/pulls/{pull_number}"),
        ("DELETE", "/repos/o/r/git/refs/heads%2Ffeature", "/repos/{owner}/{repo}/git/refs/{ref}"),
        ("GET", "/app", "/app"),
    ],
)
def test_router_matches_encoded_parameters(method: str, raw_path: str, template: str) -> None:
    route = spec.Router(spec.spec_document()).match(method, raw_path)
    assert route is not None
    assert route.template == template


@pytest.mark.parametrize(
    ("method", "raw_path"),
    [
        ("GET", "/repos/o/r/contents/a/b.txt"),  # unencoded slash in {path}
        ("DELETE", "/repos/o/r/git/refs/heads/feature"),  # unencoded slash in {ref}
        ("POST", "/repos/o/r/pulls"),  # not an operation Greenlight uses
        ("GET", "/repos/o/r/issues"),
    ],
)
def test_router_rejects_what_the_templates_do_not_describe(method: str, raw_path: str) -> None:
    assert spec.Router(spec.spec_document()).match(method, raw_path) is None


def test_scripts_regenerate_the_committed_files(tmp_path: Path) -> None:
    openapi_tgz = Path("/tmp/npmtest/octokit-openapi-23.0.2.tgz")
    webhooks_tgz = Path("/tmp/npmtest/octokit-webhooks-examples-7.6.1.tgz")
    if not openapi_tgz.exists() or not webhooks_tgz.exists():
        pytest.skip("npm tarballs of @octokit/openapi and @octokit/webhooks-examples not present")
    _load_script("make_openapi_subset").main(
        [str(openapi_tgz), "--output", str(tmp_path / "s.json")]
    )
    assert (tmp_path / "s.json").read_text() == spec.SPEC_PATH.read_text()
    _load_script("make_webhook_fixtures").main(
        [str(webhooks_tgz), "--output", str(tmp_path / "wh")]
    )
    committed = spec.SPEC_PATH.parent.parent / "webhooks"
    for path in committed.glob("*.json"):
        assert (tmp_path / "wh" / path.name).read_text() == path.read_text(), path.name
