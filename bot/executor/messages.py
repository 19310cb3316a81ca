"""What the executor writes into a job's or a deploy's log about the run itself.

`kind` is the target's kind, `job` or `deploy`, as a person reads it.
"""

from __future__ import annotations


def checkout_failed(sha: str, error: str) -> str:
    return f"Could not check out {sha}: {error}\n"


def crashed(kind: str) -> str:
    return f"Greenlight failed to run this {kind}; see the service log.\n"


def worker_lost(kind: str, seconds: float) -> str:
    again = " Re-run it." if kind == "job" else ""
    return (
        f"\nThe Celery worker running this {kind} stopped answering for {seconds:g} s; "
        f"Greenlight gave up on it.{again}\n"
    )


def cancelled_unanswered(seconds: float) -> str:
    return f"\nCancelled; no worker answered within {seconds:g} s.\n"


def not_sent(kind: str, error: str) -> str:
    return f"Greenlight could not hand this {kind} to the Celery workers: {error}\n"


def ticket_unreadable(kind: str, reason: str) -> str:
    return f"The Celery worker could not read this {kind}'s ticket: {reason}. Nothing ran.\n"


def sealed_with_another_key() -> str:
    return (
        "it was encrypted with another GREENLIGHT_TICKET_KEY than the worker's; give the "
        "service and every worker the same key, then run it again"
    )


def from_older_service() -> str:
    return (
        "it came from a Greenlight service older than the worker, in a form the worker no "
        "longer runs; upgrade the service, then run it again"
    )


def not_sealed() -> str:
    return "it was not encrypted with GREENLIGHT_TICKET_KEY, so no Greenlight service sent it"


def target_mismatch() -> str:
    return "its encrypted part names another job or deploy than the message does"
