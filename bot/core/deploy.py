"""Pure deploy decisions: where a green build goes, whether a deploy may go out, waits for
a freeze, or is refused, and what a rollback redeploys. No I/O: the deployer gathers the
facts and acts on the answer; `bot.deploy.messages` renders each value for people.

Each decision is a value, matched with `match` and `assert_never`:

- `Deploy`: go ahead.
- `Wait(reason, until)`: an automatic deploy that a freeze window holds until `until`.
- `Refuse(reason)`: a person's request that cannot be done; `reason` is one of the
  `Refusal` values, which says why and (rendered) what would make it possible.
- `Skip(reason, environment)`: an automatic deploy with nothing to do (already live, older
  than what is live, a deploy of it failed before…): not an error.
- `Promote(to)`: the environments a successful deploy goes on to, in order.

Choices where the design leaves room:

- A freeze never holds a rollback (by command or automatic) nor an admin's `--force`:
  those are what people reach for when a release goes wrong.
- An automatic deploy never takes an environment back to an older or the same SHA; a
  person's `/deploy ENV SHA` and `/rollback` may.
- The rollback target is the newest successful deploy older than the current one (the
  newest that ran, succeeded or failed) with a different SHA, so rolling back changes
  what runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import assert_never

from bot.core.config import Environment, Mode
from bot.core.freeze import Freeze

# Conclusions that let a required check count as passed (GitHub counts these as passing).
PASSING = frozenset({"success", "neutral", "skipped"})


# Why a deploy is refused: data, rendered by bot.deploy.messages.refusal ---------------------


@dataclass(frozen=True)
class NeverBuilt:
    sha: str  # as given: a short SHA, or what the person typed


@dataclass(frozen=True)
class Untrusted:
    sha: str


@dataclass(frozen=True)
class PlanPending:
    """A pull request's head built for its push only so far: its own jobs are missing."""

    sha: str


@dataclass(frozen=True)
class NotGreen:
    sha: str
    conclusion: str


@dataclass(frozen=True)
class RequiredNotPassed:
    sha: str
    check: str
    conclusion: str | None  # None: it has not finished


@dataclass(frozen=True)
class UnknownEnvironment:
    name: str
    known: tuple[str, ...]


@dataclass(frozen=True)
class ProductionFromDefaultOnly:
    environment: str


@dataclass(frozen=True)
class NothingToRollBack:
    pass


@dataclass(frozen=True)
class NoEarlierSuccess:
    current: str


@dataclass(frozen=True)
class Frozen:
    """A freeze window holds the environment (`Refuse` for people, `Wait` for the mode)."""

    environment: str
    windows: tuple[str, ...]
    until: float
    open_ended: bool = False


@dataclass(frozen=True)
class NotFound:
    sha: str  # what the person typed, not a commit of the repository


@dataclass(frozen=True)
class NoConfig:
    pass


@dataclass(frozen=True)
class NoButton:
    mode: str


@dataclass(frozen=True)
class AdminNeeded:
    reason: str  # bot.core.permissions' refusal, already written for people


@dataclass(frozen=True)
class GitHubRefused:
    detail: str  # GitHub's own message, escaped when rendered


class SkipReason(StrEnum):
    ALREADY_LIVE = "already live"
    OLDER_THAN_LIVE = "older than live"
    ALREADY_DEPLOYING = "already deploying"
    FAILED_BEFORE = "failed before"
    OLDER_THAN_WAITING = "older than waiting"


@dataclass(frozen=True)
class NotDeployed:
    """A person's deploy that the queue skipped (rare: the queue skips automatic ones)."""

    reason: SkipReason
    environment: str


Refusal = (
    NeverBuilt
    | Untrusted
    | PlanPending
    | NotGreen
    | RequiredNotPassed
    | UnknownEnvironment
    | ProductionFromDefaultOnly
    | NothingToRollBack
    | NoEarlierSuccess
    | Frozen
    | NotFound
    | NoConfig
    | NoButton
    | AdminNeeded
    | GitHubRefused
    | NotDeployed
)


# Decisions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deploy:
    pass


@dataclass(frozen=True)
class Refuse:
    reason: Refusal


@dataclass(frozen=True)
class Wait:
    reason: Frozen
    until: float  # when to look again


@dataclass(frozen=True)
class Skip:
    reason: SkipReason
    environment: str

    @property
    def already_live(self) -> bool:
        """The SHA runs there already: promotion may go on."""
        return self.reason is SkipReason.ALREADY_LIVE


@dataclass(frozen=True)
class Promote:
    to: tuple[str, ...]  # the environments next, in order; empty: the chain ends here


# What a person's request led to (the reply renders it) ---------------------------------------


@dataclass(frozen=True)
class DeployQueued:
    environment: str
    sha: str
    actor: str


@dataclass(frozen=True)
class RollbackQueued:
    environment: str
    sha: str
    current: str
    actor: str


Answer = DeployQueued | RollbackQueued | Refuse
NotQueued = Skip | Wait | Refuse  # why the queue did not take a deploy


