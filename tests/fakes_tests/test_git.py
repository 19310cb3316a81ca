"""Contents, compare, PR files and merges come from real git repositories."""

from __future__ import annotations

import asyncio
import base64
import subprocess
from pathlib import Path

import gidgethub
import pytest
from gidgethub.aiohttp import GitHubAPI

from tests.fakes.github import FakeGitHub
from tests.fakes.plugin import WebhookReceiver

R = {"owner": "octo", "repo": "hello"}
CONTENTS = "/repos/{owner}/{repo}/contents/{path}{?ref}"
MERGE = "/repos/{owner}/{repo}/pulls/{pull_number}/merge"


def _git(repo_path: str, *args: str) -> str:
    return subprocess.run(
        ["git", f"--git-dir={repo_path}", *args], capture_output=True, text=True, check=True
    ).stdout.strip()


async def test_contents_are_read_at_the_ref(
    fake_github: FakeGitHub, gh: GitHubAPI, repo: str, token: str
) -> None:
    old = fake_github.repo(repo).git.branch_sha("main")
    fake_github.commit(repo, "main", {"docs/guide.md": "v2\n", "README.md": "# changed\n"})
    at_old = await gh.getitem(CONTENTS, {**R, "path": "README.md", "ref": old}, oauth_token=token)
    assert base64.b64decode(at_old["content"]) == b"# hello\n"
    assert (at_old["type"], at_old["encoding"]) == ("file", "base64")
    nested = await gh.getitem(CONTENTS, {**R, "path": "docs/guide.md"}, oauth_token=token)
    assert base64.b64decode(nested["content"]) == b"v2\n"
    listing = await gh.getitem(CONTENTS, {**R, "path": "docs", "ref": "main"}, oauth_token=token)
    assert [(e["name"], e["type"]) for e in listing] == [("guide.md", "file")]
    with pytest.raises(gidgethub.BadRequest) as raised:
        await gh.getitem(CONTENTS, {**R, "path": "docs/guide.md", "ref": old}, oauth_token=token)
    assert raised.value.status_code == 404


async def test_raw_media_type_returns_the_bytes(
    fake_github: FakeGitHub, gh: GitHubAPI, repo: str, token: str
) -> None:
    raw = await gh.getitem(
        CONTENTS,
        {**R, "path": ".github/greenlight.yml"},
        accept="application/vnd.github.raw",
        oauth_token=token,
    )
    assert raw == "jobs:\n  test:\n    run: pytest\n"


async def test_clone_url_is_a_real_repository(
    fake_github: FakeGitHub, gh: GitHubAPI, token: str, repo: str, tmp_path: Path
) -> None:
    data = await gh.getitem("/repos/{owner}/{repo}", R, oauth_token=token)
    clone = await asyncio.create_subprocess_exec(
        "git", "clone", "--quiet", data["clone_url"], str(tmp_path / "wc")
    )
    assert await clone.wait() == 0
    assert (tmp_path / "wc" / "README.md").read_text() == "# hello\n"


async def test_pull_files_and_compare_use_git(
    fake_github: FakeGitHub, gh: GitHubAPI, repo: str, token: str
) -> None:
    fake_github.commit(repo, "feature", {"src/app.py": "print(1)\n", "README.md": None})
    fake_github.commit(repo, "main", {"unrelated.txt": "x\n"})
    pr = fake_github.open_pull_request(repo, "feature")
    files = [
        f
        async for f in gh.getiter(
            "/repos/{owner}/{repo}/pulls/{pull_number}/files",
            {**R, "pull_number": pr.number},
            oauth_token=token,
        )
    ]
    assert {(f["filename"], f["status"]) for f in files} == {
        ("src/app.py", "added"),
        ("README.md", "removed"),
    }
    comparison = await gh.getitem(
        "/repos/{owner}/{repo}/compare/{basehead}",
        {**R, "basehead": "main...feature"},
        oauth_token=token,
    )
    assert (comparison["status"], comparison["ahead_by"], comparison["behind_by"]) == (
        "diverged",
        1,
        1,
    )
    assert {f["filename"] for f in comparison["files"]} == {"src/app.py", "README.md"}


