"""May this pull request be merged now? A pure decision over facts read from GitHub.

Every rule that holds the pull request back adds a `Reason`; all of them are kept, ordered
by `_IMPORTANCE`, so `/status` can list them. A blocking reason (someone must act) wins
over a waiting one (time or CI will settle it): the decision is then `Block`, whose reasons
are the blocking ones followed by the waiting ones.

Choices where GitHub or the design leave room:

- Any failing check or status on the head blocks, required or not (as Mergify and Kodiak
  do); the message says when the failing check is not a required one.
- `behind` with `merge.update_branch`: update the branch as soon as nothing but checks are
  outstanding, so the PR is not built once on the old base and again on the new one.
  Without `update_branch` it is no reason at all: GitHub only refuses to merge a branch
  that is behind under a strict protection rule, and then the merge attempt says so.
- `blocked` while our facts are all green: wait, explaining that a rule we cannot see
  (code owners, signed commits, a ruleset) holds it. `unstable` (a non-required check is
  failing) needs nothing extra: the checks themselves decide, and GitHub recomputes
  `mergeable_state` lazily, so trusting a stale `unstable` over fresh checks could wait
  forever with no event to wake us.
- A closed or merged PR gets only that reason.
- `MergeNow.passed_checks` names the checks that succeeded; skipped and neutral ones do
  not fail anything (and satisfy a required check, as on GitHub) but are not listed.
- Greenlight's own run of the head must have been planned for this pull request: a run
  started by the branch's `push` may skip jobs (`if`, `paths`, a skip marker) that the
  pull request's plan runs, and its green checks prove nothing about those. Until the
  pull request's plan is added, it waits.
- A job skipped by a skip marker never counts as passed: it waits (a pull request head is
  always built, so its build replaces that skip).
- A freeze window that applies to `merge` (read from the default branch's config, so a
  pull request cannot lift it) makes it wait, with the window and its end; whatever else
  holds it is still listed, so people can get it ready during the freeze.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from bot.core.config import MergeConfig, MergeMethod
from bot.core.freeze import Freeze, until_text


@dataclass(frozen=True)
class Review:
    reviewer: str
    state: str  # APPROVED | CHANGES_REQUESTED | COMMENTED | DISMISSED | PENDING
    submitted_at: str  # ISO 8601, for ordering
    reviewer_can_write: bool
    commit_id: str | None


@dataclass(frozen=True)
class CheckFact:
    """A check run, or a commit status (`is_status`: app None, the context as name).

    A status is `status="pending"` while pending, else `status="completed"` with the state
    (success, failure, error) as conclusion; `from_status` builds one.
    """

    name: str
    app: str | None  # app slug; None for commit statuses
    status: str  # queued | in_progress | completed | pending | waiting | requested
    conclusion: str | None
    is_status: bool = False

    @classmethod
    def from_status(cls, context: str, state: str) -> CheckFact:
        """A commit status, from its context and state (success/failure/error/pending)."""
        if state == "pending":
            return cls(context, None, "pending", None, is_status=True)
        return cls(context, None, "completed", state, is_status=True)


@dataclass(frozen=True)
class MergeFacts:
    state: str  # open | closed
    merged: bool
    draft: bool
    head_sha: str
    base_ref: str
    mergeable: bool | None
    mergeable_state: str  # clean dirty blocked behind unstable has_hooks unknown draft
    labels: tuple[str, ...]
    reviews: tuple[Review, ...]
    checks: tuple[CheckFact, ...]
    required_checks: tuple[str, ...]  # from branch protection and rulesets
    held_by: str | None  # who commented /hold
    merge_requested_by: str | None  # who commented /merge
    requested_method: MergeMethod | None
    is_fork: bool
    head_trusted: bool  # CI may run on the head SHA
    own_check_names: tuple[str, ...]  # checks this app reports; absent ones are pending
    config: MergeConfig
    plan_pending: bool = False  # the head's run has not yet planned this PR's jobs
    skipped_by_marker: tuple[str, ...] = ()  # own jobs on the head skipped by a skip marker
    freeze: Freeze | None = None  # a freeze window holding merges now


@dataclass(frozen=True)
class Reason:
    code: str  # "approvals", "check_failed:lint", "label:wip"…
    message: str  # plain text; renderers escape it


@dataclass(frozen=True)
class MergeNow:
    method: MergeMethod
    sha: str  # merge only if the head is still this SHA
    passed_checks: tuple[str, ...]
    approvers: tuple[str, ...]


@dataclass(frozen=True)
class UpdateBranch:
    sha: str  # the expected head SHA before the update


@dataclass(frozen=True)
class Wait:
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class Block:
    reasons: tuple[Reason, ...]


Decision = MergeNow | UpdateBranch | Wait | Block


class CheckState(Enum):
    PASSED = "passed"
    SKIPPED = "skipped"  # skipped or neutral: not a failure, satisfies a required check
    PENDING = "pending"
    FAILED = "failed"


@dataclass(frozen=True)
class ChecksSummary:
    passed: tuple[CheckFact, ...]
    skipped: tuple[CheckFact, ...]
    pending: tuple[CheckFact, ...]
    failed: tuple[CheckFact, ...]
    missing: tuple[str, ...]  # required or own checks that never reported


_FAILED_CONCLUSIONS = frozenset(
    {"failure", "timed_out", "cancelled", "action_required", "startup_failure", "stale"}
)
_FAILED_STATUS_STATES = frozenset({"failure", "error"})
_SKIPPED_CONCLUSIONS = frozenset({"neutral", "skipped"})
_CHECK_CODES = ("check_pending", "check_missing", "plan_pending", "skipped_by_marker", "behind")

# Most important first; a code's prefix (before ":") is looked up.
_IMPORTANCE = (
    "merged",
    "closed",
    "held",
    "label",
    "changes_requested",
    "conflict",
    "check_failed",
    "auto_off",
    "draft",
    "untrusted",
    "missing_label",
    "approvals",
    "freeze",
    "check_pending",
    "check_missing",
    "plan_pending",
    "skipped_by_marker",
    "mergeability_unknown",
    "blocked_by_github",
    "behind",
)
_BLOCKING = frozenset(_IMPORTANCE[: _IMPORTANCE.index("auto_off") + 1])


def decide_merge(facts: MergeFacts) -> Decision:
    """Merge now, update the branch first, wait (with reasons) or never (with reasons)."""
    if facts.merged or facts.state != "open":
        return Block((_reason("merged") if facts.merged else _reason("closed"),))
    approvers, _ = count_approvals(facts.reviews)
    summary = summarize_checks(
        facts.checks, required=facts.required_checks, own=facts.own_check_names
    )
    reasons = [
        *_pull_request_reasons(facts),
        *_review_reasons(facts),
        *_check_reasons(facts, summary),
        *_mergeability_reasons(facts),
    ]
    if facts.freeze is not None:
        reasons.append(_freeze_reason(facts.freeze))
    if not reasons and facts.mergeable_state == "blocked":
        reasons.append(_reason("blocked_by_github"))
    if not (facts.config.auto or facts.merge_requested_by):
        reasons.append(_reason("auto_off"))
    reasons.sort(key=_rank)
    if any(is_blocking(reason) for reason in reasons):
        return Block(tuple(reasons))
    if all(reason.code.startswith(_CHECK_CODES) for reason in reasons) and _should_update(facts):
        return UpdateBranch(facts.head_sha)
    if reasons:
        return Wait(tuple(reasons))
    method = facts.requested_method or facts.config.method
    passed = tuple(dict.fromkeys(check.name for check in summary.passed))
    return MergeNow(method, facts.head_sha, passed, approvers)


def decided_before_checks(facts: MergeFacts) -> Decision | None:
    """The decision when the pull request itself, its reviews or auto-merge being off hold
    it back whatever its checks, branch rules and freezes say; None when those are needed.

    Its reasons are those of `decide_merge` that need no checks: a subset of the full
    decision's, which is also `Wait` or `Block` (any reason rules out merging, and only
    check reasons allow updating the branch). `auto_off` is kept, which the merge button
    looks for. `facts.checks`, `required_checks` and `freeze` are not looked at. `/status`
    reads every fact and decides with `decide_merge`, so it still lists every reason.
    """
    if facts.merged or facts.state != "open":
        return decide_merge(facts)
    reasons = [*_pull_request_reasons(facts), *_review_reasons(facts)]
    if not (facts.config.auto or facts.merge_requested_by):
        reasons.append(_reason("auto_off"))
    if not reasons:
        return None
    reasons.sort(key=_rank)
    if any(is_blocking(reason) for reason in reasons):
        return Block(tuple(reasons))
    return Wait(tuple(reasons))


def is_blocking(reason: Reason) -> bool:
    """Whether a person must act (Block) rather than time or CI (Wait)."""
    return reason.code.partition(":")[0] in _BLOCKING


def count_approvals(reviews: Iterable[Review]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(approvers, changes requested by), counted as GitHub counts them.

    Each reviewer with write access counts with their latest approving, change-requesting
    or dismissed review; comments and pending reviews change nothing, and a dismissal
    removes the reviewer. Approvals on older commits still count: GitHub dismisses them
    itself when "dismiss stale reviews" is on.
    """
    latest: dict[str, Review] = {}
    for review in sorted(reviews, key=lambda review: review.submitted_at):
        if review.reviewer_can_write and review.state not in ("COMMENTED", "PENDING"):
            key = review.reviewer.lower()
            latest.pop(key, None)  # re-insert so the order is that of the deciding reviews
            latest[key] = review
    approvers = tuple(r.reviewer for r in latest.values() if r.state == "APPROVED")
    blockers = tuple(r.reviewer for r in latest.values() if r.state == "CHANGES_REQUESTED")
    return approvers, blockers


