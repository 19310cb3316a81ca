from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

import pytest

from bot.core.config import Step
from bot.core.masking import Masker
from bot.executor.output import MAX_LINE_CHARS
from bot.executor.process import JobOutcome, format_duration, run_steps

PATH_ONLY = {"PATH": os.environ["PATH"]}


class Log:
    """An `on_output` that records what it is given and lets a test wait for text."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self._changed = asyncio.Condition()

    async def __call__(self, text: str) -> None:
        async with self._changed:
            self.parts.append(text)
            self._changed.notify_all()

    @property
    def text(self) -> str:
        return "".join(self.parts)

    async def wait_for(self, fragment: str) -> None:
        async with asyncio.timeout(10), self._changed:
            await self._changed.wait_for(lambda: fragment in self.text)


async def run(
    tmp_path: Path,
    *runs: str,
    log: Log | None = None,
    cancel: asyncio.Event | None = None,
    job_timeout: float = 60,
    env: dict[str, str] = PATH_ONLY,
    masker: Masker | None = None,
    kill_grace_seconds: float = 5.0,
    partial_line_seconds: float = 0.5,
) -> JobOutcome:
    steps = [Step(f"step {index}", run) for index, run in enumerate(runs, 1)]
    return await run_steps(
        steps,
        workdir=tmp_path,
        env=env,
        timeout_seconds=job_timeout,
        on_output=log or Log(),
        cancel=cancel or asyncio.Event(),
        masker=masker,
        kill_grace_seconds=kill_grace_seconds,
        partial_line_seconds=partial_line_seconds,
    )


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def release(fifo: Path) -> None:
    """Let a step blocked in `read < fifo` go on."""
    await asyncio.to_thread(fifo.write_text, "go\n")


async def test_steps_run_in_order_with_headers_and_results(tmp_path: Path) -> None:
    log = Log()
    outcome = await run(tmp_path, "echo one", "echo two >&2", log=log)
    assert outcome.conclusion == "success"
    assert [(s.name, s.status, s.exit_code) for s in outcome.steps] == [
        ("step 1", "success", 0),
        ("step 2", "success", 0),
    ]
    pattern = r"▶ step 1\none\n✓ step 1 \(\d+\.\d s\)\n▶ step 2\ntwo\n✓ step 2 \(\d+\.\d s\)\n"
    assert re.fullmatch(pattern, log.text)
    assert outcome.duration_seconds >= sum(s.duration_seconds for s in outcome.steps)


async def test_the_first_failing_step_stops_the_job(tmp_path: Path) -> None:
    log = Log()
    outcome = await run(tmp_path, "true", "echo before; exit 3", "echo never", log=log)
    assert outcome.conclusion == "failure"
    assert [(s.status, s.exit_code) for s in outcome.steps] == [
        ("success", 0),
        ("failure", 3),
        ("not_run", None),
    ]
    assert "before\n✗ step 2 exited 3 (" in log.text
    assert "never" not in log.text


@pytest.mark.parametrize(
    ("script", "exit_code"),
    [
        ("exit 0", 0),
        ("exit 7", 7),
        ("false; echo unreachable", 1),  # -e
        ("false | true", 1),  # -o pipefail
        ("echo $UNSET_VARIABLE", 0),  # no -u: a step may test for unset variables
        ("kill -9 $$", 137),  # killed by a signal we did not send: reported as a shell does
        ("no-such-command-here", 127),
    ],
)
async def test_exit_codes(tmp_path: Path, script: str, exit_code: int) -> None:
    outcome = await run(tmp_path, script)
    assert outcome.steps[0].exit_code == exit_code
    assert outcome.conclusion == ("success" if exit_code == 0 else "failure")


async def test_the_environment_is_exactly_the_one_given(tmp_path: Path) -> None:
    log = Log()
    env = {**PATH_ONLY, "GREETING": "hi there"}
    await run(tmp_path, 'echo "$GREETING|${HOME-no home}|$(pwd)"', log=log, env=env)
    assert f"hi there|no home|{tmp_path}\n" in log.parts


async def test_output_arrives_while_the_step_runs(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "go")
    log = Log()
    job = asyncio.create_task(run(tmp_path, "echo first; read -r _ < go; echo second", log=log))
    await log.wait_for("first\n")
    assert not job.done()
    assert "second" not in log.text
    await release(tmp_path / "go")
    assert (await job).conclusion == "success"
    assert log.parts[1:3] == ["first\n", "second\n"]


async def test_a_partial_line_is_passed_on_when_the_step_waits(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "go")
    log = Log()
    script = "printf 'Password: '; read -r _ < go; echo ok"
    job = asyncio.create_task(run(tmp_path, script, log=log, partial_line_seconds=0.05))
    await log.wait_for("Password: ")
    await release(tmp_path / "go")
    await job
    assert log.parts[1:3] == ["Password: ", "ok\n"]


async def test_the_result_line_starts_a_line_of_its_own(tmp_path: Path) -> None:
    log = Log()
    await run(tmp_path, "printf 'no newline at the end'", log=log)
    assert log.parts[1:3] == ["no newline at the end", "\n"]
    assert log.parts[3].startswith("✓ step 1 (")


async def test_secrets_are_masked_even_when_written_in_pieces(tmp_path: Path) -> None:
    log = Log()
    script = "echo token=s3cr3t-value; printf s3cr; printf '3t-value\\n'; echo done"
    await run(tmp_path, script, log=log, masker=Masker(["s3cr3t-value"]))
    assert "s3cr" not in log.text
    assert "token=***\n" in log.parts
    assert "***\n" in log.parts


@pytest.mark.parametrize(
    "script",
    [
        "sleep 100 & echo $! > pid; echo ready; wait",
        "bash -c 'sleep 100 & echo $! > pid; echo ready; wait'",
        "trap '' TERM; sleep 100 & echo $! > pid; echo ready; wait",  # needs SIGKILL
    ],
)
async def test_cancel_kills_the_whole_process_group(tmp_path: Path, script: str) -> None:
    log, cancel = Log(), asyncio.Event()
    job = asyncio.create_task(
        run(tmp_path, script, "echo never", log=log, cancel=cancel, kill_grace_seconds=0.2)
    )
    await log.wait_for("ready\n")
    cancel.set()
    outcome = await job
    assert outcome.conclusion == "cancelled"
    assert [(s.status, s.exit_code) for s in outcome.steps] == [
        ("cancelled", None),
        ("not_run", None),
    ]
    assert not is_alive(int((tmp_path / "pid").read_text()))
    assert "✗ step 1 stopped: the job was cancelled" in log.text
    assert outcome.duration_seconds < 1  # nothing left to wait for once the group is gone


async def test_a_stopped_step_gets_sigterm_first(tmp_path: Path) -> None:
    log, cancel = Log(), asyncio.Event()
    script = "trap 'echo cleaning up; exit 0' TERM; echo ready; sleep 100 & wait"
    job = asyncio.create_task(run(tmp_path, script, log=log, cancel=cancel))
    await log.wait_for("ready\n")
    cancel.set()
    outcome = await job
    assert "ready\ncleaning up\n" in log.text
    assert outcome.steps[0].status == "cancelled"
    assert outcome.duration_seconds < 4  # well within the default 5 s grace


async def test_the_timeout_covers_the_whole_job_and_kills_grandchildren(tmp_path: Path) -> None:
    log = Log()
    outcome = await run(
        tmp_path,
        "echo quick",
        "bash -c 'sleep 100 & echo $! > pid; wait'; echo unreachable",
        "echo never",
        log=log,
        job_timeout=1.0,
        kill_grace_seconds=0.2,
    )
    assert outcome.conclusion == "timed_out"
    assert [s.status for s in outcome.steps] == ["success", "timed_out", "not_run"]
    assert not is_alive(int((tmp_path / "pid").read_text()))
    assert "✗ step 2 stopped: the job timed out" in log.text
    assert 1.0 <= outcome.duration_seconds < 10


async def test_a_job_cancelled_before_it_starts_runs_nothing(tmp_path: Path) -> None:
    cancel, log = asyncio.Event(), Log()
    cancel.set()
    outcome = await run(tmp_path, "touch ran", log=log, cancel=cancel)
    assert outcome.conclusion == "cancelled"
    assert outcome.steps[0].status == "not_run"
    assert not (tmp_path / "ran").exists()
    assert log.parts == []


async def test_background_processes_end_with_their_step(tmp_path: Path) -> None:
    # The background sleep keeps stdout open: the step must still end, and take it along.
    outcome = await run(tmp_path, "sleep 100 & echo $! > pid", "echo next")
    assert outcome.conclusion == "success"
    assert not is_alive(int((tmp_path / "pid").read_text()))  # killed, and reaped: no zombie
    assert outcome.duration_seconds < 1  # SIGTERM was enough (5 s before SIGKILL)


async def test_long_lines_are_split_not_lost(tmp_path: Path) -> None:
    log = Log()
    await run(tmp_path, "head -c 200000 /dev/zero | tr '\\0' x; echo; echo after", log=log)
    assert max(len(part) for part in log.parts) == MAX_LINE_CHARS
    assert "x" * 200000 + "\nafter\n" in log.text


@pytest.mark.parametrize("padding_lines", [0, 20_000])  # the long one goes through a file
async def test_scripts_of_any_length_run(tmp_path: Path, padding_lines: int) -> None:
    log = Log()
    script = "echo start\n" + "# padding\n" * padding_lines + "echo end\n"
    outcome = await run(tmp_path, script, log=log)
    assert outcome.conclusion == "success"
    assert "start\nend\n" in log.text


async def test_undecodable_output_is_replaced(tmp_path: Path) -> None:
    log = Log()
    await run(tmp_path, "printf 'caf\\xc3\\xa9 \\xff ok\\n'", log=log)
    assert "café \ufffd ok\n" in log.parts


async def test_an_error_in_on_output_stops_the_step(tmp_path: Path) -> None:
    async def broken(text: str) -> None:
        if "boom" in text:
            raise RuntimeError("log store is down")

    job = run_steps(
        [Step("s", "sleep 100 & echo $! > pid; echo boom; wait")],
        workdir=tmp_path,
        env=PATH_ONLY,
        timeout_seconds=60,
        on_output=broken,
        cancel=asyncio.Event(),
    )
    with pytest.raises(RuntimeError, match="log store is down"):
        await job
    assert not is_alive(int((tmp_path / "pid").read_text()))


async def test_cancelling_the_task_kills_the_process_group(tmp_path: Path) -> None:
    log = Log()
    job = asyncio.create_task(run(tmp_path, "sleep 100 & echo $! > pid; echo ready; wait", log=log))
    await log.wait_for("ready\n")
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    assert not is_alive(int((tmp_path / "pid").read_text()))


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.04, "0.0 s"), (1.25, "1.2 s"), (59.9, "59.9 s"), (185, "3 min 5 s"), (7260, "2 h 1 min")],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
