"""A real bare git repository behind each fake GitHub repository.

Commits are written with git plumbing (a private index file, ``commit-tree``,
``update-ref``) so no working tree is needed; merges use ``merge-tree --write-tree``
and a throw-away worktree only for rebases (``cherry-pick``).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ZERO_SHA = "0" * 40


class GitError(RuntimeError):
    """A git command failed."""


class MergeConflict(GitError):
    """The two sides cannot be merged without a person."""


@dataclass(frozen=True)
class Identity:
    """Author or committer of a commit."""

    name: str
    email: str


@dataclass(frozen=True)
class File:
    """File content to commit; ``executable`` sets mode 100755."""

    content: str | bytes
    executable: bool = False


FileSpec = str | bytes | File | None  # None deletes the file


@dataclass(frozen=True)
class CommitInfo:
    """What GitHub's commit objects need from a git commit."""

    sha: str
    tree: str
    parents: tuple[str, ...]
    author: Identity
    author_date: str
    committer: Identity
    committer_date: str
    message: str


@dataclass(frozen=True)
class FileChange:
    """One entry of a diff, in GitHub's ``diff-entry`` terms."""

    filename: str
    status: str  # added | removed | modified | renamed
    sha: str
    additions: int
    deletions: int
    previous_filename: str | None
    patch: str | None


@dataclass(frozen=True)
class TreeEntry:
    """One entry of a directory listing."""

    name: str
    path: str
    kind: str  # blob | tree | commit
    sha: str
    size: int


_STATUS = {"A": "added", "D": "removed", "M": "modified", "T": "modified", "R": "renamed"}
_FORMAT = "%H%x00%T%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B"


