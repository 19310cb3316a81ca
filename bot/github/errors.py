"""GitHub's failures, mapped once into a small family by what the caller can do about them."""

from __future__ import annotations

import gidgethub


class GitHubError(Exception):
    """A GitHub request failed; `status` is the HTTP status (0 when none came back)."""

    def __init__(self, message: str, *, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class NotFound(GitHubError):
    """404: the thing is gone, or the app cannot see it."""


class Forbidden(GitHubError):
    """403 without a rate limit: the app lacks a permission."""


class Conflict(GitHubError):
    """409: the state moved under us (e.g. the head SHA changed before a merge)."""


class NotMergeable(GitHubError):
    """405: GitHub refuses the merge (conflict, branch protection)."""


class ValidationFailed(GitHubError):
    """422: GitHub rejected the request body."""


class RateLimited(GitHubError):
    """The primary or a secondary rate limit; `reset_at` is when to try again (epoch s)."""

    def __init__(self, message: str, *, status: int, reset_at: float) -> None:
        super().__init__(message, status=status)
        self.reset_at = reset_at


class Transient(GitHubError):
    """5xx or a network failure: worth retrying a bounded number of times."""


def map_error(error: Exception, *, now: float) -> GitHubError:
    """Turn a gidgethub or network exception into our family."""
    if isinstance(error, GitHubError):
        return error
    if isinstance(error, gidgethub.RateLimitExceeded):
        reset = error.rate_limit.reset_datetime.timestamp() if error.rate_limit else now + 60
        return RateLimited(str(error), status=int(error.status_code), reset_at=reset)
    if isinstance(error, gidgethub.HTTPException):
        status = int(error.status_code)
        message = str(error) or error.status_code.phrase
        retry_after = _retry_after(error)
        if status in (403, 429) and retry_after is not None:
            return RateLimited(message, status=status, reset_at=now + retry_after)
        kind: type[GitHubError] = {
            404: NotFound,
            403: Forbidden,
            409: Conflict,
            405: NotMergeable,
            422: ValidationFailed,
        }.get(status, Transient if status >= 500 else GitHubError)
        return kind(message, status=status)
    return Transient(f"{type(error).__name__}: {error}")


def _retry_after(error: gidgethub.HTTPException) -> float | None:
    headers = getattr(error, "headers", None) or {}
    value = headers.get("retry-after") or headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
