"""The check runs and commit statuses GitHub shows on a commit, as the core's facts.

Auto-merge and deploys both judge a commit by its checks; both read them through here and
interpret them with the same core functions (`bot.core.merge.latest_checks` and what is
built on it), so a check counts the same way for a merge and for a deploy.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.merge import CheckFact
from bot.github import models


def check_facts(
    check_runs: Sequence[models.CheckRun], statuses: Sequence[models.CommitStatus]
) -> tuple[CheckFact, ...]:
    """Every check run (oldest first) and every status of a commit, as `CheckFact`s."""
    runs = sorted(check_runs, key=lambda run: run.id)
    facts = [
        CheckFact(name=run.name, app=run.app_slug, status=run.status, conclusion=run.conclusion)
        for run in runs
    ]
    facts += [CheckFact.from_status(s.context, s.state) for s in statuses]
    return tuple(facts)
