"""One sandbox per job: its steps run inside one bwrap, started by the sandbox's init.

Tried as a step would break it: kill the init, leave daemons behind, time out, set an
environment that trips Python; and from outside, as a crash would: the init killed.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
from pathlib import Path

import pytest

from bot.core.config import Step
from bot.executor.process import run_steps
from bot.executor.sandbox import Sandbox
from bot.executor.sandbox_init import __doc__ as INIT_DOC
from tests.executor.test_process import Log
from tests.helpers import wait_until
from tests.sandbox.conftest import process_exists
from tests.sandbox.test_sandbox import run_in


def namespaces(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(("pid:", "mnt:"))]


async def test_the_steps_of_a_job_share_one_sandbox(sandbox: Sandbox, walkable: Path) -> None:
    show = "readlink /proc/self/ns/pid /proc/self/ns/mnt"
    outcome, text = await run_in(sandbox, walkable / "ws", show, show, "cat /proc/1/cmdline")
    assert outcome.conclusion == "success", text
    first, second = namespaces(text)[:2], namespaces(text)[2:]
    assert len(first) == 2
    assert first == second  # the same PID and mount namespaces
    assert "python3" in text  # the sandbox's init is PID 1, not a step


async def test_a_step_cannot_end_its_jobs_sandbox(sandbox: Sandbox, walkable: Path) -> None:
    outcome, text = await run_in(
        sandbox,
        walkable / "ws",
        "kill -INT 1; kill -TERM 1; kill -HUP 1; kill -KILL 1; kill -KILL -1 || true; "
        "echo still here",
        "echo the next step runs",
    )
    assert outcome.conclusion == "success", text
    assert "still here" in text
    assert "the next step runs\n" in text


async def test_a_daemon_of_one_step_is_gone_before_the_next(
    sandbox: Sandbox, walkable: Path
) -> None:
    marker = f"{secrets.randbelow(10**6) + 1000}.{secrets.randbelow(900) + 100}"
    outcome, text = await run_in(
        sandbox,
        walkable / "ws",
        f"setsid sh -c 'while :; do echo LEAKED; sleep 0.05; done' & setsid sleep {marker} &"
        " echo started",
        "sleep 0.3; echo processes: $(ls /proc | grep -c '^[0-9]')",
    )
    assert outcome.conclusion == "success", text
    second = text.split("▶ step 1")[1]
    assert "LEAKED" not in second  # the first step's output stays its own
    # Left in the sandbox: its init, the step's bash, and the pipeline's commands.
    assert int(second.split("processes:")[1].split()[0]) <= 5
    assert not process_exists(f"sleep\0{marker}")


async def test_a_timeout_ends_the_steps_daemons_too(sandbox: Sandbox, walkable: Path) -> None:
    marker = f"{secrets.randbelow(10**6) + 1000}.{secrets.randbelow(900) + 100}"
    await asyncio.to_thread((walkable / "ws").mkdir)
    outcome = await run_steps(
        [Step("quick", "echo quick"), Step("slow", f"setsid sleep {marker} & sleep {marker}")],
        workdir=walkable / "ws",
        env={},
        timeout_seconds=1.0,
        on_output=Log(),
        cancel=asyncio.Event(),
        sandbox=sandbox,
        kill_grace_seconds=0.2,
    )
    assert [step.status for step in outcome.steps] == ["success", "timed_out"]
    assert not process_exists(f"sleep\0{marker}")


@pytest.mark.parametrize(
    ("script", "exit_code"),
    [("exit 7", 7), ("kill -9 $$", 137), ("no-such-command-here", 127), ("false | true", 1)],
)
async def test_exit_codes_in_the_sandbox(
    sandbox: Sandbox, walkable: Path, script: str, exit_code: int
) -> None:
    outcome, text = await run_in(sandbox, walkable / "ws", script)
    assert outcome.steps[0].exit_code == exit_code, text


async def test_the_environment_is_the_tickets_even_where_it_would_trip_python(
    sandbox: Sandbox, walkable: Path
) -> None:
    # Python coerces a C locale by setting LC_CTYPE, and PYTHONHOME would break it: the
    # sandbox's init runs on Python, the steps must not notice.
    env = {"LANG": "C", "PYTHONHOME": "/nowhere", "PYTHONPATH": "/nowhere", "JOB": "yes"}
    outcome, text = await run_in(sandbox, walkable / "ws", "env | sort", env=env)
    assert outcome.conclusion == "success", text
    for variable in ("LANG=C\n", "JOB=yes\n", "PYTHONHOME=/nowhere\n"):
        assert variable in text
    assert "LC_CTYPE" not in text


def init_pids(workspace: Path) -> list[int]:
    """The inits of sandboxes whose job runs in `workspace` (their working directory)."""
    fragment = INIT_DOC.splitlines()[0].encode()
    found = []
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{name}/cmdline", "rb") as cmdline:
                if fragment not in cmdline.read():
                    continue
            if os.readlink(f"/proc/{name}/cwd") == str(workspace):
                found.append(int(name))
        except OSError:
            continue
    return found


async def test_a_sandbox_lost_mid_step_fails_the_job_saying_so(
    sandbox: Sandbox, walkable: Path
) -> None:
    log = Log()
    running = asyncio.create_task(
        run_in(sandbox, walkable / "ws", "echo running; sleep 30", "echo never", log=log)
    )
    await log.wait_for("running")
    await wait_until(lambda: init_pids(walkable / "ws"), message="the job's init")
    for pid in init_pids(walkable / "ws"):
        os.kill(pid, signal.SIGKILL)  # from outside: as the kernel's OOM killer would
    outcome, text = await running
    assert [step.status for step in outcome.steps] == ["failure", "not_run"]
    assert "sandbox ended while this step ran" in text
    assert "never\n" not in text


async def test_without_python3_the_sandbox_names_the_package(
    monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox
) -> None:
    monkeypatch.setattr("bot.executor.sandbox._python", lambda: "")
    problem = await Sandbox(sandbox.policy).problem()
    assert problem is not None
    assert "`python3` is not installed" in problem
    assert "GREENLIGHT_SANDBOX=none" in problem
    assert "GREENLIGHT_SANDBOX_NETWORK" not in problem  # not a network tool


def status_of(fragment: bytes) -> dict[str, str]:
    """/proc/PID/status, as this machine sees it, of the process whose command line is
    `fragment`."""
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{name}/cmdline", "rb") as cmdline:
                if cmdline.read() != fragment:
                    continue
            with open(f"/proc/{name}/status") as status:
                return dict(line.split(":\t", 1) for line in status.read().splitlines())
        except OSError:
            continue
    return {}


async def test_a_step_runs_without_root_groups_or_capabilities(
    sandbox: Sandbox, walkable: Path
) -> None:
    marker = f"{secrets.randbelow(10**6) + 1000}.{secrets.randbelow(900) + 100}"
    cancel, log = asyncio.Event(), Log()
    running = asyncio.create_task(
        run_in(sandbox, walkable / "ws", f"sleep {marker}", cancel=cancel, log=log)
    )
    command = f"sleep\0{marker}\0".encode()
    await wait_until(lambda: status_of(command), message="the step's sleep")
    status = status_of(command)
    cancel.set()
    await running
    user = sandbox.policy.build_user
    assert status["Uid"].split() == [str(user.uid)] * 4
    assert status["Gid"].split() == [str(user.gid)] * 4
    assert set(status["Groups"].split()) <= {str(user.gid)}  # none of root's
    for capabilities in ("CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(status[capabilities], 16) == 0, capabilities
    assert status["NoNewPrivs"] == "1"


async def test_a_stopped_step_gets_one_sigterm_then_sigkill(
    sandbox: Sandbox, walkable: Path
) -> None:
    cancel, log = asyncio.Event(), Log()
    script = "trap 'echo got TERM' TERM; echo ready; while :; do sleep 0.05 || true; done"
    await asyncio.to_thread((walkable / "ws").mkdir)
    running = asyncio.create_task(
        run_steps(
            [Step("trap", script)],
            workdir=walkable / "ws",
            env={},
            timeout_seconds=30,
            on_output=log,
            cancel=cancel,
            sandbox=sandbox,
            kill_grace_seconds=0.5,
        )
    )
    await log.wait_for("ready")
    cancel.set()
    outcome = await running
    assert outcome.steps[0].status == "cancelled"
    assert log.text.count("got TERM") == 1, log.text  # its cleanup runs once, in the grace
