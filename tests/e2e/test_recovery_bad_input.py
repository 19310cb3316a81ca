"""Recovery against what GitHub's log may hold: unreadable payloads, deleted installations,
short pages, a pass failing half way, stale commands, out-of-date pushes; and the lease."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from bot.recovery.service import LEASE_NAME
from bot.store import open_store
from tests.e2e.conftest import Greenlight, start_greenlight
from tests.e2e.test_recovery import (
    ONE_PASS_AT_START,
    answers_to,
    before_the_outage,
    check_names,
    comment_while_down,
    deliver_while_down,
    recovery,
    restart,
)
from tests.fakes.github import FakeGitHub
from tests.helpers import wait_until
from tests.merging.flows import REPO, config, reactions

DONE = ["eyes", "+1"]


async def first_pass(greenlight: Greenlight) -> None:
    await wait_until(lambda: recovery(greenlight).completed_passes >= 1, message="a pass")
    await greenlight.settle()


async def test_an_unreadable_payload_is_skipped_once_and_the_rest_recovered(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    fake = fake_github
    pr, _ = await before_the_outage(fake, tmp_path)
    garbled = await comment_while_down(fake, pr.number, "/retest")
    fine = await comment_while_down(fake, pr.number, "/retest")
    fake.outbox.log.entries[-2].payload = None  # GitHub lost the first one's body

    greenlight = await restart(fake, tmp_path)
    try:
        await first_pass(greenlight)
        assert (reactions(fake, garbled), reactions(fake, fine)) == ([], DONE)
        assert len(answers_to(fake, pr.number, garbled)) == 1
        metrics = greenlight.context.metrics.render().decode()
        assert 'greenlight_recovery_skipped_deliveries_total{reason="unreadable payload"} 1.0' in (
            metrics
        )
        fetches = fake.request_counts[("GET", "/app/hook/deliveries/{delivery_id}")]
        await recovery(greenlight).run_pass()
        assert fake.request_counts[("GET", "/app/hook/deliveries/{delivery_id}")] == fetches
    finally:
        await fake.settle()
        await greenlight.server.close()


async def test_a_delivery_for_a_deleted_installation_is_skipped(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    fake = fake_github
    pr, _ = await before_the_outage(fake, tmp_path)
    fake.create_repo("acme/widget", config("jobs:\n  t:\n    run: echo ok\n"))
    fake.commit("acme/widget", "feature", {"b.txt": "b\n"})
    other = fake.open_pull_request("acme/widget", "feature")
    await deliver_while_down(
        fake, "pull_request", fake.pull_request_event("opened", "acme/widget", other.number)
    )
    retest = await comment_while_down(fake, pr.number, "/retest")
    installation = fake.world.installation_for("acme/widget", fake.app_id)
    assert installation is not None
    fake.uninstall(installation.id)

    greenlight = await restart(fake, tmp_path)
    try:
        await first_pass(greenlight)
        assert len(answers_to(fake, pr.number, retest)) == 1
        assert await greenlight.store.runs.for_sha("acme/widget", other.head_sha) is None
        metrics = greenlight.context.metrics.render().decode()
        assert 'skipped_deliveries_total{reason="installation gone"} 1.0' in metrics
    finally:
        await fake.settle()
        await greenlight.server.close()


async def test_a_first_start_with_history_reads_back_three_days_and_no_further(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    fake = fake_github
    pr, _ = await before_the_outage(fake, tmp_path)
    too_old = await comment_while_down(fake, pr.number, "/retest")
    recent = await comment_while_down(fake, pr.number, "/retest")
    older, newer = fake.outbox.log.entries[-2:]
    older.delivered_at -= timedelta(days=3, hours=1)
    newer.delivered_at -= timedelta(days=2)
    fake.outbox.log.keep = timedelta(days=4)  # still listed: Greenlight must stop by itself
    await forget_the_recovery_point(tmp_path)  # upgraded from a version without recovery

    greenlight = await restart(fake, tmp_path)
    try:
        await first_pass(greenlight)
        assert (reactions(fake, too_old), reactions(fake, recent)) == ([], ["eyes"])
        (answer,) = answers_to(fake, pr.number, recent)
        assert "came in while Greenlight was down" in answer.body  # two days old
    finally:
        await fake.settle()
        await greenlight.server.close()


async def forget_the_recovery_point(tmp_path: Path) -> None:
    store = await open_store(f"sqlite:///{tmp_path / 'greenlight.db'}")
    try:
        async with store.engine.begin() as connection:
            await connection.execute(sa.text("DELETE FROM recovery_points"))
    finally:
        await store.close()


async def test_pages_cut_short_are_followed_to_the_end(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    fake = fake_github
    pr, _ = await before_the_outage(fake, tmp_path)
    comments = [await comment_while_down(fake, pr.number, "/retest") for _ in range(3)]
    fake.delivery_page_limit = 1

    greenlight = await restart(fake, tmp_path)
    try:
        await first_pass(greenlight)
        assert [reactions(fake, c) for c in comments] == [DONE] * 3
        assert len(answers_to(fake, pr.number, comments[0])) == 3
    finally:
        await fake.settle()
        await greenlight.server.close()


async def test_a_pass_failing_half_way_is_finished_by_the_next_without_repeats(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    fake = fake_github
    pr, _ = await before_the_outage(fake, tmp_path)
    comments = [await comment_while_down(fake, pr.number, "/retest") for _ in range(3)]
    fake.failing_deliveries = {fake.outbox.log.entries[-2].id}  # the second of three

    greenlight = await restart(fake, tmp_path)
    try:
        await first_pass(greenlight)
        assert [reactions(fake, c) for c in comments] == [DONE, [], []]
        metrics = greenlight.context.metrics.render().decode()
        assert 'greenlight_recovery_passes_total{outcome="log_failed"} 1.0' in metrics

        fake.failing_deliveries = set()
        await recovery(greenlight).run_pass()
        await greenlight.settle()
        # Each comment answered once: the first by the failed pass, the others now.
        assert [reactions(fake, c) for c in comments] == [DONE] * 3
        assert len(answers_to(fake, pr.number, comments[0])) == 3
    finally:
        await fake.settle()
        await greenlight.server.close()


async def test_a_command_missed_for_minutes_is_not_carried_out(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    fake = fake_github
    pr, _ = await before_the_outage(fake, tmp_path)
    merge = await comment_while_down(fake, pr.number, "/merge")
    fake.outbox.log.entries[-1].delivered_at -= timedelta(minutes=10)

    greenlight = await restart(fake, tmp_path)
    try:
        await first_pass(greenlight)
        (answer,) = answers_to(fake, pr.number, merge)
        assert "came in while Greenlight was down" in answer.body
        assert "comment it again" in answer.body
        assert fake.pull(REPO, pr.number).state == "open"
        state = await greenlight.store.pull_requests.get(REPO, pr.number)
        assert state.merge_requested_by is None
    finally:
        await fake.settle()
        await greenlight.server.close()


async def test_a_button_pressed_minutes_before_does_nothing(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    fake = fake_github
    pr, _ = await before_the_outage(fake, tmp_path)
    (aggregate,) = [c for c in fake.check_runs(REPO, pr.head_sha) if c.name == "greenlight"]
    press = fake.check_run_event("requested_action", aggregate.id, "merge", sender="octo")
    await deliver_while_down(fake, "check_run", press)
    fake.outbox.log.entries[-1].delivered_at -= timedelta(minutes=10)

    greenlight = await restart(fake, tmp_path)
    try:
        await first_pass(greenlight)
        summary = fake.world.check_runs[aggregate.id].output["summary"]
        assert summary.startswith("**Nothing done**: the press of `merge` came in while")
        assert not fake.pull(REPO, pr.number).merged
    finally:
        await fake.settle()
        await greenlight.server.close()


async def test_a_recovered_synchronize_never_cancels_a_newer_head(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    fake = fake_github
    pr, _ = await before_the_outage(fake, tmp_path)
    heads = [pr.head_sha]
    for index in range(2):  # two pushes to the pull request while Greenlight is down
        sha = fake.commit(REPO, "first", {"more.txt": f"{index}\n"})
        payload = fake.pull_request_event(
            "synchronize", REPO, pr.number, before=heads[-1], after=sha
        )
        await deliver_while_down(fake, "pull_request", payload)
        heads.append(sha)

    greenlight = await restart(fake, tmp_path)
    try:
        await first_pass(greenlight)
        newest = await greenlight.run_for(REPO, heads[2])
        assert newest.conclusion == "success"
        assert await greenlight.store.runs.for_sha(REPO, heads[1]) is None
        assert check_names(fake, heads[2]) == ["greenlight", "test"]
        assert {c.conclusion for c in fake.check_runs(REPO, heads[2])} == {"success"}
    finally:
        await fake.settle()
        await greenlight.server.close()


async def test_one_replica_recovers_at_a_time(fake_github: FakeGitHub, tmp_path: Path) -> None:
    fake = fake_github
    fake.create_repo(REPO, config("jobs:\n  t:\n    run: echo ok\n"))
    server = await start_greenlight(fake, tmp_path, **ONE_PASS_AT_START)
    greenlight = Greenlight(fake, server, tmp_path)
    try:
        await first_pass(greenlight)
        store, clock = greenlight.store, greenlight.context.clock
        assert await store.leases.acquire(LEASE_NAME, "another-replica", ttl=60, now=clock())
        listed = fake.request_counts[("GET", "/app/hook/deliveries")]
        assert await recovery(greenlight).run_pass() is None
        assert fake.request_counts[("GET", "/app/hook/deliveries")] == listed
        await store.leases.release(LEASE_NAME, "another-replica")
        assert await recovery(greenlight).run_pass() is not None
    finally:
        await fake.settle()
        await server.close()