def latest_checks(checks: Iterable[CheckFact]) -> tuple[CheckFact, ...]:
    """The newest report of each check (same name, app and kind); input is oldest first."""
    latest: dict[tuple[str, str | None, bool], CheckFact] = {}
    for check in checks:
        latest[(check.name, check.app, check.is_status)] = check
    return tuple(latest.values())


def results_by_name(checks: Iterable[CheckFact]) -> dict[str, str | None]:
    """Each check's latest conclusion by name (None while it runs), whichever app or status
    reported it last: what a deploy's required checks are held to."""
    return {
        check.name: check.conclusion if check.status == "completed" else None
        for check in latest_checks(checks)
    }


def check_state(check: CheckFact) -> CheckState:
    """Whether one check passed, was skipped, is still running or failed."""
    if check.is_status:
        state = check.conclusion if check.status == "completed" else check.status
        if state == "success":
            return CheckState.PASSED
        return CheckState.FAILED if state in _FAILED_STATUS_STATES else CheckState.PENDING
    if check.status != "completed":
        return CheckState.PENDING
    if check.conclusion == "success":
        return CheckState.PASSED
    if check.conclusion in _SKIPPED_CONCLUSIONS:
        return CheckState.SKIPPED
    # Unknown or missing conclusions of a completed run count as failures: never merge
    # on a result we do not understand.
    return CheckState.FAILED


