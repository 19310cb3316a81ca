"""One sandbox per job, its steps started inside it: the service's side.

`Supervisor.start` runs one bwrap for the whole job, with `bot.executor.sandbox_init` as
its PID 1 (under the sandbox's own `python3`), and keeps a socket to it. Each step is sent
over that socket with a pipe of its own for its output, so every step's log, exit code,
timeout and cancel stay its own as when each step was a bwrap of its own; ending a step
ends every process of the sandbox but its init, which is the step's whole tree, since
steps run one after the other. Nothing of the job outlives `close`.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import functools
import os
import shutil
import signal
import socket
import subprocess
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from bot.executor import messages, sandbox_init
from bot.executor.groups import KILLED_WAIT_SECONDS
from bot.executor.output import PipeFeed, StepProtocol

STARTUP_SECONDS = 10.0  # the sandbox starts in milliseconds; this bounds a stuck one
_CLOSE_SECONDS = 5.0  # the init kills everything left and exits at once; bounds a stuck one
_PYTHON_OPTIONS = ("-I", "-S", "-B")  # no site, no user paths, no PYTHON* variables


class SandboxError(Exception):
    """The job's sandbox could not be started; the message says why and what to do."""


def sandbox_python(path: str) -> str:
    """The `python3` the sandbox runs its init with: the first on its own `path` (the
    host's read-only /usr), or "" when there is none."""
    return shutil.which("python3", path=path) or ""


@functools.cache
def _init_source() -> str:
    return Path(sandbox_init.__file__).read_text()


def _environment_file(env: Mapping[str, str]) -> int:
    """A memory file holding `env` as `NAME=VALUE\\0…`, for the init to read once."""
    descriptor = os.memfd_create("greenlight-step-environment")
    data = b"".join(os.fsencode(f"{name}={value}") + b"\0" for name, value in env.items())
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]
    os.lseek(descriptor, 0, os.SEEK_SET)
    return descriptor


class Supervisor:
    """The init of one job's sandbox, as the service drives it."""

    def __init__(self, process: subprocess.Popen[bytes], control: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        self._process = process
        self._control = control
        self._ready: asyncio.Future[bool] = loop.create_future()
        self._gone = asyncio.Event()
        self._step: SandboxedStep | None = None
        self.lost = False  # the init is gone: no further step can run
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(
        cls, prefix: Sequence[str], python: str, env: Mapping[str, str], path: str
    ) -> Supervisor:
        """Run `prefix` (the bwrap command line, up to its `--`) with the init in it."""
        here, there = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        here.setblocking(False)
        environment = _environment_file(env)
        fds = (there.fileno(), environment)
        init = [python, *_PYTHON_OPTIONS, "-c", _init_source(), *map(str, fds)]
        try:
            # Started as asyncio starts a process, but reaped by a thread (see `close`).
            process = subprocess.Popen(  # noqa: ASYNC220
                [*prefix, *init],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                pass_fds=fds, start_new_session=True, env={"PATH": path}, cwd="/",
            )  # fmt: skip
        except BaseException:
            here.close()
            raise
        finally:
            there.close()
            os.close(environment)
        supervisor = cls(process, here)
        try:
            await supervisor._await_ready()
        except BaseException:
            await supervisor.close()
            raise
        return supervisor

    async def _await_ready(self) -> None:
        with contextlib.suppress(TimeoutError):
            if await asyncio.wait_for(asyncio.shield(self._ready), STARTUP_SECONDS):
                return
        self._process.kill()
        _, said = await asyncio.to_thread(self._process.communicate)
        detail = said.decode(errors="replace").strip() or "the sandbox did not start"
        raise SandboxError(messages.sandbox_broken(detail))

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while message := await loop.sock_recv(self._control, 4096):
                self._dispatch(message)
        except OSError:
            pass
        finally:
            self.lost = True
            if not self._ready.done():
                self._ready.set_result(False)
            if self._step is not None:
                self._step.exited(None)
            self._gone.set()

    def _dispatch(self, message: bytes) -> None:
        verb, _, argument = message.partition(b" ")
        if verb == b"ready" and not self._ready.done():
            self._ready.set_result(True)
        elif verb == b"exit" and self._step is not None:
            code, _, alone = argument.partition(b" ")
            self._step.exited(int(code), alone=alone == b"alone")
        elif verb == b"gone":
            self._gone.set()

    async def run(self, command: Sequence[str], protocol: StepProtocol) -> SandboxedStep:
        """Start `command` in the sandbox, its output (stdout and stderr) to `protocol`."""
        step = self._step = SandboxedStep(self, protocol)
        reading, writing = os.pipe()
        try:
            message = b"\0".join([b"run", *map(os.fsencode, command)])
            fds = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [writing]))]
            self._control.sendmsg([message], fds)
        except OSError:  # the init is gone
            step.exited(None)
        finally:
            os.close(writing)
        output = os.fdopen(reading, "rb", 0)  # a pipe's end: opening it does not block
        await asyncio.get_running_loop().connect_read_pipe(lambda: PipeFeed(protocol), output)
        return step

    async def end_all(self, signal_number: int, within: float) -> bool:
        """Send `signal_number` to every process of the sandbox but its init; True once
        none is left within `within` seconds."""
        self._gone.clear()
        try:
            self._control.send(b"end %d" % signal_number)
        except OSError:  # the init is gone, and everything with it
            return True
        try:
            await asyncio.wait_for(self._gone.wait(), within)
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        """End the job's sandbox: its init kills what is left (nothing, once each step
        was ended) and exits, and the kernel takes its namespaces down. That is not
        waited for; a thread reaps bwrap (the interpreter waits for it before exiting),
        or kills it (and with it the init, through `--die-with-parent`) if it does not
        end within seconds."""
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        self._control.close()
        # Not a daemon: the interpreter waits for it at exit, so none is left a zombie.
        threading.Thread(target=_reap, args=(self._process,), name="greenlight-reaper").start()


def _reap(process: subprocess.Popen[bytes]) -> None:
    try:
        process.communicate(timeout=_CLOSE_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()


class SandboxedStep:
    """A step running in its job's sandbox (see `bot.executor.groups.RunningStep`)."""

    def __init__(self, supervisor: Supervisor, protocol: StepProtocol) -> None:
        self._supervisor = supervisor
        self._protocol = protocol
        self._code: int | None = None
        self._alone = False  # it ended leaving no process behind: nothing to end

    def exited(self, code: int | None, *, alone: bool = False) -> None:
        if not self._protocol.exited.done():
            self._code, self._alone = code, alone
            self._protocol.process_exited()

    def returncode(self) -> int | None:
        return self._code

    async def end(self, grace: float) -> None:
        if self._alone:
            return
        if not await self._supervisor.end_all(signal.SIGTERM, grace):
            await self.kill()

    async def kill(self) -> None:
        await self._supervisor.end_all(signal.SIGKILL, KILLED_WAIT_SECONDS)

    def close(self) -> None:
        self._protocol.close_output()
