"""Killing the service mid-build never leaves a check run in progress."""

from __future__ import annotations

import os
from pathlib import Path

from bot.store.records import Status
from tests.e2e.conftest import Greenlight, start_greenlight
from tests.fakes.github import FakeGitHub
from tests.helpers import wait_until

REPO = "octo/hello"


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_a_build_interrupted_by_a_restart_is_run_again(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    fake = fake_github
    gate = tmp_path / "gate"
    started = tmp_path / "started"
    fake.create_repo(REPO, {"README.md": "hi\n"})
    server = await start_greenlight(fake, tmp_path)
    first = Greenlight(fake, server, tmp_path)
    script = f"echo attempt $$ >> {started}; while [ ! -e {gate} ]; do sleep 0.05; done; echo done"
    sha = await fake.push(
        REPO,
        "main",
        {
            ".github/greenlight.yml": (
                f"jobs:\n  wait:\n    run: '{script}'\n"
                "  quick:\n    needs: wait\n    run: echo quick\n"
            )
        },
    )
    await first.settle()
    await wait_until(started.exists, message="the job to start")
    await server.close()  # the service stops while the job runs

    first_pid = int(started.read_text().split()[1])
    await wait_until(lambda: not is_alive(first_pid), message="the old job's process to end")
    server = await start_greenlight(fake, tmp_path)
    second = Greenlight(fake, server, tmp_path)
    try:
        await wait_until(
            lambda: started.read_text().count("attempt") == 2, message="the job to run again"
        )
        gate.touch()
        run = await second.run_for(REPO, sha)
        assert run.conclusion == "success"
        jobs = await second.jobs(run)
        assert {job.status for job in jobs.values()} == {Status.COMPLETED}
        assert "restarted while this job was running" in await second.log(jobs["wait"])
        checks = second.checks(REPO, sha)
        assert {c.status for c in checks.values()} == {"completed"}
        assert checks["wait"].conclusion == "success"
        assert checks["greenlight"].conclusion == "success"
    finally:
        await fake.settle()
        await server.close()
