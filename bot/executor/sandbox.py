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
- with `GREENLIGHT_SANDBOX_NETWORK` unset, a network namespace whose only way out is
  user-mode networking (`slirp4netns --disable-host-loopback`), with routes that make the
  host's own addresses and the link-local range (cloud metadata) unreachable: the store,
  the broker and Greenlight's own port are not there. `host` shares the host's network.

A step's processes live in the sandbox's PID namespace: when the step ends, bwrap's init
ends and the kernel kills everything left in it, daemons included.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bot import messages
from bot.executor.trees import remove_tree

log = logging.getLogger("greenlight.sandbox")

SandboxMode = Literal["bwrap", "none"]
NetworkMode = Literal["own", "host"]
SANDBOX_MODES: tuple[SandboxMode, ...] = ("bwrap", "none")
NETWORK_MODES: tuple[NetworkMode, ...] = ("own", "host")

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
LINK_LOCAL = "169.254.0.0/16"  # cloud metadata services live at 169.254.169.254
# slirp4netns's fixed addresses (slirp4netns(1)): the host itself, its DNS, the step.
SLIRP_GATEWAY = "10.0.2.2"
SLIRP_DNS = "10.0.2.3"
SLIRP_ADDRESS = "10.0.2.100/24"
_MTU = 65520
_SETUP_SECONDS = 10.0  # bwrap and slirp4netns start in milliseconds; this bounds a stuck one
_SLIRP_TRIES = 3


class SandboxError(Exception):
    """The sandbox could not be made for a step; the message says why."""


@dataclass(frozen=True)
class BuildUser:
    uid: int
    gid: int


@dataclass(frozen=True)
class SandboxPolicy:
    """How steps are isolated: read once from settings, the same for every job."""

    mode: SandboxMode = "bwrap"
    network: NetworkMode = "own"
    extra_paths: tuple[Path, ...] = ()
    build_user: BuildUser | None = None  # who steps run as when the service is root
    # Greenlight's own files (working directory, .env, store, secrets file, work dir):
    # hidden wherever a mounted directory would show them.
    hidden: tuple[Path, ...] = ()
    # The service's variables an unsandboxed step sees (PATH…); a sandbox has its own.
    host_env: tuple[tuple[str, str], ...] = field(default=(), repr=False)

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


