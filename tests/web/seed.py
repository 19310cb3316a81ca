"""Runs, jobs, logs and deployments put straight in the store, for the pages' tests."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from bot.store import NewJob, NewRun, Store
from bot.store.deployments import DeploymentRecord, Deployments, DeployState, NewDeployment
from bot.store.records import Job, Run, Status

REPO = "octo/hello"


@dataclass(frozen=True)
class Seeded:
    run: Run
    jobs: dict[str, Job]


async def seed_run(
    store: Store,
    sha: str,
    jobs: dict[str, str | None],  # name → conclusion (None: still running)
    *,
    repo: str = REPO,
    ref: str = "main",
    pr_number: int | None = None,
    needs: dict[str, list[str]] | None = None,
    base_names: dict[str, str] | None = None,
) -> Seeded:
    """A run of `sha` with `jobs`, finished or running, each having taken a few seconds."""
    now = time.time()
    event = "pull_request" if pr_number else "push"
    run, _ = await store.runs.start(
        NewRun(repo, sha, 1, "/nowhere", event, ref, pr_number=pr_number), now=now - 60
    )
    specs = [
        NewJob(name, json.dumps({
            "name": name,
            "base_name": (base_names or {}).get(name, name),
            "needs": (needs or {}).get(name, []),
        }))
        for name in jobs
    ]  # fmt: skip
    created = {job.name: job for job in await store.runs.add_jobs(run.id, specs)}
    for index, (name, conclusion) in enumerate(jobs.items()):
        changes: dict[str, object] = {"status": Status.IN_PROGRESS, "started_at": now - 50}
        if conclusion is not None:
            changes.update(
                status=Status.COMPLETED, conclusion=conclusion, finished_at=now - 40 + index
            )
        await store.runs.update_job(created[name].id, **changes)
    if all(c is not None for c in jobs.values()):
        failed = any(c != "success" for c in jobs.values())
        await store.runs.update(
            run.id, now=now, status=Status.COMPLETED, conclusion="failure" if failed else "success"
        )
    else:
        await store.runs.update(run.id, now=now, status=Status.IN_PROGRESS)
    fresh = await store.runs.get(run.id)
    assert fresh is not None
    jobs_now = {job.name: job for job in await store.runs.jobs(run.id)}
    return Seeded(fresh, jobs_now)


async def seed_deployment(
    store: Store, environment: str, sha: str, state: DeployState, *, repo: str = REPO
) -> DeploymentRecord:
    deployments = Deployments(store.engine)
    record = await deployments.add(
        NewDeployment(repo, environment, sha, 1, None, description=f"Deploy {sha[:7]}"),
        now=time.time() - 30,
    )
    return await deployments.update(
        record.id, state=state, started_at=time.time() - 20, finished_at=time.time() - 10
    )


FAILED_LOG = (
    "Cloning octo/hello\n"
    "▶ build\n"
    "\x1b[32mcompiled\x1b[0m 3 files\n"
    "✓ build (1.2 s)\n"
    "▶ test\n"
    "running 2 tests\n"
    "<script>alert(1)</script>\n"
    "\x1b[1;31mFAILED\x1b[0m test_it\n"
    "✗ test exited 1 (0.4 s)\n"
    "- lint did not run\n"
)
