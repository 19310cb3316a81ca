"""Cut GitHub's OpenAPI description down to the operations Greenlight calls.

The fake GitHub in ``tests/fakes`` validates every request (and, in its own tests, every
response) against this subset. Loading GitHub's whole 13 MB description takes ~12 s;
the subset loads in a fraction of a second.

Regenerate (the output is committed, so tests never need npm)::

    npm pack @octokit/openapi            # writes octokit-openapi-<version>.tgz
    .venv/bin/python scripts/make_openapi_subset.py octokit-openapi-<version>.tgz

The argument may also be the unpacked package directory or the
``generated/api.github.com.json`` file itself. The output goes to
``tests/fixtures/openapi/github-subset.json`` (``--output`` to change it).

Changes made to GitHub's text, each because the published description and real GitHub
disagree or because the tests need it (see /work/shared/GITHUB-FACTS.md):

1. ``nullable: true`` schemas whose ``enum`` lacks ``null`` get ``null`` added: GitHub
   sends ``null`` there (check run ``conclusion`` among them).
2. The ``discriminator`` of the ``GET contents`` response is dropped: it rejects every
   real directory listing (the directory schema is an array).
3. Request-body object schemas get ``additionalProperties: false`` (``$ref``s inside
   request bodies are inlined first so response schemas stay untouched): GitHub's
   schemas never forbid unknown fields, so a typo such as ``conclution`` would pass.
4. Raw and diff media types, documented only in prose, are added to the responses that
   Greenlight may ask for them: ``application/vnd.github.raw`` on ``GET contents`` and
   ``application/vnd.github.diff`` on ``GET pulls/{pull_number}``.
5. Media-type ``examples`` are dropped (not used for validation; they would triple the
   size of the file).
6. ``nullable: true`` beside ``allOf``/``anyOf``/``oneOf`` has no effect under OpenAPI
   3.0.3 (``nullable`` only qualifies a ``type`` in the same object), so validators
   reject the ``null`` GitHub sends there (a commit's ``author``, a deleted fork's
   ``head.repo``…): such schemas become ``anyOf: [<the composition>, <null>]``.
7. An inlined installation ``account`` that must be a user *and* an enterprise
   (``allOf: [Simple User, Enterprise]``, in ``GET /app/installations``) becomes
   ``anyOf``, as the ``installation`` component says: no real account is both.
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SPEC_MEMBER = "package/generated/api.github.com.json"
DEFAULT_OUTPUT = (
    Path(__file__).resolve().parent.parent / "tests/fixtures/openapi/github-subset.json"
)

OPERATIONS: tuple[tuple[str, str], ...] = (
    ("post", "/app/installations/{installation_id}/access_tokens"),
    ("get", "/app"),
    ("get", "/app/installations"),
    ("post", "/app-manifests/{code}/conversions"),
    ("get", "/app/installations/{installation_id}"),
    ("get", "/app/hook/deliveries"),
    ("get", "/app/hook/deliveries/{delivery_id}"),
    ("post", "/app/hook/deliveries/{delivery_id}/attempts"),
    ("get", "/repos/{owner}/{repo}"),
    ("get", "/repos/{owner}/{repo}/contents/{path}"),
    ("get", "/repos/{owner}/{repo}/pulls/{pull_number}"),
    ("get", "/repos/{owner}/{repo}/pulls"),
    ("get", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews"),
    ("get", "/repos/{owner}/{repo}/pulls/{pull_number}/files"),
    ("put", "/repos/{owner}/{repo}/pulls/{pull_number}/merge"),
    ("put", "/repos/{owner}/{repo}/pulls/{pull_number}/update-branch"),
    ("get", "/repos/{owner}/{repo}/commits/{commit_sha}/pulls"),
    ("post", "/repos/{owner}/{repo}/check-runs"),
    ("patch", "/repos/{owner}/{repo}/check-runs/{check_run_id}"),
    ("get", "/repos/{owner}/{repo}/check-runs/{check_run_id}"),
    ("get", "/repos/{owner}/{repo}/commits/{ref}/check-runs"),
    ("get", "/repos/{owner}/{repo}/commits/{ref}/check-suites"),
    ("get", "/repos/{owner}/{repo}/commits/{ref}/status"),
    ("post", "/repos/{owner}/{repo}/statuses/{sha}"),
    ("post", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),
    ("patch", "/repos/{owner}/{repo}/issues/comments/{comment_id}"),
    ("get", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),
    ("post", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions"),
    ("get", "/repos/{owner}/{repo}/collaborators/{username}/permission"),
    ("get", "/repos/{owner}/{repo}/branches/{branch}/protection/required_status_checks"),
    ("get", "/repos/{owner}/{repo}/rules/branches/{branch}"),
    ("delete", "/repos/{owner}/{repo}/git/refs/{ref}"),
    ("post", "/repos/{owner}/{repo}/deployments"),
    ("get", "/repos/{owner}/{repo}/deployments"),
    ("post", "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses"),
    ("get", "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses"),
    ("get", "/repos/{owner}/{repo}/compare/{basehead}"),
    ("get", "/repos/{owner}/{repo}/git/ref/{ref}"),
    ("get", "/user"),  # who signed in with GitHub on the web pages
)

EXTRA_MEDIA_TYPES: tuple[tuple[str, str, str], ...] = (
    ("get", "/repos/{owner}/{repo}/contents/{path}", "application/vnd.github.raw"),
    ("get", "/repos/{owner}/{repo}/pulls/{pull_number}", "application/vnd.github.diff"),
)

Json = Any


def load_spec(source: Path) -> dict[str, Json]:
    """Read api.github.com.json from a tarball, an unpacked package or the file itself."""
    if source.is_dir():
        source = source / "generated" / "api.github.com.json"
    if source.name.endswith((".tgz", ".tar.gz")):
        with tarfile.open(source) as archive:
            member = archive.extractfile(SPEC_MEMBER)
            if member is None:
                raise SystemExit(f"{SPEC_MEMBER} not found in {source}")
            return json.load(io.TextIOWrapper(member, encoding="utf-8"))  # type: ignore[no-any-return]
    return json.loads(source.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def resolve(spec: dict[str, Json], ref: str) -> Json:
    """Return the node a local ``#/a/b`` reference points to."""
    node: Json = spec
    for part in ref.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def iter_refs(node: Json) -> Iterator[str]:
    """Yield every ``$ref`` string inside a JSON node."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from iter_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from iter_refs(item)


def drop_examples(node: Json) -> None:
    """Remove ``examples``/``example`` from media-type objects (they are documentation)."""
    if isinstance(node, dict):
        if "schema" in node:
            node.pop("examples", None)
            node.pop("example", None)
        for value in node.values():
            drop_examples(value)
    elif isinstance(node, list):
        for item in node:
            drop_examples(item)


def inline_refs(spec: dict[str, Json], node: Json) -> Json:
    """Return a copy of ``node`` with every ``$ref`` replaced by its target."""
    if isinstance(node, dict):
        if "$ref" in node:
            return inline_refs(spec, copy.deepcopy(resolve(spec, node["$ref"])))
        return {key: inline_refs(spec, value) for key, value in node.items()}
    if isinstance(node, list):
        return [inline_refs(spec, item) for item in node]
    return node


def forbid_unknown_properties(schema: Json) -> None:
    """Add ``additionalProperties: false`` along the properties/items tree of a body."""
    if not isinstance(schema, dict):
        return
    if "properties" in schema and "additionalProperties" not in schema:
        schema["additionalProperties"] = False
    for child in schema.get("properties", {}).values():
        forbid_unknown_properties(child)
    forbid_unknown_properties(schema.get("items"))


def add_null_to_nullable_enums(node: Json) -> int:
    """Add ``None`` to the enum of nullable schemas; return how many were fixed."""
    fixed = 0
    if isinstance(node, dict):
        enum = node.get("enum")
        if node.get("nullable") is True and isinstance(enum, list) and None not in enum:
            enum.append(None)
            fixed += 1
        for value in node.values():
            fixed += add_null_to_nullable_enums(value)
    elif isinstance(node, list):
        for item in node:
            fixed += add_null_to_nullable_enums(item)
    return fixed


NULL_SCHEMA: Json = {"type": "object", "nullable": True, "enum": [None]}


def allow_null_in_compositions(node: Json) -> int:
    """Make nullable compositions accept ``null``; return how many were fixed."""
    fixed = 0
    if isinstance(node, dict):
        key = next((k for k in ("allOf", "anyOf", "oneOf") if k in node), None)
        if key is not None and node.get("nullable") is True:
            composition = {key: node.pop(key)}
            node["anyOf"] = [composition, copy.deepcopy(NULL_SCHEMA)]
            fixed += 1
        for value in node.values():
            fixed += allow_null_in_compositions(value)
    elif isinstance(node, list):
        for item in node:
            fixed += allow_null_in_compositions(item)
    return fixed


def fix_user_or_enterprise(node: Json) -> int:
    """Turn ``allOf: [Simple User, Enterprise]`` into ``anyOf``; return how many."""
    fixed = 0
    if isinstance(node, dict):
        parts = node.get("allOf")
        if isinstance(parts, list) and [p.get("title") for p in parts] == [
            "Simple User",
            "Enterprise",
        ]:
            node["anyOf"] = node.pop("allOf")
            fixed += 1
        for value in node.values():
            fixed += fix_user_or_enterprise(value)
    elif isinstance(node, list):
        for item in node:
            fixed += fix_user_or_enterprise(item)
    return fixed


def pick_operations(spec: dict[str, Json]) -> dict[str, Json]:
    """Copy the chosen operations (with path-level parameters) into a new ``paths``."""
    paths: dict[str, Json] = {}
    for method, template in OPERATIONS:
        source = spec["paths"][template]
        target = paths.setdefault(template, {})
        if "parameters" in source:
            target["parameters"] = copy.deepcopy(source["parameters"])
        target[method] = copy.deepcopy(source[method])
    return paths


def apply_request_fixes(spec: dict[str, Json], paths: dict[str, Json]) -> None:
    """Inline request bodies and forbid unknown properties in them."""
    for item in paths.values():
        for operation in item.values():
            if not isinstance(operation, dict) or "requestBody" not in operation:
                continue
            body = inline_refs(spec, operation["requestBody"])
            for media in body["content"].values():
                forbid_unknown_properties(media["schema"])
            operation["requestBody"] = body


def apply_response_fixes(paths: dict[str, Json]) -> None:
    """Drop the contents discriminator and add the prose-only media types."""
    contents = paths["/repos/{owner}/{repo}/contents/{path}"]["get"]["responses"]["200"]
    contents["content"]["application/json"]["schema"].pop("discriminator", None)
    for method, template, media_type in EXTRA_MEDIA_TYPES:
        content = paths[template][method]["responses"]["200"]["content"]
        content[media_type] = {"schema": {"type": "string"}}


def collect_components(spec: dict[str, Json], paths: dict[str, Json]) -> dict[str, Json]:
    """Copy every component reachable from ``paths`` by following ``$ref``s."""
    components: dict[str, dict[str, Json]] = {}
    pending = list(iter_refs(paths))
    seen: set[str] = set()
    while pending:
        ref = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        _, _, kind, name = ref.split("/", 3)
        node = copy.deepcopy(resolve(spec, ref))
        drop_examples(node)
        components.setdefault(kind, {})[name] = node
        pending.extend(iter_refs(node))
    return {kind: dict(sorted(items.items())) for kind, items in sorted(components.items())}


def make_subset(spec: dict[str, Json]) -> tuple[dict[str, Json], int]:
    """Return the subset document and the number of nullable enums fixed."""
    paths = pick_operations(spec)
    drop_examples(paths)
    apply_request_fixes(spec, paths)
    apply_response_fixes(paths)
    fix_user_or_enterprise(paths)
    subset: dict[str, Json] = {
        "openapi": spec["openapi"],
        "info": {
            **spec["info"],
            "x-greenlight-subset": "generated from @octokit/openapi "
            "(generated/api.github.com.json) by scripts/make_openapi_subset.py; do not edit",
        },
        "servers": spec["servers"],
        "paths": paths,
        "components": collect_components(spec, paths),
    }
    fixed = add_null_to_nullable_enums(subset)
    allow_null_in_compositions(subset)
    return subset, fixed


def main(argv: list[str] | None = None) -> int:
    """Write the subset file; print a one-line summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="@octokit/openapi tarball, dir or JSON file")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    subset, fixed = make_subset(load_spec(args.source))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(subset, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    schemas = len(subset["components"].get("schemas", {}))
    print(
        f"{args.output}: {len(OPERATIONS)} operations, {schemas} schemas, "
        f"{fixed} nullable enums fixed, {args.output.stat().st_size} bytes",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
