"""The store on SQLite and on PostgreSQL: the same code, the same answers."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.store import NewJob, NewRun, Store, open_store
from bot.store.engine import make_engine
from bot.store.migrations import MIGRATIONS, migrate
from bot.store.records import Delivery, DeliveryStatus, Status
from tests.services import drop_database, postgres_database


def delivery(delivery_id: str, *, at: float = 1.0) -> Delivery:
    return Delivery(delivery_id, "push", None, 7, "octo/hello", '{"zen": "x"}', at)


async def test_a_delivery_is_recorded_once(store: Store) -> None:
    first = await store.deliveries.record(delivery("d-1"))
    again = await store.deliveries.record(delivery("d-1"))
    assert (first, again) == (True, False)
    assert await store.deliveries.status("d-1") == DeliveryStatus.PENDING


async def test_concurrent_redeliveries_are_recorded_once(store: Store) -> None:
    answers = await asyncio.gather(*(store.deliveries.record(delivery("same")) for _ in range(10)))
    assert sorted(answers) == [False] * 9 + [True]


async def test_many_concurrent_deliveries_are_all_recorded(store: Store) -> None:
    answers = await asyncio.gather(
        *(store.deliveries.record(delivery(f"d-{n}", at=n)) for n in range(50))
    )
    assert all(answers)
    assert [d.id for d in await store.deliveries.pending()] == [f"d-{n}" for n in range(50)]


async def test_finished_deliveries_are_not_pending(store: Store) -> None:
    await store.deliveries.record(delivery("a", at=1))
    await store.deliveries.record(delivery("b", at=2))
    await store.deliveries.finish("a", DeliveryStatus.DONE, now=3)
    await store.deliveries.finish("b", DeliveryStatus.FAILED, now=3, error="boom")
    assert await store.deliveries.pending() == []
    assert await store.deliveries.status("b") == DeliveryStatus.FAILED


async def test_prune_deletes_only_old_handled_deliveries(store: Store) -> None:
    for name, at in [("old-done", 1), ("old-failed", 2), ("old-pending", 3), ("young", 50)]:
        await store.deliveries.record(delivery(name, at=at))
    for name in ("old-done", "young"):
        await store.deliveries.finish(name, DeliveryStatus.DONE, now=60)
    await store.deliveries.finish("old-failed", DeliveryStatus.FAILED, now=60, error="boom")

    assert await store.deliveries.prune(before=10, chunk=1) == 2  # a chunk at a time
    assert await store.deliveries.status("old-done") is None
    assert await store.deliveries.status("old-failed") is None
    assert [d.id for d in await store.deliveries.pending()] == ["old-pending"]
    assert await store.deliveries.status("young") == DeliveryStatus.DONE
    assert await store.deliveries.prune(before=10) == 0


async def test_installations_and_their_repositories(store: Store) -> None:
    await store.installations.save(1, "octo", now=1)
    await store.installations.add_repositories(1, [(10, "octo/a", False), (11, "octo/b", True)])
    await store.installations.remove_repositories(["octo/a"])
    assert await store.installations.repositories(1) == ["octo/b"]
    assert await store.installations.is_private("octo/b") is True
    await store.installations.set_suspended(1, True)
    found = await store.installations.get(1)
    assert found is not None
    assert found.suspended
    await store.installations.forget(1)
    assert await store.installations.get(1) is None
    assert await store.installations.repositories(1) == []


async def test_a_run_is_keyed_by_repository_and_sha(store: Store) -> None:
    new = NewRun("octo/hello", "a" * 40, 7, "/tmp/repo", "push", "main")
    first, created = await store.runs.start(new, now=1)
    second, created_again = await store.runs.start(
        NewRun("octo/hello", "a" * 40, 7, "/tmp/repo", "pull_request", "feature", pr_number=3),
        now=2,
    )
    assert (created, created_again) == (True, False)
    assert first.id == second.id
    assert second.event == "push"


async def test_jobs_keep_plan_order_and_latest_attempt(store: Store) -> None:
    run, _ = await store.runs.start(NewRun("o/r", "b" * 40, 1, "/x", "push", "main"), now=1)
    await store.runs.add_jobs(run.id, [NewJob("lint", "{}"), NewJob("test", "{}")])
    await store.runs.add_jobs(run.id, [NewJob("lint", "{}")])
    jobs = await store.runs.jobs(run.id)
    assert [(job.name, job.attempt) for job in jobs] == [("lint", 2), ("test", 1)]
    await store.runs.update_job(jobs[1].id, status=Status.COMPLETED, conclusion="success")
    assert [job.name for job in await store.runs.unfinished_jobs()] == ["lint"]


async def test_logs_append_and_read_from_a_chunk(store: Store) -> None:
    run, _ = await store.runs.start(NewRun("o/r", "c" * 40, 1, "/x", "push", "main"), now=1)
    (job,) = await store.runs.add_jobs(run.id, [NewJob("lint", "{}")])
    await store.runs.append_log(job.id, "one\n")
    await store.runs.append_log(job.id, "two\n")
    assert await store.runs.read_log(job.id) == ("one\ntwo\n", 2)
    assert await store.runs.read_log(job.id, after=1) == ("two\n", 2)
    assert await store.runs.read_log(job.id, after=2) == ("", 2)


async def test_pull_request_state_is_created_on_first_change(store: Store) -> None:
    assert (await store.pull_requests.get("o/r", 5)).held_by is None
    await store.pull_requests.update("o/r", 5, held_by="alice")
    state = await store.pull_requests.update("o/r", 5, trusted_sha="d" * 40)
    assert (state.held_by, state.trusted_sha) == ("alice", "d" * 40)


async def test_the_store_reports_health(store: Store) -> None:
    assert await store.is_healthy()


async def test_migrations_are_applied_once_and_keep_data(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    first = await open_store(url)
    await first.deliveries.record(delivery("kept"))
    await first.close()
    second = await open_store(url)  # start-up again: nothing re-applied, nothing dropped
    async with second.engine.connect() as connection:
        versions = (await connection.execute(sa.text("SELECT version FROM schema_version"))).all()
    assert [v for (v,) in versions] == list(range(1, len(MIGRATIONS) + 1))
    assert await second.deliveries.status("kept") == DeliveryStatus.PENDING
    await second.close()


async def test_a_run_keeps_its_repository_id(store: Store) -> None:
    new = NewRun("octo/hello", "e" * 40, 7, "/x", "push", "main", repo_id=1296269)
    run, _ = await store.runs.start(new, now=1)
    again = await store.runs.get(run.id)
    assert (run.repo_id, again and again.repo_id) == (1296269, 1296269)


@pytest.mark.parametrize(
    "dialect", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
async def test_runs_from_before_repository_ids_get_them_where_known(
    dialect: str, tmp_path: Path
) -> None:
    async with contextlib.AsyncExitStack() as stack:
        if dialect == "sqlite":
            url = f"sqlite:///{tmp_path / 'old.db'}"
        else:
            url = await stack.enter_async_context(postgres_database())
        await make_database_at_version_3(url)
        store = await open_store(url)
        stack.push_async_callback(store.close)
        known = await store.runs.for_sha("octo/hello", "a" * 40)
        unknown = await store.runs.for_sha("octo/gone", "b" * 40)
        assert known is not None
        assert unknown is not None
        assert (known.repo_id, unknown.repo_id) == (1296269, None)


async def make_database_at_version_3(url: str) -> None:
    """A store as version 3 of the schema left it, with a run of a known repository and one
    of a repository no installation lists any more."""
    engine = make_engine(url)
    async with engine.begin() as connection:
        assert await migrate(connection, target=3) == 3
        await connection.execute(
            sa.text(
                "INSERT INTO repositories (full_name, id, installation_id)"
                " VALUES ('octo/hello', 1296269, 7)"
            )
        )
        for repo, sha in (("octo/hello", "a" * 40), ("octo/gone", "b" * 40)):
            await connection.execute(
                sa.text(
                    "INSERT INTO runs (repo, sha, installation_id, clone_url, event, ref, status,"
                    " created_at, updated_at) VALUES (:repo, :sha, 7, '/x', 'push', 'main',"
                    " 'completed', 1, 1)"
                ),
                {"repo": repo, "sha": sha},
            )
    await engine.dispose()


@pytest.mark.postgres
async def test_an_unreachable_database_is_unhealthy() -> None:
    async with postgres_database() as url:
        store = await open_store(url)
        assert await store.is_healthy()
        await drop_database(url)
        assert not await store.is_healthy()
        await store.close()


@pytest.mark.parametrize("url", ["mysql://x", "redis://y"])
def test_only_supported_databases_are_accepted(url: str) -> None:
    from bot.settings import SettingsError, load_settings

    with pytest.raises(SettingsError, match="DATABASE_URL"):
        load_settings({"DATABASE_URL": url}, env_file=Path("/nonexistent/.env"))
