"""A job's own network: a network namespace per job, its only way out slirp4netns.

Made once per job, so its cost is paid once, not per step: the service makes the
namespace (`unshare(CLONE_NEWNET)` in a thread of its own) and holds it open; slirp4netns
(https://github.com/rootless-containers/slirp4netns) attaches a tap device to it and
forwards the job's connections through sockets of the host, with `--disable-host-loopback`
so that its gateway address does not lead to the host's loopback; `ip` brings the device up
with slirp4netns's documented addresses and makes unreachable, inside the namespace, every
address of the host itself and the link-local range (cloud metadata at 169.254.169.254).
The job's sandbox joins the namespace (see `Sandbox`) but holds no capability over it,
so its steps cannot change those routes.

It needs root: making and entering a network namespace takes CAP_SYS_ADMIN, and the
namespace must not belong to a user namespace the build user owns.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import os
import subprocess
import threading
from collections.abc import Callable

from bot.executor import messages

LINK_LOCAL = "169.254.0.0/16"
# slirp4netns's fixed addresses (slirp4netns(1)): the host itself, its DNS, the job.
SLIRP_GATEWAY = "10.0.2.2"
SLIRP_DNS = "10.0.2.3"
SLIRP_ADDRESS = "10.0.2.100/24"
MTU = 65520
SETUP_SECONDS = 10.0  # each part starts in milliseconds; this bounds a stuck one
TOOLS = ("setpriv", "slirp4netns", "nsenter", "ip")
_CLONE_NEWNET = 0x40000000  # from <linux/sched.h>


class NetworkError(Exception):
    """The job's network could not be made; the message says why and what to do."""


class JobNetwork:
    """A network namespace for one job, held open by the service; `stop` ends it."""

    def __init__(self, descriptor: int) -> None:
        self._descriptor = descriptor  # the namespace, open in the service (close-on-exec)
        self._slirp: subprocess.Popen[bytes] | None = None
        self._slirp_exit: int | None = None  # slirp4netns exits when this closes

    @property
    def namespace(self) -> str:
        """The namespace's path, for `nsenter --net=` and slirp4netns."""
        return f"/proc/{os.getpid()}/fd/{self._descriptor}"

    @classmethod
    async def open(cls) -> JobNetwork:
        """The namespace, with nothing in it yet: the sandbox may start in it while
        `connect` gives it its way out. Made by a thread of its own, which leaves the
        service's network for a new one and ends, so no other thread ever changes
        network; the service holds the namespace as a file descriptor, which dies with
        it, so a crash leaves no namespace behind."""
        loop = asyncio.get_running_loop()
        made: asyncio.Future[int] = loop.create_future()
        threading.Thread(target=_new_namespace, args=(loop, made), daemon=True).start()
        return cls(await made)

    async def connect(self) -> None:
        """Attach slirp4netns and set the routes; `stop` undoes a part done."""
        await self._attach()
        await _configure(self.namespace)

    async def _attach(self) -> None:
        ready_read, ready_write = os.pipe()
        exit_read, self._slirp_exit = os.pipe()
        try:
            # Started as asyncio starts a process, but reaped by a thread (see `stop`).
            self._slirp = subprocess.Popen(  # noqa: ASYNC220
                [
                    "slirp4netns", f"--mtu={MTU}", "--disable-host-loopback",
                    f"--ready-fd={ready_write}", f"--exit-fd={exit_read}",
                    # The namespace belongs to our own user namespace: join only the network.
                    "--netns-type=path", "--userns-path=/proc/self/ns/user", self.namespace,
                    "tap0",
                ],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                pass_fds=(ready_write, exit_read), start_new_session=True,
            )  # fmt: skip
        finally:
            os.close(ready_write)
            os.close(exit_read)
        try:
            ready = await asyncio.wait_for(read_pipe(ready_read, until=bool), SETUP_SECONDS)
        except TimeoutError:
            ready = b""
        finally:
            os.close(ready_read)
        if not ready:
            slirp, self._slirp = self._slirp, None
            self._close_exit()
            slirp.kill()
            _, said = await asyncio.to_thread(slirp.communicate)
            detail = said.decode(errors="replace").strip()
            raise NetworkError(messages.sandbox_network_failed(detail or "slirp4netns failed"))

    def _close_exit(self) -> None:
        if self._slirp_exit is not None:
            os.close(self._slirp_exit)
            self._slirp_exit = None

    async def stop(self) -> None:
        """End slirp4netns and let go of the namespace, which goes with them. slirp4netns
        is not waited for: the kernel takes tens of milliseconds to remove its tap device,
        and nothing of the job can use the network any more (its sandbox is gone)."""
        slirp, self._slirp = self._slirp, None
        self._close_exit()
        if slirp is not None:
            with contextlib.suppress(ProcessLookupError):
                slirp.kill()
            # Not a daemon: the interpreter waits for it at exit, so none is left a zombie.
            threading.Thread(target=slirp.communicate, name="greenlight-slirp-reaper").start()
        if self._descriptor >= 0:
            os.close(self._descriptor)
            self._descriptor = -1


