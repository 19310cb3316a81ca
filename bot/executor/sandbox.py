"""The sandbox every build step runs in: bubblewrap, an unprivileged user, its own network.

A step is the repository's code, and after `/ok-to-test` a stranger's. It must not reach
the app's private key, the webhook secret, the store, the secrets file, other jobs'
workspaces or the services on the host's loopback (DESIGN.md sections 9 and 12). Each step
runs under `bwrap` (https://github.com/containers/bubblewrap, Debian package `bubblewrap`):

- its own mount, PID, IPC, UTS, user and network namespaces, `--new-session`,
  `--die-with-parent`, every capability dropped and no further user namespaces;
- a root of its own: the host's system directories read-only (`/usr`, `/bin`, `/sbin`,
  `/lib*`, `/etc` without its secret files, plus the operator's `GREENLIGHT_SANDBOX_PATHS`),
  a fresh `/proc` and `/dev`, the job's workspace read-write at its own path, and the job's
  `HOME` and `/tmp` (host directories beside the workspace, so the steps of a job share
  them as the steps of an Actions job share one machine);
- never root: when the service runs as root, the step runs as `GREENLIGHT_BUILD_USER`,
  which owns the workspace but not the git cache, so objects hard-linked from the cache
  cannot be rewritten;
- with `GREENLIGHT_SANDBOX_NETWORK` unset, the job's own network namespace, whose only way
  out is user-mode networking and where the host's own addresses and link-local are
  unreachable (`bot.executor.sandbox_network`): the store, the broker and Greenlight's own
  port are not there. `host` shares the host's network.

A step's processes live in the sandbox's PID namespace: when the step ends, bwrap's init
ends and the kernel kills everything left in it, daemons included. Each step is a bwrap
of its own (a few milliseconds); what a job keeps between its steps (HOME, /tmp, the
workspace, the network) is made once per job by `Sandbox.job`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.executor import messages
from bot.executor.job_files import JobPaths, can_walk_to, prepare, write_secret_files
from bot.executor.sandbox_network import (
    TOOLS as NETWORK_TOOLS,
)
from bot.executor.sandbox_network import (
    JobNetwork,
    NetworkError,
    entering,
)
from bot.executor.sandbox_policy import SandboxPolicy
from bot.executor.trees import remove_tree

log = logging.getLogger("greenlight.sandbox")

# The host's system directories a build expects (bash, git, compilers), read-only.
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
# Files of /etc that hold credentials: hidden even from a user who could read them.
ETC_SECRETS = (
    "/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/sudoers",
    "/etc/sudoers.d", "/etc/ssh", "/etc/ssl/private", "/etc/security/opasswd",
    "/etc/credstore", "/etc/credstore.encrypted", "/etc/machine-id",
)  # fmt: skip
CLEAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SANDBOX_HOME = "/home/build"
# Paths inside the sandbox, each a directory of the job's own, never the host's.
SANDBOX_TMP = "/tmp"  # noqa: S108
SANDBOX_SHM = "/dev/shm"  # noqa: S108
SANDBOX_SECRETS = "/run/secrets"  # secret files, read-only, as Docker and Kubernetes put them
_SETUP_SECONDS = 10.0  # bwrap starts in milliseconds; this bounds a stuck probe
# A machine that could not sandbox is asked again after this long, so installing bubblewrap
# (or fixing a container's profile) takes effect without a restart.
PROBE_AGAIN_SECONDS = 60.0


def _job_mounts(paths: JobPaths, *, shared: list[str]) -> list[str]:
    """The job's directories read-write, around the operator's `shared` paths: each later
    mount lies over the earlier ones, so the job's /tmp cannot hide a shared path or the
    workspace under /tmp (as in tests), and nothing shared can hide the workspace."""
    return [
        "--bind", str(paths.home), SANDBOX_HOME,
        "--bind", str(paths.tmp), SANDBOX_TMP,
        *shared,
        "--bind", str(paths.workspace), str(paths.workspace),
    ]  # fmt: skip


@dataclass(frozen=True)
class Launch:
    """How to start one step: the command line (which becomes the build user itself), its
    environment and its working directory."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path


