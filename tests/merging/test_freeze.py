"""A freeze window holds auto-merge; its end, kept as a timer in the store, releases it."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from bot.context import Context
from bot.core.merge import Wait
from bot.merging.service import Merging
from bot.timekeeper import Timekeeper
from tests.fakes.github import FakeGitHub
from tests.merging.conftest import client_for
from tests.merging.flows import MERGE, REPO, config

FROZEN = """\
merge: {auto: true}
jobs:
  t:
    run: echo
freeze:
  - name: year-end
    from: 2026-12-20T00:00:00Z
    until: 2027-01-04T00:00:00Z
    applies_to: [merge]
"""
THAWED = "merge: {auto: true}\njobs:\n  t:\n    run: echo\n"


class Clock:
    def __init__(self, moment: datetime) -> None:
        self.now = moment.timestamp()

    def __call__(self) -> float:
        return self.now


def green_pull_request(fake: FakeGitHub, *, head_config: str, base_config: str = FROZEN) -> int:
    fake.create_repo(REPO, config(base_config))
    sha = fake.commit(REPO, "feature", {**config(head_config), "a.txt": "a\n"})
    pr = fake.open_pull_request(REPO, "feature")
    fake.add_check_run(REPO, sha, "greenlight", app="greenlight-test")
    return pr.number


async def test_a_freeze_holds_a_merge_until_its_end_even_without_a_webhook(
    context: Context, fake_github: FakeGitHub
) -> None:
    # The pull request deletes the window on its own branch: the default branch's counts.
    number = green_pull_request(fake_github, head_config=THAWED)
    clock = Clock(datetime(2026, 12, 24, 12, 0, tzinfo=UTC))
    frozen_context = dataclasses.replace(context, clock=clock)
    timekeeper = Timekeeper(context.store, "replica-a", clock=clock)
    merging = Merging(frozen_context, timekeeper)
    installation = client_for(context, fake_github).installation_id

    decision = await merging.evaluate(installation, REPO, number)

    assert isinstance(decision, Wait)
    assert decision.reasons[0].code == "freeze:year-end"
    assert "until 2027-01-04 00:00 UTC" in decision.reasons[0].message
    assert fake_github.request_counts[MERGE] == 0
    timer = await context.store.timers.get(f"merge-thawed:{REPO.lower()}#{number}")
    assert timer is not None
    assert timer.due_at == datetime(2027, 1, 4, tzinfo=UTC).timestamp()
    assert await timekeeper.fire_due() == 0  # not yet

    clock.now = timer.due_at  # the window ends; no webhook arrives
    assert await timekeeper.fire_due() == 1

    assert fake_github.pull(REPO, number).merged
    assert fake_github.request_counts[MERGE] == 1


async def test_a_window_that_applies_to_deploys_only_does_not_hold_merges(
    context: Context, fake_github: FakeGitHub
) -> None:
    deploys_only = FROZEN.replace("applies_to: [merge]", "applies_to: [production]")
    number = green_pull_request(
        fake_github, head_config=THAWED, base_config=deploys_only + PRODUCTION
    )
    clock = Clock(datetime(2026, 12, 24, 12, 0, tzinfo=UTC))
    merging = Merging(
        dataclasses.replace(context, clock=clock), Timekeeper(context.store, "a", clock=clock)
    )
    installation = client_for(context, fake_github).installation_id
    await merging.evaluate(installation, REPO, number)
    assert fake_github.pull(REPO, number).merged


PRODUCTION = "deploy:\n  environments:\n    production:\n      run: ./deploy\n"
