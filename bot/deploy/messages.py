"""Every user-visible string of deploys: refusals, replies, descriptions and the PR comment.

User text (environment names, logins, URLs from the config) is escaped before use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.core.markdown import code_span, escape, truncate

NOTICE_MARKER = "<!-- greenlight:deploy -->"
REFUSED_PREFIX = "Not deployed:"  # every refusal starts so; the button handler tells them apart
# GitHub's limit on a deployment (status) description, 140 characters, kept in bytes like
# every limit: https://docs.github.com/en/rest/deployments/statuses
DESCRIPTION_LIMIT = 140


def _short(text: str) -> str:
    return truncate(text, DESCRIPTION_LIMIT)


# Refusals -----------------------------------------------------------------------------------


def never_built(sha: str) -> str:
    return f"`{sha}` was never built by Greenlight, so it cannot be deployed."


def untrusted(sha: str) -> str:
    return f"`{sha}` is untrusted code (a fork or not approved): Greenlight never deploys it."


def not_green(sha: str, conclusion: str) -> str:
    return f"the build of `{sha}` ended `{escape(conclusion)}`; only green builds are deployed."


def required_not_passed(sha: str, check: str, conclusion: str | None) -> str:
    state = "has not finished" if conclusion is None else f"ended `{escape(conclusion)}`"
    return f"the required check {code_span(check)} {state} on `{sha}`."


def already_live() -> str:
    return "already live there"


def older_than_live() -> str:
    return "older than what is live there"


def already_deploying() -> str:
    return "being deployed there right now"


def failed_before(environment: str) -> str:
    return f"its deploy there failed; comment `/deploy {environment}` to try again"


def older_than_waiting() -> str:
    return "not newer than the deploy already waiting there"


def crashed() -> str:
    return "Greenlight failed to deploy; see the service log"


def unknown_environment(name: str, known: Sequence[str]) -> str:
    if not known:
        return "this repository configures no `deploy.environments`."
    names = ", ".join(code_span(k) for k in known)
    return f"there is no environment {code_span(name)}; configured: {names}."


def production_from_default_only(name: str) -> str:
    return (
        f"{code_span(name)} is production: only commits of the default branch go there. "
        "Merge first, then deploy."
    )


def nothing_to_roll_back() -> str:
    return "nothing was ever deployed there, so there is nothing to roll back."


def no_earlier_success(current: str) -> str:
    return f"no successful deployment before `{current}` to roll back to."


def admin_needed(refusal: str) -> str:
    return f"{REFUSED_PREFIX} {refusal}."


def refused(reason: str) -> str:
    return f"{REFUSED_PREFIX} {reason}"


def not_found(sha: str) -> str:
    return f"`{escape(sha, limit=40)}` is not a commit of this repository."


def no_config() -> str:
    return "the default branch has no valid `.github/greenlight.yml`."


def no_button(mode: str) -> str:
    return f"this commit has no deploy button in `{escape(mode)}` mode."


def github_refused(reason: str) -> str:
    return f"GitHub refused the deployment: {escape(reason, limit=500)}"


def github_failing(reason: str) -> str:
    return f"GitHub failed to create the deployment ({escape(reason, limit=500)}); trying again"


# Replies --------------------------------------------------------------------------------------


def deploy_queued(env: str, sha: str, actor: str) -> str:
    return f"🚀 Deploying `{sha[:7]}` to {code_span(env)}, as @{escape(actor)} asked."


def rollback_queued(env: str, sha: str, current: str, actor: str) -> str:
    return (
        f"⏪ Rolling {code_span(env)} back from `{current[:7]}` to `{sha[:7]}`, "
        f"as @{escape(actor)} asked."
    )


# Deployment and status descriptions (plain text, GitHub shows them as they are) -------------


def description(env: str, sha: str, *, actor: str | None, rollback: bool) -> str:
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


def skipped(reason: str) -> str:
    return _short(f"Not deployed: {reason}")


def restarted() -> str:
    return "Greenlight restarted while this deploy was running; deploy again if needed."


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
    return f"- ❌ deploy to {escape(env)} {escape(state)} (`{sha}`): [log]({log_url})"


def plan_pending(short: str) -> str:
    return (
        f"`{short}` was built for its push; the pull request's own jobs have not been planned "
        "yet. Try again once its checks have run."
    )
