"""A job's directories on the host, and who owns what in them.

Beside each workspace, `NAME.sandbox/` holds the job's HOME, /tmp, secret files and
resolv.conf. When steps run as the build user, it owns all of that and the workspace, but
never the files of `.git/objects`, which may be hard links to the git cache's.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.executor.sandbox_network import resolv_conf
from bot.executor.sandbox_policy import BuildUser, SandboxPolicy


@dataclass(frozen=True)
class JobPaths:
    """Where one job's sandbox lives on the host: its workspace, HOME and /tmp."""

    workspace: Path
    home: Path
    tmp: Path

    @classmethod
    def beside(cls, workspace: Path) -> JobPaths:
        scratch = workspace.with_name(workspace.name + ".sandbox")
        return cls(workspace.absolute(), scratch.absolute() / "home", scratch.absolute() / "tmp")

    @property
    def scratch(self) -> Path:
        return self.home.parent

    @property
    def secrets(self) -> Path:
        return self.scratch / "secrets"


def can_walk_to(path: Path, user: BuildUser) -> bool:
    """True when `user` may pass through every existing directory on the way to `path`."""
    for directory in (path, *path.parents):
        try:
            status = directory.stat()
        except FileNotFoundError:
            continue  # made later, by us, with a mode that lets the build user through
        if status.st_uid == user.uid:
            bit = stat.S_IXUSR
        elif status.st_gid == user.gid:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not status.st_mode & bit:
            return False
    return True


def prepare(paths: JobPaths, user: BuildUser | None) -> None:
    """Make the job's HOME, /tmp and resolv.conf, and give them to `user`; the workspace
    is given by `give_workspace`, which may take a while."""
    for directory in (paths.home, paths.tmp):
        directory.mkdir(parents=True, exist_ok=True)
    paths.tmp.chmod(0o1777)
    (paths.scratch / "resolv.conf").write_text(resolv_conf())
    paths.workspace.mkdir(parents=True, exist_ok=True)
    if user is not None:
        _give(paths.scratch, user)
        # The sandbox starts in the workspace while its files are being given.
        os.chown(paths.workspace, user.uid, user.gid)


def give_workspace(paths: JobPaths, user: BuildUser | None) -> None:
    """Give the workspace's files to `user` (a walk of the whole checkout)."""
    if user is not None:
        _give(paths.workspace, user)


def write_secret_files(paths: JobPaths, files: Mapping[str, str], policy: SandboxPolicy) -> None:
    """Each secret file, readable by the steps alone (the build user's, mode 0400)."""
    if not files:
        return
    paths.secrets.mkdir(parents=True, mode=0o700)
    user = policy.step_user if policy.mode == "bwrap" else None
    for name, value in files.items():
        file = paths.secrets / name
        descriptor = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
        with os.fdopen(descriptor, "w") as out:
            out.write(value)
        if user is not None:
            os.chown(file, user.uid, user.gid)
    paths.secrets.chmod(0o500)
    if user is not None:
        os.chown(paths.secrets, user.uid, user.gid)


def _give(top: Path, user: BuildUser) -> None:
    """Make `top` the build user's; the files of `.git/objects` stay the cache's owner's,
    so a step can add objects but never rewrite one hard-linked from the cache."""
    objects = top / ".git" / "objects"
    for directory, _, names in os.walk(top):
        os.chown(directory, user.uid, user.gid, follow_symlinks=False)
        if Path(directory).is_relative_to(objects):
            continue
        for name in names:
            os.chown(os.path.join(directory, name), user.uid, user.gid, follow_symlinks=False)