def summarize_checks(
    checks: Iterable[CheckFact], *, required: Iterable[str], own: Iterable[str]
) -> ChecksSummary:
    """Sort the latest checks by state and name the required or own ones never reported."""
    current = latest_checks(checks)
    by_state = {state: tuple(c for c in current if check_state(c) is state) for state in CheckState}
    reported = {check.name for check in current}
    missing = tuple(dict.fromkeys(name for name in (*required, *own) if name not in reported))
    return ChecksSummary(
        passed=by_state[CheckState.PASSED],
        skipped=by_state[CheckState.SKIPPED],
        pending=by_state[CheckState.PENDING],
        failed=by_state[CheckState.FAILED],
        missing=missing,
    )


def _pull_request_reasons(facts: MergeFacts) -> Iterable[Reason]:
    if facts.draft or facts.mergeable_state == "draft":
        yield _reason("draft")
    if facts.held_by:
        yield Reason("held", f"held by @{facts.held_by}; comment /unhold to release")
    labels = {label.lower(): label for label in facts.labels}
    for blocker in facts.config.block_labels:
        if blocker.lower() in labels:
            yield _label_reason(labels[blocker.lower()])
    for needed in facts.config.require_labels:
        if needed.lower() not in labels:
            yield Reason(f"missing_label:{needed}", f'needs the label "{needed}"')
    if not facts.head_trusted:
        yield _reason("untrusted")


