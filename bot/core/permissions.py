"""Who may run which slash-command (DESIGN.md section 5)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from bot.core.commands import CommandName


class Permission(IntEnum):
    NONE = 0
    READ = 1
    TRIAGE = 2
    WRITE = 3
    MAINTAIN = 4
    ADMIN = 5

    @classmethod
    def from_github(cls, permission: str, role_name: str | None) -> Permission:
        """The level from `GET /repos/{o}/{r}/collaborators/{user}/permission`.

        `permission` is the legacy admin/write/read/none, which folds maintain into write
        and triage into read; `role_name` keeps them apart, or names a custom role, in which
        case `permission` (the role's base) decides. The higher of the two wins.
        https://docs.github.com/en/rest/collaborators/collaborators#get-repository-permissions-for-a-user
        """
        return max(_level(permission), _level(role_name or ""))

    @property
    def label(self) -> str:
        """How replies name this level: "write access", "no access"."""
        return "no access" if self is Permission.NONE else f"{self.name.lower()} access"


@dataclass(frozen=True)
class Allowed:
    pass


@dataclass(frozen=True)
class Refused:
    reason: str  # plain text, says what access is needed
    required: Permission


Authorization = Allowed | Refused

_EVERYONE = frozenset({CommandName.STATUS, CommandName.HELP})
_AUTHOR_MAY = frozenset({CommandName.RETEST, CommandName.CANCEL})


def required_permission(
    cmd: CommandName, *, protected_env: bool, forced: bool = False
) -> Permission:
    """The access a command needs, ignoring the PR author's own rights; `forced`: a
    `/deploy --force` through a freeze window, which only admins may do."""
    if cmd in _EVERYONE:
        return Permission.NONE
    if cmd is CommandName.DEPLOY and (protected_env or forced):
        return Permission.ADMIN
    # /rollback stays at write even for protected environments, as DESIGN.md section 5
    # says: it redeploys what was already live there, and is what people reach for in
    # an incident.
    return Permission.WRITE


def authorize(
    cmd: CommandName,
    *,
    actor: str,
    actor_permission: Permission,
    pr_author: str,
    protected_env: bool = False,
    forced: bool = False,
) -> Authorization:
    """Whether `actor` may run `cmd` on this pull request."""
    required = required_permission(cmd, protected_env=protected_env, forced=forced)
    if actor_permission >= required:
        return Allowed()
    # GitHub logins are case-insensitive.
    if cmd in _AUTHOR_MAY and actor.lower() == pr_author.lower():
        return Allowed()
    reason = _refusal(cmd, actor, actor_permission, required, protected_env, forced)
    return Refused(reason, required)


def _refusal(
    cmd: CommandName,
    actor: str,
    actor_permission: Permission,
    required: Permission,
    protected_env: bool,
    forced: bool,
) -> str:
    who = "the pull request's author or people with" if cmd in _AUTHOR_MAY else "people with"
    what = f"use /{cmd}"
    if cmd is CommandName.DEPLOY and forced:
        what = "deploy with --force through a freeze window"
    elif cmd is CommandName.DEPLOY and protected_env:
        what = "deploy to a protected environment"
    return f"only {who} {required.label} can {what}; @{actor} has {actor_permission.label}"


def _level(name: str) -> Permission:
    return _BY_GITHUB_NAME.get(name.lower(), Permission.NONE)


_BY_GITHUB_NAME = {
    "none": Permission.NONE,
    "read": Permission.READ,
    "pull": Permission.READ,
    "triage": Permission.TRIAGE,
    "write": Permission.WRITE,
    "push": Permission.WRITE,
    "maintain": Permission.MAINTAIN,
    "admin": Permission.ADMIN,
}
