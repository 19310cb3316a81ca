"""Every user-visible string the orchestration writes (check runs, comments, pages).

User text (branch names, logins, config values) is escaped for Markdown before it is
placed in a message.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.config import ConfigError
from bot.core.markdown import SENTENCE_CHARS, code_span, escape, link


def config_invalid_title(count: int) -> str:
    return f"{count} problem{'s' if count != 1 else ''} in the config file"


def config_invalid_summary(errors: Sequence[ConfigError], *, path: str) -> str:
    lines = [
        f"Greenlight could not use `{path}`, so no job ran. Fix these and push again:",
        "",
    ]
    lines += [
        f"- line {e.line}, {code_span(e.key) if e.key else 'the file'}: "
        f"{escape(e.message, limit=SENTENCE_CHARS)}"
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
        "Push a commit without it to build. A pull request whose head this is gets "
        "built anyway: skip markers are honoured on pushes only.",
    )


def skipped_by_marker_reason(marker: str) -> str:
    """Why one job of a push was skipped (plain text: its check run escapes it)."""
    return f"the commit message contains {marker}"


def skip_marker_ignored(marker: str) -> str:
    """The aggregate's note on a pull request head whose message has a skip marker."""
    return (
        f"The commit message contains {code_span(marker)}, but this commit is the head of "
        "a pull request, which is always built: a skip marker must never let a change "
        "be merged or deployed untested. To skip work on documentation-only changes, "
        "give the jobs `paths`."
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


def job_running(log_url: str) -> str:
    return f"Running; the end of its log so far is below. [Follow the whole log]({log_url})."


def needs_failed(need: str, conclusion: str) -> str:
    return f"needs {need}, which ended {conclusion.replace('_', ' ')}"


def superseded(new_sha: str) -> str:
    return f"a newer commit ({new_sha[:7]}) was pushed"


def cancelled_by(who: str) -> str:
    return f"cancelled by @{who}"


def restarted_rerun() -> str:
    return (
        "\n--- Greenlight restarted while this job was running (the replica running it "
        "stopped); running it again. ---\n"
    )


def stalled_rerun() -> str:
    return "\n--- Greenlight found nothing running this job; running it again. ---\n"


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


def secrets_missing(names: Sequence[str]) -> str:
    return f"Secrets not defined on the server: {', '.join(names)}\n"


def secrets_withheld() -> str:
    return "Secrets are withheld: this build runs code from a fork.\n"


def reused_note(*, job: str, run_id: int, run_url: str, sha: str, commit_url: str) -> str:
    """The paragraph a reused job's check run opens with: where its result comes from."""
    run = link(f"run #{run_id}", run_url)
    commit = link(code_span(sha[:7]), commit_url)
    return (
        f"Reused: {code_span(job)} passed in {run} on {commit}, with the same tree and the "
        "same inputs, so it was not run again for this commit.\n"
    )


def reused_log(*, job: str, run_id: int, sha: str, log_url: str) -> str:
    """What a reused job's log page says instead of output."""
    return (
        f"Not run: the same tree and inputs passed as {job} in run #{run_id} on {sha[:7]}.\n"
        f"Its log: {log_url}\n"
    )
