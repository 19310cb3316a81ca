"""What the web pages say outside their templates: titles, refusals, status words."""

from __future__ import annotations

SET_UP = "Set up job"
WRAP_UP = "After the steps"

LINK_INVALID = "This link is not valid"
LINK_INVALID_DETAIL = (
    "The address is missing its token or the token does not match: open the page again "
    "from the check run or deployment on GitHub."
)
NOT_FOUND = "Not found"
NO_SUCH_JOB = "There is no such job."
NO_SUCH_RUN = "There is no such run."
NO_SUCH_DEPLOYMENT = "There is no such deployment."
BAD_FILTER = "That filter is not valid"

# Status key → (word, icon). The icon repeats the word for those who cannot tell colours
# apart; the word is what a screen reader says.
STATUS = {
    "success": ("Success", "✓"),
    "failure": ("Failed", "✗"),
    "timed_out": ("Timed out", "⏱"),
    "cancelled": ("Cancelled", "⊘"),
    "skipped": ("Skipped", "↷"),
    "neutral": ("Neutral", "–"),
    "action_required": ("Waiting for approval", "!"),
    "stale": ("Stale", "–"),
    "in_progress": ("Running", "●"),
    "queued": ("Queued", "○"),
    "not_run": ("Did not run", "–"),
    "superseded": ("Superseded", "↷"),
    "pending": ("Pending", "○"),
    "frozen": ("Frozen now", "❄"),
    "upcoming": ("Coming up", "◷"),
    "unknown": ("Unknown", "?"),
}
# The colour family each status is drawn in.
TONE = {
    "success": "good",
    "failure": "bad",
    "timed_out": "bad",
    "action_required": "warn",
    "in_progress": "busy",
    "queued": "idle",
    "pending": "idle",
    "frozen": "bad",
    "upcoming": "warn",
}


def truncated(shown_mb: str, total_mb: str) -> str:
    """Above a log cut for the page."""
    return f"This log is {total_mb} long; the page shows its last {shown_mb}."


def line_cut(characters: int) -> str:
    """After a line cut for the page."""
    return f"… {characters:,} more characters on this line: see the raw log"


SIGN_IN_OFF = "Sign-in is not set up"
SIGN_IN_OFF_DETAIL = (
    "This Greenlight has no OAuth client yet: set GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET "
    "(the app's settings page on GitHub shows both) and restart."
)
SIGN_IN_EXPIRED = "That sign-in has expired"
SIGN_IN_EXPIRED_DETAIL = (
    "GitHub sent back a sign-in this browser did not start, or one started more than ten "
    "minutes ago. Sign in again."
)
SIGN_IN_FAILED = "GitHub did not sign you in"
FORGED = "This form was not sent from Greenlight's page"
FORGED_DETAIL = "Its security token does not match your session. Reload the page and try again."
NO_ACCESS = "You cannot see this repository"
NO_ACCESS_DETAIL = (
    "It is private, and GitHub says your account cannot read it. If you were given access "
    "just now, wait a minute and reload."
)
SIGN_IN_NEEDED = "Sign in to see this page"
SIGN_IN_NEEDED_DETAIL = (
    "This repository is private: sign in with GitHub, and Greenlight shows it if GitHub says "
    "you may read it."
)


def sign_in_failed(reason: str) -> str:
    """After GitHub refused to give a token or an identity."""
    return f"GitHub answered: {reason}. Try signing in again."


DONE = "Done"
NOTHING_DONE = "Nothing done"
NOT_ALLOWED = "You may not do that here"
NO_SUCH_REPOSITORY = "No installation of the app covers this repository."
SIGN_IN_TO_ACT = "Sign in to do that"
SIGN_IN_TO_ACT_DETAIL = (
    "A link from a check run lets you read a page, not act on it: sign in with GitHub, and "
    "Greenlight asks GitHub whether you may."
)


def rerunning(names: list[str], login: str) -> str:
    """After the failed jobs of a run were started again."""
    return f"Running again, as asked by @{login}: {', '.join(sorted(names))}."


def rerun_by(login: str) -> str:
    """The first line of a job's log when someone re-ran it from a page."""
    return f"Re-run by @{login} from the web page.\n"


def still_running() -> str:
    return (
        "Jobs of this run are still running: re-run failed jobs once they finish, or cancel "
        "them first."
    )


def nothing_failed() -> str:
    return "Nothing failed in this run, so there is nothing to re-run."


def awaiting_ok_to_test() -> str:
    return (
        "This build waits for /ok-to-test from someone with write access: there is nothing "
        "to re-run yet."
    )


def nothing_to_cancel() -> str:
    return "This run has finished: there is nothing to cancel."


def cancelled_by(login: str) -> str:
    """Why the jobs were cancelled (shown in their check runs)."""
    return f"cancelled by @{login} from the web page"


def cancelled(login: str) -> str:
    return f"The run's unfinished jobs are cancelled, as asked by @{login}."


FREEZE_EVERYTHING = "merges and every deploy"
FREEZE_UNREAD = (
    "GitHub could not be asked for the freeze windows just now; reload in a minute to see them."
)


def freeze_holds(*, merges: bool, environments: list[str]) -> str:
    """What a freeze window holds: "merges and deploys to staging, production"."""
    deploys = f"deploys to {', '.join(environments)}" if environments else ""
    return " and ".join(part for part in ("merges" if merges else "", deploys) if part)


LIVE = "Updating live while it runs"
LIVE_RUN_DONE = "This run has finished: reload the page to act on it."
LIVE_REPO_DONE = "Nothing is running now."
LIVE_NEW_RUNS = "New runs have started:"
LIVE_SHOW = "show them"
