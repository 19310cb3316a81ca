from __future__ import annotations

import pytest

from bot.core.commands import CommandName
from bot.core.permissions import (
    Allowed,
    Permission,
    Refused,
    authorize,
    required_permission,
)

N = CommandName
P = Permission


@pytest.mark.parametrize(
    ("permission", "role_name", "expected"),
    [
        ("admin", "admin", P.ADMIN),
        ("write", "maintain", P.MAINTAIN),
        ("write", "write", P.WRITE),
        ("read", "triage", P.TRIAGE),
        ("read", "read", P.READ),
        ("none", None, P.NONE),
        ("none", "", P.NONE),
        ("write", None, P.WRITE),
        ("ADMIN", None, P.ADMIN),
        ("write", "security-reviewer", P.WRITE),  # a custom role: its base decides
        ("read", "release-manager", P.READ),
        ("something-new", None, P.NONE),
    ],
)
def test_from_github(permission: str, role_name: str | None, expected: Permission) -> None:
    assert Permission.from_github(permission, role_name) is expected


def test_levels_are_ordered() -> None:
    assert P.NONE < P.READ < P.TRIAGE < P.WRITE < P.MAINTAIN < P.ADMIN


@pytest.mark.parametrize(
    ("cmd", "protected_env", "expected"),
    [
        (N.STATUS, False, P.NONE),
        (N.HELP, False, P.NONE),
        (N.HELP, True, P.NONE),
        (N.RETEST, False, P.WRITE),
        (N.CANCEL, False, P.WRITE),
        (N.MERGE, False, P.WRITE),
        (N.MERGE_CANCEL, False, P.WRITE),
        (N.HOLD, False, P.WRITE),
        (N.UNHOLD, False, P.WRITE),
        (N.OK_TO_TEST, False, P.WRITE),
        (N.DEPLOY, False, P.WRITE),
        (N.DEPLOY, True, P.ADMIN),
        (N.ROLLBACK, False, P.WRITE),
        (N.ROLLBACK, True, P.WRITE),
    ],
)
def test_required_permission(cmd: CommandName, protected_env: bool, expected: Permission) -> None:
    assert required_permission(cmd, protected_env=protected_env) is expected


def test_forcing_a_deploy_through_a_freeze_takes_an_admin() -> None:
    assert required_permission(N.DEPLOY, protected_env=False, forced=True) is P.ADMIN
    refused = authorize(
        N.DEPLOY, actor="w", actor_permission=P.MAINTAIN, pr_author="w", forced=True
    )
    assert isinstance(refused, Refused)
    assert "deploy with --force through a freeze window" in refused.reason
    allowed = authorize(N.DEPLOY, actor="a", actor_permission=P.ADMIN, pr_author="w", forced=True)
    assert isinstance(allowed, Allowed)


def test_every_command_has_a_requirement() -> None:
    for cmd in CommandName:
        assert required_permission(cmd, protected_env=False) in (P.NONE, P.WRITE)


ALLOWED = Allowed()


@pytest.mark.parametrize(
    ("cmd", "actor", "permission", "protected_env", "expected"),
    [
        # anyone
        (N.STATUS, "stranger", P.NONE, False, ALLOWED),
        (N.HELP, "stranger", P.NONE, False, ALLOWED),
        # the PR author may retest and cancel their own PR (login case does not matter)
        (N.RETEST, "author", P.READ, False, ALLOWED),
        (N.RETEST, "AUTHOR", P.NONE, False, ALLOWED),
        (N.CANCEL, "author", P.NONE, False, ALLOWED),
        (
            N.RETEST,
            "stranger",
            P.READ,
            False,
            Refused(
                "only the pull request's author or people with write access can use "
                "/retest; @stranger has read access",
                P.WRITE,
            ),
        ),
        # ... but nothing else
        (
            N.MERGE,
            "author",
            P.READ,
            False,
            Refused(
                "only people with write access can use /merge; @author has read access", P.WRITE
            ),
        ),
        (
            N.MERGE_CANCEL,
            "bob",
            P.TRIAGE,
            False,
            Refused(
                "only people with write access can use /merge cancel; @bob has triage access",
                P.WRITE,
            ),
        ),
        (
            N.OK_TO_TEST,
            "author",
            P.NONE,
            False,
            Refused(
                "only people with write access can use /ok-to-test; @author has no access", P.WRITE
            ),
        ),
        (N.HOLD, "bob", P.WRITE, False, ALLOWED),
        (N.UNHOLD, "bob", P.MAINTAIN, False, ALLOWED),
        (N.ROLLBACK, "bob", P.WRITE, True, ALLOWED),
        (N.DEPLOY, "bob", P.WRITE, False, ALLOWED),
        (
            N.DEPLOY,
            "bob",
            P.MAINTAIN,
            True,
            Refused(
                "only people with admin access can deploy to a protected environment; "
                "@bob has maintain access",
                P.ADMIN,
            ),
        ),
        (N.DEPLOY, "carol", P.ADMIN, True, ALLOWED),
    ],
)
def test_authorize(
    cmd: CommandName,
    actor: str,
    permission: Permission,
    protected_env: bool,
    expected: Allowed | Refused,
) -> None:
    result = authorize(
        cmd,
        actor=actor,
        actor_permission=permission,
        pr_author="author",
        protected_env=protected_env,
    )
    assert result == expected
