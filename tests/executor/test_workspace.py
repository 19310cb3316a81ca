from __future__ import annotations

import asyncio
import base64
import os
import shutil
import stat
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from bot.executor.process import run_steps
from bot.executor.workspace import GitCache, GitError, git_environment, remove_workspace

GIT_ENV = {
    "PATH": os.environ["PATH"],
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}
ZERO_SHA = "0" * 40
TOKEN = "ghs_TopSecretInstallationToken123"


def git(cwd: Path, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env=GIT_ENV,
        input=stdin,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


class Origin:
    """A real repository standing in for the one on GitHub."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir()
        git(path, "init", "--quiet", "--initial-branch=main")

    @property
    def url(self) -> str:
        return str(self.path)

    def commit(self, files: dict[str, str | None], message: str = "change") -> str:
        for name, text in files.items():
            if text is None:
                (self.path / name).unlink()
            else:
                (self.path / name).parent.mkdir(parents=True, exist_ok=True)
                (self.path / name).write_text(text)
        git(self.path, "add", "--all")
        git(self.path, "commit", "--quiet", "--allow-empty", "--message", message)
        return git(self.path, "rev-parse", "HEAD")


@pytest.fixture
def origin(tmp_path: Path) -> Origin:
    return Origin(tmp_path / "origin")


@pytest.fixture
def cache(tmp_path: Path) -> GitCache:
    return GitCache(tmp_path / "cache")


def config_texts(root: Path) -> str:
    return "".join(path.read_text() for path in root.rglob("config") if path.is_file())


async def test_checkout_is_at_the_exact_sha_detached(
    origin: Origin, cache: GitCache, tmp_path: Path
) -> None:
    first = origin.commit({"README": "one"})
    origin.commit({"README": "two"})
    await cache.checkout(origin.url, first, tmp_path / "ws")
    assert (tmp_path / "ws" / "README").read_text() == "one"
    assert git(tmp_path / "ws", "rev-parse", "HEAD") == first
    assert git(tmp_path / "ws", "status", "--porcelain", "--branch") == "## HEAD (no branch)"
    assert git(tmp_path / "ws", "remote", "get-url", "origin") == origin.url


async def test_a_second_checkout_does_not_fetch(
    origin: Origin, cache: GitCache, tmp_path: Path
) -> None:
    first = origin.commit({"README": "one"})
    second = origin.commit({"README": "two"})
    await cache.checkout(origin.url, first, tmp_path / "ws1")
    await cache.checkout(origin.url, second, tmp_path / "ws2")
    await cache.checkout(origin.url, first, tmp_path / "ws3")
    assert (cache.command_counts["init"], cache.command_counts["fetch"]) == (1, 1)
    assert (tmp_path / "ws2" / "README").read_text() == "two"


async def test_a_commit_pushed_later_is_fetched(
    origin: Origin, cache: GitCache, tmp_path: Path
) -> None:
    await cache.checkout(origin.url, origin.commit({"README": "one"}), tmp_path / "ws1")
    later = origin.commit({"README": "two", "NEW": "new"})
    await cache.checkout(origin.url, later, tmp_path / "ws2")
    assert (tmp_path / "ws2" / "NEW").read_text() == "new"
    assert cache.command_counts["fetch"] == 2


async def test_a_commit_on_no_branch_is_fetched_by_sha(
    origin: Origin, cache: GitCache, tmp_path: Path
) -> None:
    # Like the head of a pull request from a fork: only refs/pull/N/head points at it.
    origin.commit({"README": "main"})
    git(origin.path, "checkout", "--quiet", "--detach")
    fork_head = origin.commit({"README": "fork"})
    git(origin.path, "update-ref", "refs/pull/1/head", fork_head)
    git(origin.path, "checkout", "--quiet", "main")
    await cache.checkout(origin.url, fork_head, tmp_path / "ws")
    assert (tmp_path / "ws" / "README").read_text() == "fork"
    assert cache.command_counts["fetch"] == 2  # the branches, then the SHA


async def test_concurrent_checkouts_of_one_repository_fetch_once(
    origin: Origin, cache: GitCache, tmp_path: Path
) -> None:
    first = origin.commit({"README": "one"})
    second = origin.commit({"README": "two"})
    shas = [first, second, first, second, first]
    await asyncio.gather(
        *(cache.checkout(origin.url, sha, tmp_path / f"ws{i}") for i, sha in enumerate(shas))
    )
    for index, sha in enumerate(shas):
        assert git(tmp_path / f"ws{index}", "rev-parse", "HEAD") == sha
    assert (cache.command_counts["init"], cache.command_counts["fetch"]) == (1, 1)


async def test_a_workspace_does_not_depend_on_the_cache(
    origin: Origin, cache: GitCache, tmp_path: Path
) -> None:
    first = origin.commit({"README": "one"})
    await cache.checkout(origin.url, first, tmp_path / "ws")
    await cache.checkout(origin.url, origin.commit({"README": "two"}), tmp_path / "other")
    shutil.rmtree(tmp_path / "cache")
    git(tmp_path / "ws", "fsck", "--no-dangling")
    assert git(tmp_path / "ws", "show", f"{first}:README") == "one"


async def test_a_workspace_has_the_branches_and_tags_of_a_clone(
    origin: Origin, cache: GitCache, tmp_path: Path
) -> None:
    first = origin.commit({"README": "one"})
    git(origin.path, "tag", "--annotate", "v1.0", "--message", "release")
    git(origin.path, "branch", "feature/x")
    second = origin.commit({"README": "two"})
    await cache.checkout(origin.url, second, tmp_path / "ws")
    ws = tmp_path / "ws"
    assert git(ws, "rev-parse", "origin/main", "origin/feature/x") == f"{second}\n{first}"
    assert git(ws, "describe", "--tags") == f"v1.0-1-g{second[:7]}"  # what setuptools-scm asks
    assert git(ws, "for-each-ref", "--format=%(refname)").splitlines() == [
        "refs/remotes/origin/feature/x",
        "refs/remotes/origin/main",
        "refs/tags/v1.0",
    ]
    # It is a working repository: the origin's new commits arrive with a plain fetch.
    third = origin.commit({"README": "three"})
    git(ws, "fetch", "--quiet", "origin")
    assert git(ws, "rev-parse", "origin/main") == third
    git(ws, "fsck", "--no-dangling")


async def test_loose_objects_in_the_cache_reach_the_workspace(
    origin: Origin, cache: GitCache, tmp_path: Path
) -> None:
    first = origin.commit({"README": "one"})
    await cache.checkout(origin.url, first, tmp_path / "ws1")
    bare = next((tmp_path / "cache" / "repos").glob("*.git"))
    # A commit only the cache holds, as loose objects (fetches keep whole packs).
    blob = git(bare, "hash-object", "-w", "--stdin", stdin="loose\n")
    tree = git(bare, "mktree", stdin=f"100644 blob {blob}\tREADME\n")
    loose = git(bare, "commit-tree", tree, "-p", first, "-m", "loose")
    assert list((bare / "objects" / loose[:2]).iterdir())
    await cache.checkout(origin.url, loose, tmp_path / "ws2")
    assert (tmp_path / "ws2" / "README").read_text() == "loose\n"
    assert cache.command_counts["fetch"] == 1
    git(tmp_path / "ws2", "fsck", "--no-dangling")


async def test_an_odd_clone_url_is_kept_as_origin(cache: GitCache, tmp_path: Path) -> None:
    odd = Origin(tmp_path / 'we "ird" \\ #dir; x')
    sha = odd.commit({"README": "odd"})
    await cache.checkout(odd.url, sha, tmp_path / "ws")
    assert git(tmp_path / "ws", "remote", "get-url", "origin") == odd.url
    with pytest.raises(GitError, match="not a clone URL"):
        await cache.checkout(odd.url + "\n[core]", sha, tmp_path / "ws2")


async def test_a_workspace_is_never_made_over_existing_files(
    origin: Origin, cache: GitCache, tmp_path: Path
) -> None:
    sha = origin.commit({"README": "one"})
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "left-over").write_text("x")
    with pytest.raises(GitError, match="exists and is not empty"):
        await cache.checkout(origin.url, sha, tmp_path / "ws")
    assert [path.name for path in (tmp_path / "ws").iterdir()] == ["left-over"]


def zombie_children() -> list[int]:
    zombies = []
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{name}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if fields[0] == "Z" and int(fields[1]) == os.getpid():
            zombies.append(int(name))
    return zombies


async def test_a_failing_git_leaves_no_zombies(
    origin: Origin, cache: GitCache, tmp_path: Path
) -> None:
    async def ignore(text: str) -> None:
        pass

    # Running steps makes this process adopt orphans, so it must reap git's too: a fetch
    # that fails exits without waiting for its upload-pack.
    await run_steps(
        [], workdir=tmp_path, env={}, timeout_seconds=1, on_output=ignore, cancel=asyncio.Event()
    )
    origin.commit({"README": "one"})
    # Orphans of earlier tests' processes may also have come to this (subreaper) process;
    # only what this checkout leaves behind counts.
    before = set(zombie_children())
    with pytest.raises(GitError):
        await cache.checkout(origin.url, "1" * 40, tmp_path / "ws")
    assert [pid for pid in zombie_children() if pid not in before] == []


@pytest.mark.parametrize("sha", ["main", "abc123", "-u", "g" * 40])
async def test_only_full_shas_are_accepted(
    origin: Origin, cache: GitCache, tmp_path: Path, sha: str
) -> None:
    origin.commit({"README": "one"})
    with pytest.raises(GitError, match="not a full commit SHA"):
        await cache.checkout(origin.url, sha, tmp_path / "ws")


async def test_an_unknown_sha_or_repository_raises_git_error(
    origin: Origin, cache: GitCache, tmp_path: Path
) -> None:
    origin.commit({"README": "one"})
    with pytest.raises(GitError, match="git fetch failed"):
        await cache.checkout(origin.url, "1" * 40, tmp_path / "ws")
    with pytest.raises(GitError, match="does not appear to be a git repository"):
        await cache.checkout(str(tmp_path / "nowhere"), "1" * 40, tmp_path / "ws")


async def test_changed_files(origin: Origin, cache: GitCache) -> None:
    base = origin.commit({"README": "one", "docs/a.md": "a", "old.txt": "old"})
    git(origin.path, "checkout", "--quiet", "-b", "feature")
    git(origin.path, "mv", "old.txt", "new.txt")
    head = origin.commit({"src/app.py": "print()", "docs/a.md": None})
    git(origin.path, "checkout", "--quiet", "main")
    main_moved = origin.commit({"README": "changed on main only"})
    expected = ("docs/a.md", "new.txt", "old.txt", "src/app.py")  # a rename is both names
    assert await cache.changed_files(origin.url, base, head) == expected
    # From the merge base: what main did since is not the pull request's change.
    assert await cache.changed_files(origin.url, main_moved, head) == expected
    assert await cache.changed_files(origin.url, head, head) == ()


@pytest.mark.parametrize("base", [ZERO_SHA, "", "9" * 40, "not-a-sha"])
async def test_changed_files_is_none_for_an_unknown_base(
    origin: Origin, cache: GitCache, base: str
) -> None:
    head = origin.commit({"README": "one"})
    assert await cache.changed_files(origin.url, base, head) is None


async def test_changed_files_is_none_without_a_merge_base(origin: Origin, cache: GitCache) -> None:
    head = origin.commit({"README": "one"})
    git(origin.path, "checkout", "--quiet", "--orphan", "unrelated")
    unrelated = origin.commit({"OTHER": "x"})
    assert await cache.changed_files(origin.url, unrelated, head) is None


async def test_read_file(origin: Origin, cache: GitCache) -> None:
    old = origin.commit({".github/greenlight.yml": "jobs: {}\n", "bin": "\x00\x01 two words"})
    new = origin.commit({".github/greenlight.yml": "mode: delivery\n"})
    assert await cache.read_file(origin.url, old, ".github/greenlight.yml") == b"jobs: {}\n"
    assert await cache.read_file(origin.url, new, ".github/greenlight.yml") == b"mode: delivery\n"
    assert await cache.read_file(origin.url, new, "bin") == b"\x00\x01 two words"
    assert await cache.read_file(origin.url, new, "missing.yml") is None
    assert await cache.read_file(origin.url, new, ".github") is None  # a directory
    assert cache.command_counts["fetch"] == 1


async def test_commit_message(origin: Origin, cache: GitCache) -> None:
    first = origin.commit({}, message="Fix the build\n\nBody [skip ci] ünïcode")
    origin.commit({}, message="later")
    assert (
        await cache.commit_message(origin.url, first) == "Fix the build\n\nBody [skip ci] ünïcode"
    )


async def test_tree_is_the_same_for_the_same_files_only(origin: Origin, cache: GitCache) -> None:
    first = origin.commit({"a.txt": "a\n"}, message="one")
    same = origin.commit({}, message="nothing changed")  # e.g. a merge of an up-to-date branch
    other = origin.commit({"a.txt": "b\n"})
    trees = [await cache.tree(origin.url, sha) for sha in (first, same, other)]
    assert trees[0] == trees[1] != trees[2]
    assert all(len(tree) == 40 for tree in trees)
    with pytest.raises(GitError):
        await cache.tree(origin.url, "0" * 40)  # no such commit


def test_git_environment_sends_the_token_as_a_header_for_its_host_only() -> None:
    env = git_environment("https://github.com/octo/repo.git", TOKEN, inherited={"PATH": "/bin"})
    header = "Authorization: basic " + base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()

    def header_for(url: str) -> str:
        done = subprocess.run(
            ["git", "config", "--get-urlmatch", "http.extraheader", url],
            env={**env, "PATH": os.environ["PATH"]},
            capture_output=True,
            text=True,
        )
        return done.stdout.strip()

    assert header_for("https://github.com/octo/repo.git") == header
    assert header_for("https://elsewhere.example/octo/repo.git") == ""
    assert [name for name, value in env.items() if TOKEN in value] == []
    assert env["GIT_TERMINAL_PROMPT"] == "0"


@pytest.mark.parametrize("url", ["/srv/repo", "file:///srv/repo", "git@github.com:o/r.git"])
def test_git_environment_has_no_token_header_off_http(url: str) -> None:
    env = git_environment(url, TOKEN, inherited={})
    assert [value for value in env.values() if "Authorization" in value] == []


def test_git_environment_passes_on_only_what_reaches_the_server() -> None:
    inherited = {"PATH": "/bin", "https_proxy": "http://proxy:3128", "GIT_DIR": "/x", "HOME": "/h"}
    env = git_environment("https://github.com/o/r.git", None, inherited=inherited)
    assert {env.get(name) for name in ("PATH", "https_proxy", "HOME")} == {
        "/bin",
        "http://proxy:3128",
        "/h",
    }
    assert "GIT_DIR" not in env


@pytest.fixture
async def http_origin(origin: Origin, tmp_path: Path) -> AsyncIterator[tuple[str, list[str]]]:
    """The origin served over git's dumb HTTP protocol, only to requests with the token."""
    served = tmp_path / "served.git"
    git(tmp_path, "clone", "--quiet", "--bare", str(origin.path), str(served))
    git(served, "update-server-info")
    expected = "basic " + base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
    seen: list[str] = []

    async def serve(request: web.Request) -> web.StreamResponse:
        seen.append(request.headers.get("Authorization", ""))
        if request.headers.get("Authorization") != expected:
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="git"'})
        path = (served / request.match_info["path"]).resolve()
        if not path.is_relative_to(served) or not path.is_file():
            return web.Response(status=404)
        return web.Response(body=path.read_bytes())

    app = web.Application()
    app.router.add_get("/octo/repo.git/{path:.*}", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}/octo/repo.git", seen
    await runner.cleanup()


async def test_checkout_over_http_with_a_token(
    origin: Origin, cache: GitCache, tmp_path: Path, http_origin: tuple[str, list[str]]
) -> None:
    sha = origin.commit({"README": "private"})
    git(tmp_path / "served.git", "fetch", "--quiet", str(origin.path), "main:main")
    git(tmp_path / "served.git", "update-server-info")
    url, seen = http_origin
    await cache.checkout(url, sha, tmp_path / "ws", token=TOKEN)
    assert (tmp_path / "ws" / "README").read_text() == "private"
    assert seen
    assert all(seen)  # every request carried the header
    assert TOKEN not in config_texts(tmp_path / "cache") + config_texts(tmp_path / "ws" / ".git")
    encoded = base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
    assert encoded not in config_texts(tmp_path / "cache") + config_texts(tmp_path / "ws" / ".git")


async def test_a_rejected_or_missing_token_fails_without_prompting(
    origin: Origin, cache: GitCache, tmp_path: Path, http_origin: tuple[str, list[str]]
) -> None:
    sha = origin.commit({"README": "one"})
    url, _ = http_origin
    for token in (TOKEN + "-revoked", None):
        with pytest.raises(GitError, match="terminal prompts disabled"):
            await cache.checkout(url, sha, tmp_path / "ws", token=token)


async def test_the_token_is_masked_in_git_errors(cache: GitCache, tmp_path: Path) -> None:
    with pytest.raises(GitError) as failure:
        await cache.checkout(str(tmp_path / TOKEN), "1" * 40, tmp_path / "ws", token=TOKEN)
    assert TOKEN not in str(failure.value)
    assert "/***' does not appear to be a git repository" in str(failure.value)


async def test_remove_workspace_removes_read_only_trees(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    locked = workspace / "go" / "pkg" / "mod"
    locked.mkdir(parents=True)
    (locked / "file.go").write_text("package x")
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "file").write_text("not in the workspace")
    (workspace / "outside-link").symlink_to(tmp_path / "keep")
    for path in (locked / "file.go", locked, locked.parent):
        path.chmod(stat.S_IRUSR | stat.S_IXUSR)
    await remove_workspace(workspace)
    assert not workspace.exists()
    assert (tmp_path / "keep" / "file").read_text() == "not in the workspace"


async def test_remove_workspace_accepts_what_is_not_there(tmp_path: Path) -> None:
    await remove_workspace(tmp_path / "missing")
    (tmp_path / "target").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "target")
    await remove_workspace(tmp_path / "link")
    assert not (tmp_path / "link").exists()
    assert (tmp_path / "target").is_dir()
