"""Every user-visible string of deploys: refusals, replies, descriptions and the PR comment.

User text (environment names, logins, URLs from the config) is escaped before use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, assert_never

from bot.core.deploy import (
    AdminNeeded,
    Answer,
    DeployQueued,
    Frozen,
    GitHubRefused,
    NeverBuilt,
    NoButton,
    NoConfig,
    NoEarlierSuccess,
    NotDeployed,
    NotFound,
    NotGreen,
    NothingToRollBack,
    NotQueued,
    PlanPending,
    ProductionFromDefaultOnly,
    Refusal,
    Refuse,
    RequiredNotPassed,
    RollbackQueued,
    Skip,
    SkipReason,
    UnknownEnvironment,
    Untrusted,
    Wait,
)
from bot.core.freeze import until_text
from bot.core.markdown import code_span, escape, truncate

NOTICE_MARKER = "<!-- greenlight:deploy -->"
# Every refusal starts so. The replies are values (bot.core.deploy.Answer) until rendered
# here; only bot/web's older callers still tell them apart by this prefix.
REFUSED_PREFIX = "Not deployed:"
# GitHub's limit on a deployment (status) description, 140 characters, kept in bytes like
# every limit: https://docs.github.com/en/rest/deployments/statuses
DESCRIPTION_LIMIT = 140


def _short(text: str) -> str:
    return truncate(text, DESCRIPTION_LIMIT)


# Refusals, skips and waits: rendered from bot.core.deploy's values -----------------------------


def refusal(reason: Refusal) -> str:
    """Why a deploy is refused, in Markdown: what is wrong and what would make it possible."""
    match reason:
        case NeverBuilt(sha=sha):
            return (
                f"`{escape(sha, limit=40)}` was never built by Greenlight, so it cannot be "
                "deployed."
            )
        case Untrusted(sha=sha):
            return (
                f"`{sha}` is untrusted code (a fork or not approved): Greenlight never deploys it."
            )
        case PlanPending(sha=sha):
            return (
                f"`{sha}` was built for its push; the pull request's own jobs have not been "
                "planned yet. Try again once its checks have run."
            )
        case NotGreen(sha=sha, conclusion=conclusion):
            return (
                f"the build of `{sha}` ended `{escape(conclusion)}`; only green builds are "
                "deployed."
            )
        case RequiredNotPassed(sha=sha, check=check, conclusion=conclusion):
            state = "has not finished" if conclusion is None else f"ended `{escape(conclusion)}`"
            return f"the required check {code_span(check)} {state} on `{sha}`."
        case UnknownEnvironment(name=name, known=known):
            return _unknown_environment(name, known)
        case ProductionFromDefaultOnly(environment=name):
            return (
                f"{code_span(name)} is production: only commits of the default branch go there. "
                "Merge first, then deploy."
            )
        case NothingToRollBack():
            return "nothing was ever deployed there, so there is nothing to roll back."
        case NoEarlierSuccess(current=current):
            return f"no successful deployment before `{current}` to roll back to."
        case Frozen():
            return _frozen(reason)
        case NotFound(sha=sha):
            return f"`{escape(sha, limit=40)}` is not a commit of this repository."
        case NoConfig():
            return "the default branch has no valid `.github/greenlight.yml`."
        case NoButton(mode=mode):
            return f"this commit has no deploy button in `{escape(mode)}` mode."
        case AdminNeeded(reason=text):
            return f"{text}."
        case GitHubRefused(detail=detail):
            return github_refused(detail)
        case NotDeployed(reason=skip_reason, environment=environment):
            return skip_text(Skip(skip_reason, environment))
        case _:
            assert_never(reason)


def _unknown_environment(name: str, known: Sequence[str]) -> str:
    if not known:
        return "this repository configures no `deploy.environments`."
    names = ", ".join(code_span(k) for k in known)
    return f"there is no environment {code_span(name)}; configured: {names}."


def _frozen(frozen: Frozen) -> str:
    names = ", ".join(code_span(name) for name in frozen.windows)
    ends = until_text(frozen.until, open_ended=frozen.open_ended)
    env = frozen.environment
    return (
        f"{code_span(env)} is frozen by the window {names} until {ends}. "
        f"An admin can deploy anyway with `/deploy {env} --force`; `/rollback {env}` is "
        "allowed during a freeze."
    )


def skip_text(skip: Skip) -> str:
    """Why an automatic deploy had nothing to do: plain text, for logs and descriptions."""
    match skip.reason:
        case SkipReason.ALREADY_LIVE:
            return "already live there"
        case SkipReason.OLDER_THAN_LIVE:
            return "older than what is live there"
        case SkipReason.ALREADY_DEPLOYING:
            return "being deployed there right now"
        case SkipReason.FAILED_BEFORE:
            return f"its deploy there failed; comment `/deploy {skip.environment}` to try again"
        case SkipReason.OLDER_THAN_WAITING:
            return "not newer than the deploy already waiting there"
        case _:
            assert_never(skip.reason)


def waiting(wait: Wait) -> str:
    """A deploy a freeze holds, for the deployment status and the log: plain text, short."""
    frozen = wait.reason
    ends = until_text(frozen.until, open_ended=frozen.open_ended)
    env, names = frozen.environment, ", ".join(frozen.windows)
    return _short(f"waiting: {env} frozen by {names} until {ends}")


def not_queued(outcome: NotQueued) -> str:
    """Why the queue did not take a deploy, for the service log and the held check run."""
    match outcome:
        case Skip():
            return skip_text(outcome)
        case Wait():
            return waiting(outcome)
        case Refuse(reason=reason):
            return refusal(reason)
        case _:
            assert_never(outcome)


def answer(outcome: Answer) -> str:
    """The reply to `/deploy` or `/rollback` (or the web page's and the button's answer)."""
    match outcome:
        case DeployQueued(environment=env, sha=sha, actor=actor):
            return deploy_queued(env, sha, actor)
        case RollbackQueued(environment=env, sha=sha, current=current, actor=actor):
            return rollback_queued(env, sha, current, actor)
        case Refuse(reason=reason):
            return f"{REFUSED_PREFIX} {refusal(reason)}"
        case _:
            assert_never(outcome)


def crashed() -> str:
    return "Greenlight failed to deploy; see the service log"


def github_refused(reason: str) -> str:
    return f"GitHub refused the deployment: {escape(reason, limit=500)}"


def github_failing(reason: str) -> str:
    return f"GitHub failed to create the deployment ({escape(reason, limit=500)}); trying again"


# Replies --------------------------------------------------------------------------------------


def forced_through(windows: Sequence[str], actor: str) -> str:
    """The deployment log's record of a forced deploy."""
    return f"Deployed during the freeze window {', '.join(windows)}: forced by @{actor}.\n"


