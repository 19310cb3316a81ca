"""Copy GitHub's published example webhook payloads for the events Greenlight handles.

Source: the ``@octokit/webhooks-examples`` npm package (``api.github.com/index.json``:
real payloads captured from github.com). Regenerate (the output is committed, so tests
never need npm)::

    npm pack @octokit/webhooks-examples   # writes octokit-webhooks-examples-<v>.tgz
    .venv/bin/python scripts/make_webhook_fixtures.py octokit-webhooks-examples-<v>.tgz

The argument may also be the unpacked package directory or ``index.json`` itself. Files go
to ``tests/fixtures/webhooks/<event>[.<action>].json`` (``--output`` to change it).

Choice and trimming:

- For each event/action the first published example that carries an ``installation``
  key is taken (GitHub App deliveries have it, repository webhooks do not), else the
  first example with that action; for ``push``, only pushes of commits to a branch are
  considered (the first App example deletes a tag). The index of the example used is
  listed in ``tests/fixtures/webhooks/SOURCES.json``.
- Nothing is dropped: every payload is written exactly as published (the largest,
  ``pull_request.opened.json`` at ~25 KB, doubles as the benchmark payload).
- One adaptation, because no published ``issue_comment`` example is on a pull request:
  ``issue_comment.*`` get the ``issue.pull_request`` object GitHub adds to issues that
  are pull requests (``url``, ``html_url``, ``diff_url``, ``patch_url``, ``merged_at``),
  built from the example's own issue URLs. SOURCES.json records it.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

INDEX_MEMBER = "package/api.github.com/index.json"
DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "tests/fixtures/webhooks"

# (event, action); action None for events without one.
WANTED: tuple[tuple[str, str | None], ...] = (
    ("pull_request", "opened"),
    ("pull_request", "synchronize"),
    ("pull_request", "closed"),
    ("pull_request", "labeled"),
    ("pull_request", "unlabeled"),
    ("pull_request", "reopened"),
    ("pull_request", "ready_for_review"),
    ("push", None),
    ("issue_comment", "created"),
    ("issue_comment", "edited"),
    ("pull_request_review", "submitted"),
    ("pull_request_review", "dismissed"),
    ("check_run", "created"),
    ("check_run", "completed"),
    ("check_run", "rerequested"),
    ("check_run", "requested_action"),
    ("check_suite", "completed"),
    ("check_suite", "rerequested"),
    ("status", None),
    ("installation", "created"),
    ("installation", "deleted"),
    ("installation", "suspend"),
    ("installation_repositories", "added"),
    ("installation_repositories", "removed"),
    ("merge_group", "checks_requested"),
    ("ping", None),
)

Json = Any

# Where the first App delivery is an unusual case, prefer a typical one.
PREFERRED: dict[str, Callable[[Json], bool]] = {
    # The first push example with an installation deletes a tag; take a branch push.
    "push": lambda ex: ex["ref"].startswith("refs/heads/") and bool(ex["commits"]),
}


def load_index(source: Path) -> tuple[list[Json], str]:
    """Read index.json (and the package version, when known) from the source."""
    if source.is_dir():
        source = source / "api.github.com" / "index.json"
    if source.name.endswith((".tgz", ".tar.gz")):
        with tarfile.open(source) as archive:
            index = archive.extractfile(INDEX_MEMBER)
            package = archive.extractfile("package/package.json")
            if index is None or package is None:
                raise SystemExit(f"{INDEX_MEMBER} not found in {source}")
            version = json.load(io.TextIOWrapper(package, encoding="utf-8"))["version"]
            return json.load(io.TextIOWrapper(index, encoding="utf-8")), version
    package_json = source.parent.parent / "package.json"
    version = json.loads(package_json.read_text())["version"] if package_json.exists() else "?"
    return json.loads(source.read_text(encoding="utf-8")), version


def choose(event: str, examples: list[Json], action: str | None) -> int:
    """Index of the first example with the action, preferring App deliveries."""
    matching = [i for i, ex in enumerate(examples) if ex.get("action") == action]
    if not matching:
        raise SystemExit(f"no published example with action {action!r}")
    preferred = [i for i in matching if PREFERRED.get(event, lambda ex: True)(examples[i])]
    candidates = preferred or matching
    with_installation = [i for i in candidates if "installation" in examples[i]]
    return (with_installation or candidates)[0]


def mark_as_pull_request(payload: Json) -> None:
    """Add ``issue.pull_request`` the way GitHub does for comments on a pull request."""
    issue = payload["issue"]
    html = issue["html_url"].replace("/issues/", "/pull/")
    issue["pull_request"] = {
        "url": issue["url"].replace("/issues/", "/pulls/"),
        "html_url": html,
        "diff_url": html + ".diff",
        "patch_url": html + ".patch",
        "merged_at": None,
    }


def file_name(event: str, action: str | None) -> str:
    """``pull_request.opened.json`` or ``push.json``."""
    return f"{event}.{action}.json" if action else f"{event}.json"


def main(argv: list[str] | None = None) -> int:
    """Write one file per wanted event/action plus SOURCES.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="@octokit/webhooks-examples tarball/dir/json")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    published, version = load_index(args.source)
    events = {entry["name"]: entry["examples"] for entry in published}
    args.output.mkdir(parents=True, exist_ok=True)
    sources: dict[str, Json] = {}
    for event, action in WANTED:
        index = choose(event, events[event], action)
        payload = events[event][index]
        record: dict[str, Json] = {"event": event, "example_index": index}
        if event == "issue_comment" and "pull_request" not in payload["issue"]:
            mark_as_pull_request(payload)
            record["adapted"] = "added issue.pull_request (no published example is on a PR)"
        name = file_name(event, action)
        (args.output / name).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        sources[name] = record
    (args.output / "SOURCES.json").write_text(
        json.dumps({"package": f"@octokit/webhooks-examples@{version}", "files": sources}, indent=2)
        + "\n",
        encoding="utf-8",
    )
    print(f"{args.output}: {len(WANTED)} payloads", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
