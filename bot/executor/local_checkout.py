"""A local checkout made into a workspace, for `python -m bot run`: git on the developer's tree.

The service's workspaces come from its git cache (`workspace.py`); this one comes from the
checkout in front of you, uncommitted changes included, so a config can be tried before it
is committed.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def git_output(root: Path, *args: str) -> str:
    """What `git -C root ARGS` prints, stripped; empty when git fails (not a repository)."""
    done = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=False
    )
    return done.stdout.strip() if done.returncode == 0 else ""


def make_workspace(root: Path, dest: Path) -> None:
    """A copy of the checkout at HEAD with the working tree's changes laid over it."""
    if not git_output(root, "rev-parse", "HEAD"):
        shutil.copytree(root, dest, symlinks=True)
        return
    subprocess.run(
        ["git", "clone", "--quiet", "--shared", "--no-checkout", str(root), str(dest)],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            "git",
            "-C",
            str(dest),
            "checkout",
            "--quiet",
            "--detach",
            git_output(root, "rev-parse", "HEAD"),
        ],
        check=True,
        capture_output=True,
    )
    changed = git_output(root, "ls-files", "--modified", "--others", "--exclude-standard", "-z")
    for name in filter(None, changed.split("\0")):
        source, target = root / name, dest / name
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    for name in filter(None, git_output(root, "ls-files", "--deleted", "-z").split("\0")):
        (dest / name).unlink(missing_ok=True)
