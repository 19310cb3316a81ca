"""The dispatcher: in order per repository, and a slow repository holds back no other."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from bot.dispatch.events import WebhookEvent
from bot.dispatch.queue import Dispatcher, may_run_again
from bot.dispatch.router import Router
from bot.github.backlog import Backlog
from bot.github.errors import Transient
from bot.metrics import Metrics
from bot.store import open_store
from bot.store.records import Claim, Delivery, DeliveryStatus
from bot.timekeeper import Timekeeper
from tests.virtual_time import VirtualTime


def delivery(ident: str, repo: str) -> Delivery:
    return Delivery(ident, "push", None, 1, repo, "{}", 0.0)


async def test_a_slow_repository_holds_back_only_itself(tmp_path: Path) -> None:
    store = await open_store(f"sqlite:///{tmp_path / 'g.db'}")
    release, quick_done = asyncio.Event(), asyncio.Event()
    handled: list[str] = []
    router: Router[None] = Router()

    @router.register("push")
    async def handle(event: WebhookEvent, _context: None) -> None:
        if event.repo == "slow/repo":
            await release.wait()
        handled.append(event.delivery_id)
        if event.repo == "quick/repo":
            quick_done.set()

    dispatcher = Dispatcher(store, router, None, Metrics(), workers=2)
    await dispatcher.start()
    for item in [delivery(f"slow-{n}", "slow/repo") for n in range(3)] + [
        delivery("quick", "quick/repo")
    ]:
        await store.deliveries.record(item)
        dispatcher.submit(item)
    async with asyncio.timeout(5):
        await quick_done.wait()  # handled although the slow repository is stuck
    assert handled == ["quick"]
    release.set()
    await dispatcher.wait_idle()
    assert handled == ["quick", "slow-0", "slow-1", "slow-2"]  # in order within a repo
    assert await store.deliveries.status("slow-2") == DeliveryStatus.DONE
    await dispatcher.stop()
    await store.close()


async def test_a_failing_handler_stops_no_other(tmp_path: Path) -> None:
    store = await open_store(f"sqlite:///{tmp_path / 'g.db'}")
    seen: list[str] = []
    router: Router[None] = Router()

    @router.register("push")
    async def broken(event: WebhookEvent, _context: None) -> None:
        raise RuntimeError("boom")

    @router.register("push")
    async def working(event: WebhookEvent, _context: None) -> None:
        seen.append(event.delivery_id)

    metrics = Metrics()
    dispatcher = Dispatcher(store, router, None, metrics)
    await dispatcher.start()
    await store.deliveries.record(delivery("d", "o/r"))
    dispatcher.submit(delivery("d", "o/r"))
    await dispatcher.wait_idle()
    assert seen == ["d"]
    assert await store.deliveries.status("d") == DeliveryStatus.FAILED
    assert "greenlight_handler_errors_total" in metrics.render().decode()
    await dispatcher.stop()
    await store.close()


async def test_on_sqlite_a_restart_takes_what_a_killed_process_still_claimed(
    tmp_path: Path,
) -> None:
    """SQLite serves one web process: whatever the last one claimed, it is gone."""
    store = await open_store(f"sqlite:///{tmp_path / 'g.db'}")
    handled: list[str] = []
    router: Router[None] = Router()

    @router.register("push")
    async def handle(event: WebhookEvent, _context: None) -> None:
        handled.append(event.delivery_id)

    killed = Claim("killed-a-second-ago", expires=time.time() + 3600)
    await store.deliveries.record(delivery("left", "o/r"), claim=killed)
    dispatcher = Dispatcher(store, router, None, Metrics())
    await dispatcher.start()
    await dispatcher.wait_idle()
    assert handled == ["left"]
    assert await store.deliveries.status("left") == DeliveryStatus.DONE
    await dispatcher.stop()
    await store.close()


async def test_a_handler_github_failed_runs_again_later_after_a_restart(tmp_path: Path) -> None:
    store = await open_store(f"sqlite:///{tmp_path / 'g.db'}")
    time = VirtualTime()
    calls: list[str] = []
    router: Router[None] = Router()

    @router.register("push")
    async def flaky(event: WebhookEvent, _context: None) -> None:
        calls.append(event.delivery_id)
        if len(calls) == 1:
            raise Transient("502 Server Error", status=502)

    @router.register("push")
    async def broken(event: WebhookEvent, _context: None) -> None:
        raise RuntimeError("a bug is not run again")

    def replica(name: str) -> tuple[Dispatcher[None], Timekeeper]:
        backlog = Backlog(metrics=Metrics(), delays=(30, 120))
        timekeeper = Timekeeper(store, name, clock=time.clock)
        backlog.keep_in(timekeeper)
        return Dispatcher(store, router, None, Metrics(), backlog=backlog), timekeeper

    dispatcher, _ = replica("first")
    await dispatcher.start()
    await store.deliveries.record(delivery("d", "o/r"))
    dispatcher.submit(delivery("d", "o/r"))
    await dispatcher.wait_idle()
    await dispatcher.stop()  # the process stops before the later try
    assert calls == ["d"]
    assert await store.deliveries.status("d") == DeliveryStatus.FAILED

    _, timekeeper = replica("restarted")
    time.offset += 30
    assert await timekeeper.fire_due() == 1
    assert calls == ["d", "d"]
    time.offset += 3600
    assert await timekeeper.fire_due() == 0
    assert calls == ["d", "d"]
    await store.close()


@pytest.mark.parametrize(
    ("name", "action", "again"),
    [
        ("push", None, True),
        ("pull_request", "opened", True),
        ("check_run", "completed", True),
        ("issue_comment", "created", False),  # a command acts once
        ("check_run", "requested_action", False),  # so does a button
    ],
)
def test_which_handlers_run_again(name: str, action: str | None, again: bool) -> None:
    event = WebhookEvent(name, action, "d", 1, "o/r", {})
    assert may_run_again(event, Transient("502", status=502)) is again
    assert may_run_again(event, RuntimeError("a bug")) is False