class Sandbox:
    """Makes the sandbox of each step; probes once whether this machine can."""

    def __init__(self, policy: SandboxPolicy) -> None:
        self.policy = policy
        # The probe's answer once known, and when; one probe at a time on each event loop
        # (a Celery worker runs each task on a loop of its own).
        self._answer: tuple[str | None, float] | None = None
        self._probing = asyncio.Lock()

    @classmethod
    def unsandboxed(cls) -> Sandbox:
        """Steps as the service's own processes, with exactly the environment given."""
        return cls(SandboxPolicy(mode="none"))

    @property
    def enabled(self) -> bool:
        return self.policy.mode == "bwrap"

    async def problem(self) -> str | None:
        """Why steps cannot be sandboxed here (what to install), or None when they can."""
        if not self.enabled:
            return None
        if not self._answer_holds():
            async with self._probing:
                if not self._answer_holds():
                    self._answer = (await self._probe(), time.monotonic())
        assert self._answer is not None
        return self._answer[0]

    def _answer_holds(self) -> bool:
        """A yes holds for good; a no until PROBE_AGAIN_SECONDS have passed."""
        if self._answer is None:
            return False
        problem, when = self._answer
        return problem is None or time.monotonic() - when < PROBE_AGAIN_SECONDS

    def workspaces(self, work_dir: Path) -> Path:
        """Where jobs' workspaces go: `work_dir/workspaces`, or, when the build user could
        not walk that path (a service run as root from /root), a directory of the
        service's own under /var/tmp, whose parents everyone may pass through."""
        inside = work_dir.absolute() / "workspaces"
        user = self.policy.step_user
        if user is None or can_walk_to(inside, user):
            return inside
        digest = hashlib.sha256(str(inside).encode()).hexdigest()[:12]
        base = Path("/var/tmp") if can_walk_to(Path("/var/tmp"), user) else Path("/tmp")  # noqa: S108
        return base / f"greenlight-workspaces-{os.geteuid()}-{digest}"

    def shares_objects_safely(self) -> bool:
        """True when a workspace may hard-link the git cache's objects: steps run as a
        user who cannot write the cache's files (see `GitCache.checkout`)."""
        return not self.enabled or self.policy.step_user is not None

    @contextlib.asynccontextmanager
    async def job(
        self, workspace: Path, secret_files: Mapping[str, str]
    ) -> AsyncIterator[JobSandbox]:
        """The sandbox of one job: its HOME, /tmp, secret files and network, made now,
        gone after."""
        paths = JobPaths.beside(workspace)
        try:
            if self.enabled:
                await asyncio.to_thread(prepare, paths, self.policy.step_user)
            await asyncio.to_thread(write_secret_files, paths, secret_files, self.policy)
            own = self.enabled and self.policy.network == "own"
            network = await JobNetwork.start() if own else None
            try:
                yield JobSandbox(self, paths, network, tuple(secret_files))
            finally:
                if network is not None:
                    await network.stop()
        finally:
            await remove_tree(paths.scratch)

    def environment(self, env: Mapping[str, str], paths: JobPaths) -> dict[str, str]:
        """The step's environment: the ticket's, over a clean base of the sandbox's own."""
        if not self.enabled:
            return {**dict(self.policy.host_env), **env}
        base = {"PATH": CLEAN_PATH, "LANG": "C.UTF-8", "USER": "build", "SHELL": "/bin/bash"}
        fixed = {
            "HOME": SANDBOX_HOME,
            "TMPDIR": SANDBOX_TMP,
            "GREENLIGHT_WORKSPACE": str(paths.workspace),
        }
        return {**base, **env, **fixed}

    def bwrap_arguments(self, paths: JobPaths, *, network: JobNetwork | None) -> list[str]:
        """bwrap's options for a step of the job at `paths` (the command goes after)."""
        arguments = [
            "--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", "--disable-userns",
            "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", SANDBOX_SHM,
            "--tmpfs", "/run", "--tmpfs", "/home",
        ]  # fmt: skip
        if network is None and self.policy.network == "own":
            arguments.append("--unshare-net")  # never the host's network by mistake
        for path in SYSTEM_PATHS:
            if os.path.islink(path):  # /bin → usr/bin on a merged /usr
                arguments += ["--symlink", os.readlink(path), path]
            elif os.path.exists(path):
                arguments += ["--ro-bind", path, path]
        arguments += _hiding(ETC_SECRETS)
        if network is not None:
            arguments += ["--ro-bind", str(paths.scratch / "resolv.conf"), _resolv_conf_target()]
        if paths.secrets.exists():
            arguments += ["--ro-bind", str(paths.secrets), SANDBOX_SECRETS]
        return arguments + _job_mounts(paths, shared=self._shared()) + [
            "--chdir", str(paths.workspace),
        ]  # fmt: skip

    def _shared(self) -> list[str]:
        """The operator's extra read-only paths, with Greenlight's own files hidden."""
        arguments: list[str] = []
        for path in map(str, self.policy.extra_paths):
            if os.path.exists(path):
                arguments += ["--ro-bind", path, path]
        return arguments + _hiding(map(str, self.policy.hidden), only_under=self._mounted())

    def _mounted(self) -> tuple[str, ...]:
        return (*SYSTEM_PATHS, *map(str, self.policy.extra_paths))

    async def _probe(self) -> str | None:
        """Run `true` in a sandbox shaped like a job's; say what is missing if it fails."""
        if _bwrap() == "":
            return messages.sandbox_missing("bwrap")
        if self.policy.network == "own":
            if os.geteuid() != 0:
                return messages.sandbox_network_needs_root()
            for tool in NETWORK_TOOLS:
                if shutil.which(tool, path=_TOOL_PATH) is None:
                    return messages.sandbox_missing(tool)
        return await _probe_run(self)


