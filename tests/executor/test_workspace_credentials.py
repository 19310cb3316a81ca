"""The token a checkout fetches with is left nowhere: not in a file of the workspace or the
cache (`.git/config` included), not in the arguments of any git process."""

from __future__ import annotations

import base64
import json
import os
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from bot.executor.workspace import GitCache
from tests.fakes.auth import issue_token
from tests.fakes.github import FakeGitHub

REPO = "octo/hello"


def trace_every_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Put a `git` first on PATH that runs the real one with trace2 events on: every git
    process, the ones git starts itself included, writes its arguments to the file."""
    real = shutil.which("git")
    assert real is not None
    events = tmp_path / "trace2.json"
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "git").write_text(f'#!/bin/sh\nGIT_TRACE2_EVENT="{events}" exec "{real}" "$@"\n')
    (shim / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim}{os.pathsep}{os.environ['PATH']}")
    return events


def argument_lists(events: Path) -> list[list[str]]:
    """The argv of every git process and child process the trace recorded."""
    found = []
    for line in events.read_text().splitlines():
        event = json.loads(line)
        if "argv" in event:
            found.append(event["argv"])
    return found


def files_holding(root: Path, secrets: list[str]) -> list[Path]:
    return [
        path
        for path in root.rglob("*")
        if path.is_file() and any(secret.encode() in path.read_bytes() for secret in secrets)
    ]


async def test_a_checkout_over_https_leaves_the_token_nowhere(
    fake_github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = fake_github.create_repo(REPO, {"README": "private\n"}, private=True)
    installation = fake_github.world.installation_for(REPO, fake_github.app_id)
    assert installation is not None
    token = issue_token(
        fake_github.world,
        installation,
        fake_github.now(),
        timedelta(hours=1),
        [REPO],
        {"contents": "read"},
    ).token
    sha = repo.git.branch_sha("main")
    assert sha is not None
    events = trace_every_git(tmp_path, monkeypatch)
    cache = GitCache(tmp_path / "cache")

    url = f"{fake_github.base_url}/{REPO}.git"
    await cache.checkout(url, sha, tmp_path / "ws", token=token)
    assert await cache.commit_message(url, sha, token=token) == "Initial commit"

    assert (tmp_path / "ws" / "README").read_text() == "private\n"
    assert [request.token for request in fake_github.git_requests] != []
    assert all(request.token is not None for request in fake_github.git_requests)
    secrets = [token, base64.b64encode(f"x-access-token:{token}".encode()).decode()]
    assert (tmp_path / "ws" / ".git" / "config").is_file()
    assert files_holding(tmp_path / "ws", secrets) == []
    assert files_holding(tmp_path / "cache", secrets) == []
    argvs = argument_lists(events)
    assert any("remote-http" in " ".join(argv) for argv in argvs)  # the HTTP helper ran
    assert [argv for argv in argvs if any(s in " ".join(argv) for s in secrets)] == []
