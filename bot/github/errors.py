"""GitHub's failures, mapped once into a small family by what the caller can do about them."""

from __future__ import annotations

from collections.abc import Mapping

import gidgethub

# Without a `Retry-After` or an exhausted primary limit, GitHub asks to wait at least a
# minute before retrying a request refused by a secondary rate limit.
# https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api#handle-rate-limit-errors-appropriately
DEFAULT_RATE_LIMIT_WAIT_SECONDS = 60.0


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
    """The primary or a secondary rate limit; `reset_at` is when to try again (epoch s).

    GitHub refused the request before acting on it, so it is safe to send again then."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        reset_at: float,
        retry_after: float | None = None,
        primary: bool = False,
    ) -> None:
        super().__init__(message, status=status)
        self.reset_at = reset_at
        self.retry_after = retry_after  # GitHub's `Retry-After`, when it sent one
        self.primary = primary  # the hourly limit ran out (not a secondary limit)


class Transient(GitHubError):
    """5xx or a network failure: worth retrying a bounded number of times.

    A write that ends this way may have been applied all the same."""


def map_error(error: Exception, *, now: float) -> GitHubError:
    """Turn a gidgethub or network exception into our family."""
    if isinstance(error, GitHubError):
        return error
    if isinstance(error, gidgethub.HTTPException):
        status = int(error.status_code)
        message = str(error) or error.status_code.phrase
        headers = _headers(error)
        reset_at = rate_limit_reset(status, message, headers, now=now)
        if reset_at is not None:
            retry_after = _number(headers.get("retry-after"))
            primary = retry_after is None and headers.get("x-ratelimit-remaining") == "0"
            return RateLimited(
                message, status=status, reset_at=reset_at, retry_after=retry_after, primary=primary
            )
        kind: type[GitHubError] = {
            404: NotFound,
            403: Forbidden,
            409: Conflict,
            405: NotMergeable,
            422: ValidationFailed,
        }.get(status, Transient if status >= 500 else GitHubError)
        return kind(message, status=status)
    return Transient(f"{type(error).__name__}: {error}")


def rate_limit_reset(
    status: int, message: str, headers: Mapping[str, str], *, now: float
) -> float | None:
    """When a refused request may be sent again (epoch s), or None when no limit refused it.

    In GitHub's order: `Retry-After`; else an exhausted primary limit's `x-ratelimit-reset`;
    else, for a 429 or a 403 that names a secondary limit, one minute.
    https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#exceeding-the-rate-limit
    """
    if status not in (403, 429):
        return None
    retry_after = _number(headers.get("retry-after"))
    if retry_after is not None:
        return now + max(0.0, retry_after)
    reset = _number(headers.get("x-ratelimit-reset"))
    if headers.get("x-ratelimit-remaining") == "0" and reset is not None:
        return max(now, reset)
    if status == 429 or "rate limit" in message.lower():
        return now + DEFAULT_RATE_LIMIT_WAIT_SECONDS
    return None


def _headers(error: gidgethub.HTTPException) -> Mapping[str, str]:
    raw = getattr(error, "headers", None) or {}
    return {str(key).lower(): str(value) for key, value in raw.items()}


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None
