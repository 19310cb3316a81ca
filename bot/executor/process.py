"""Running a job's steps as shell processes: streamed, masked, timed, limited and killable.

Each step runs as `bash -eo pipefail -c RUN` in a new session, so in a process group of
its own, in the job's sandbox (`bot.executor.sandbox`) or, unsandboxed, with `cwd=workdir`
and exactly the environment the caller gives over the service's pass-through variables.
stdout and stderr are merged, masked and passed to `on_output` line by line
(`bot.executor.output`). A step's leftover background processes end with the step (its
whole group gets SIGTERM, then SIGKILL after `kill_grace_seconds`; in the sandbox its PID
namespace ends them all, daemons included): start a service and use it in the same step.
A job whose files outgrow the sandbox's disk limit is stopped.

If the process running the steps dies, even by `kill -9`, its steps' groups are killed
(`bot.executor.reaper`). The service makes itself a child subreaper (Linux), so orphans
of steps come back to it and are reaped here even when PID 1 of a container does not reap.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

from bot.core.config import Step
from bot.core.masking import Masker
from bot.executor import messages
from bot.executor.output import OutputSink, StepProtocol, read_output
from bot.executor.reaper import forget_group, watch_group
from bot.executor.sandbox import SANDBOX_TMP, JobSandbox, Sandbox
from bot.executor.sandbox_network import NetworkError

StepStatus = Literal["success", "failure", "timed_out", "cancelled", "not_run"]
Conclusion = Literal["success", "failure", "timed_out", "cancelled"]
OnOutput = Callable[[str], Awaitable[None]]
_Ending = Literal["exited", "timed_out", "cancelled", "over_limit"]

_LONG_SCRIPT_BYTES = 100_000  # Linux caps one argument at 128 KiB: longer scripts go to a file
_POLL_SECONDS = 0.02
_KILLED_WAIT_SECONDS = 5.0  # SIGKILL cannot be refused; this only bounds a stuck kernel
_PR_SET_CHILD_SUBREAPER = 36  # from <linux/prctl.h>


@dataclass(frozen=True)
class StepResult:
    name: str
    exit_code: int | None  # None when it did not run (earlier step failed) or was killed
    duration_seconds: float
    status: StepStatus


@dataclass(frozen=True)
class JobOutcome:
    conclusion: Conclusion
    steps: tuple[StepResult, ...]
    duration_seconds: float


@dataclass(frozen=True)
class _Context:
    job: JobSandbox
    env: Mapping[str, str]
    on_output: OnOutput
    masker: Masker
    cancel: asyncio.Event
    over_limit: asyncio.Event  # the job went past a limit of its sandbox: stop it
    deadline: float  # loop time at which the job times out
    grace: float
    partial_seconds: float


async def run_steps(
    steps: Sequence[Step],
    *,
    workdir: Path,
    env: Mapping[str, str],
    timeout_seconds: float,
    on_output: Callable[[str], Awaitable[None]],
    cancel: asyncio.Event,
    masker: Masker | None = None,
    sandbox: Sandbox | None = None,
    secret_files: Mapping[str, str] | None = None,
    kill_grace_seconds: float = 5.0,
    partial_line_seconds: float = 0.5,
) -> JobOutcome:
    """Run `steps` in order until one fails, the job times out or `cancel` is set.

    With a `sandbox`, every step runs in it, as the job's (see `bot.executor.sandbox`);
    its HOME and /tmp live beside `workdir` for the job's length. Without one, steps run
    as the service's own processes with exactly `env`.
    """
    _become_subreaper()
    loop = asyncio.get_running_loop()
    started = loop.time()
    masker = masker or Masker(())
    async with contextlib.AsyncExitStack() as stack:
        try:
            chosen = sandbox or Sandbox.unsandboxed()
            job = await stack.enter_async_context(chosen.job(workdir, secret_files or {}))
        except NetworkError as error:  # no step can run: say why, on the job's log
            await on_output(masker.mask(f"{error}\n"))
            not_run = tuple(StepResult(step.name, None, 0.0, "not_run") for step in steps)
            return JobOutcome("failure", not_run, loop.time() - started)
        context = _Context(
            job=job,
            env=env,
            on_output=on_output,
            masker=masker,
            cancel=cancel,
            over_limit=asyncio.Event(),
            deadline=started + timeout_seconds,
            grace=kill_grace_seconds,
            partial_seconds=partial_line_seconds,
        )
        watching = asyncio.create_task(_watch_disk(context))
        try:
            conclusion, results = await _run_all(steps, context)
        finally:
            watching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watching
    return JobOutcome(conclusion, results, loop.time() - started)


async def _watch_disk(context: _Context) -> None:
    """Stop the job, saying why, once its files outgrow the sandbox's disk limit."""
    policy = context.job.sandbox.policy
    if not policy.max_disk_bytes:
        return
    paths = context.job.paths
    while not context.over_limit.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(context.cancel.wait(), policy.disk_check_seconds)
            return
        used = await asyncio.to_thread(disk_usage, (paths.workspace, paths.scratch))
        if used > policy.max_disk_bytes:
            await context.on_output(messages.disk_exceeded(used, policy.max_disk_bytes))
            context.over_limit.set()


