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


# The build sandbox (bot/executor/sandbox.py). Each names what to install and the variable.
_SANDBOX_PACKAGES = {
    "bwrap": "bubblewrap",
    "slirp4netns": "slirp4netns",
    "nsenter": "util-linux",
    "ip": "iproute2",
    "python3": "python3",  # the sandbox's init runs on the host's /usr/bin/python3
}
_NETWORK_TOOLS = ("unshare", "setpriv", "slirp4netns", "nsenter", "ip")


def sandbox_missing(tool: str) -> str:
    package = _SANDBOX_PACKAGES.get(tool, tool)
    network = (
        " (or set GREENLIGHT_SANDBOX_NETWORK=host to share the host's network, which lets "
        "builds reach the services on this machine)"
        if tool in _NETWORK_TOOLS
        else ""
    )
    return (
        f"Builds run in a bubblewrap sandbox, and `{tool}` is not installed on the machine "
        f"that runs them. Install the package `{package}` (Debian and Ubuntu: "
        f"`apt-get install {package}`){network}, or set GREENLIGHT_SANDBOX=none to run "
        "builds unsandboxed, with access to everything the service can read."
    )


def sandbox_broken(detail: str) -> str:
    detail = detail or "bwrap failed"
    if "Permission denied" in detail and "source path" in detail:
        hint = (
            "the build user must be able to reach every path the sandbox shares: give "
            "its directories `o+x`, or remove the path from GREENLIGHT_SANDBOX_PATHS"
        )
    else:  # namespaces refused: a container's seccomp profile, or a kernel setting
        hint = (
            "inside a container, bwrap needs user namespaces (Docker's default seccomp "
            "profile blocks them: run with `--security-opt seccomp=unconfined` or a profile "
            "that allows `clone` with namespaces), and the kernel must allow them "
            "(`sysctl kernel.unprivileged_userns_clone=1` where that exists)"
        )
    return (
        f"Builds run in a bubblewrap sandbox, and this machine cannot make one: {detail}. "
        f"Fix: {hint}; or set GREENLIGHT_SANDBOX=none to run builds unsandboxed."
    )


def sandbox_network_failed(detail: str) -> str:
    return (
        "Greenlight could not give this step its own network "
        f"({detail.strip() or 'slirp4netns failed'}); set GREENLIGHT_SANDBOX_NETWORK=host "
        "to share the host's network instead."
    )


def sandbox_lost() -> str:
    return "\nThe job's sandbox ended while this step ran; Greenlight stopped the job.\n"


def sandbox_off() -> str:
    return (
        "GREENLIGHT_SANDBOX=none: builds run unsandboxed, as this service's own user, and "
        "can read everything it can (its private key, webhook secret, store, secrets file)."
    )


def worker_refuses(problem: str) -> str:
    return f"This Celery worker will not take build jobs: {problem}"


def sandbox_status(mode: str, network: str, problem: str | None) -> str:
    """One line for the status page: how builds are isolated on this service."""
    if mode == "none":
        return "Builds run UNSANDBOXED (GREENLIGHT_SANDBOX=none). " + sandbox_off()
    if problem is not None:
        return "Builds cannot run: " + problem
    reach = (
        "their own network (no access to this machine's services)"
        if network == "own"
        else "the host's network (GREENLIGHT_SANDBOX_NETWORK=host)"
    )
    return f"Builds run in a bubblewrap sandbox, with {reach}."


def sandbox_unavailable(problem: str) -> str:
    return f"Greenlight did not run this. {problem}\n"


def sandbox_network_needs_root() -> str:
    return (
        "Builds get a network of their own only when Greenlight runs as root (steps then run "
        "as GREENLIGHT_BUILD_USER): start it as root, or set GREENLIGHT_SANDBOX_NETWORK=host "
        "to share the host's network, which lets builds reach the services on this machine."
    )


def disk_exceeded(used: int, limit: int) -> str:
    return (
        f"\nThe job's files (workspace, HOME, /tmp) take {_size(used)}, more than its limit "
        f"of {_size(limit)} (GREENLIGHT_JOB_DISK); Greenlight stopped it.\n"
    )


def _size(count: int) -> str:
    for unit, size in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count} bytes"
