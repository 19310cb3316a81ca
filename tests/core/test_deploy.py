"""The pure deploy decisions, as tables: values, and the text rendered from them."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.core.config import Environment, Mode, Step
from bot.core.deploy import (
    Ancestry,
    Deploy,
    Frozen,
    GitHubRefused,
    NotDeployed,
    PastDeploy,
    Promote,
    Refuse,
    ShaFacts,
    Skip,
    SkipReason,
    Wait,
    as_refusal,
    automatic_environments,
    button_environment,
    command_environment,
    is_production,
    may_deploy,
    may_replace_live,
    promotion,
    rollback_target,
    through_freeze,
)
from bot.core.freeze import Freeze
from bot.deploy import messages

STEP = (Step(name="deploy", run="./deploy.sh"),)
QA, STAGING, PRODUCTION = (Environment(n, STEP) for n in ("qa", "staging", "production"))
THREE = (QA, STAGING, PRODUCTION)
SHA = "a" * 40


@pytest.mark.parametrize(
    ("mode", "environments", "automatic", "button"),
    [
        (Mode.INTEGRATION, THREE, (), None),
        (Mode.DELIVERY, THREE, ("qa", "staging"), "production"),
        (Mode.DEPLOYMENT, THREE, ("qa", "staging", "production"), None),
        (Mode.DELIVERY, (PRODUCTION,), (), "production"),
        (Mode.DEPLOYMENT, (PRODUCTION,), ("production",), None),
        (Mode.DELIVERY, (), (), None),
        (Mode.DEPLOYMENT, (), (), None),
    ],
)
def test_where_a_green_default_branch_build_goes(
    mode: Mode,
    environments: tuple[Environment, ...],
    automatic: tuple[str, ...],
    button: str | None,
) -> None:
    assert automatic_environments(mode, environments) == automatic
    assert button_environment(mode, environments) == button


@pytest.mark.parametrize(
    ("automatic", "start", "chain"),
    [
        (("qa", "staging", "production"), "qa", ("staging", "production")),
        (("qa", "staging", "production"), "staging", ("production",)),
        (("qa", "staging", "production"), "production", ()),
        (("qa", "staging"), "production", ()),  # a command deploy promotes nowhere
        ((), "staging", ()),
    ],
)
def test_promotion_goes_on_in_order(
    automatic: tuple[str, ...], start: str, chain: tuple[str, ...]
) -> None:
    assert promotion(automatic, start) == Promote(chain)


def facts(
    conclusion: str | None = "success",
    *,
    trusted: bool = True,
    fork: bool = False,
    required: tuple[str, ...] = (),
    results: dict[str, str | None] | None = None,
) -> ShaFacts:
    return ShaFacts(SHA, conclusion, trusted, fork, required, results or {})


@pytest.mark.parametrize(
    ("given", "refusal"),
    [
        (facts(), None),
        (facts(None), "never built"),
        (facts("failure"), "ended `failure`"),
        (facts("pending"), "ended `pending`"),
        (facts(trusted=False), "untrusted"),
        (facts(fork=True), "untrusted"),
        (facts(required=("greenlight",), results={"greenlight": "success"}), None),
        (facts(required=("lint",), results={"lint": "neutral"}), None),
        (facts(required=("lint",), results={"lint": "skipped"}), None),
        (facts(required=("lint",), results={"lint": None}), "`lint` has not finished"),
        (facts(required=("lint",), results={}), "`lint` has not finished"),
        (facts(required=("lint",), results={"lint": "failure"}), "`lint` ended `failure`"),
        (facts(required=("a", "b"), results={"a": "success", "b": "timed_out"}), "`b` ended"),
        # Green for its push, but the pull request's own jobs are not planned yet.
        (replace(facts(), plan_pending=True), "pull request's own jobs have not been planned"),
    ],
)
def test_a_deploy_needs_a_trusted_green_sha(given: ShaFacts, refusal: str | None) -> None:
    verdict = may_deploy(given)
    if refusal is None:
        assert verdict == Deploy()
    else:
        assert isinstance(verdict, Refuse)
        assert refusal in messages.refusal(verdict.reason)


@pytest.mark.parametrize(
    ("ancestry", "person", "expected"),
    [
        (Ancestry.NOTHING_LIVE, False, "go"),
        (Ancestry.NEWER, False, "go"),
        (Ancestry.DIVERGED, False, "go"),
        (Ancestry.SAME, False, "already live"),
        (Ancestry.OLDER, False, "older"),
        (Ancestry.SAME, True, "go"),
        (Ancestry.OLDER, True, "go"),  # /deploy ENV SHA and /rollback may go back
    ],
)
def test_automatic_deploys_never_go_back(ancestry: Ancestry, person: bool, expected: str) -> None:
    verdict = may_replace_live(ancestry, "staging", asked_by_person=person)
    if expected == "go":
        assert verdict == Deploy()
    else:
        assert isinstance(verdict, Skip)
        assert expected in messages.skip_text(verdict)
        assert verdict.already_live == (ancestry is Ancestry.SAME)


@pytest.mark.parametrize(
    ("name", "in_history", "expected"),
    [
        ("staging", False, "staging"),  # a PR head may go to a pre-production environment
        ("staging", True, "staging"),
        ("production", True, "production"),
        ("production", False, "only commits of the default branch"),
        ("prod", True, "no environment `prod`; configured: `qa`, `staging`, `production`"),
    ],
)
def test_the_environment_of_a_command(name: str, in_history: bool, expected: str) -> None:
    verdict = command_environment(THREE, name, in_default_history=in_history)
    if isinstance(verdict, Refuse):
        assert expected in messages.refusal(verdict.reason)
    else:
        assert verdict.name == expected


def test_no_environments_configured() -> None:
    verdict = command_environment((), "staging", in_default_history=True)
    assert isinstance(verdict, Refuse)
    assert "configures no" in messages.refusal(verdict.reason)
    assert not is_production((), "staging")
    assert is_production(THREE, "production")
    assert not is_production(THREE, "staging")


def past(*entries: str) -> list[PastDeploy]:
    """ "sha:state" entries, newest first."""
    return [PastDeploy(*entry.split(":")) for entry in entries]


@pytest.mark.parametrize(
    ("history", "target"),
    [
        (past("b:success", "a:success"), "a"),
        (past("b:failure", "a:success"), "a"),  # the bad release did not even deploy
        (past("c:success", "b:failure", "a:success"), "a"),
        (past("b:success", "b:success", "a:success"), "a"),  # a redeploy is not a target
        (past("c:superseded", "b:success", "a:success"), "a"),  # never ran: not current
        (past("b:success", "a:skipped", "z:success"), "z"),
        (past("a:success"), None),
        (past("b:success", "a:failure"), None),
        ([], None),
    ],
)
def test_what_a_rollback_redeploys(history: list[PastDeploy], target: str | None) -> None:
    verdict = rollback_target(history)
    if target is None:
        assert isinstance(verdict, Refuse)
    else:
        assert isinstance(verdict, PastDeploy)
        assert verdict.sha == target


FROZEN = Freeze(("weekend",), 1_764_489_600.0)


@pytest.mark.parametrize(
    ("freeze", "person", "forced", "rollback", "expected"),
    [
        (None, True, False, False, "go"),
        (FROZEN, False, False, False, "hold"),  # automatic: waits for the end
        (FROZEN, True, False, False, "refuse"),  # a person is told when it ends
        (FROZEN, True, True, False, "go"),  # an admin's --force
        (FROZEN, True, False, True, "go"),  # rollbacks go out during a freeze
        (FROZEN, False, False, True, "go"),  # automatic rollbacks too
    ],
)
def test_through_freeze(
    freeze: Freeze | None, person: bool, forced: bool, rollback: bool, expected: str
) -> None:
    verdict = through_freeze(
        "production", freeze, asked_by_person=person, forced=forced, rollback=rollback
    )
    kinds = {Deploy: "go", Wait: "hold", Refuse: "refuse"}
    assert kinds[type(verdict)] == expected
    if isinstance(verdict, Wait):
        assert verdict.until == FROZEN.until
        assert verdict.reason == Frozen("production", ("weekend",), FROZEN.until)
        assert messages.waiting(verdict) == (
            "waiting: production frozen by weekend until 2025-11-30 08:00 UTC"
        )
    if isinstance(verdict, Refuse):
        assert messages.answer(verdict) == (
            "Not deployed: `production` is frozen by the window `weekend` until 2025-11-30 "
            "08:00 UTC. An admin can deploy anyway with `/deploy production --force`; "
            "`/rollback production` is allowed during a freeze."
        )


@pytest.mark.parametrize(
    ("not_queued", "reply"),
    [
        (Refuse(GitHubRefused("no")), "Not deployed: GitHub refused the deployment: no"),
        (
            Skip(SkipReason.FAILED_BEFORE, "qa"),
            "Not deployed: its deploy there failed; comment `/deploy qa` to try again",
        ),
        (
            Wait(Frozen("qa", ("a", "b"), FROZEN.until, open_ended=True), FROZEN.until),
            "Not deployed: `qa` is frozen by the window `a`, `b` until at least",
        ),
    ],
)
def test_what_a_person_is_told_when_the_queue_does_not_take_a_deploy(
    not_queued: Skip | Wait | Refuse, reply: str
) -> None:
    refusal = as_refusal(not_queued)
    assert messages.answer(refusal).startswith(reply)
    if isinstance(not_queued, Skip):
        assert refusal == Refuse(NotDeployed(SkipReason.FAILED_BEFORE, "qa"))
