"""Markdown the bot posts about merging: the `/status` reply and merge comments.

User text (labels, logins, check names, titles, GitHub's messages) goes through
`markdown.escape`, which also puts @logins in code spans: a status reply should explain,
not notify everyone it names. Each body ends with a hidden marker so the caller can find
its earlier comment and edit it instead of posting again.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.core.config import MergeMethod
from bot.core.markdown import SENTENCE_CHARS, code_span, escape
from bot.core.merge import (
    Block,
    CheckFact,
    Decision,
    MergeFacts,
    MergeNow,
    Reason,
    UpdateBranch,
    Wait,
    count_approvals,
    summarize_checks,
)

STATUS_MARKER = "<!-- greenlight:status -->"
MERGED_MARKER = "<!-- greenlight:merged -->"
MERGE_REFUSED_MARKER = "<!-- greenlight:merge-refused -->"

MAX_LISTED_CHECKS = 100  # keeps the reply far below GitHub's 65,536-character comment limit

_METHOD_TEXT = {
    MergeMethod.MERGE: "a merge commit",
    MergeMethod.SQUASH: "a squash merge",
    MergeMethod.REBASE: "a rebase merge",
}
_MERGEABILITY_TEXT = {
    "clean": "no conflicts",
    "has_hooks": "no conflicts",
    "unstable": "no conflicts; some checks are not passing",
    "dirty": "conflicts with the base branch",
    "behind": "behind the base branch",
    "blocked": "GitHub reports it blocked by a branch rule",
    "draft": "a draft",
    "unknown": "GitHub is still computing it",
}


def status_report(facts: MergeFacts, decision: Decision, *, checks_url: str | None = None) -> str:
    """The `/status` reply: why it is not merged yet, then checks, reviews and rules."""
    sections = [
        _headline(facts, decision),
        _reasons_section(decision),
        _checks_section(facts, checks_url),
        _reviews_section(facts),
        _rules_section(facts),
        STATUS_MARKER,
    ]
    return "\n\n".join(section for section in sections if section)


def merge_comment(decision: MergeNow, *, pr_number: int, title: str, next_step: str | None) -> str:
    """Posted after the bot merged: what, how, which checks passed, who approved, what next."""
    shown_title = escape(title, limit=SENTENCE_CHARS)
    lines = [
        f"✅ Merged #{pr_number} ({shown_title}) as {_METHOD_TEXT[decision.method]} "
        f"of {code_span(decision.sha[:7])}.",
        _listing("Checks passed:", [_bold(name) for name in decision.passed_checks])
        or "No checks reported on this commit.",
        _listing("Approved by:", [escape(f"@{login}") for login in decision.approvers])
        or "No approving reviews.",
    ]
    if next_step:
        lines.append(f"Next: {escape(next_step, limit=SENTENCE_CHARS)}.")
    return "\n\n".join([*lines, MERGED_MARKER])


def merge_refused_comment(reason_from_github: str) -> str:
    """Posted once when GitHub refuses a merge; the bot does not retry on its own."""
    reason = escape(reason_from_github, limit=SENTENCE_CHARS)
    return "\n\n".join(
        [
            f"⚠️ GitHub refused to merge this pull request: {reason}",
            "Greenlight will not try again until something changes: a push, a review, a "
            "label, a finished check or another /merge.",
            MERGE_REFUSED_MARKER,
        ]
    )


def _headline(facts: MergeFacts, decision: Decision) -> str:
    match decision:
        case MergeNow(method=method, sha=sha):
            return (
                f"🚀 **Merging**: every check passed and every rule is met "
                f"({_METHOD_TEXT[method]} of {code_span(sha[:7])})."
            )
        case UpdateBranch():
            return (
                f"🔄 **Updating the branch** with {escape(facts.base_ref, limit=SENTENCE_CHARS)} "
                "first; it merges once the checks pass on the updated branch."
            )
        case Block(reasons=(Reason(code="auto_off"),)):
            return (
                "✅ **Ready to merge**: every check passed and every rule is met, but "
                "auto-merge is off; comment /merge to merge it."
            )
        case Wait(reasons=reasons):
            return f"⏳ **Not merged yet**: {_first_reason(reasons)}"
        case Block(reasons=reasons):
            return f"❌ **Not merged**: {_first_reason(reasons)}"


def _first_reason(reasons: tuple[Reason, ...]) -> str:
    more = f" (and {len(reasons) - 1} more below)" if len(reasons) > 1 else ""
    return escape(reasons[0].message, limit=SENTENCE_CHARS) + more


def _reasons_section(decision: Decision) -> str:
    if not isinstance(decision, Wait | Block) or len(decision.reasons) < 2:
        return ""
    items = "\n".join(
        f"- {escape(reason.message, limit=SENTENCE_CHARS)}" for reason in decision.reasons
    )
    return f"**Why**\n\n{items}"


def _checks_section(facts: MergeFacts, checks_url: str | None) -> str:
    summary = summarize_checks(
        facts.checks, required=facts.required_checks, own=facts.own_check_names
    )
    lines = [
        *(_check_line("❌", check, check.conclusion or "failed") for check in summary.failed),
        *(_check_line("⏳", check, check.status.replace("_", " ")) for check in summary.pending),
        *(f"- ⏳ {_bold(name)} — has not reported" for name in summary.missing),
        *(_check_line("✅", check, None) for check in summary.passed),
        *(_check_line("✅", check, check.conclusion) for check in summary.skipped),
    ]
    if len(lines) > MAX_LISTED_CHECKS:
        lines = [*lines[:MAX_LISTED_CHECKS], f"- … and {len(lines) - MAX_LISTED_CHECKS} more"]
    heading = f"### Checks on {code_span(facts.head_sha[:7])}"
    body = "\n".join(lines) if lines else "No checks have reported on this commit."
    link = f"\n\n[All checks]({checks_url})" if checks_url else ""
    return f"{heading}\n\n{body}{link}"


def _check_line(icon: str, check: CheckFact, detail: str | None) -> str:
    source = f" · {escape(check.app)}" if check.app else " · commit status"
    suffix = f" — {escape(detail)}" if detail else ""
    return f"- {icon} {_bold(check.name)}{source}{suffix}"


def _reviews_section(facts: MergeFacts) -> str:
    approvers, blockers = count_approvals(facts.reviews)
    approved_commit = {
        review.reviewer.lower(): review.commit_id
        for review in sorted(facts.reviews, key=lambda review: review.submitted_at)
        if review.state == "APPROVED"
    }
    stale = {
        login for login, commit in approved_commit.items() if commit not in (None, facts.head_sha)
    }
    lines = [
        _listing("✅ Approved by", [_login(name, name.lower() in stale) for name in approvers]),
        _listing("❌ Changes requested by", [_login(name, False) for name in blockers]),
        _approvals_line(len(approvers), facts.config.approvals),
    ]
    return "### Reviews\n\n" + "\n".join(f"- {line}" for line in lines if line)


def _approvals_line(have: int, need: int) -> str:
    if need == 0:
        return "No approvals required."
    if have >= need:
        return f"Approvals: {have} of {need} required."
    return f"{need - have} more approval{'s' if need - have > 1 else ''} needed ({need} required)."


def _rules_section(facts: MergeFacts) -> str:
    lines = [
        f"Auto-merge: {_auto_merge_text(facts)}",
        "Hold: " + (escape(f"@{facts.held_by}; comment /unhold") if facts.held_by else "none"),
        f"Labels: {_labels_text(facts)}",
        f"Draft: {'yes; mark it ready for review' if facts.draft else 'no'}",
        f"Mergeability: {_mergeability_text(facts)}",
    ]
    if not facts.head_trusted:
        lines.append("CI: waiting for /ok-to-test from someone with write access")
    return "### Rules\n\n" + "\n".join(f"- {line}" for line in lines)


def _auto_merge_text(facts: MergeFacts) -> str:
    method = facts.requested_method or facts.config.method
    if facts.merge_requested_by:
        who = escape(f"@{facts.merge_requested_by}")
        return f"requested by {who} with /merge ({method})"
    if facts.config.auto:
        return f"on ({method})"
    return "off; comment /merge to merge when green"


def _labels_text(facts: MergeFacts) -> str:
    present = {label.lower() for label in facts.labels}
    blocking = [
        label for label in facts.labels if label.lower() in _lower(facts.config.block_labels)
    ]
    missing = [label for label in facts.config.require_labels if label.lower() not in present]
    parts = [
        _listing("blocking", [_bold(label) for label in blocking]),
        _listing("missing", [_bold(label) for label in missing]),
    ]
    return "; ".join(part for part in parts if part) or "nothing blocks, nothing missing"


def _mergeability_text(facts: MergeFacts) -> str:
    if facts.mergeable is False:
        return _MERGEABILITY_TEXT["dirty"]
    text = _MERGEABILITY_TEXT.get(facts.mergeable_state, escape(facts.mergeable_state))
    if facts.mergeable_state == "behind" and facts.config.update_branch:
        text += "; Greenlight updates it before merging"
    return text


def _listing(label: str, items: list[str]) -> str:
    return f"{label} {', '.join(items)}" if items else ""


def _login(login: str, is_stale: bool) -> str:
    return escape(f"@{login}") + (" (on an older commit)" if is_stale else "")


def _bold(text: str) -> str:
    return f"**{escape(text)}**"


def _lower(names: Iterable[str]) -> set[str]:
    return {name.lower() for name in names}
