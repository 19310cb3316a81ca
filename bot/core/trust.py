"""Who may run CI without a person's approval (DESIGN.md section 3, `trust`)."""

from __future__ import annotations

from bot.core.config import TrustConfig, TrustedAuthors

# GitHub's `author_association` values, by how close the author is to the repository.
# https://docs.github.com/en/graphql/reference/enums#commentauthorassociation
MEMBERS = frozenset({"OWNER", "MEMBER"})
COLLABORATORS = MEMBERS | {"COLLABORATOR"}


def is_author_trusted(trust: TrustConfig, author_association: str) -> bool:
    """True when the config trusts authors with this association."""
    association = author_association.upper()
    match trust.authors:
        case TrustedAuthors.EVERYONE:
            return True
        case TrustedAuthors.MEMBERS:
            return association in MEMBERS
        case TrustedAuthors.COLLABORATORS:
            return association in COLLABORATORS


def may_run(
    trust: TrustConfig,
    *,
    author_association: str,
    approved_sha: str | None,
    head_sha: str,
) -> bool:
    """May this pull request head be built without asking? `/ok-to-test` approves one SHA.

    A fork's author is judged like anyone else: a collaborator's fork runs, a stranger's
    waits unless the config trusts everyone. Forks never get secrets (`may_use_secrets`).
    """
    return approved_sha == head_sha or is_author_trusted(trust, author_association)


def may_use_secrets(*, is_fork: bool, trusted: bool) -> bool:
    """Secrets go only to trusted code from the repository itself, never to a fork's."""
    return trusted and not is_fork


def may_reuse(*, source_is_fork: bool, target_is_fork: bool) -> bool:
    """May a build take the result of an earlier one of the same tree (`bot.core.reuse`)?
    Never from a fork's build to the repository's own: a fork's build ran without secrets,
    from a pull request its author controls. The other way round gives a fork nothing."""
    return target_is_fork or not source_is_fork