def _new_namespace(loop: asyncio.AbstractEventLoop, made: asyncio.Future[int]) -> None:
    """In a thread that ends after: enter a new network namespace, open it for the loop."""
    try:
        if _libc().unshare(_CLONE_NEWNET) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"unshare: {os.strerror(error)}")
        descriptor = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    except OSError as error:
        failed = NetworkError(messages.sandbox_network_failed(str(error)))
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
            loop.call_soon_threadsafe(_settle, made, None, failed)
        return
    try:
        loop.call_soon_threadsafe(_settle, made, descriptor, None)
    except RuntimeError:  # the loop is closed: nobody will use the namespace
        os.close(descriptor)


def _settle(made: asyncio.Future[int], descriptor: int | None, error: Exception | None) -> None:
    if made.cancelled():
        if descriptor is not None:
            os.close(descriptor)
    elif error is not None:
        made.set_exception(error)
    else:
        assert descriptor is not None
        made.set_result(descriptor)


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def resolv_conf() -> str:
    """The job's /etc/resolv.conf: slirp4netns's DNS forwarder."""
    return f"nameserver {SLIRP_DNS}\n"


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


async def _configure(namespace: str) -> None:
    """Bring the tap device up, then make the host's own addresses, slirp's way to the
    host's loopback and link-local unreachable from inside."""
    targets = [*(f"{address}/32" for address in local_addresses()), LINK_LOCAL]
    targets.append(f"{SLIRP_GATEWAY}/32")
    script = (
        "link set lo up\n"
        f"link set tap0 mtu {MTU} up\n"
        f"addr add {SLIRP_ADDRESS} dev tap0\n"
        f"route add default via {SLIRP_GATEWAY} dev tap0\n"
    ) + "".join(f"route add unreachable {target}\n" for target in targets)
    process = await asyncio.create_subprocess_exec(
        "nsenter", f"--net={namespace}", "ip", "-batch", "-",
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await asyncio.wait_for(process.communicate(script.encode()), SETUP_SECONDS)
    if process.returncode != 0:
        raise NetworkError(messages.sandbox_network_failed(stderr.decode(errors="replace")))


async def read_pipe(descriptor: int, *, until: Callable[[bytes], bool]) -> bytes:
    """What a child writes to a pipe, until `until(data)` or the pipe closes."""
    loop = asyncio.get_running_loop()
    os.set_blocking(descriptor, False)
    data = b""
    while not until(data):
        readable: asyncio.Future[None] = loop.create_future()
        loop.add_reader(descriptor, _wake, readable)
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


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def entering(namespace: str, *, uid: int, gid: int) -> list[str]:
    """The command prefix that runs the rest inside the job's network as `uid`, its
    groups only `gid` and without any capability: one program (nsenter) for both."""
    return ["nsenter", f"--net={namespace}", f"--setgid={gid}", f"--setuid={uid}", "--"]