def deploy_queued(env: str, sha: str, actor: str) -> str:
    return f"🚀 Deploying `{sha[:7]}` to {code_span(env)}, as @{escape(actor)} asked."


def rollback_queued(env: str, sha: str, current: str, actor: str) -> str:
    return (
        f"⏪ Rolling {code_span(env)} back from `{current[:7]}` to `{sha[:7]}`, "
        f"as @{escape(actor)} asked."
    )


# Deployment and status descriptions (plain text, GitHub shows them as they are) -------------


def description(env: str, sha: str, *, actor: str | None, rollback: bool) -> str:
    if rollback and actor is None:
        return description_automatic_rollback(env, sha)
    if rollback:
        return _short(f"Rollback of {env} to {sha[:7]}, asked by @{actor}")
    who = f"asked by @{actor}" if actor else "automatic"
    return _short(f"Deploy {sha[:7]} to {env} ({who})")


def status_started(env: str) -> str:
    return _short(f"Deploying to {env}")


def status_done(env: str, conclusion: str) -> str:
    return _short(f"Live in {env}" if conclusion == "success" else f"Deploy to {env}: {conclusion}")


def superseded_by(sha: str) -> str:
    return _short(f"Superseded by {sha[:7]} before it started")


def skipped(skip: Skip) -> str:
    return _short(f"Not deployed: {skip_text(skip)}")


def restarted() -> str:
    return (
        "The replica running it stopped (Greenlight restarted or was killed) before it "
        "ended; deploy again if needed."
    )


# The failed-deploy check run -------------------------------------------------------------------


def check_name(env: str) -> str:
    return f"deploy: {env}"


def failed_check(env: str, sha: str, conclusion: str, log_url: str) -> tuple[str, str]:
    title = f"Deploy to {env} {conclusion}"
    summary = (
        f"Deploying `{sha[:7]}` to {code_span(env)} ended `{escape(conclusion)}`; "
        f"promotion stopped here. [Deploy log]({log_url})"
    )
    return title, summary


# The PR comment ------------------------------------------------------------------------------


def notice(lines: Mapping[str, Mapping[str, Any]], order: Sequence[str]) -> str:
    """The one comment on a merged PR saying where its change is, edited as it moves."""
    names = [n for n in order if n in lines] + sorted(n for n in lines if n not in order)
    body = [NOTICE_MARKER, "**Where this change is**", ""]
    body += [_notice_line(name, lines[name]) for name in names]
    return "\n".join(body)