@dataclass(frozen=True)
class JobSandbox:
    """One job's sandbox: how to start each of its steps."""

    sandbox: Sandbox
    paths: JobPaths
    network: JobNetwork | None
    secret_files: tuple[str, ...] = ()  # their names: NAME_FILE says where each is

    def launch(self, command: Sequence[str], env: Mapping[str, str]) -> Launch:
        environment = self.sandbox.environment(env, self.paths) | self._file_variables()
        if not self.sandbox.enabled:
            return Launch(list(command), environment, cwd=self.paths.workspace)
        bwrap = [
            _bwrap(), *self.sandbox.bwrap_arguments(self.paths, network=self.network),
            "--", *command,
        ]  # fmt: skip
        user = self.sandbox.policy.step_user
        if user is None:  # an unprivileged service: the step runs as the service's user
            return Launch(bwrap, environment, cwd=Path("/"))
        # Root enters the job's network, limits the build user's processes, then becomes
        # the build user for bwrap.
        network = entering(self.network.namespace) if self.network else []
        limit = self.sandbox.policy.max_processes
        limited = ["prlimit", f"--nproc={limit}:{limit}", "--"] if limit else []
        switch = ["setpriv", f"--reuid={user.uid}", f"--regid={user.gid}", "--clear-groups"]
        return Launch([*network, *limited, *switch, "--", *bwrap], environment, cwd=Path("/"))

    def _file_variables(self) -> dict[str, str]:
        inside = SANDBOX_SECRETS if self.sandbox.enabled else str(self.paths.secrets)
        return {f"{name}_FILE": f"{inside}/{name}" for name in self.secret_files}


_TOOL_PATH = os.pathsep.join((os.environ.get("PATH", ""), CLEAN_PATH))


def _bwrap() -> str:
    return shutil.which("bwrap", path=_TOOL_PATH) or ""


def _hiding(paths: Iterable[str], *, only_under: Sequence[str] | None = None) -> list[str]:
    """bwrap arguments that put an empty file or directory over each existing path."""
    arguments: list[str] = []
    for path in paths:
        if not os.path.lexists(path) or os.path.islink(path):
            continue
        if only_under is not None and not any(_is_under(path, top) for top in only_under):
            continue  # the sandbox's root is empty: only mounted directories can show it
        if os.path.isdir(path):
            arguments += ["--tmpfs", path]
        else:
            arguments += ["--ro-bind", "/dev/null", path]
    return arguments


def _is_under(path: str, top: str) -> bool:
    real, real_top = os.path.realpath(path), os.path.realpath(top)
    return real == real_top or real.startswith(real_top.rstrip("/") + "/")


def _resolv_conf_target() -> str:
    """Where the sandbox's resolv.conf goes: /etc/resolv.conf, or what it links to."""
    return os.path.realpath("/etc/resolv.conf")


def _probe_directory() -> str:
    directory = tempfile.mkdtemp(prefix="greenlight-probe-")
    os.chmod(directory, 0o755)  # noqa: S103 (the build user binds what is under it)
    return directory


async def _probe_run(sandbox: Sandbox) -> str | None:
    scratch = Path(await asyncio.to_thread(_probe_directory))
    try:
        async with sandbox.job(scratch / "workspace", {}) as job:
            launch = job.launch(["/bin/true"], {})
            process = await asyncio.create_subprocess_exec(
                *launch.argv, env=launch.env, stdin=subprocess.DEVNULL, start_new_session=True,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=launch.cwd,
            )  # fmt: skip
            output, _ = await asyncio.wait_for(process.communicate(), _SETUP_SECONDS)
    except (OSError, TimeoutError, NetworkError) as error:
        return messages.sandbox_broken(str(error))
    finally:
        await asyncio.to_thread(shutil.rmtree, scratch, True)
    if process.returncode != 0:
        return messages.sandbox_broken(output.decode(errors="replace").strip())
    return None
