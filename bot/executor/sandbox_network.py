"""A job's own network: a network namespace per job, its only way out slirp4netns.

Made once per job, so its cost is paid once, not per step: a holder process (`unshare
--net`, then `sleep`) keeps the namespace alive; slirp4netns
(https://github.com/rootless-containers/slirp4netns) attaches a tap device to it and
forwards the job's connections through sockets of the host, with `--disable-host-loopback`
so that its gateway address does not lead to the host's loopback; `ip` brings the device up
with slirp4netns's documented addresses and makes unreachable, inside the namespace, every
address of the host itself and the link-local range (cloud metadata at 169.254.169.254).
The step's processes join the namespace (see `Sandbox`) but hold no capability over it,
so they cannot change those routes.

It needs root: entering a network namespace takes CAP_SYS_ADMIN, and the namespace must
not belong to a user namespace the build user owns.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
from collections.abc import Callable

from bot.executor import messages

LINK_LOCAL = "169.254.0.0/16"
# slirp4netns's fixed addresses (slirp4netns(1)): the host itself, its DNS, the job.
SLIRP_GATEWAY = "10.0.2.2"
SLIRP_DNS = "10.0.2.3"
SLIRP_ADDRESS = "10.0.2.100/24"
MTU = 65520
SETUP_SECONDS = 10.0  # each part starts in milliseconds; this bounds a stuck one
TOOLS = ("unshare", "setpriv", "slirp4netns", "nsenter", "ip")


class NetworkError(Exception):
    """The job's network could not be made; the message says why and what to do."""


class JobNetwork:
    """A running network namespace for one job; `stop` ends it."""

    def __init__(self, holder: asyncio.subprocess.Process) -> None:
        self._holder = holder
        self._slirp: asyncio.subprocess.Process | None = None
        self._slirp_exit: int | None = None  # slirp4netns exits when this closes

    @property
    def namespace(self) -> str:
        """The namespace's path, for `nsenter --net=`."""
        return f"/proc/{self._holder.pid}/ns/net"

    @classmethod
    async def start(cls) -> JobNetwork:
        holder = await asyncio.create_subprocess_exec(
            # The holder dies with the service, so a crash leaves no namespace behind.
            "setpriv", "--pdeathsig", "KILL", "--",
            "unshare", "--net", "--", "sh", "-c", "echo ready; exec sleep infinity",
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        network = cls(holder)
        try:
            await network._await_holder()
            await network._attach()
            await _configure(network.namespace)
        except BaseException:
            await network.stop()
            raise
        return network

    async def _await_holder(self) -> None:
        assert self._holder.stdout is not None
        try:
            said = await asyncio.wait_for(self._holder.stdout.readline(), SETUP_SECONDS)
        except TimeoutError:
            said = b""
        if said != b"ready\n":
            rest = b"" if self._holder.returncode is None else await self._holder.stdout.read()
            detail = (said + rest).decode(errors="replace").strip() or "unshare did not start"
            raise NetworkError(messages.sandbox_network_failed(detail))

    async def _attach(self) -> None:
        ready_read, ready_write = os.pipe()
        exit_read, self._slirp_exit = os.pipe()
        try:
            self._slirp = await asyncio.create_subprocess_exec(
                "slirp4netns", f"--mtu={MTU}", "--disable-host-loopback",
                f"--ready-fd={ready_write}", f"--exit-fd={exit_read}",
                # The namespace belongs to our own user namespace: join only the network.
                "--netns-type=path", "--userns-path=/proc/self/ns/user", self.namespace,
                "tap0",
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
            said = await self._stop_slirp()
            raise NetworkError(messages.sandbox_network_failed(said or "slirp4netns failed"))

    async def _stop_slirp(self) -> str:
        slirp, self._slirp = self._slirp, None
        if self._slirp_exit is not None:
            os.close(self._slirp_exit)
            self._slirp_exit = None
        if slirp is None:
            return ""
        with contextlib.suppress(ProcessLookupError):
            slirp.kill()  # the job is over: nothing to shut down gracefully
        _, stderr = await slirp.communicate()
        return (stderr or b"").decode(errors="replace").strip()

    async def stop(self) -> None:
        """End slirp4netns and the holder: the namespace goes with them."""
        await self._stop_slirp()
        with contextlib.suppress(ProcessLookupError):
            self._holder.kill()
        await self._holder.communicate()


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


def entering(namespace: str) -> list[str]:
    """The command prefix that runs the rest inside the job's network."""
    return ["nsenter", f"--net={namespace}", "--"]