def _review_reasons(facts: MergeFacts) -> Iterable[Reason]:
    approvers, blockers = count_approvals(facts.reviews)
    for login in blockers:
        yield Reason(f"changes_requested:{login}", f"@{login} requested changes")
    if len(approvers) < facts.config.approvals:
        yield _approvals_reason(len(approvers), facts.config.approvals)


def _check_reasons(facts: MergeFacts, summary: ChecksSummary) -> Iterable[Reason]:
    required = set(facts.required_checks)
    for check in summary.failed:
        yield _failed_reason(check, is_required=check.name in required)
    for check in summary.pending:
        yield Reason(f"check_pending:{check.name}", f"{_describe(check)} is {_progress(check)}")
    for name in summary.missing:
        yield _missing_reason(name, is_required=name in required)
    if facts.plan_pending:
        yield _reason("plan_pending")
    for name in facts.skipped_by_marker:
        yield Reason(
            f"skipped_by_marker:{name}",
            f'job "{name}" was skipped by a skip marker on a push; it runs for the pull request',
        )


def _mergeability_reasons(facts: MergeFacts) -> Iterable[Reason]:
    if facts.mergeable is False or facts.mergeable_state == "dirty":
        yield Reason("conflict", f"it has merge conflicts with {facts.base_ref}; resolve them")
    elif facts.mergeable is None or facts.mergeable_state == "unknown":
        yield _reason("mergeability_unknown")
    elif facts.mergeable_state == "behind" and _should_update(facts):
        yield Reason(
            "behind",
            f"the branch is behind {facts.base_ref}; Greenlight updates it once only "
            "checks are left to wait for",
        )


def _should_update(facts: MergeFacts) -> bool:
    return facts.mergeable_state == "behind" and facts.config.update_branch


def _rank(reason: Reason) -> int:
    return _IMPORTANCE.index(reason.code.partition(":")[0])


# -- Reason texts (plain text; `merge_messages` escapes them for Markdown) --------------

_FIXED_MESSAGES = {
    "merged": "the pull request is already merged",
    "closed": "the pull request is closed",
    "auto_off": "auto-merge is off; comment /merge to merge when green",
    "draft": "the pull request is a draft; mark it ready for review",
    "untrusted": "waiting for /ok-to-test: CI does not run on this head commit until someone "
    "with write access comments /ok-to-test",
    "mergeability_unknown": "GitHub is still computing mergeability",
    "plan_pending": "Greenlight has not yet planned the jobs this pull request needs on its "
    "head commit (it was built for a push first)",
    "blocked_by_github": "GitHub reports the pull request as blocked by a rule Greenlight "
    "cannot see (such as a code owner review, signed commits or a ruleset); "
    "see the merge box on the pull request",
}


def _reason(code: str) -> Reason:
    return Reason(code, _FIXED_MESSAGES[code])


def _freeze_reason(freeze: Freeze) -> Reason:
    windows = ", ".join(freeze.windows)
    until = until_text(freeze.until, open_ended=freeze.open_ended)
    return Reason(
        f"freeze:{windows}",
        f"merging is frozen by the window {windows} until {until}; it merges when the window ends",
    )


def _label_reason(label: str) -> Reason:
    return Reason(f"label:{label}", f'the label "{label}" blocks merging; remove it to merge')


def _approvals_reason(have: int, need: int) -> Reason:
    noun = "approval" if need - have == 1 else "approvals"
    return Reason(
        "approvals",
        f"needs {need - have} more {noun} from reviewers with write access ({have} of {need})",
    )


def _failed_reason(check: CheckFact, *, is_required: bool) -> Reason:
    conclusion = check.conclusion or "no conclusion"
    note = "" if is_required else " (not a required check, but any failing check blocks merging)"
    return Reason(f"check_failed:{check.name}", f"{_describe(check)} failed: {conclusion}{note}")


def _missing_reason(name: str, *, is_required: bool) -> Reason:
    message = (
        f'required check "{name}" has not reported'
        if is_required
        else f'check "{name}" has not reported yet'
    )
    return Reason(f"check_missing:{name}", message)


def _describe(check: CheckFact) -> str:
    kind = "status" if check.is_status else "check"
    source = f" ({check.app})" if check.app else ""
    return f'{kind} "{check.name}"{source}'


def _progress(check: CheckFact) -> str:
    return check.status.replace("_", " ")