@pytest.mark.parametrize(("method", "parents"), [("merge", 2), ("squash", 1), ("rebase", 1)])
async def test_merge_makes_real_commits_and_emits_push_and_closed(
    fake_github: FakeGitHub,
    gh: GitHubAPI,
    repo: str,
    token: str,
    webhook_receiver: WebhookReceiver,
    method: str,
    parents: int,
) -> None:
    fake_github.commit(repo, "feature", {"a.txt": "a\n"}, message="Add a")
    head = fake_github.commit(repo, "feature", {"b.txt": "b\n"}, message="Add b")
    fake_github.commit(repo, "main", {"m.txt": "m\n"})
    pr = fake_github.open_pull_request(repo, "feature", title="Add letters")
    fake_github.configure_webhooks(webhook_receiver.url, "s3cret")
    result = await gh.put(
        MERGE,
        {**R, "pull_number": pr.number},
        data={"sha": head, "merge_method": method},
        oauth_token=token,
    )
    assert result["merged"] is True
    git_dir = fake_github.repo(repo).clone_url
    tip = _git(git_dir, "rev-parse", "main")
    assert tip == result["sha"]
    assert len(_git(git_dir, "rev-list", "--parents", "-n1", tip).split()) == 1 + parents
    assert _git(git_dir, "show", f"{tip}:b.txt") == "b"
    assert _git(git_dir, "show", f"{tip}:m.txt") == "m"
    await webhook_receiver.wait_for(2)
    assert webhook_receiver.events() == ["push", "pull_request.closed"]
    assert fake_github.pull(repo, pr.number).merged
    pulled = await gh.getitem(
        "/repos/{owner}/{repo}/pulls/{pull_number}",
        {**R, "pull_number": pr.number},
        oauth_token=token,
    )
    assert (pulled["state"], pulled["merged"], pulled["merge_commit_sha"]) == ("closed", True, tip)


async def test_merge_refuses_a_moved_head_with_409(
    fake_github: FakeGitHub, gh: GitHubAPI, repo: str, token: str
) -> None:
    first = fake_github.commit(repo, "feature", {"a.txt": "a\n"})
    pr = fake_github.open_pull_request(repo, "feature")
    fake_github.commit(repo, "feature", {"a.txt": "late push\n"})
    with pytest.raises(gidgethub.BadRequest) as raised:
        await gh.put(MERGE, {**R, "pull_number": pr.number}, data={"sha": first}, oauth_token=token)
    assert raised.value.status_code == 409
    assert fake_github.pull(repo, pr.number).state == "open"


async def test_merge_refuses_a_conflict_with_405(
    fake_github: FakeGitHub, gh: GitHubAPI, repo: str, token: str
) -> None:
    fake_github.commit(repo, "feature", {"README.md": "theirs\n"})
    fake_github.commit(repo, "main", {"README.md": "ours\n"})
    pr = fake_github.open_pull_request(repo, "feature")
    pulled = await gh.getitem(
        "/repos/{owner}/{repo}/pulls/{pull_number}",
        {**R, "pull_number": pr.number},
        oauth_token=token,
    )
    assert (pulled["mergeable"], pulled["mergeable_state"]) == (False, "dirty")
    with pytest.raises(gidgethub.BadRequest) as raised:
        await gh.put(MERGE, {**R, "pull_number": pr.number}, oauth_token=token)
    assert raised.value.status_code == 405


async def test_required_checks_block_the_merge_until_green(
    fake_github: FakeGitHub, gh: GitHubAPI, repo: str, token: str
) -> None:
    head = fake_github.commit(repo, "feature", {"a.txt": "a\n"})
    pr = fake_github.open_pull_request(repo, "feature")
    fake_github.set_required_checks(repo, "main", ["greenlight"])
    url_vars = {**R, "pull_number": pr.number}
    assert (
        await gh.getitem("/repos/{owner}/{repo}/pulls/{pull_number}", url_vars, oauth_token=token)
    )["mergeable_state"] == "blocked"
    with pytest.raises(gidgethub.BadRequest) as raised:
        await gh.put(MERGE, url_vars, data={"sha": head}, oauth_token=token)
    assert raised.value.status_code == 405
    fake_github.add_check_run(repo, head, "greenlight", app="greenlight-elsewhere")
    assert (
        await gh.getitem("/repos/{owner}/{repo}/pulls/{pull_number}", url_vars, oauth_token=token)
    )["mergeable_state"] == "clean"
    await gh.put(MERGE, url_vars, data={"sha": head}, oauth_token=token)