DEFAULT_BUILD_USER = BuildUser(65534, 65534)  # `nobody`, when the operator names no one


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
    """How to start one step: the command line, its environment and its identity."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path
    pass_fds: tuple[int, ...] = ()
    user: BuildUser | None = None
    # Run right after the process is spawned, with its pid: the step waits for it.
    started: Callable[[int], Awaitable[None]] | None = None

    def popen_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"pass_fds": self.pass_fds, "cwd": self.cwd}
        if self.user is not None:
            options |= {"user": self.user.uid, "group": self.user.gid, "extra_groups": []}
        return options


class Sandbox:
    """Makes the sandbox of each step; probes once whether this machine can."""

    def __init__(self, policy: SandboxPolicy) -> None:
        self.policy = policy
        self._problem: asyncio.Future[str | None] | None = None

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
        if self._problem is None:
            self._problem = asyncio.ensure_future(self._probe())
        return await asyncio.shield(self._problem)

    def workspaces(self, work_dir: Path) -> Path:
        """Where jobs' workspaces go: `work_dir/workspaces`, or, when the build user could
        not walk that path (a service run as root from /root), a directory of the
        service's own under /var/tmp, whose parents everyone may pass through."""
        inside = work_dir.absolute() / "workspaces"
        user = self.policy.step_user
        if user is None or _can_walk_to(inside, user):
            return inside
        digest = hashlib.sha256(str(inside).encode()).hexdigest()[:12]
        base = Path("/var/tmp") if _can_walk_to(Path("/var/tmp"), user) else Path("/tmp")  # noqa: S108
        return base / f"greenlight-workspaces-{os.geteuid()}-{digest}"

    def shares_objects_safely(self) -> bool:
        """True when a workspace may hard-link the git cache's objects: steps run as a
        user who cannot write the cache's files (see `GitCache.checkout`)."""
        return not self.enabled or self.policy.step_user is not None

    async def prepare(self, paths: JobPaths) -> None:
        """Make the job's HOME and /tmp, and give the job's files to the build user."""
        if self.enabled:
            await asyncio.to_thread(_prepare, paths, self.policy.step_user)

    async def clean(self, paths: JobPaths) -> None:
        """Remove the job's HOME and /tmp (the workspace is its owner's to remove)."""
        if self.enabled:
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

    @contextlib.asynccontextmanager
    async def launch(
        self, command: Sequence[str], *, paths: JobPaths, env: Mapping[str, str]
    ) -> AsyncIterator[Launch]:
        """How to start `command` in this job's sandbox; cleans up after the step."""
        environment = self.environment(env, paths)
        if not self.enabled:
            yield Launch(list(command), environment, cwd=paths.workspace)
            return
        network = _Network() if self.policy.network == "own" else None
        try:
            argv = [
                _bwrap(),
                *self._arguments(),
                *(network.bwrap_arguments() if network else ["--share-net"]),
                *_job_mounts(paths, shared=self._shared()),
                "--chdir", str(paths.workspace),
                "--", *command,
            ]  # fmt: skip
            yield Launch(
                argv,
                environment,
                cwd=Path("/"),
                pass_fds=network.child_fds() if network else (),
                user=self.policy.step_user,
                started=network.connect if network else None,
            )
        finally:
            if network is not None:
                await network.close()

    def _arguments(self) -> list[str]:
        arguments = [
            "--unshare-all", "--unshare-user",
            *(["--disable-userns"] if os.geteuid() == 0 else []),  # see `_Network`
            "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", SANDBOX_SHM,
            "--tmpfs", "/run", "--tmpfs", "/home",
        ]  # fmt: skip
        for path in SYSTEM_PATHS:
            if os.path.islink(path):  # /bin → usr/bin on a merged /usr
                arguments += ["--symlink", os.readlink(path), path]
            elif os.path.exists(path):
                arguments += ["--ro-bind", path, path]
        return arguments + _hiding(ETC_SECRETS)

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
        """Run `true` in a sandbox shaped like a step's; say what is missing if it fails."""
        if _bwrap() == "":
            return messages.sandbox_missing("bwrap")
        if self.policy.network == "own":
            for tool in ("slirp4netns", "nsenter", "ip"):
                if shutil.which(tool, path=_TOOL_PATH) is None:
                    return messages.sandbox_missing(tool)
        return await _probe_run(self)


_TOOL_PATH = os.pathsep.join((os.environ.get("PATH", ""), CLEAN_PATH))


def _bwrap() -> str:
    return shutil.which("bwrap", path=_TOOL_PATH) or ""


def _can_walk_to(path: Path, user: BuildUser) -> bool:
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


def _prepare(paths: JobPaths, user: BuildUser | None) -> None:
    for directory in (paths.home, paths.tmp):
        directory.mkdir(parents=True, exist_ok=True)
    paths.tmp.chmod(0o1777)
    paths.workspace.mkdir(parents=True, exist_ok=True)
    if user is None:
        return
    for top in (paths.scratch, paths.workspace):
        _give(top, user)


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


