"""Fewer writes for the same check runs: a job that starts at once is created `in_progress`,
a running job's output is written at most once a window (on a virtual clock) and its final
update always lands, a write that would show nothing new is not sent, and a create that
GitHub failed is looked up, never made twice.

Each test keeps the history of what GitHub was told of each check run (the state after
every write), not request counts: those are the benchmark's (`bench/api_requests.py`)."""

from __future__ import annotations

import asyncio
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.pipeline.progress import PROGRESS_INTERVAL_SECONDS
from tests.e2e.conftest import Greenlight
from tests.fakes.github import FakeGitHub
from tests.helpers import wait_until
from tests.virtual_time import VirtualTime

REPO = "octo/hello"
CONFIG = ".github/greenlight.yml"
CHECK_RUNS = "/repos/{owner}/{repo}/check-runs"
CHECK_RUN = "/repos/{owner}/{repo}/check-runs/{check_run_id}"


@dataclass(frozen=True)
class Seen:
    """A check run as GitHub showed it after one write."""

    status: str
    created: bool
    text: str | None


def record_history(fake: FakeGitHub) -> dict[str, list[Seen]]:
    """Keep, per check-run name, what each write left on GitHub."""
    history: dict[str, list[Seen]] = {}
    original = fake.check_run_changed

    def changed(run: Any, *, created: bool, was_completed: bool) -> None:
        text = run.output.get("text")
        history.setdefault(run.name, []).append(Seen(run.status, created, text))
        original(run, created=created, was_completed=was_completed)

    fake.check_run_changed = changed  # type: ignore[method-assign]
    return history


async def push(fake: FakeGitHub, pipeline: str) -> str:
    return await fake.push(REPO, "main", {CONFIG: textwrap.dedent(pipeline).lstrip("\n")})


async def test_a_job_that_starts_at_once_is_created_in_progress(greenlight: Greenlight) -> None:
    fake = greenlight.fake
    fake.create_repo(REPO, {"README.md": "hi\n"})
    history = record_history(fake)
    sha = await push(
        fake,
        """
        jobs:
          lint:
            run: echo tidy
          docs:
            needs: [lint]
            run: echo built
        """,
    )
    await greenlight.run_for(REPO, sha)
    await greenlight.settle()
    await wait_until(lambda: all(c.status == "completed" for c in fake.check_runs(REPO, sha)))

    assert [(seen.status, seen.created) for seen in history["lint"]] == [
        ("in_progress", True),  # never `queued` first
        ("completed", False),
    ]
    # A job that waits for another is created `queued`; it may be seen ending before it
    # is seen starting (a Celery worker is watched at intervals), then it is not started.
    docs = [(seen.status, seen.created) for seen in history["docs"]]
    assert docs[0] == ("queued", True)
    assert docs[-1] == ("completed", False)
    assert docs[1:-1] in ([], [("in_progress", False)])
    lint = greenlight.checks(REPO, sha)["lint"]
    assert lint.started_at is not None
    assert lint.conclusion == "success"


async def test_writes_that_change_nothing_are_not_sent(greenlight: Greenlight) -> None:
    fake = greenlight.fake
    fake.create_repo(REPO, {"README.md": "hi\n"})
    history = record_history(fake)
    sha = await push(fake, "jobs:\n  lint:\n    run: echo tidy\n  test:\n    run: exit 1\n")
    run = await greenlight.run_for(REPO, sha)
    await greenlight.settle()
    await wait_until(lambda: all(c.status == "completed" for c in fake.check_runs(REPO, sha)))
    before = {name: list(seen) for name, seen in history.items()}

    # Bring the run's checks up to what the store says, as after a failure: all is said.
    await greenlight.services.pipeline.reports.resync(run.id)
    await greenlight.settle()

    assert history == before
    assert [seen.status for seen in history["greenlight"]] == ["in_progress", "completed"]
    assert greenlight.checks(REPO, sha)["greenlight"].conclusion == "failure"


@dataclass
class ProgressClock:
    """The progress updates' sleep, on a virtual clock: each window passes when the test
    says so; `sleeping` counts the sleeps begun (an update done starts the next)."""

    time: VirtualTime = field(default_factory=VirtualTime)
    windows: asyncio.Queue[None] = field(default_factory=asyncio.Queue)
    sleeping: int = 0

    async def sleep(self, seconds: float) -> None:
        self.sleeping += 1
        await self.windows.get()
        await self.time.sleep(seconds)

    async def pass_window(self) -> None:
        """Let one window pass for the job watched, and wait until its update is done."""
        begun = self.sleeping
        self.windows.put_nowait(None)
        await wait_until(lambda: self.sleeping > begun, message="the update after a window")


def held_job(gate: Path) -> str:
    return textwrap.dedent(f"""
        jobs:
          slow:
            run: 'echo first line; while [ ! -e {gate} ]; do sleep 0.05; done; echo last line'
          quick:
            run: echo done
        """)


async def running(greenlight: Greenlight, sha: str, text: str) -> None:
    async def printed() -> bool:
        run = await greenlight.store.runs.for_sha(REPO, sha)
        jobs = await greenlight.jobs(run) if run else {}
        return "slow" in jobs and text in await greenlight.log(jobs["slow"])

    await wait_until(printed, deadline=30, message=f"the job to print {text!r}")

    def quick_done() -> bool:  # its watcher is gone: the windows passed are the slow job's
        quick = greenlight.checks(REPO, sha).get("quick")
        return quick is not None and quick.status == "completed"

    await wait_until(quick_done, deadline=30, message="the quick job to end")


