"""What each endpoint needs of an installation token, as GitHub checks it.

The table follows GitHub's list of the permission each REST endpoint requires of an app:
https://docs.github.com/en/rest/authentication/permissions-required-for-github-apps
Where GitHub accepts either of two permissions (a comment on a pull request is an issue
comment), the route lists both and one suffices. A token has its installation's
permissions, or fewer when they were narrowed at creation; `metadata: read` comes with
every token that reaches a repository.
"""

from __future__ import annotations

from collections.abc import Mapping

Need = tuple[tuple[str, str], ...]  # alternatives: (permission, "read" | "write")

LEVELS = {"read": 1, "write": 2}

_READ_CHECKS: Need = (("checks", "read"),)
_WRITE_CHECKS: Need = (("checks", "write"),)
_READ_PULLS: Need = (("pull_requests", "read"),)
_READ_CONTENTS: Need = (("contents", "read"),)
_WRITE_CONTENTS: Need = (("contents", "write"),)
_READ_METADATA: Need = (("metadata", "read"),)
_COMMENTS_READ: Need = (("issues", "read"), ("pull_requests", "read"))
_COMMENTS_WRITE: Need = (("issues", "write"), ("pull_requests", "write"))

REQUIRED: dict[tuple[str, str], Need] = {
    ("get", "/repos/{owner}/{repo}"): _READ_METADATA,
    ("get", "/repos/{owner}/{repo}/contents/{path}"): _READ_CONTENTS,
    ("get", "/repos/{owner}/{repo}/compare/{basehead}"): _READ_CONTENTS,
    ("delete", "/repos/{owner}/{repo}/git/refs/{ref}"): _WRITE_CONTENTS,
    ("get", "/repos/{owner}/{repo}/git/ref/{ref}"): _READ_CONTENTS,
    ("get", "/repos/{owner}/{repo}/collaborators/{username}/permission"): _READ_METADATA,
    ("get", "/repos/{owner}/{repo}/rules/branches/{branch}"): _READ_METADATA,
    ("get", "/repos/{owner}/{repo}/branches/{branch}/protection/required_status_checks"): (
        ("administration", "read"),
    ),
    ("post", "/repos/{owner}/{repo}/check-runs"): _WRITE_CHECKS,
    ("patch", "/repos/{owner}/{repo}/check-runs/{check_run_id}"): _WRITE_CHECKS,
    ("get", "/repos/{owner}/{repo}/check-runs/{check_run_id}"): _READ_CHECKS,
    ("get", "/repos/{owner}/{repo}/commits/{ref}/check-runs"): _READ_CHECKS,
    ("get", "/repos/{owner}/{repo}/commits/{ref}/check-suites"): _READ_CHECKS,
    ("get", "/repos/{owner}/{repo}/commits/{ref}/status"): (("statuses", "read"),),
    ("post", "/repos/{owner}/{repo}/statuses/{sha}"): (("statuses", "write"),),
    ("post", "/repos/{owner}/{repo}/issues/{issue_number}/comments"): _COMMENTS_WRITE,
    ("patch", "/repos/{owner}/{repo}/issues/comments/{comment_id}"): _COMMENTS_WRITE,
    ("get", "/repos/{owner}/{repo}/issues/{issue_number}/comments"): _COMMENTS_READ,
    ("post", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions"): _COMMENTS_WRITE,
    ("post", "/repos/{owner}/{repo}/deployments"): (("deployments", "write"),),
    ("get", "/repos/{owner}/{repo}/deployments"): (("deployments", "read"),),
    ("post", "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses"): (
        ("deployments", "write"),
    ),
    ("get", "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses"): (
        ("deployments", "read"),
    ),
    ("get", "/repos/{owner}/{repo}/pulls/{pull_number}"): _READ_PULLS,
    ("get", "/repos/{owner}/{repo}/pulls"): _READ_PULLS,
    ("get", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews"): _READ_PULLS,
    ("get", "/repos/{owner}/{repo}/pulls/{pull_number}/files"): _READ_PULLS,
    ("get", "/repos/{owner}/{repo}/commits/{commit_sha}/pulls"): _READ_PULLS + _READ_CONTENTS,
    ("put", "/repos/{owner}/{repo}/pulls/{pull_number}/merge"): _WRITE_CONTENTS,
    ("put", "/repos/{owner}/{repo}/pulls/{pull_number}/update-branch"): (
        ("pull_requests", "write"),
        ("contents", "write"),
    ),
}

# Git over HTTP: a fetch reads contents, a push writes them.
GIT_FETCH: Need = _READ_CONTENTS
GIT_PUSH: Need = _WRITE_CONTENTS


def allows(granted: Mapping[str, str], need: Need) -> bool:
    """Whether permissions `granted` meet one of the alternatives of `need`."""
    return any(LEVELS.get(granted.get(name, ""), 0) >= LEVELS[level] for name, level in need)


def narrow(installation: Mapping[str, str], requested: Mapping[str, str]) -> dict[str, str] | None:
    """The permissions of a token asked for `requested`; None when they exceed the
    installation's (GitHub answers 422: a token can only have fewer)."""
    for name, level in requested.items():
        if LEVELS.get(installation.get(name, ""), 0) < LEVELS[level]:
            return None
    narrowed = dict(requested)
    if "metadata" in installation:
        narrowed["metadata"] = "read"
    return narrowed