class _Network:
    """One step's network namespace, connected through slirp4netns.

    bwrap waits on `--block-fd` before it runs the step, and reports the sandbox's PID on
    `--info-fd`: in between, slirp4netns attaches a tap device to that PID's network
    namespace, and `ip` brings it up with routes that make the host's own addresses
    unreachable, so the step's first packet already goes through the finished network.

    slirp4netns's own `--configure` is not used: it also brings up `lo`, racing bwrap,
    which sets up `lo` at the same moment ("loopback: Failed RTM_NEWADDR").
    As root, the service joins only the network namespace: with `--disable-userns` the
    step's process sits in a user namespace nested below the one that owns the network,
    from where the network cannot be entered. Unprivileged, it joins the step's user
    namespace first, which it owns.
    """

    def __init__(self) -> None:
        self._info_read, self._info_write = os.pipe()
        self._block_read, self._block_write = os.pipe()
        self._resolv_read, resolv_write = os.pipe()
        os.write(resolv_write, f"nameserver {SLIRP_DNS}\n".encode())
        os.close(resolv_write)
        self._slirp: asyncio.subprocess.Process | None = None
        self._exit_write: int | None = None

    def bwrap_arguments(self) -> list[str]:
        return [
            "--info-fd", str(self._info_write), "--block-fd", str(self._block_read),
            "--ro-bind-data", str(self._resolv_read), _resolv_conf_target(),
        ]  # fmt: skip

    def child_fds(self) -> tuple[int, ...]:
        return (self._info_write, self._block_read, self._resolv_read)

    async def connect(self, _pid: int) -> None:
        """Once bwrap is spawned: attach the network, then let the step start."""
        for descriptor in (self._info_write, self._block_read, self._resolv_read):
            os.close(descriptor)
        self._info_write = self._block_read = self._resolv_read = -1
        info = await asyncio.wait_for(
            _read_pipe(self._info_read, until=lambda data: b"}" in data), _SETUP_SECONDS
        )
        sandbox_pid = _child_pid(info)
        if sandbox_pid is None:
            return  # bwrap failed before it made the sandbox; its message is in the log
        problem: str | None = None
        for attempt in range(1, _SLIRP_TRIES + 1):
            problem = await self._start_slirp(sandbox_pid)
            if problem is None:
                break
            if not _is_running(sandbox_pid):
                return  # bwrap gave up on its own (a mount it could not make): it said why
            log.warning("slirp4netns for sandbox %d, try %d: %s", sandbox_pid, attempt, problem)
        else:
            raise SandboxError(messages.sandbox_network_failed(problem or ""))
        await _configure(sandbox_pid)
        os.write(self._block_write, b"1")

    async def _start_slirp(self, sandbox_pid: int) -> str | None:
        ready_read, ready_write = os.pipe()
        exit_read, self._exit_write = os.pipe()
        try:
            self._slirp = await asyncio.create_subprocess_exec(
                "slirp4netns", f"--mtu={_MTU}", "--disable-host-loopback",
                f"--ready-fd={ready_write}", f"--exit-fd={exit_read}",
                *_namespace_options(sandbox_pid), "tap0",
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                pass_fds=(ready_write, exit_read), start_new_session=True,
            )  # fmt: skip
        finally:
            os.close(ready_write)
            os.close(exit_read)
        try:
            ready = await asyncio.wait_for(_read_pipe(ready_read, until=bool), _SETUP_SECONDS)
        except TimeoutError:
            ready = b""
        finally:
            os.close(ready_read)
        if ready:
            return None
        error = await self._stop_slirp()
        return error or "slirp4netns did not become ready"

    async def _stop_slirp(self) -> str:
        """End slirp4netns (the step is over, or it failed); what it said on stderr."""
        slirp, self._slirp = self._slirp, None
        if self._exit_write is not None:
            # slirp4netns exits when this closes, which also covers a service that died.
            os.close(self._exit_write)
            self._exit_write = None
        if slirp is None:
            return ""
        with contextlib.suppress(ProcessLookupError):
            slirp.kill()  # its namespace is gone or going: nothing to shut down gracefully
        _, stderr = await slirp.communicate()
        return (stderr or b"").decode(errors="replace").strip()

    async def close(self) -> None:
        await self._stop_slirp()
        for descriptor in (
            self._info_read, self._info_write, self._block_read,
            self._block_write, self._resolv_read,
        ):  # fmt: skip
            if descriptor >= 0:
                with contextlib.suppress(OSError):
                    os.close(descriptor)
        self._info_read = self._info_write = self._block_read = -1
        self._block_write = self._resolv_read = -1


def _is_running(pid: int) -> bool:
    """True while `pid` lives (a zombie waiting to be reaped does not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat_file:
            return stat_file.read().rpartition(")")[2].split()[0] not in "ZX"
    except (OSError, IndexError):
        return False


async def _read_pipe(descriptor: int, *, until: Callable[[bytes], bool]) -> bytes:
    """What a child writes to a pipe, until `until(data)` or the pipe closes."""
    loop = asyncio.get_running_loop()
    os.set_blocking(descriptor, False)
    data = b""
    while not until(data):
        readable: asyncio.Future[None] = loop.create_future()
        loop.add_reader(descriptor, lambda: readable.done() or readable.set_result(None))
        try:
            await readable
        finally:
            loop.remove_reader(descriptor)
        try:
            chunk = os.read(descriptor, 4096)
        except BlockingIOError:
            continue
        if not chunk:
            break
        data += chunk
    return data


def _child_pid(info: bytes) -> int | None:
    """bwrap's `--info-fd` JSON: `{"child-pid": N, …}`; None when bwrap wrote nothing."""
    if b"}" not in info:
        return None
    return int(json.loads(info)["child-pid"])


