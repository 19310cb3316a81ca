"""What Greenlight says in reply to slash-commands, and the `/help` comment.

User text (logins, job names, config values) goes through `markdown.escape` or
`markdown.code_span` before it is placed in Markdown.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.core.commands import CommandName, usage
from bot.core.config import Config, Mode
from bot.core.markdown import SENTENCE_CHARS, code_span, escape, table_cell
from bot.core.permissions import Permission, required_permission

HELP_MARKER = "<!-- greenlight:help -->"
MAX_LISTED_JOBS = 30


def reply(actor: str, answers: Iterable[str]) -> str:
    """One reply comment to a person's commands: one paragraph per answer."""
    return "\n\n".join([f"{escape('@' + actor)}:", *answers])


def refused(command_usage: str, reason: str) -> str:
    return f"{code_span(command_usage)} refused: {escape(reason, limit=SENTENCE_CHARS)}."


def came_in_while_down(command_usage: str) -> str:
    return (
        f"{code_span(command_usage)} came in while Greenlight was down, and the pull request "
        "may have changed since; comment it again if it still applies."
    )


def unknown(text: str) -> str:
    return _sentence(escape(text, limit=SENTENCE_CHARS))


def bad_arguments(text: str) -> str:
    return _sentence(escape(text, limit=SENTENCE_CHARS))


def _sentence(text: str) -> str:
    return text if text.endswith((".", "?", "!")) else text + "."


def no_build(sha: str) -> str:
    return f"There is no build of {code_span(sha[:7])} yet; push or wait for it to start."


def awaiting_ok_to_test(sha: str) -> str:
    return (
        f"The build of {code_span(sha[:7])} waits for /ok-to-test from someone with write "
        "access; there is nothing to re-run yet."
    )


def unknown_jobs(names: Iterable[str], known: Iterable[str]) -> str:
    listed = ", ".join(code_span(name) for name in sorted(known)[:MAX_LISTED_JOBS])
    missing = ", ".join(code_span(name) for name in names)
    return f"No job called {missing} in this build; the jobs are {listed or 'none'}."


def still_running(sha: str) -> str:
    return (
        f"Jobs of {code_span(sha[:7])} are still running; /retest once they finish, "
        "or /cancel them first."
    )


def nothing_failed(sha: str) -> str:
    return f"Nothing failed on {code_span(sha[:7])}, so there is nothing to re-run."


def nothing_running() -> str:
    return "Nothing is running for this pull request."


def cancelled_reason(actor: str) -> str:
    """Plain text: why jobs were cancelled (shown in their check runs)."""
    return f"cancelled by @{actor} with /cancel"


def merge_next_step(config: Config) -> str | None:
    """What happens after a merge; deployments (issue 5) will say where the change goes."""
    if config.mode is Mode.INTEGRATION:
        return "nothing is deployed (integration mode)"
    return None


def rerun_refused(actor: str, have: Permission) -> tuple[str, str]:
    """Title prefix and summary paragraph when a button is pressed without the access."""
    return (
        "Re-run refused",
        f"**Re-run failed refused**: only people with write access can re-run jobs; "
        f"{escape('@' + actor)} has {have.label}.",
    )


def merge_button_refused(actor: str, have: Permission) -> tuple[str, str]:
    return (
        "Merge refused",
        f"**Merge when ready refused**: only people with write access can ask Greenlight to "
        f"merge; {escape('@' + actor)} has {have.label}.",
    )


def merge_button_pressed(actor: str, number: int) -> tuple[str, str]:
    return (
        "Merge requested",
        f"**Merge requested** by {escape('@' + actor)}: Greenlight merges #{number} "
        f"as soon as its approvals and required checks allow; comment `/status` on it to see "
        f"what it waits for, `/merge cancel` to take the request back.",
    )


def merge_button_no_pull_request() -> tuple[str, str]:
    return (
        "Nothing to merge",
        "**Nothing merged**: this commit is not the head of an open pull request any more.",
    )


def button_came_in_while_down(identifier: str) -> str:
    return (
        f"**Nothing done**: the press of {code_span(identifier)} came in while Greenlight "
        "was down, and things may have changed since; press it again if it still applies."
    )


def unknown_action(identifier: str) -> str:
    return f"**Nothing done**: {code_span(identifier)} is not a button Greenlight knows."


# -- /help --------------------------------------------------------------------------------

_HELP_ORDER = (
    (CommandName.RETEST, "re-run the failed jobs, or the named ones, on the head commit"),
    (CommandName.CANCEL, "cancel the running jobs of this pull request"),
    (CommandName.MERGE, "merge as soon as everything is green"),
    (CommandName.MERGE_CANCEL, "withdraw /merge"),
    (CommandName.HOLD, "block merging"),
    (CommandName.UNHOLD, "release a hold"),
    (CommandName.OK_TO_TEST, "trust the current head commit for CI (fork pull requests)"),
    (CommandName.DEPLOY, "deploy the head (or SHA) to an environment"),
    (CommandName.ROLLBACK, "redeploy the last good deployment of an environment"),
    (CommandName.STATUS, "why this pull request is not merged yet"),
    (CommandName.HELP, "this help"),
)
_AUTHOR_TOO = frozenset({CommandName.RETEST, CommandName.CANCEL})


def help_comment(config: Config | None) -> str:
    """The commands, who may use them, and this repository's config summary."""
    rows = [
        f"| {table_cell(code_span(usage(name)))} | {what} | {_who(name)} |"
        for name, what in _HELP_ORDER
    ]
    table = "\n".join(["| command | does | who |", "| --- | --- | --- |", *rows])
    sections = ["### Greenlight commands", table, _config_summary(config), HELP_MARKER]
    return "\n\n".join(sections)


def _who(name: CommandName) -> str:
    needed = required_permission(name, protected_env=False)
    if needed is Permission.NONE:
        return "anyone"
    extra = " (admin for protected environments)" if name is CommandName.DEPLOY else ""
    author = "the author or " if name in _AUTHOR_TOO else ""
    return f"{author}{needed.label}{extra}"


def _config_summary(config: Config | None) -> str:
    if config is None:
        return "### This repository\n\nThe config file at the head commit could not be used."
    merge = config.merge
    jobs = [code_span(job.name) for job in config.jobs[:MAX_LISTED_JOBS]]
    environments = [
        code_span(env.name) + (" (protected)" if env.protected else "")
        for env in config.deploy.environments
    ]
    lines = [
        f"Mode: {config.mode}",
        f"Jobs: {', '.join(jobs) or 'none'}",
        f"Auto-merge: {'on' if merge.auto else 'off (comment /merge)'}, method {merge.method}",
        f"Approvals required: {merge.approvals}",
        f"Blocking labels: {_names(merge.block_labels)}",
        f"Required labels: {_names(merge.require_labels)}",
        f"Branch after merge: {'deleted' if merge.delete_branch else 'kept'}; "
        f"out-of-date branches {'updated' if merge.update_branch else 'left as they are'}",
        f"Environments: {', '.join(environments) or 'none'}",
        f"Builds without /ok-to-test: {config.trust.authors}",
    ]
    return "### This repository\n\n" + "\n".join(f"- {line}" for line in lines)


def _names(names: Iterable[str]) -> str:
    return ", ".join(code_span(name) for name in names) or "none"