async def test_update_branch_merges_base_into_head(
    fake_github: FakeGitHub, gh: GitHubAPI, repo: str, token: str, webhook_receiver: WebhookReceiver
) -> None:
    old_head = fake_github.commit(repo, "feature", {"a.txt": "a\n"})
    base = fake_github.commit(repo, "main", {"m.txt": "m\n"})
    pr = fake_github.open_pull_request(repo, "feature")
    fake_github.configure_webhooks(webhook_receiver.url, "s3cret")
    url_vars = {**R, "pull_number": pr.number}
    answer = await gh.put(
        "/repos/{owner}/{repo}/pulls/{pull_number}/update-branch",
        url_vars,
        data={"expected_head_sha": old_head},
        oauth_token=token,
    )
    assert answer["message"] == "Updating pull request branch."
    new_head = fake_github.pull(repo, pr.number).head_sha
    git_dir = fake_github.repo(repo).clone_url
    assert _git(git_dir, "rev-parse", "feature") == new_head
    assert _git(git_dir, "rev-list", "--parents", "-n1", new_head).split()[1:] == [old_head, base]
    await webhook_receiver.wait_for(2)
    assert webhook_receiver.events() == ["push", "pull_request.synchronize"]
    with pytest.raises(gidgethub.BadRequest) as raised:
        await gh.put(
            "/repos/{owner}/{repo}/pulls/{pull_number}/update-branch",
            url_vars,
            data={"expected_head_sha": old_head},
            oauth_token=token,
        )
    assert raised.value.status_code == 422


async def test_deleting_a_branch_removes_it(
    fake_github: FakeGitHub, gh: GitHubAPI, repo: str, token: str
) -> None:
    fake_github.commit(repo, "feature", {"a.txt": "a\n"})
    await gh.delete(
        "/repos/{owner}/{repo}/git/refs/{ref}", {**R, "ref": "heads/feature"}, oauth_token=token
    )
    assert "feature" not in fake_github.repo(repo).git.branches()
    assert fake_github.repo(repo).deleted_branches == ["feature"]
    with pytest.raises(gidgethub.BadRequest) as raised:
        await gh.delete(
            "/repos/{owner}/{repo}/git/refs/{ref}", {**R, "ref": "heads/feature"}, oauth_token=token
        )
    assert raised.value.status_code == 422
    fake_github.take_violations()


async def test_fork_pull_request_has_a_different_head_repo_and_merges(
    fake_github: FakeGitHub, gh: GitHubAPI, repo: str, token: str
) -> None:
    fork = fake_github.fork(repo, "forker")
    head = fake_github.commit(fork.full_name, "patch", {"fix.txt": "fix\n"}, author="forker")
    pr = fake_github.open_pull_request(repo, "patch", head_repo=fork.full_name, user="forker")
    url_vars = {**R, "pull_number": pr.number}
    pulled = await gh.getitem(
        "/repos/{owner}/{repo}/pulls/{pull_number}", url_vars, oauth_token=token
    )
    assert pulled["head"]["repo"]["full_name"] == "forker/hello"
    assert pulled["base"]["repo"]["full_name"] == "octo/hello"
    run = await gh.post(
        "/repos/{owner}/{repo}/check-runs",
        R,
        data={"name": "ci", "head_sha": head},
        oauth_token=token,
    )
    assert run["pull_requests"] == []  # GitHub lists no PRs for a fork's commits
    await gh.put(MERGE, url_vars, data={"sha": head}, oauth_token=token)
    assert fake_github.read_file(repo, "main", "fix.txt") == b"fix\n"