def disk_usage(tops: Sequence[Path]) -> int:
    """Bytes of disk the files under `tops` take (blocks, as `du` counts them)."""
    total = 0
    for top in tops:
        for directory, _, names in os.walk(top):
            for name in names:
                with contextlib.suppress(OSError):
                    total += os.lstat(os.path.join(directory, name)).st_blocks * 512
    return total


async def _run_all(
    steps: Sequence[Step], context: _Context
) -> tuple[Conclusion, tuple[StepResult, ...]]:
    loop = asyncio.get_running_loop()
    results: list[StepResult] = []
    stopped: Conclusion | None = None
    for step in steps:
        stopped = stopped or _stop_before_start(context, loop.time())
        if stopped is not None:
            results.append(StepResult(step.name, None, 0.0, "not_run"))
            continue
        result = await _run_step(step, context)
        results.append(result)
        if result.status != "success":
            stopped = cast(Conclusion, result.status)
    return stopped or "success", tuple(results)


def step_started(name: str) -> str:
    """The log line written before a step runs."""
    return f"▶ {_one_line(name)}\n"


def step_finished(result: StepResult) -> str:
    """The log line written after a step ends."""
    name, took = _one_line(result.name), format_duration(result.duration_seconds)
    match result.status:
        case "success":
            return f"✓ {name} ({took})\n"
        case "failure" if result.exit_code is None:
            return f"✗ {name} stopped: the job went past a limit ({took})\n"
        case "failure":
            return f"✗ {name} exited {result.exit_code} ({took})\n"
        case "timed_out":
            return f"✗ {name} stopped: the job timed out ({took})\n"
        case "cancelled":
            return f"✗ {name} stopped: the job was cancelled ({took})\n"
        case "not_run":
            return f"- {name} did not run\n"


