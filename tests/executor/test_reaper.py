"""Steps die with the process running them, even when it is killed with `kill -9`, so a
replica that takes the work over never races them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.helpers import wait_until

# A process running one unsandboxed step, as the local executor (or a Celery worker) does.
RUNNER = textwrap.dedent("""
    import asyncio, os, sys
    from pathlib import Path
    from bot.core.config import Step
    from bot.executor.process import run_steps

    async def ignore(text: str) -> None:
        pass

    asyncio.run(run_steps(
        [Step("step", sys.argv[1])], workdir=Path(sys.argv[2]),
        env={"PATH": os.environ["PATH"]}, timeout_seconds=120,
        on_output=ignore, cancel=asyncio.Event()))
""")


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has ended: only its parent's wait is missing.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def start_runner(step: str, workdir: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", RUNNER, step, str(workdir)],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )


async def test_a_killed_runner_takes_its_steps_and_their_children_with_it(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    # The step's shell and a child of it, which a kill of the shell alone would leave.
    step = f"sleep 120 & echo $$ $! > {pids}.tmp; mv {pids}.tmp {pids}; wait"
    runner = start_runner(step, tmp_path)
    try:
        await wait_until(pids.exists, deadline=30, message="the step to start")
        shell, child = (int(pid) for pid in pids.read_text().split())
        assert is_alive(shell)
        assert is_alive(child)
        runner.send_signal(signal.SIGKILL)
        runner.wait(timeout=10)
        await wait_until(
            lambda: not is_alive(shell) and not is_alive(child),
            deadline=10,
            message="the step's processes to die with their runner",
        )
    finally:
        runner.kill()
        runner.wait(timeout=10)
