"""The store's side of reuse by tree: the tree and digests kept, earlier jobs found."""

from __future__ import annotations

from bot.store import NewJob, NewRun, Store
from bot.store.records import Status

TREE = "7" * 40


async def finished_run(
    store: Store, sha: str, *, repo: str = "o/r", tree: str | None = TREE, done: bool = True
) -> int:
    run, _ = await store.runs.start(NewRun(repo, sha, 1, "/x", "push", "main"), now=1)
    await store.runs.update(run.id, now=2, tree=tree)
    jobs = await store.runs.add_jobs(
        run.id,
        [NewJob("lint", "{}", input_digest="d-lint"), NewJob("test", "{}", input_digest="d-test")],
    )
    for job in jobs:
        await store.runs.update_job(job.id, status=Status.COMPLETED, conclusion="success")
    if done:
        await store.runs.update(run.id, now=3, status=Status.COMPLETED, conclusion="success")
    return run.id


async def test_jobs_of_finished_runs_of_the_tree_are_found_newest_first(store: Store) -> None:
    first = await finished_run(store, "a" * 40)
    second = await finished_run(store, "b" * 40)
    await finished_run(store, "c" * 40, tree="8" * 40)  # another tree
    await finished_run(store, "d" * 40, repo="o/other")  # another repository
    await finished_run(store, "e" * 40, done=False)  # still running
    await finished_run(store, "f" * 40, tree=None)  # tree unknown

    found = await store.runs.of_tree("o/r", TREE, ["d-test"])
    assert [(run.id, job.name) for run, job in found] == [(second, "test"), (first, "test")]
    run, job = found[0]
    assert (run.tree, run.conclusion, job.input_digest, job.conclusion) == (
        TREE,
        "success",
        "d-test",
        "success",
    )
    assert await store.runs.of_tree("o/r", TREE, []) == []


async def test_a_reused_job_keeps_its_pointer_and_note(store: Store) -> None:
    origin_run = await finished_run(store, "a" * 40)
    (origin, _) = await store.runs.jobs(origin_run)
    run, _ = await store.runs.start(NewRun("o/r", "b" * 40, 1, "/x", "push", "main"), now=1)
    (job,) = await store.runs.add_jobs(run.id, [NewJob("lint", "{}", input_digest="d-lint")])
    await store.runs.update_job(
        job.id, status=Status.COMPLETED, conclusion="success", reused_job_id=origin.id, note="n"
    )
    stored = await store.runs.job(job.id)
    assert stored is not None
    assert (stored.reused_job_id, stored.note, stored.input_digest) == (origin.id, "n", "d-lint")