def local_addresses() -> tuple[str, ...]:
    """The host's own IPv4 addresses but loopback's, from the kernel's routing table."""
    found: set[str] = set()
    last = ""
    with contextlib.suppress(OSError), open("/proc/net/fib_trie") as trie:
        for line in trie:
            text = line.strip()
            if text.startswith(("|--", "+--")):
                last = text.split()[1]
            elif text == "/32 host LOCAL" and not last.startswith("127."):
                found.add(last)
    return tuple(sorted(found))


def _namespace_options(sandbox_pid: int) -> list[str]:
    """How slirp4netns finds the step's network (see `_Network` for the two cases)."""
    if os.geteuid() == 0:
        return [
            "--netns-type=path", "--userns-path=/proc/self/ns/user",
            f"/proc/{sandbox_pid}/ns/net",
        ]  # fmt: skip
    return [str(sandbox_pid)]


def _nsenter(sandbox_pid: int) -> list[str]:
    if os.geteuid() == 0:
        return ["nsenter", f"--net=/proc/{sandbox_pid}/ns/net"]
    return ["nsenter", "--preserve-credentials", "--user", "--net", f"--target={sandbox_pid}"]


async def _configure(sandbox_pid: int) -> None:
    """Bring the tap device up as slirp4netns's documented addresses say, then make the
    host's own addresses and link-local (cloud metadata) unreachable from the sandbox."""
    targets = [*(f"{address}/32" for address in local_addresses()), LINK_LOCAL]
    targets.append(f"{SLIRP_GATEWAY}/32")  # slirp's way to the host's loopback, closed too
    script = (
        f"link set tap0 mtu {_MTU} up\n"
        f"addr add {SLIRP_ADDRESS} dev tap0\n"
        f"route add default via {SLIRP_GATEWAY} dev tap0\n"
    ) + "".join(f"route add unreachable {target}\n" for target in targets)
    process = await asyncio.create_subprocess_exec(
        *_nsenter(sandbox_pid), "ip", "-batch", "-",
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await asyncio.wait_for(process.communicate(script.encode()), _SETUP_SECONDS)
    if process.returncode != 0:
        raise SandboxError(messages.sandbox_network_failed(stderr.decode(errors="replace")))


def _probe_directory() -> str:
    directory = tempfile.mkdtemp(prefix="greenlight-probe-")
    os.chmod(directory, 0o755)  # noqa: S103 (the build user binds what is under it)
    return directory


async def _probe_run(sandbox: Sandbox) -> str | None:
    scratch = Path(await asyncio.to_thread(_probe_directory))
    paths = JobPaths(scratch / "workspace", scratch / "home", scratch / "tmp")
    try:
        await sandbox.prepare(paths)
        async with sandbox.launch(["/bin/true"], paths=paths, env={}) as launch:
            process = await asyncio.create_subprocess_exec(
                *launch.argv, env=launch.env, stdin=subprocess.DEVNULL, start_new_session=True,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **launch.popen_options(),
            )  # fmt: skip
            problem = await _set_up(launch, process)
            output, _ = await asyncio.wait_for(process.communicate(), _SETUP_SECONDS)
    except (OSError, TimeoutError) as error:
        return messages.sandbox_broken(str(error))
    finally:
        await asyncio.to_thread(shutil.rmtree, scratch, True)
    if process.returncode != 0 or problem:  # what bwrap said explains it best
        return messages.sandbox_broken(output.decode(errors="replace").strip() or problem)
    return None


async def _set_up(launch: Launch, process: asyncio.subprocess.Process) -> str:
    if launch.started is None:
        return ""
    try:
        await launch.started(process.pid)
    except SandboxError as error:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        return str(error)
    return ""
