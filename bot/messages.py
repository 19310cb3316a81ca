"""Every user-visible string the orchestration writes (check runs, comments, pages).

User text (branch names, logins, config values) is escaped for Markdown before it is
placed in a message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.core.check_messages import code_span
from bot.core.check_messages import escape_text as escape
from bot.core.config import ConfigError

if TYPE_CHECKING:
    from bot.executor.sandbox import SandboxPolicy


def config_invalid_title(count: int) -> str:
    return f"{count} problem{'s' if count != 1 else ''} in the config file"


def config_invalid_summary(errors: Sequence[ConfigError], *, path: str) -> str:
    lines = [
        f"Greenlight could not use `{path}`, so no job ran. Fix these and push again:",
        "",
    ]
    lines += [
        f"- line {e.line}, {code_span(e.key) if e.key else 'the file'}: "
        f"{escape(e.message, limit=1000)}"
        for e in errors
    ]
    lines += ["", "Check a config locally with `python -m bot check`."]
    return "\n".join(lines)


def config_unreadable(reason: str) -> str:
    return f"The config file could not be read: {escape(reason)}"


def skipped_by_marker(marker: str) -> tuple[str, str]:
    return (
        "Skipped: the commit asks not to be built",
        f"The commit message contains {code_span(marker)}, so Greenlight built nothing. "
        "Push a commit without it to build.",
    )


def awaiting_approval(author: str) -> tuple[str, str]:
    return (
        "Waiting for approval to run",
        f"{code_span('@' + author)} is not yet trusted to run CI on this repository. "
        "Someone with write access can comment `/ok-to-test` to build this commit.",
    )


def run_in_progress(done: int, total: int) -> str:
    return f"{done} of {total} jobs done"


def job_queued() -> str:
    return "Queued"


def job_started() -> str:
    return "Running"


def needs_failed(need: str, conclusion: str) -> str:
    return f"needs {need}, which ended {conclusion.replace('_', ' ')}"


def superseded(new_sha: str) -> str:
    return f"a newer commit ({new_sha[:7]}) was pushed"


def cancelled_by(who: str) -> str:
    return f"cancelled by @{who}"


def restarted_rerun() -> str:
    return "\n--- Greenlight restarted while this job was running; running it again. ---\n"


def restarted_failed() -> str:
    return (
        "Greenlight restarted while this job was running and could not run it again. "
        "Re-run it with the Re-run button or `/retest`."
    )


def pr_closed() -> str:
    return "the pull request was closed"


def internal_error(error: str) -> tuple[str, str]:
    return (
        "Greenlight could not build this commit",
        "Something went wrong inside Greenlight, not in your code: "
        f"{code_span(error, limit=500)}. The service log has the details; push again or "
        "use Re-run to try once more.",
    )


def stopped_before_planning() -> str:
    return "the service stopped before this build was planned; push again or re-run it"


# The build sandbox (bot/executor/sandbox.py). Each names what to install and the variable.
_SANDBOX_PACKAGES = {
    "bwrap": "bubblewrap",
    "slirp4netns": "slirp4netns",
    "nsenter": "util-linux",
    "ip": "iproute2",
}


def sandbox_missing(tool: str) -> str:
    package = _SANDBOX_PACKAGES.get(tool, tool)
    network = (
        " (or set GREENLIGHT_SANDBOX_NETWORK=host to share the host's network, which lets "
        "builds reach the services on this machine)"
        if tool != "bwrap"
        else ""
    )
    return (
        f"Builds run in a bubblewrap sandbox, and `{tool}` is not installed on the machine "
        f"that runs them. Install the package `{package}` (Debian and Ubuntu: "
        f"`apt-get install {package}`){network}, or set GREENLIGHT_SANDBOX=none to run "
        "builds unsandboxed, with access to everything the service can read."
    )


def sandbox_broken(detail: str) -> str:
    return (
        "Builds run in a bubblewrap sandbox, and this machine cannot make one: "
        f"{detail or 'bwrap failed'}. Inside a container, bwrap needs user namespaces "
        "(Docker's default seccomp profile blocks them: run with "
        "`--security-opt seccomp=unconfined` or a profile that allows `clone` with "
        "namespaces), or set GREENLIGHT_SANDBOX=none to run builds unsandboxed."
    )


def sandbox_network_failed(detail: str) -> str:
    return (
        "Greenlight could not give this step its own network "
        f"({detail.strip() or 'slirp4netns failed'}); set GREENLIGHT_SANDBOX_NETWORK=host "
        "to share the host's network instead."
    )


def sandbox_unavailable_job(problem: str) -> str:
    return f"Greenlight did not run this job. {problem}\n"


def sandbox_off() -> str:
    return (
        "GREENLIGHT_SANDBOX=none: builds run unsandboxed, as this service's own user, and "
        "can read everything it can (its private key, webhook secret, store, secrets file)."
    )


def worker_refuses(problem: str) -> str:
    return f"This Celery worker will not take build jobs: {problem}"


def sandbox_status(policy: SandboxPolicy, problem: str | None) -> str:
    """One line for the status page: how builds are isolated on this service."""
    if policy.mode == "none":
        return "Builds run UNSANDBOXED (GREENLIGHT_SANDBOX=none). " + sandbox_off()
    if problem is not None:
        return "Builds cannot run: " + problem
    network = (
        "their own network (no access to this machine's services)"
        if policy.network == "own"
        else "the host's network (GREENLIGHT_SANDBOX_NETWORK=host)"
    )
    return f"Builds run in a bubblewrap sandbox, with {network}."


def code_token_unknown_repository(repo: str) -> str:
    """Job log: the run has no repository id, so no token can be narrowed to its code."""
    return (
        f"Could not fetch the code: Greenlight fetches only with a token narrowed to {repo}, "
        "and this run, recorded by an older version, does not say which repository id that "
        "is. Push a new commit to build again."
    )


def code_token_refused(repo: str, status: int, reason: str) -> str:
    """Job log: GitHub would not make a read-only token for the repository's code."""
    if status in (404, 422):
        why = f"{repo} is not, or no longer, among the repositories the app is installed on"
    else:
        why = f"GitHub answered {status or 'nothing'}: {reason}"
    return f"Could not fetch the code: GitHub gave no read-only token for {repo} ({why})."


def sandbox_network_needs_root() -> str:
    return (
        "Builds get a network of their own only when Greenlight runs as root (steps then run "
        "as GREENLIGHT_BUILD_USER): start it as root, or set GREENLIGHT_SANDBOX_NETWORK=host "
        "to share the host's network, which lets builds reach the services on this machine."
    )
