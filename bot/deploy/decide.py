"""Pure deploy decisions: where a green build goes, whether a deploy may go out, what a
rollback redeploys. No I/O: the service gathers the facts and acts on the answer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from bot.core.config import Environment, Mode
from bot.core.freeze import Freeze
from bot.deploy import messages

# Conclusions that let a required check count as passed (GitHub counts these as passing).
PASSING = frozenset({"success", "neutral", "skipped"})


@dataclass(frozen=True)
class Go:
    pass


@dataclass(frozen=True)
class Refuse:
    reason: str  # Markdown, says why and what would make it possible


@dataclass(frozen=True)
class Hold:
    reason: str  # plain text for the deployment status: the window and its end
    until: float  # when to look again


@dataclass(frozen=True)
class Skip:
    reason: str  # nothing to do (already live, or older than live): not an error
    already_live: bool = False  # the SHA runs there: promotion may go on


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


def may_deploy(facts: ShaFacts) -> Go | Refuse:
    """A deploy runs only for trusted code whose required checks all passed on that SHA."""
    short = facts.sha[:7]
    if facts.run_conclusion is None:
        return Refuse(messages.never_built(short))
    if facts.fork or not facts.trusted:
        return Refuse(messages.untrusted(short))
    if facts.plan_pending:
        return Refuse(messages.plan_pending(short))
    if facts.run_conclusion != "success":
        return Refuse(messages.not_green(short, facts.run_conclusion))
    for name in facts.required:
        conclusion = facts.results.get(name)
        if conclusion not in PASSING:
            return Refuse(messages.required_not_passed(short, name, conclusion))
    return Go()


def through_freeze(
    environment: str,
    freeze: Freeze | None,
    *,
    asked_by_person: bool,
    forced: bool = False,
    rollback: bool = False,
) -> Go | Hold | Refuse:
    """A freeze window holds automatic deploys until it ends and refuses people's, except
    an admin's `--force` and rollbacks (what people reach for when a release goes wrong)."""
    if freeze is None or rollback or forced:
        return Go()
    if asked_by_person:
        return Refuse(
            messages.frozen(environment, freeze.windows, freeze.until, open_ended=freeze.open_ended)
        )
    reason = messages.frozen_waiting(
        environment, freeze.windows, freeze.until, open_ended=freeze.open_ended
    )
    return Hold(reason, freeze.until)


def may_replace_live(ancestry: Ancestry, *, asked_by_person: bool) -> Go | Skip:
    """An automatic deploy never takes an environment back to an older (or the same) SHA."""
    if asked_by_person:
        return Go()
    if ancestry is Ancestry.SAME:
        return Skip(messages.already_live(), already_live=True)
    if ancestry is Ancestry.OLDER:
        return Skip(messages.older_than_live())
    return Go()


def command_environment(
    environments: Sequence[Environment], name: str, *, in_default_history: bool
) -> Environment | Refuse:
    """The environment `/deploy NAME` targets, or why it cannot."""
    env = next((e for e in environments if e.name == name), None)
    if env is None:
        return Refuse(messages.unknown_environment(name, [e.name for e in environments]))
    if is_production(environments, name) and not in_default_history:
        return Refuse(messages.production_from_default_only(name))
    return env


def rollback_target(history: Sequence[PastDeploy]) -> PastDeploy | Refuse:
    """The last successful deployment before the current one (history is newest first).

    The current one is the newest that ran (succeeded or failed); the target is the newest
    success older than it with a different SHA, so rolling back changes what runs.
    """
    ran = [past for past in history if past.state in {"success", "failure"}]
    if not ran:
        return Refuse(messages.nothing_to_roll_back())
    current = ran[0]
    for past in ran[1:]:
        if past.state == "success" and past.sha != current.sha:
            return past
    return Refuse(messages.no_earlier_success(current.sha[:7]))


def promotion_chain(automatic: Sequence[str], start: str) -> tuple[str, ...]:
    """The environments a deploy to `start` promotes to afterwards, in order."""
    if start not in automatic:
        return ()
    return tuple(automatic[automatic.index(start) + 1 :])
