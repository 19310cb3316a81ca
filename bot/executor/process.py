"""Running a job's steps as shell processes: streamed, masked, timed, limited and killable.

Each step runs as `bash -eo pipefail -c RUN` in a new session, so in a process group of
its own: in the job's sandbox (`bot.executor.sandbox`), started there by the sandbox's
init, or, unsandboxed, with `cwd=workdir` and exactly the environment the caller gives
over the service's pass-through variables (`bot.executor.groups`). stdout and stderr are
merged, masked and passed to `on_output` line by line (`bot.executor.output`). A step's
leftover background processes end with the step (SIGTERM, then SIGKILL after
`kill_grace_seconds`; unsandboxed, its process group's; in the sandbox, every process of
the sandbox but its init, daemons included): start a service and use it in the same step.
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
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

from bot.core.config import Step
from bot.core.masking import Masker
from bot.executor import messages
from bot.executor.output import OutputSink, StepProtocol, read_output
from bot.executor.sandbox import SANDBOX_TMP, JobSandbox, Sandbox
from bot.executor.sandbox_network import NetworkError
from bot.executor.sandbox_steps import SandboxError

StepStatus = Literal["success", "failure", "timed_out", "cancelled", "not_run"]
Conclusion = Literal["success", "failure", "timed_out", "cancelled"]
OnOutput = Callable[[str], Awaitable[None]]
_Ending = Literal["exited", "timed_out", "cancelled", "over_limit"]

_LONG_SCRIPT_BYTES = 100_000  # Linux caps one argument at 128 KiB: longer scripts go to a file
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
            job = await stack.enter_async_context(chosen.job(workdir, secret_files or {}, env))
        except (NetworkError, SandboxError) as error:  # no step runs: say why, in its log
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
    if ending == "over_limit" or (ending == "exited" and returncode is None):
        return "failure", None  # past a limit, or the sandbox was lost
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
    protocol = StepProtocol(asyncio.get_running_loop())
    step = await context.job.start(command, context.env, protocol)
    sink = OutputSink(context.on_output, context.masker.stream(), context.partial_seconds)
    pump = asyncio.create_task(read_output(protocol, sink))
    finished = False
    try:
        ending = await _wait_for_end(protocol.exited, pump, context)
        await step.end(context.grace)
        await _finish_output(pump, protocol, context.grace)
        finished = True
    finally:
        if not finished:  # we are being cancelled, or `on_output` failed
            await step.kill()
        pump.cancel()
        step.close()
    if ending == "exited" and step.returncode() is None:  # the job's sandbox is gone
        await context.on_output(messages.sandbox_lost())
    return ending, step.returncode()


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


async def _finish_output(pump: asyncio.Task[None], protocol: StepProtocol, grace: float) -> None:
    """Let the output drain; stop reading if a process that left the step holds it."""
    done, _ = await asyncio.wait({pump}, timeout=grace)
    if not done:
        protocol.close_output()
    await pump


@functools.cache
def _become_subreaper() -> None:
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