class GitRepo:
    """Operations on one bare repository."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, path: Path, default_branch: str) -> GitRepo:
        """``git init --bare`` with the given initial branch."""
        path.mkdir(parents=True, exist_ok=True)
        repo = cls(path)
        repo.git("init", "--quiet", "--bare", f"--initial-branch={default_branch}")
        return repo

    def git(self, *args: str, stdin: bytes | None = None, env: Mapping[str, str] = {}) -> str:
        """Run git in this repository; return stdout (stripped of the final newline)."""
        return self._run(args, stdin, env).decode("utf-8", "surrogateescape").removesuffix("\n")

    def _run(self, args: tuple[str, ...], stdin: bytes | None, env: Mapping[str, str]) -> bytes:
        result = subprocess.run(
            ["git", f"--git-dir={self.path}", *args],
            input=stdin,
            capture_output=True,
            env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C", "TZ": "UTC", **env},
            check=False,
        )
        if result.returncode != 0:
            raise GitError(f"git {' '.join(args)}: {result.stderr.decode(errors='replace')}")
        return result.stdout

    # ------------------------------------------------------------------ refs and objects

    def resolve(self, ref: str) -> str | None:
        """The commit SHA ``ref`` names (branch, tag, full ref or SHA), or None."""
        try:
            return self.git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        except GitError:
            return None

    def branch_sha(self, branch: str) -> str | None:
        """The tip of ``refs/heads/<branch>``, or None."""
        return self.resolve(f"refs/heads/{branch}")

    def branches(self) -> dict[str, str]:
        """Branch name → tip SHA."""
        out = self.git("for-each-ref", "--format=%(refname:strip=2) %(objectname)", "refs/heads")
        return dict(line.split(" ", 1) for line in out.splitlines())

    def set_ref(self, ref: str, sha: str, expected_old: str | None = None) -> None:
        """Point ``ref`` at ``sha`` (atomically against ``expected_old`` when given)."""
        self.git("update-ref", ref, sha, *([expected_old] if expected_old else []))

    def delete_ref(self, ref: str) -> None:
        """Remove ``ref``."""
        self.git("update-ref", "-d", ref)

    def fetch(self, other: GitRepo, sha: str, ref: str) -> None:
        """Copy ``sha`` (and its history) from ``other`` and point ``ref`` at it."""
        if self.resolve(sha) is None:
            self.git("fetch", "--quiet", "--no-tags", str(other.path), sha)
        self.set_ref(ref, sha)

    def commit_info(self, sha: str) -> CommitInfo:
        """Author, committer, parents and message of a commit."""
        fields = self.git("show", "-s", f"--format={_FORMAT}", sha).split("\x00")
        return CommitInfo(
            sha=fields[0],
            tree=fields[1],
            parents=tuple(fields[2].split()),
            author=Identity(fields[3], fields[4]),
            author_date=fields[5],
            committer=Identity(fields[6], fields[7]),
            committer_date=fields[8],
            message=fields[9].rstrip("\n"),
        )

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        """True when ``ancestor`` is reachable from ``descendant``."""
        try:
            self.git("merge-base", "--is-ancestor", ancestor, descendant)
        except GitError:
            return False
        return True

    def merge_base(self, one: str, other: str) -> str | None:
        """The best common ancestor, or None for unrelated histories."""
        try:
            return self.git("merge-base", one, other)
        except GitError:
            return None

    def commits_between(self, base: str, head: str) -> list[str]:
        """SHAs reachable from ``head`` but not ``base``, oldest first."""
        out = self.git("rev-list", "--reverse", "--topo-order", f"{base}..{head}")
        return out.split()

    # ------------------------------------------------------------------ reading files

    def read_file(self, ref: str, path: str) -> bytes | None:
        """The bytes of ``path`` at ``ref``, or None when it is not a file there."""
        if self.object_type(ref, path) != "blob":
            return None
        return self._run(("cat-file", "blob", f"{ref}:{path}"), None, {})

    def object_at(self, ref: str, path: str) -> tuple[str, str, bytes] | None:
        """(type, object id, content) at ``ref:path`` in one git process, or None; the
        content is a blob's bytes (empty for a tree or a submodule)."""
        out = self._run(("cat-file", "--batch"), f"{ref}:{path}\n".encode(), {})
        header, _, rest = out.partition(b"\n")
        fields = header.decode("utf-8", "surrogateescape").split(" ")
        if len(fields) != 3 or fields[1] == "missing":
            return None
        sha, kind, size = fields
        return kind, sha, rest[: int(size)] if kind == "blob" else b""

    def object_type(self, ref: str, path: str) -> str | None:
        """``blob``, ``tree`` or ``commit`` (submodule) at ``ref:path``, or None."""
        try:
            return self.git("cat-file", "-t", f"{ref}:{path}")
        except GitError:
            return None

    def object_sha(self, ref: str, path: str) -> str:
        """The object id at ``ref:path``."""
        return self.git("rev-parse", f"{ref}:{path}")

    def list_dir(self, ref: str, path: str) -> list[TreeEntry]:
        """Entries of the directory ``path`` at ``ref`` (empty path: the root)."""
        prefix = f"{path.strip('/')}/" if path.strip("/") else ""
        out = self.git("ls-tree", "-l", "-z", ref, "--", prefix or ".")
        entries = []
        for record in filter(None, out.split("\x00")):
            meta, name = record.split("\t", 1)
            _, kind, sha, size = meta.split()
            base = name.removeprefix(prefix)
            entries.append(TreeEntry(base, name, kind, sha, int(size) if size != "-" else 0))
        return entries

    # ------------------------------------------------------------------ writing commits

    def commit(
        self,
        branch: str,
        files: Mapping[str, FileSpec],
        message: str,
        author: Identity,
        committer: Identity | None = None,
    ) -> str:
        """Commit ``files`` on top of ``branch`` (created when missing); return the SHA."""
        parent = self.branch_sha(branch)
        tree = self._write_tree(parent, files)
        sha = self.commit_tree(tree, [parent] if parent else [], message, author, committer)
        self.set_ref(f"refs/heads/{branch}", sha, parent)
        return sha

    def commit_tree(
        self,
        tree: str,
        parents: list[str],
        message: str,
        author: Identity,
        committer: Identity | None = None,
    ) -> str:
        """Create a commit object; return its SHA."""
        committer = committer or author
        env = {
            "GIT_AUTHOR_NAME": author.name,
            "GIT_AUTHOR_EMAIL": author.email,
            "GIT_COMMITTER_NAME": committer.name,
            "GIT_COMMITTER_EMAIL": committer.email,
        }
        parent_args = [arg for parent in parents for arg in ("-p", parent)]
        return self.git("commit-tree", tree, *parent_args, stdin=message.encode(), env=env)

    def _write_tree(self, parent: str | None, files: Mapping[str, FileSpec]) -> str:
        with tempfile.TemporaryDirectory() as scratch:
            env = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
            self.git("read-tree", *([parent] if parent else ["--empty"]), env=env)
            lines = [self._index_line(path, spec) for path, spec in files.items()]
            self.git("update-index", "--index-info", stdin="".join(lines).encode(), env=env)
            return self.git("write-tree", env=env)

    def _index_line(self, path: str, spec: FileSpec) -> str:
        if spec is None:
            return f"0 {ZERO_SHA}\t{path}\n"
        file = spec if isinstance(spec, File) else File(spec)
        data = file.content.encode() if isinstance(file.content, str) else file.content
        blob = self.git("hash-object", "-w", "--stdin", stdin=data)
        return f"{'100755' if file.executable else '100644'} {blob}\t{path}\n"

    # ------------------------------------------------------------------ diffs and merges

    def changed_files(self, base: str, head: str) -> list[FileChange]:
        """Files changed from ``base`` to ``head`` (rename detection on)."""
        raw = self.git("diff", "--raw", "--no-abbrev", "-z", "-M", base, head).split("\x00")
        counts = self._numstat(base, head)
        changes: list[FileChange] = []
        index = 0
        while index < len(raw) - 1:
            meta = raw[index].split()
            status = meta[4][0]
            paths = raw[index + 1 : index + (3 if status in "RC" else 2)]
            index += 1 + len(paths)
            added, deleted = counts.get(paths[-1], (0, 0))
            changes.append(
                FileChange(
                    filename=paths[-1],
                    status=_STATUS.get(status, "changed"),
                    sha=meta[3] if status != "D" else meta[2],
                    additions=added,
                    deletions=deleted,
                    previous_filename=paths[0] if status == "R" else None,
                    patch=self._patch(base, head, paths),
                )
            )
        return changes

    def diff_stats(self, base: str, head: str) -> tuple[int, int, int]:
        """(changed files, additions, deletions) from ``base`` to ``head``, in one git call."""
        counts = self._numstat(base, head)
        added = sum(a for a, _ in counts.values())
        return len(counts), added, sum(d for _, d in counts.values())

    def _numstat(self, base: str, head: str) -> dict[str, tuple[int, int]]:
        fields = self.git("diff", "--numstat", "-z", "-M", base, head).split("\x00")
        counts: dict[str, tuple[int, int]] = {}
        index = 0
        while index < len(fields) - 1:
            added, deleted, path = fields[index].split("\t", 2)
            index += 1
            if not path:  # a rename: the two paths follow as separate fields
                path = fields[index + 1]
                index += 2
            counts[path] = (
                int(added) if added != "-" else 0,
                int(deleted) if deleted != "-" else 0,
            )
        return counts

    def _patch(self, base: str, head: str, paths: list[str]) -> str | None:
        text = self.git("diff", "-M", base, head, "--", *paths)
        if "@@" not in text:
            return None  # binary or mode-only change: GitHub sends no patch
        return text[text.index("@@") :]

    def diff(self, base: str, head: str) -> str:
        """The unified diff GitHub returns for ``application/vnd.github.diff``."""
        return self.git("diff", "-M", base, head) + "\n"

    def merge_tree(self, ours: str, theirs: str) -> str:
        """The tree of merging ``theirs`` into ``ours``; MergeConflict when it needs a person."""
        result = subprocess.run(
            ["git", f"--git-dir={self.path}", "merge-tree", "--write-tree", ours, theirs],
            capture_output=True,
            check=False,
        )
        if result.returncode == 1:
            raise MergeConflict(result.stdout.decode(errors="replace"))
        if result.returncode != 0:
            raise GitError(result.stderr.decode(errors="replace"))
        return result.stdout.decode().split("\n", 1)[0]

    def rebase(self, onto: str, commits: list[str], committer: Identity) -> str:
        """Replay ``commits`` on ``onto`` (keeping authors); return the new tip."""
        with tempfile.TemporaryDirectory() as scratch:
            worktree = Path(scratch) / "wt"
            self.git("worktree", "add", "--quiet", "--detach", str(worktree), onto)
            env = {
                "GIT_COMMITTER_NAME": committer.name,
                "GIT_COMMITTER_EMAIL": committer.email,
            }
            try:
                return self._cherry_pick(worktree, commits, env)
            finally:
                self.git("worktree", "remove", "--force", str(worktree))

    def _cherry_pick(self, worktree: Path, commits: list[str], env: Mapping[str, str]) -> str:
        result = subprocess.run(
            ["git", "-C", str(worktree), "cherry-pick", "--allow-empty", *commits],
            capture_output=True,
            env={**os.environ, **env},
            check=False,
        )
        if result.returncode != 0:
            abort = ["git", "-C", str(worktree), "cherry-pick", "--abort"]
            subprocess.run(abort, check=False, capture_output=True)
            raise MergeConflict(result.stdout.decode(errors="replace"))
        return (
            subprocess.run(
                ["git", "-C", str(worktree), "rev-parse", "HEAD"],
                capture_output=True,
                check=True,
            )
            .stdout.decode()
            .strip()
        )