async def test_a_running_jobs_output_is_written_once_a_window(
    greenlight: Greenlight, tmp_path: Path
) -> None:
    fake = greenlight.fake
    fake.create_repo(REPO, {"README.md": "hi\n"})
    history = record_history(fake)
    clock = ProgressClock()
    greenlight.services.pipeline.reports.progress.sleep = clock.sleep
    gate = tmp_path / "gate"
    sha = await push(fake, held_job(gate))
    await running(greenlight, sha, "first line")

    await clock.pass_window()  # the first window: its log grew, so its check run shows it
    await wait_until(lambda: len(history["slow"]) == 2)
    assert history["slow"][1].status == "in_progress"
    assert "first line" in (history["slow"][1].text or "")
    await clock.pass_window()  # nothing new in the log: nothing written
    assert len(history["slow"]) == 2

    await asyncio.to_thread(gate.touch)
    await greenlight.run_for(REPO, sha)
    await greenlight.settle()
    await wait_until(lambda: history["slow"][-1].status == "completed")
    assert [seen.status for seen in history["slow"]] == ["in_progress", "in_progress", "completed"]
    assert "last line" in (history["slow"][-1].text or "")
    # The job that ended within its first window had no intermediate write.
    assert [seen.status for seen in history["quick"]] == ["in_progress", "completed"]
    assert clock.time.waits == [PROGRESS_INTERVAL_SECONDS] * 2


async def test_the_final_update_lands_while_an_intermediate_one_is_pending(
    greenlight: Greenlight, tmp_path: Path
) -> None:
    fake = greenlight.fake
    fake.create_repo(REPO, {"README.md": "hi\n"})
    history = record_history(fake)
    clock = ProgressClock()
    greenlight.services.pipeline.reports.progress.sleep = clock.sleep
    retry_waits, retry_may_go = [], asyncio.Event()

    async def held_retry(seconds: float) -> None:  # GitHub's back-off, held by the test
        retry_waits.append(seconds)
        await retry_may_go.wait()

    greenlight.context.github.sleep = held_retry
    # The intermediate update (output only, no status) fails once: its retry waits.
    fake.inject("PATCH", CHECK_RUN, status=502, where=lambda call: "status" not in call.body)
    gate = tmp_path / "gate"
    sha = await push(fake, held_job(gate))
    await running(greenlight, sha, "first line")
    clock.windows.put_nowait(None)
    await wait_until(lambda: bool(retry_waits), message="the intermediate update to be pending")

    await asyncio.to_thread(gate.touch)  # the job ends while its update waits to retry
    await greenlight.run_for(REPO, sha)
    await wait_until(lambda: greenlight.checks(REPO, sha)["slow"].status == "completed")
    retry_may_go.set()
    await greenlight.settle()

    assert [seen.status for seen in history["slow"]] == ["in_progress", "completed"]
    final = greenlight.checks(REPO, sha)["slow"]
    assert final.conclusion == "success"
    assert "last line" in (final.output.get("text") or "")
    assert fake.faults.injected
    assert fake.faults.left() == 0


FAULTS = [
    pytest.param({"status": 502}, id="502"),
    pytest.param({"status": 502, "after_applying": True}, id="502-after-applying"),
    pytest.param({"reset": True, "after_applying": True}, id="reset-after-applying"),
]


@pytest.mark.parametrize("fault", FAULTS)
async def test_a_failed_create_in_progress_is_looked_up_not_made_twice(
    greenlight: Greenlight, fault: dict[str, Any]
) -> None:
    fake = greenlight.fake
    fake.create_repo(REPO, {"README.md": "hi\n"})
    time = VirtualTime()
    greenlight.context.github.clock, greenlight.context.github.sleep = time.clock, time.sleep

    def in_progress(call: Any) -> bool:
        return bool(call.body.get("status") == "in_progress")

    fake.inject("POST", CHECK_RUNS, times=2, where=in_progress, **fault)
    sha = await push(fake, "jobs:\n  lint:\n    run: echo tidy\n")
    await greenlight.run_for(REPO, sha)
    await greenlight.settle()
    await wait_until(lambda: all(c.status == "completed" for c in fake.check_runs(REPO, sha)))

    names = sorted(check.name for check in fake.check_runs(REPO, sha))
    assert names == ["greenlight", "lint"]  # one each, though the create was answered 5xx
    assert greenlight.checks(REPO, sha)["lint"].conclusion == "success"
    assert fake.faults.injected
    fake.assert_no_violations()


@pytest.mark.one_executor("the local executor's free slots: a Celery worker's are its own")
async def test_jobs_beyond_the_free_slots_are_created_queued(greenlight: Greenlight) -> None:
    fake = greenlight.fake
    fake.create_repo(REPO, {"README.md": "hi\n"})
    history = record_history(fake)
    slots = greenlight.context.settings.concurrency
    jobs = "".join(f"  job{n}:\n    run: echo {n}\n" for n in range(slots + 2))
    sha = await push(fake, f"jobs:\n{jobs}")
    await greenlight.run_for(REPO, sha)
    await greenlight.settle()
    await wait_until(lambda: all(c.status == "completed" for c in fake.check_runs(REPO, sha)))

    created = [seen[0].status for name, seen in history.items() if name != "greenlight"]
    assert sorted(created) == ["in_progress"] * slots + ["queued"] * 2
    assert all(seen[-1].status == "completed" for seen in history.values())
