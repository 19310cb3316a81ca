"""Owners of runs, jobs and deploys: what two replicas on one database see of each other's work."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.replica import live_replicas
from bot.store import NewJob, NewRun, Store, open_store
from bot.store.deployments import Deployments, DeployState, NewDeployment
from bot.store.owners import Work
from bot.store.records import Status
from tests.services import postgres_database


@pytest.fixture
async def replicas() -> AsyncIterator[tuple[Store, Store]]:
    """Two replicas' stores: two engines, their own connections, one PostgreSQL database."""
    async with postgres_database() as url:
        first, second = await open_store(url), await open_store(url)
        try:
            yield first, second
        finally:
            await first.close()
            await second.close()


async def a_run(store: Store, owner: str, sha: str = "a" * 40) -> int:
    new = NewRun("o/r", sha, 1, "https://example/o/r.git", "push", "main", owner=owner)
    run, _ = await store.runs.start(new, now=0)
    return run.id


async def test_only_the_work_of_replicas_not_live_is_abandoned(
    replicas: tuple[Store, Store],
) -> None:
    first, second = replicas
    mine, theirs = await a_run(first, "a", "a" * 40), await a_run(second, "b", "b" * 40)
    orphan = await a_run(first, "gone", "c" * 40)
    assert [row for row, _ in await second.owners.abandoned(Work.RUN, {"a", "b"})] == [orphan]
    assert {row for row, _ in await first.owners.abandoned(Work.RUN, {"b"})} == {mine, orphan}
    assert theirs not in {row for row, _ in await first.owners.abandoned(Work.RUN, {"b"})}


async def test_two_replicas_taking_over_the_same_work_get_one_winner(
    replicas: tuple[Store, Store],
) -> None:
    first, second = replicas
    run = await a_run(first, "gone")
    won = await asyncio.gather(
        *(
            store.owners.take(Work.RUN, run, owner=name, previous="gone")
            for store, name in [(first, "a"), (second, "b")] * 4
        )
    )
    assert won.count(True) == 1
    winner = (await first.runs.get(run)).owner  # type: ignore[union-attr]
    assert winner in {"a", "b"}
    assert await first.owners.abandoned(Work.RUN, {"a", "b"}) == []


async def test_finished_work_is_never_taken(replicas: tuple[Store, Store]) -> None:
    first, second = replicas
    run = await a_run(first, "gone")
    await first.runs.update(run, now=1, status=Status.COMPLETED, conclusion="success")
    assert await second.owners.abandoned(Work.RUN, set()) == []
    assert not await second.owners.take(Work.RUN, run, owner="b", previous="gone")


async def test_a_queued_job_nobody_handed_out_is_not_abandoned(
    replicas: tuple[Store, Store],
) -> None:
    """Its run's owner schedules it; a job handed to a stopped replica's executor is."""
    first, second = replicas
    run = await a_run(first, "a")
    waiting, handed, running = await first.runs.add_jobs(
        run, [NewJob("waiting", "{}"), NewJob("handed", "{}"), NewJob("running", "{}")]
    )
    await first.owners.own(Work.JOB, handed.id, "gone")
    await first.runs.update_job(running.id, status=Status.IN_PROGRESS)  # from before owners
    abandoned = await second.owners.abandoned(Work.JOB, {"a", "b"})
    assert abandoned == [(handed.id, "gone"), (running.id, None)]
    assert waiting.id not in {row for row, _ in abandoned}


async def test_a_deploy_superseded_on_one_replica_cannot_begin_on_the_other(
    replicas: tuple[Store, Store],
) -> None:
    first, second = Deployments(replicas[0].engine), Deployments(replicas[1].engine)
    older = await first.add(NewDeployment("o/r", "production", "a" * 40, 1, None, owner="a"), now=0)
    await second.update(older.id, state=DeployState.SUPERSEDED)
    assert not await first.begin(older.id, owner="a", now=1)
    newer = await second.add(
        NewDeployment("o/r", "production", "b" * 40, 1, None, owner="b"), now=1
    )
    assert await second.begin(newer.id, owner="b", now=2)
    assert not await first.begin(newer.id, owner="a", now=2)  # it runs already
    running = await first.of_state("o/r", "production", DeployState.IN_PROGRESS)
    assert [(record.id, record.owner) for record in running] == [(newer.id, "b")]


async def test_replicas_that_stop_beating_are_no_longer_live(
    replicas: tuple[Store, Store],
) -> None:
    first, second = replicas
    await first.replicas.beat("a", now=100)
    await second.replicas.beat("b", now=100)
    await second.replicas.beat("b", now=125)
    assert await live_replicas(first, "a", now=131, ttl=30) == {"a", "b"}  # itself, always
    assert await live_replicas(second, "b", now=131, ttl=30) == {"b"}


async def test_on_sqlite_what_another_process_left_is_nobodys(tmp_path: Path) -> None:
    """SQLite serves one process: a replica row left by an earlier one is not live."""
    store = await open_store(f"sqlite:///{tmp_path / 'g.db'}")
    try:
        await store.replicas.beat("earlier", now=100)
        assert await live_replicas(store, "now", now=101, ttl=30) == {"now"}
    finally:
        await store.close()