def _notice_line(env: str, line: Mapping[str, Any]) -> str:
    state, sha = str(line.get("state")), str(line.get("sha", ""))[:7]
    url, log_url = line.get("url"), str(line.get("log_url", ""))
    if state == "success":
        where = f" at {url}" if url else ""
        return f"- ✅ live in {escape(env)}{where} (`{sha}`)"
    if state == "in_progress":
        return f"- ⏳ deploying to {escape(env)} (`{sha}`)…"
    detail = f": {escape(str(line['detail']))}" if line.get("detail") else ""
    return f"- ❌ deploy to {escape(env)} {escape(state)} (`{sha}`){detail}: [log]({log_url})"


def notice_unhealthy(detail: str, rollback_to: str | None) -> str:
    """What a merged PR's notice says of a deploy that failed its health check."""
    then = f"; rolling back to {rollback_to[:7]}" if rollback_to else ""
    return f"health check failed ({detail}){then}"


# Freeze windows holding automatic deploys --------------------------------------------------


def held_check(
    env: str, sha: str, windows: Sequence[str], until: float, *, open_ended: bool
) -> tuple[str, str]:
    """The neutral check run on a commit whose automatic deploy a freeze holds."""
    names = ", ".join(code_span(name) for name in windows)
    title = f"Waiting: {env} is frozen"
    ends = until_text(until, open_ended=open_ended)
    summary = (
        f"The automatic deploy of `{sha[:7]}` to {code_span(env)} waits: it is frozen by the "
        f"window {names} until {ends}. It goes out by itself when the "
        "freeze ends, unless a newer commit replaces it; an admin can deploy now with "
        f"`/deploy {escape(env)} --force`."
    )
    return title, summary


def held_replaced(env: str, newer: str) -> tuple[str, str]:
    """The held check run of a commit whose waiting deploy a newer commit replaced."""
    return (
        f"Replaced: {newer[:7]} waits for {env}",
        f"A newer commit, `{newer[:7]}`, now waits for the freeze of {code_span(env)} to end; "
        "this one will not be deployed there by itself.",
    )


def held_over(env: str, sha: str, reason: str | None) -> tuple[str, str]:
    """The held check run once the freeze ended: deployed, or why not."""
    if reason is None:
        return (
            f"Freeze over: deploying to {env}",
            f"The freeze of {code_span(env)} ended; `{sha[:7]}` went out to it.",
        )
    return (
        f"Freeze over: not deployed to {env}",
        f"The freeze of {code_span(env)} ended; `{sha[:7]}` was not deployed: {escape(reason)}.",
    )


# Health checks and automatic rollback ----------------------------------------------------------


def health_step() -> str:
    return "health check"


def status_checking_health() -> str:
    return "checking health"


def health_never_started() -> str:
    return "the health check did not start (see the deployment log)"


def health_cut_short(probes: int) -> str:
    return f"the health check stopped after {probes} probe(s), before its period was over"


def health_failed_log(detail: str) -> str:
    return f"Health check failed: {detail}\n"


def health_resumed_log(remaining: float) -> str:
    return (
        "The replica running the health check stopped; another took the deploy over and "
        f"checks again for the rest of the period ({remaining:g}s).\n"
    )


def health_interrupted_log() -> str:
    return "Greenlight is stopping: the health check goes on once a replica takes it over.\n"


def health_passed_log(probes: int) -> str:
    return f"Health check passed: {probes} probe(s), all healthy.\n"


def status_unhealthy(env: str, detail: str) -> str:
    return _short(f"{env} unhealthy: {detail}")


def description_automatic_rollback(env: str, sha: str) -> str:
    return _short(f"Automatic rollback of {env} to {sha[:7]}: health check failed")


def rolling_back_log(sha: str) -> str:
    return f"Rolling back automatically to {sha[:7]}, the last good deploy.\n"


def not_rolling_back_log(because: str) -> str:
    return f"No automatic rollback: {because}.\n"


def unhealthy_check(
    env: str, sha: str, detail: str, log_url: str, *, rollback_to: str | None, because: str
) -> tuple[str, str]:
    """The failed check run on the commit whose deploy failed its health check."""
    title = f"Deploy to {env}: health check failed"
    then = (
        f"Greenlight is rolling {code_span(env)} back to `{rollback_to[:7]}`, the last good "
        "deploy; promotion stopped here."
        if rollback_to is not None
        else f"Promotion stopped here; no automatic rollback: {escape(because)}."
    )
    summary = (
        f"`{sha[:7]}` was deployed to {code_span(env)}, then failed its health check: "
        f"{escape(detail)}. {then} [Deploy log]({log_url})"
    )
    return title, summary