def as_refusal(not_queued: NotQueued) -> Refuse:
    """What a person is told when the queue did not take their deploy."""
    match not_queued:
        case Refuse():
            return not_queued
        case Wait(reason=frozen):
            return Refuse(frozen)
        case Skip(reason=reason, environment=environment):
            return Refuse(NotDeployed(reason, environment))
        case _:
            assert_never(not_queued)


# Facts --------------------------------------------------------------------------------------


class Ancestry(StrEnum):
    """The candidate SHA relative to what is live (GitHub compare `live...candidate`)."""

    NOTHING_LIVE = "nothing live"
    SAME = "identical"
    NEWER = "ahead"
    OLDER = "behind"
    DIVERGED = "diverged"


@dataclass(frozen=True)
class ShaFacts:
    """What is known about a commit someone wants to deploy."""

    sha: str
    run_conclusion: str | None  # Greenlight's own run of that SHA; None when never built
    trusted: bool
    fork: bool
    required: tuple[str, ...]  # check names the default branch requires
    results: Mapping[str, str | None]  # check or status name → conclusion (None: pending)
    # A pull request's head whose run was planned for its push only so far: the pull
    # request's own jobs (`if: event == 'pull_request'`, its `paths`) may still be missing.
    plan_pending: bool = False


@dataclass(frozen=True)
class PastDeploy:
    sha: str
    state: str  # a DeployState value
    rollback: bool = False


# The rules ----------------------------------------------------------------------------------


def automatic_environments(mode: Mode, environments: Sequence[Environment]) -> tuple[str, ...]:
    """The environments a green default-branch build goes through by itself, in order."""
    names = tuple(env.name for env in environments)
    match mode:
        case Mode.INTEGRATION:
            return ()
        case Mode.DELIVERY:
            return names[:-1]
        case Mode.DEPLOYMENT:
            return names


def button_environment(mode: Mode, environments: Sequence[Environment]) -> str | None:
    """In delivery mode, the environment a green default-branch commit is one click from."""
    if mode is Mode.DELIVERY and environments:
        return environments[-1].name
    return None


def is_production(environments: Sequence[Environment], name: str) -> bool:
    """The last environment of the promotion order is production."""
    return bool(environments) and environments[-1].name == name


def may_deploy(facts: ShaFacts) -> Deploy | Refuse:
    """A deploy runs only for trusted code whose required checks all passed on that SHA."""
    short = facts.sha[:7]
    if facts.run_conclusion is None:
        return Refuse(NeverBuilt(short))
    if facts.fork or not facts.trusted:
        return Refuse(Untrusted(short))
    if facts.plan_pending:
        return Refuse(PlanPending(short))
    if facts.run_conclusion != "success":
        return Refuse(NotGreen(short, facts.run_conclusion))
    for name in facts.required:
        conclusion = facts.results.get(name)
        if conclusion not in PASSING:
            return Refuse(RequiredNotPassed(short, name, conclusion))
    return Deploy()


def through_freeze(
    environment: str,
    freeze: Freeze | None,
    *,
    asked_by_person: bool,
    forced: bool = False,
    rollback: bool = False,
) -> Deploy | Wait | Refuse:
    """A freeze window holds automatic deploys until it ends and refuses people's, except
    an admin's `--force` and rollbacks (what people reach for when a release goes wrong)."""
    if freeze is None or rollback or forced:
        return Deploy()
    frozen = Frozen(environment, freeze.windows, freeze.until, freeze.open_ended)
    if asked_by_person:
        return Refuse(frozen)
    return Wait(frozen, freeze.until)


def may_replace_live(
    ancestry: Ancestry, environment: str, *, asked_by_person: bool
) -> Deploy | Skip:
    """An automatic deploy never takes an environment back to an older (or the same) SHA."""
    if asked_by_person:
        return Deploy()
    if ancestry is Ancestry.SAME:
        return Skip(SkipReason.ALREADY_LIVE, environment)
    if ancestry is Ancestry.OLDER:
        return Skip(SkipReason.OLDER_THAN_LIVE, environment)
    return Deploy()


def command_environment(
    environments: Sequence[Environment], name: str, *, in_default_history: bool
) -> Environment | Refuse:
    """The environment `/deploy NAME` targets, or why it cannot."""
    env = next((e for e in environments if e.name == name), None)
    if env is None:
        return Refuse(UnknownEnvironment(name, tuple(e.name for e in environments)))
    if is_production(environments, name) and not in_default_history:
        return Refuse(ProductionFromDefaultOnly(name))
    return env


def rollback_target(history: Sequence[PastDeploy]) -> PastDeploy | Refuse:
    """The last successful deployment before the current one (history is newest first).

    The current one is the newest that ran (succeeded or failed); the target is the newest
    success older than it with a different SHA, so rolling back changes what runs.
    """
    ran = [past for past in history if past.state in {"success", "failure"}]
    if not ran:
        return Refuse(NothingToRollBack())
    current = ran[0]
    for past in ran[1:]:
        if past.state == "success" and past.sha != current.sha:
            return past
    return Refuse(NoEarlierSuccess(current.sha[:7]))


def promotion(automatic: Sequence[str], start: str) -> Promote:
    """Where a deploy to `start` goes next: the rest of the automatic chain after it."""
    if start not in automatic:
        return Promote(())
    return Promote(tuple(automatic[automatic.index(start) + 1 :]))
