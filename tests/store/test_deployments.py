"""Deployments in the store, on SQLite and on PostgreSQL."""

from __future__ import annotations

from bot.store import Store
from bot.store.deployments import Deployments, DeployState, NewDeployment

REPO = "octo/hello"


def new(
    env: str, sha: str, *, requested_by: str | None = None, rollback: bool = False
) -> NewDeployment:
    return NewDeployment(REPO, env, sha, 7, 1, requested_by=requested_by, rollback=rollback)


async def test_what_is_live_is_the_last_success(store: Store) -> None:
    deployments = Deployments(store.engine)
    assert await deployments.live(REPO, "staging") is None
    first = await deployments.add(new("staging", "a" * 40), now=1.0)
    assert first.state == DeployState.QUEUED
    assert first.rollback is False
    await deployments.update(first.id, state=DeployState.SUCCESS, github_id=99)
    second = await deployments.add(new("staging", "b" * 40, requested_by="octo"), now=2.0)
    await deployments.update(second.id, state=DeployState.FAILURE)
    await deployments.add(new("production", "c" * 40, rollback=True), now=3.0)

    live = await deployments.live(REPO, "staging")
    assert live is not None
    assert (live.sha, live.github_id) == ("a" * 40, 99)
    history = await deployments.history(REPO, "staging")
    assert [d.sha[0] for d in history] == ["b", "a"]
    assert history[0].requested_by == "octo"
    assert [d.environment for d in await deployments.history(REPO)] == [
        "production",
        "staging",
        "staging",
    ]
    (unfinished,) = await deployments.unfinished()
    assert unfinished.rollback is True


async def test_logs_and_notices_are_kept(store: Store) -> None:
    deployments = Deployments(store.engine)
    record = await deployments.add(new("staging", "a" * 40), now=1.0)
    await deployments.append_log(record.id, "one\n")
    await deployments.append_log(record.id, "two\n")
    assert await deployments.read_log(record.id) == "one\ntwo\n"

    assert await deployments.notice(REPO, 5) == (None, {})
    await deployments.save_notice(REPO, 5, comment_id=None, lines={"staging": {"state": "x"}})
    await deployments.save_notice(REPO, 5, comment_id=42, lines={"staging": {"state": "ok"}})
    assert await deployments.notice(REPO, 5) == (42, {"staging": {"state": "ok"}})
