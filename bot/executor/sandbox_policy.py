"""How builds are isolated, as the operator chose: a value read once from settings.

Kept apart from the sandbox itself so that settings can hold it without loading what
runs it.
"""

from __future__ import annotations

import contextlib
import os
import pwd
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

SandboxMode = Literal["bwrap", "none"]
NetworkMode = Literal["own", "host"]
SANDBOX_MODES: tuple[SandboxMode, ...] = ("bwrap", "none")
NETWORK_MODES: tuple[NetworkMode, ...] = ("own", "host")


@dataclass(frozen=True)
class BuildUser:
    uid: int
    gid: int


DEFAULT_BUILD_USER = BuildUser(65534, 65534)  # `nobody`, when the operator names no one
DEFAULT_MAX_PROCESSES = 4096
DEFAULT_MAX_DISK_BYTES = 20 * 1024**3


@dataclass(frozen=True)
class SandboxPolicy:
    """How steps are isolated: read once from settings, the same for every job."""

    mode: SandboxMode = "bwrap"
    network: NetworkMode = "own"
    extra_paths: tuple[Path, ...] = ()
    build_user: BuildUser = DEFAULT_BUILD_USER  # who steps run as when the service is root
    # Greenlight's own files (working directory, .env, store, secrets file, work dir):
    # hidden wherever a mounted directory would show them.
    hidden: tuple[Path, ...] = ()
    # The service's variables an unsandboxed step sees (PATH…); a sandbox has its own.
    host_env: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    # Limits (0: none). Processes: RLIMIT_NPROC of the build user, so it bounds the
    # processes of all its running jobs together (a fork bomb), as root only. Disk: what
    # a job's workspace, HOME, /tmp and secret files hold, looked at every few seconds.
    max_processes: int = DEFAULT_MAX_PROCESSES
    max_disk_bytes: int = DEFAULT_MAX_DISK_BYTES
    disk_check_seconds: float = 5.0

    @property
    def step_user(self) -> BuildUser | None:
        """The user steps run as, when it is not the service's own."""
        return self.build_user if self.mode == "bwrap" and os.geteuid() == 0 else None


def build_user_from(value: str) -> BuildUser | str:
    """`GREENLIGHT_BUILD_USER` (a user name or a numeric uid) as ids, or a problem."""
    value = value.strip()
    if value.isdigit() and int(value) == 0:
        return "the build user must not be root"
    if value.isdigit():
        uid = int(value)
        with contextlib.suppress(KeyError):
            return BuildUser(uid, pwd.getpwuid(uid).pw_gid)
        return BuildUser(uid, uid)
    try:
        entry = pwd.getpwnam(value)
    except KeyError:
        return f"there is no user {value!r} on this machine; create it or give a numeric uid"
    if entry.pw_uid == 0:
        return "the build user must not be root"
    return BuildUser(entry.pw_uid, entry.pw_gid)