def format_duration(seconds: float) -> str:
    """`0.4 s`, `12.0 s`, `3 min 5 s`, `2 h 1 min`."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, whole_seconds = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {whole_seconds} s"
    return f"{minutes // 60} h {minutes % 60} min"


def _one_line(name: str) -> str:
    return " ".join(name.splitlines())


def _stop_before_start(context: _Context, now: float) -> Conclusion | None:
    if context.cancel.is_set():
        return "cancelled"
    if context.over_limit.is_set():
        return "failure"
    return "timed_out" if now >= context.deadline else None


async def _run_step(step: Step, context: _Context) -> StepResult:
    loop = asyncio.get_running_loop()
    started = loop.time()
    await context.on_output(context.masker.mask(step_started(step.name)))
    with _bash_command(step.run, context) as command:
        ending, returncode = await _run_process(command, context)
    status, exit_code = _status(ending, returncode)
    result = StepResult(step.name, exit_code, loop.time() - started, status)
    await context.on_output(context.masker.mask(step_finished(result)))
    return result


def _status(ending: _Ending, returncode: int | None) -> tuple[StepStatus, int | None]:
    if ending == "over_limit":
        return "failure", None
    if ending != "exited" or returncode is None:
        return ("cancelled" if ending == "cancelled" else "timed_out"), None
    if returncode == 0:
        return "success", 0
    # Killed by a signal it did not get from us: report it the way a shell does.
    return "failure", returncode if returncode > 0 else 128 - returncode


@contextmanager
def _bash_command(script: str, context: _Context) -> Iterator[list[str]]:
    bash = shutil.which("bash") or "/bin/bash"  # found on the service's PATH, not the step's
    if len(script.encode()) <= _LONG_SCRIPT_BYTES:
        yield [bash, "-eo", "pipefail", "-c", script]
        return
    if context.job.sandbox.enabled:  # the job's /tmp, where the sandbox sees it
        with tempfile.NamedTemporaryFile("w", dir=context.job.paths.tmp, suffix=".sh") as file:
            file.write(script)
            file.flush()
            os.chmod(file.name, 0o644)
            yield [bash, "-eo", "pipefail", f"{SANDBOX_TMP}/{Path(file.name).name}"]
        return
    with tempfile.TemporaryDirectory(prefix="greenlight-step-") as directory:
        path = Path(directory, "step.sh")
        path.write_text(script)
        yield [bash, "-eo", "pipefail", str(path)]


async def _run_process(command: list[str], context: _Context) -> tuple[_Ending, int | None]:
    launch = context.job.launch(command, context.env)
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.subprocess_exec(
        lambda: StepProtocol(loop),
        *launch.argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=launch.env,
        start_new_session=True,
        cwd=launch.cwd,
    )
    group = transport.get_pid()  # a session leader's pid is its process group id
    watch_group(group)  # killed if this process dies before the step ends
    sink = OutputSink(context.on_output, context.masker.stream(), context.partial_seconds)
    pump = asyncio.create_task(read_output(protocol, sink))
    finished = False
    try:
        ending = await _wait_for_end(protocol.exited, pump, context)
        await _end_group(group, protocol.exited, context.grace)
        await _finish_output(pump, transport, context.grace)
        finished = True
    finally:
        if not finished:  # we are being cancelled, or `on_output` failed
            _signal_group(group, signal.SIGKILL)
            await _group_ended(group, protocol.exited, _KILLED_WAIT_SECONDS)
        pump.cancel()
        transport.close()
        forget_group(group)
    return ending, transport.get_returncode()


async def _wait_for_end(
    exited: asyncio.Future[None], pump: asyncio.Task[None], context: _Context
) -> _Ending:
    loop = asyncio.get_running_loop()
    cancelled = asyncio.ensure_future(context.cancel.wait())
    over_limit = asyncio.ensure_future(context.over_limit.wait())
    waiting: set[asyncio.Future[Any]] = {exited, pump, cancelled, over_limit}
    try:
        while True:
            timeout = max(context.deadline - loop.time(), 0)
            done, _ = await asyncio.wait(
                waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if pump in done:
                pump.result()  # raises what `on_output` raised; else output ended first
                waiting.discard(pump)
                if done == {pump}:
                    continue
            if exited.done():
                return "exited"
            if context.over_limit.is_set():
                return "over_limit"
            return "cancelled" if context.cancel.is_set() else "timed_out"
    finally:
        cancelled.cancel()
        over_limit.cancel()


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
        await _group_ended(group, exited, _KILLED_WAIT_SECONDS)


async def _group_ended(group: int, exited: asyncio.Future[None], within: float) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        running = await asyncio.to_thread(_reap_and_count, group)
        if running == 0 and exited.done():
            return True
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(_POLL_SECONDS)


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


async def _finish_output(
    pump: asyncio.Task[None], transport: asyncio.SubprocessTransport, grace: float
) -> None:
    """Let the output drain; close the pipe if a process that left the group holds it."""
    done, _ = await asyncio.wait({pump}, timeout=grace)
    if not done and (pipe := transport.get_pipe_transport(1)) is not None:
        pipe.close()
    await pump


@functools.cache
def _become_subreaper() -> None:
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
