"""Freeze windows as people meet them: `/deploy` refused with the window and its end, an
admin's `--force` recorded, rollbacks allowed, and windows a pull request cannot lift."""

from __future__ import annotations

from bot.deploy.messages import REFUSED_PREFIX
from tests.e2e.conftest import Greenlight
from tests.e2e.test_deploy import (
    CONFIG,
    REPO,
    config,
    deployed,
    deploying,
    marked,
    merge_pr,
    open_pr,
    settled,
)
from tests.merging.flows import bot_comments, comment

__all__ = ["deploying"]  # the fixture, shared with the deploy tests

FREEZE = """
freeze:
  - name: release-freeze
    from: 2020-01-01T00:00:00Z
    until: 2099-01-01T00:00:00Z
    applies_to: [production]
"""


def frozen_config(greenlight: Greenlight) -> dict[str, str]:
    files = config(greenlight, "delivery")
    return {CONFIG: files[CONFIG] + FREEZE}


def last_answer(greenlight: Greenlight, number: int) -> str:
    return bot_comments(greenlight.fake, number)[-1].body


async def test_a_freeze_refuses_deploys_to_its_environment_but_not_others(
    deploying: Greenlight,
) -> None:
    fake = deploying.fake
    fake.create_repo(REPO, frozen_config(deploying))
    fake.set_permission(REPO, "writer", "write")
    number = await open_pr(deploying, "feature", {"a.txt": "a\n"})
    sha = await merge_pr(fake, number)
    await deployed(deploying, "staging", sha)  # staging is not frozen: it went out

    await comment(deploying, number, "writer", f"/deploy production {sha[:7]}")
    answer = last_answer(deploying, number)
    assert REFUSED_PREFIX in answer
    assert "`production` is frozen by the window `release-freeze` until 2099-01-01 00:00 UTC" in (
        answer
    )
    assert "/deploy production --force" in answer

    await comment(deploying, number, "writer", f"/deploy production {sha[:7]} --force")
    answer = last_answer(deploying, number)
    assert "admin access can deploy with --force through a freeze window" in answer
    assert "`@writer` has write access" in answer
    await settled(deploying)
    assert marked(deploying, "production") == []

    await comment(deploying, number, "octo", f"/deploy production {sha[:7]} --force")
    await deployed(deploying, "production", sha)
    assert marked(deploying, "production") == [sha]
    (record,) = await deploying.services.deployer.store.history(REPO, "production")
    log = await deploying.services.deployer.store.read_log(record.id)
    assert "Deployed during the freeze window release-freeze: forced by @octo." in log


async def test_a_pull_request_cannot_lift_a_freeze_by_editing_it(deploying: Greenlight) -> None:
    fake = deploying.fake
    everything = frozen_config(deploying)[CONFIG].replace("[production]", "[staging, production]")
    fake.create_repo(REPO, {CONFIG: everything})
    lifted = {CONFIG: config(deploying, "delivery")[CONFIG]}  # the branch drops the window
    number = await open_pr(deploying, "feature", {**lifted, "a.txt": "a\n"})
    await comment(deploying, number, "octo", "/deploy staging")
    answer = last_answer(deploying, number)
    assert "is frozen by the window `release-freeze`" in answer


async def test_a_rollback_goes_out_during_a_freeze(deploying: Greenlight) -> None:
    fake = deploying.fake
    fake.create_repo(REPO, config(deploying, "delivery"))
    first_pr = await open_pr(deploying, "one", {"a.txt": "1\n"})
    first = await merge_pr(fake, first_pr)
    await deployed(deploying, "staging", first)  # built green, and on staging
    await comment(deploying, first_pr, "octo", f"/deploy production {first[:7]}")
    await deployed(deploying, "production", first)
    second_pr = await open_pr(deploying, "two", {"a.txt": "2\n"})
    second = await merge_pr(fake, second_pr)
    await deployed(deploying, "staging", second)
    await comment(deploying, second_pr, "octo", f"/deploy production {second[:7]}")
    await deployed(deploying, "production", second)
    frozen = fake.read_file(REPO, "main", CONFIG).decode() + FREEZE
    await fake.push(REPO, "main", {CONFIG: frozen})
    await settled(deploying)

    await comment(deploying, second_pr, "octo", "/rollback production")
    await deployed(deploying, "production", first)
    assert marked(deploying, "production")[-1] == first
