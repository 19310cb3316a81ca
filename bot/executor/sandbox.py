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

One sandbox per job, as GitHub Actions gives one machine per job: a single bwrap for the
whole job, whose PID 1 (`bot.executor.sandbox_init`, see `bot.executor.sandbox_steps`)
starts each step inside it. Its steps share HOME, /tmp, the workspace and the network;
each step's processes, daemons included, end with the step (the init signals every
process of the sandbox but itself), and nothing of the job outlives it (when the init
exits, the kernel kills whatever is left in its PID namespace). Unsandboxed, each step is
a process group of the service's (`bot.executor.groups`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bot.executor import messages
from bot.executor.groups import HostGroup, RunningStep
from bot.executor.job_files import (
    JobPaths,
    can_walk_to,
    give_workspace,
    prepare,
    write_secret_files,
)
from bot.executor.output import StepProtocol
from bot.executor.sandbox_network import (
    TOOLS as NETWORK_TOOLS,
)
from bot.executor.sandbox_network import (
    JobNetwork,
    NetworkError,
    entering,
)
from bot.executor.sandbox_policy import SandboxPolicy
from bot.executor.sandbox_steps import SandboxError, Supervisor, sandbox_python
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


class Sandbox:
    """Makes the sandbox of each job; probes once whether this machine can."""

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
        self, workspace: Path, secret_files: Mapping[str, str], env: Mapping[str, str]
    ) -> AsyncIterator[JobSandbox]:
        """The sandbox of one job, its steps' environment `env`: its HOME, /tmp, secret
        files, network and sandbox, made now, gone after. The parts that do not need each
        other are made at the same time."""
        paths = JobPaths.beside(workspace)
        async with contextlib.AsyncExitStack() as stack:
            stack.push_async_callback(remove_tree, paths.scratch)
            own = self.enabled and self.policy.network == "own"
            opening = asyncio.ensure_future(JobNetwork.open()) if own else None
            stack.push_async_callback(_stop_network, opening)
            await asyncio.to_thread(self._make_files, paths, secret_files)
            network = await opening if opening is not None else None
            job = JobSandbox(self, paths, network, tuple(secret_files))
            if not self.enabled:
                yield job
                return
            # The sandbox starts while the network is attached and the checkout given to
            # the build user; its first step waits for all three.
            user = self.policy.step_user
            parts = [asyncio.ensure_future(asyncio.to_thread(give_workspace, paths, user))]
            if network is not None:
                parts.append(asyncio.ensure_future(network.connect()))
            for part in parts:
                stack.push_async_callback(_finish, part)
            supervisor = await Supervisor.start(
                job.sandbox_command(), _python(), job.environment(env), CLEAN_PATH
            )
            stack.push_async_callback(supervisor.close)
            for part in parts:
                await part
            yield replace(job, supervisor=supervisor)

    def _make_files(self, paths: JobPaths, secret_files: Mapping[str, str]) -> None:
        if self.enabled:
            prepare(paths, self.policy.step_user)
        write_secret_files(paths, secret_files, self.policy)

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
        """bwrap's options for the sandbox of the job at `paths` (the command goes after)."""
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
        if _python() == "":
            return messages.sandbox_missing("python3")
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
    supervisor: Supervisor | None = None  # the init of the job's bwrap, when sandboxed

    async def start(
        self, command: Sequence[str], env: Mapping[str, str], protocol: StepProtocol
    ) -> RunningStep:
        """Start one step: in the job's sandbox (whose environment was given to `job`),
        or unsandboxed as a process group of the service's with `env`."""
        if self.supervisor is not None:
            return await self.supervisor.run(command, protocol)
        environment = self.environment(env)
        return await HostGroup.start(list(command), environment, self.paths.workspace, protocol)

    def environment(self, env: Mapping[str, str]) -> dict[str, str]:
        return self.sandbox.environment(env, self.paths) | self._file_variables()

    def sandbox_command(self) -> list[str]:
        """The command line of the job's bwrap, up to its `--`. As root, it limits the
        build user's processes, then becomes the build user, entering the job's network
        on the way (`nsenter` does both, one program fewer to start)."""
        bwrap = [
            _bwrap(), *self.sandbox.bwrap_arguments(self.paths, network=self.network),
            "--as-pid-1", "--",
        ]  # fmt: skip
        user = self.sandbox.policy.step_user
        if user is None:  # an unprivileged service: the steps run as the service's user
            return bwrap
        limit = self.sandbox.policy.max_processes
        limited = ["prlimit", f"--nproc={limit}:{limit}", "--"] if limit else []
        if self.network is not None:
            become = entering(self.network.namespace, uid=user.uid, gid=user.gid)
        else:
            become = [
                "setpriv", f"--reuid={user.uid}", f"--regid={user.gid}", "--clear-groups", "--"
            ]  # fmt: skip
        return [*limited, *become, *bwrap]

    def _file_variables(self) -> dict[str, str]:
        inside = SANDBOX_SECRETS if self.sandbox.enabled else str(self.paths.secrets)
        return {f"{name}_FILE": f"{inside}/{name}" for name in self.secret_files}


async def _stop_network(opening: asyncio.Future[JobNetwork] | None) -> None:
    """Stop the job's network, once it was made (`JobNetwork.open` undoes a failed one)."""
    if opening is None:
        return
    await _finish(opening)
    if not opening.cancelled() and opening.exception() is None:
        await opening.result().stop()


async def _finish(task: asyncio.Future[Any] | None) -> None:
    """Wait for a part of the job's setup left running when another part failed."""
    if task is not None and not task.done():
        task.cancel()
    if task is not None:
        with contextlib.suppress(BaseException):
            await task


_TOOL_PATH = os.pathsep.join((os.environ.get("PATH", ""), CLEAN_PATH))


def _bwrap() -> str:
    return shutil.which("bwrap", path=_TOOL_PATH) or ""


def _python() -> str:
    """The python3 the job's sandbox runs its init with: its own, from the host's /usr."""
    return sandbox_python(CLEAN_PATH)


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
        async with sandbox.job(scratch / "workspace", {}, {}) as job:
            protocol = StepProtocol(asyncio.get_running_loop())
            step = await job.start(["/bin/true"], {}, protocol)
            try:
                await asyncio.wait_for(protocol.exited, _SETUP_SECONDS)
                await step.end(1.0)
            finally:
                step.close()
    except (OSError, TimeoutError, NetworkError) as error:
        return messages.sandbox_broken(str(error))
    except SandboxError as error:
        return str(error)
    finally:
        await asyncio.to_thread(shutil.rmtree, scratch, True)
    if step.returncode() != 0:
        return messages.sandbox_broken(f"a step of `true` ended {step.returncode()}")
    return None
