"""A running step as the executor sees it, and the unsandboxed kind: a host process group.

Whatever runs a step (a process group of the service's, or the job's sandbox, see
`bot.executor.sandbox_steps`) gives the executor the same handle: the step's own exit
(`StepProtocol.exited`, its code from `returncode`), `end`, which ends everything the step
started (SIGTERM, then SIGKILL after a grace), and `kill`, when there is no time for grace.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from contextlib import suppress
from pathlib import Path
from typing import Protocol

from bot.executor.output import StepProtocol
from bot.executor.reaper import forget_group, start_watching, watch_group

POLL_SECONDS = 0.02
KILLED_WAIT_SECONDS = 5.0  # SIGKILL cannot be refused; this only bounds a stuck kernel


class RunningStep(Protocol):
    def returncode(self) -> int | None:
        """The step's exit as `subprocess` gives it; None while it runs or if unknown."""
        ...

    async def end(self, grace: float) -> None:
        """End every process the step started: SIGTERM, then SIGKILL after `grace`."""
        ...

    async def kill(self) -> None:
        """SIGKILL every process the step started, and wait (bounded) until they are gone."""
        ...

    def close(self) -> None: ...


class HostGroup:
    """A step run as a process group of the service's own, in a session of its own."""

    def __init__(self, transport: asyncio.SubprocessTransport, protocol: StepProtocol) -> None:
        self._transport = transport
        self._exited = protocol.exited
        self._group = transport.get_pid()  # a session leader's pid is its process group id

    @classmethod
    async def start(
        cls, argv: list[str], env: dict[str, str], cwd: Path, protocol: StepProtocol
    ) -> HostGroup:
        loop = asyncio.get_running_loop()
        start_watching()  # the step's group must not outlive us for want of a watcher
        transport, _ = await loop.subprocess_exec(
            lambda: protocol, *argv,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env=env, start_new_session=True, cwd=cwd,
        )  # fmt: skip
        step = cls(transport, protocol)
        watch_group(step._group)  # killed if this process dies before the step ends
        return step

    def returncode(self) -> int | None:
        return self._transport.get_returncode()

    async def end(self, grace: float) -> None:
        await _end_group(self._group, self._exited, grace)

    async def kill(self) -> None:
        _signal_group(self._group, signal.SIGKILL)
        await _group_ended(self._group, self._exited, KILLED_WAIT_SECONDS)

    def close(self) -> None:
        self._transport.close()
        forget_group(self._group)


async def end_process_group(group: int, *, grace: float = 5.0) -> None:
    """End and reap what is left of a process group whose leader was waited for already."""
    exited = asyncio.get_running_loop().create_future()
    exited.set_result(None)
    await _end_group(group, exited, grace)


async def _end_group(group: int, exited: asyncio.Future[None], grace: float) -> None:
    """End every process left in the step's group: SIGTERM, then SIGKILL after `grace`."""
    if not _signal_group(group, signal.SIGTERM) and exited.done():
        return  # nothing left: the usual case
    if not await _group_ended(group, exited, grace):
        _signal_group(group, signal.SIGKILL)
        await _group_ended(group, exited, KILLED_WAIT_SECONDS)


async def _group_ended(group: int, exited: asyncio.Future[None], within: float) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        running = await asyncio.to_thread(_reap_and_count, group)
        if running == 0 and exited.done():
            return True
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(POLL_SECONDS)


def _reap_and_count(group: int) -> int:
    """Reap the group's zombies that are our children; count the members not yet gone."""
    if not _signal_group(group, 0):
        return 0
    try:
        entries = os.listdir("/proc")
    except FileNotFoundError:  # no /proc: all we know is that the group exists
        return 1
    busy = 0
    for name in filter(str.isdigit, entries):
        state = _process_state(name)
        if state is None or state[2] != group or int(name) == group:
            continue  # asyncio waits for the leader itself
        status, parent, _ = state
        if status in "ZX" and parent == os.getpid():
            with suppress(ChildProcessError):
                os.waitpid(int(name), os.WNOHANG)
        else:  # running, or dead and about to be reaped by its parent or to come to us
            busy += 1
    return busy


def _process_state(pid: str) -> tuple[str, int, int] | None:
    """State, parent pid and process group of a process, from /proc/PID/stat."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
    except OSError:
        return None
    return fields[0], int(fields[1]), int(fields[2])


def _signal_group(group: int, signal_number: int) -> bool:
    try:
        os.killpg(group, signal_number)
    except (ProcessLookupError, PermissionError):
        return False
    return True
