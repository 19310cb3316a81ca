from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from bot.core.config import MergeConfig, MergeMethod
from bot.core.freeze import Freeze
from bot.core.merge import (
    Block,
    CheckFact,
    CheckState,
    Decision,
    MergeFacts,
    MergeNow,
    Reason,
    Review,
    UpdateBranch,
    Wait,
    check_state,
    count_approvals,
    decide_merge,
    decided_before_checks,
    is_blocking,
    latest_checks,
    results_by_name,
)
from bot.core.merge_messages import (
    MERGE_REFUSED_MARKER,
    MERGED_MARKER,
    STATUS_MARKER,
    merge_comment,
    merge_refused_comment,
    status_report,
)

HEAD = "0123456789abcdef0123456789abcdef01234567"
OLD = "f" * 40


def run(
    name: str,
    conclusion: str | None = "success",
    *,
    status: str = "completed",
    app: str | None = "greenlight",
) -> CheckFact:
    return CheckFact(name, app, status, conclusion)


def review(
    who: str,
    state: str,
    at: str = "2024-05-01T10:00:00Z",
    *,
    can_write: bool = True,
    commit: str | None = HEAD,
) -> Review:
    return Review(who, state, at, can_write, commit)


GREEN = MergeFacts(
    state="open",
    merged=False,
    draft=False,
    head_sha=HEAD,
    base_ref="main",
    mergeable=True,
    mergeable_state="clean",
    labels=("bug",),
    reviews=(review("alice", "APPROVED"),),
    checks=(run("greenlight"), run("lint"), CheckFact.from_status("ci/circleci", "success")),
    required_checks=("lint",),
    held_by=None,
    merge_requested_by=None,
    requested_method=None,
    is_fork=False,
    head_trusted=True,
    own_check_names=("greenlight",),
    config=MergeConfig(auto=True, method=MergeMethod.SQUASH, approvals=1),
)


def facts(**changes: Any) -> MergeFacts:
    return replace(GREEN, **changes)


def config(**changes: Any) -> MergeConfig:
    return replace(GREEN.config, **changes)


def codes(decision: Decision) -> tuple[str, ...]:
    assert isinstance(decision, Wait | Block)
    return tuple(reason.code for reason in decision.reasons)


BLOCK_CASES = [
    pytest.param(facts(merged=True, state="closed"), ("merged",), id="merged"),
    pytest.param(facts(state="closed", held_by="x"), ("closed",), id="closed-only-reason"),
    pytest.param(facts(config=config(auto=False)), ("auto_off",), id="auto-off"),
    pytest.param(facts(held_by="bob"), ("held",), id="held"),
    pytest.param(facts(labels=("WIP", "bug")), ("label:WIP",), id="block-label-any-case"),
    pytest.param(
        facts(labels=("do-not-merge", "wip")),
        ("label:do-not-merge", "label:wip"),
        id="two-block-labels",
    ),
    pytest.param(
        facts(reviews=(review("alice", "APPROVED"), review("bob", "CHANGES_REQUESTED"))),
        ("changes_requested:bob",),
        id="changes-requested",
    ),
    pytest.param(facts(mergeable=False, mergeable_state="dirty"), ("conflict",), id="dirty"),
    pytest.param(
        facts(mergeable=False, mergeable_state="blocked"), ("conflict",), id="not-mergeable"
    ),
    pytest.param(facts(mergeable=True, mergeable_state="dirty"), ("conflict",), id="dirty-only"),
    *(
        pytest.param(
            facts(checks=(*GREEN.checks, run("e2e", conclusion))),
            ("check_failed:e2e",),
            id=f"check-{conclusion}",
        )
        for conclusion in (
            "failure",
            "timed_out",
            "cancelled",
            "action_required",
            "startup_failure",
            "stale",
            None,
            "something_new",
        )
    ),
    *(
        pytest.param(
            facts(checks=(*GREEN.checks, CheckFact.from_status("ci/jenkins", state))),
            ("check_failed:ci/jenkins",),
            id=f"status-{state}",
        )
        for state in ("failure", "error")
    ),
    pytest.param(
        facts(checks=(run("greenlight"), run("lint", "failure"))),
        ("check_failed:lint",),
        id="required-check-failed",
    ),
    pytest.param(
        facts(checks=(run("greenlight"), run("lint"), run("lint", "failure"))),
        ("check_failed:lint",),
        id="latest-run-failed",
    ),
    pytest.param(
        facts(config=config(auto=False), checks=(run("greenlight"),)),
        ("auto_off", "check_missing:lint"),
        id="auto-off-lists-wait-reasons-too",
    ),
    pytest.param(
        facts(held_by="bob", draft=True, labels=("wip",), config=config(approvals=2)),
        ("held", "label:wip", "draft", "approvals"),
        id="block-reasons-before-wait-reasons",
    ),
]


@pytest.mark.parametrize(("merge_facts", "expected"), BLOCK_CASES)
def test_block(merge_facts: MergeFacts, expected: tuple[str, ...]) -> None:
    decision = decide_merge(merge_facts)
    assert isinstance(decision, Block)
    assert codes(decision) == expected


WAIT_CASES = [
    pytest.param(
        facts(freeze=Freeze(("weekend",), 1_764_489_600.0)), ("freeze:weekend",), id="freeze"
    ),
    pytest.param(
        facts(reviews=(), freeze=Freeze(("a", "b"), 1_764_489_600.0)),
        ("approvals", "freeze:a, b"),
        id="freeze-keeps-other-reasons",
    ),
    pytest.param(facts(draft=True), ("draft",), id="draft"),
    pytest.param(facts(mergeable_state="draft"), ("draft",), id="draft-state"),
    pytest.param(facts(head_trusted=False, is_fork=True), ("untrusted",), id="untrusted"),
    pytest.param(
        facts(config=config(require_labels=("ready", "Bug"))),
        ("missing_label:ready",),
        id="missing-required-label",
    ),
    pytest.param(facts(reviews=()), ("approvals",), id="no-approval"),
    pytest.param(
        facts(reviews=(review("alice", "APPROVED", can_write=False),)),
        ("approvals",),
        id="approval-without-write-access",
    ),
    pytest.param(facts(config=config(approvals=2)), ("approvals",), id="one-of-two"),
    pytest.param(
        facts(checks=(run("greenlight"), run("lint", None, status="in_progress"))),
        ("check_pending:lint",),
        id="check-in-progress",
    ),
    pytest.param(
        facts(checks=(*GREEN.checks, run("e2e", None, status="queued"))),
        ("check_pending:e2e",),
        id="check-queued",
    ),
    pytest.param(
        facts(checks=(*GREEN.checks, CheckFact.from_status("ci/x", "pending"))),
        ("check_pending:ci/x",),
        id="status-pending",
    ),
    pytest.param(
        facts(checks=(run("greenlight"),)),
        ("check_missing:lint",),
        id="required-check-never-reported",
    ),
    pytest.param(
        facts(checks=(run("lint"),)), ("check_missing:greenlight",), id="own-check-not-reported-yet"
    ),
    pytest.param(
        facts(checks=(), required_checks=("greenlight",)),
        ("check_missing:greenlight",),
        id="required-and-own-once",
    ),
    pytest.param(facts(mergeable=None), ("mergeability_unknown",), id="mergeable-none"),
    pytest.param(facts(mergeable_state="unknown"), ("mergeability_unknown",), id="state-unknown"),
    pytest.param(facts(mergeable_state="blocked"), ("blocked_by_github",), id="blocked-by-github"),
    pytest.param(
        facts(mergeable_state="behind", config=config(update_branch=True, approvals=2)),
        ("approvals", "behind"),
        id="behind-waits-for-reviews-before-updating",
    ),
    pytest.param(
        facts(mergeable_state="blocked", reviews=()),
        ("approvals",),
        id="blocked-explained-by-our-facts",
    ),
    pytest.param(
        facts(
            draft=True,
            head_trusted=False,
            reviews=(),
            checks=(run("greenlight", None, status="queued"),),
            config=config(require_labels=("ready",)),
            mergeable=None,
        ),
        (
            "draft",
            "untrusted",
            "missing_label:ready",
            "approvals",
            "check_pending:greenlight",
            "check_missing:lint",
            "mergeability_unknown",
        ),
        id="all-wait-reasons-in-order",
    ),
]


@pytest.mark.parametrize(("merge_facts", "expected"), WAIT_CASES)
def test_wait(merge_facts: MergeFacts, expected: tuple[str, ...]) -> None:
    decision = decide_merge(merge_facts)
    assert isinstance(decision, Wait)
    assert codes(decision) == expected


def test_a_freeze_says_which_window_holds_and_until_when() -> None:
    decision = decide_merge(facts(freeze=Freeze(("weekend",), 1_764_489_600.0)))
    assert isinstance(decision, Wait)
    assert decision.reasons[0].message == (
        "merging is frozen by the window weekend until 2025-11-30 08:00 UTC; "
        "it merges when the window ends"
    )
    endless = decide_merge(facts(freeze=Freeze(("always",), 1_764_489_600.0, open_ended=True)))
    assert isinstance(endless, Wait)
    assert "until at least 2025-11-30 08:00 UTC" in endless.reasons[0].message


def test_every_reason_code_is_covered_and_classified() -> None:
    seen = {
        code.partition(":")[0]
        for cases, kind in ((BLOCK_CASES, Block), (WAIT_CASES, Wait))
        for case in cases
        for code in case.values[1]  # type: ignore[union-attr]
    }
    blocking = {
        "merged",
        "closed",
        "held",
        "label",
        "changes_requested",
        "conflict",
        "check_failed",
        "auto_off",
    }
    waiting = {
        "draft",
        "untrusted",
        "missing_label",
        "approvals",
        "freeze",
        "check_pending",
        "check_missing",
        "mergeability_unknown",
        "blocked_by_github",
        "behind",
    }
    assert seen == blocking | waiting
    assert all(is_blocking(Reason(code, "")) for code in blocking)
    assert not any(is_blocking(Reason(code, "")) for code in waiting)


@pytest.mark.parametrize(
    ("merge_facts", "expected"),
    [
        pytest.param(
            GREEN,
            MergeNow(MergeMethod.SQUASH, HEAD, ("greenlight", "lint", "ci/circleci"), ("alice",)),
            id="green",
        ),
        pytest.param(
            facts(
                config=config(auto=False),
                merge_requested_by="bob",
                requested_method=MergeMethod.REBASE,
            ),
            MergeNow(MergeMethod.REBASE, HEAD, ("greenlight", "lint", "ci/circleci"), ("alice",)),
            id="requested-by-merge-command",
        ),
        pytest.param(
            facts(
                checks=(
                    run("greenlight"),
                    run("lint", "failure"),
                    run("lint"),
                    run("docs", "skipped"),
                    run("lint", "failure", app="other-ci"),
                    run("lint", "success", app="other-ci"),
                    run("info", "neutral"),
                ),
                config=config(approvals=0),
                reviews=(),
            ),
            MergeNow(MergeMethod.SQUASH, HEAD, ("greenlight", "lint"), ()),
            id="latest-per-app-wins-skipped-and-neutral-pass",
        ),
        pytest.param(
            facts(checks=(run("greenlight"), run("lint", "skipped"))),
            MergeNow(MergeMethod.SQUASH, HEAD, ("greenlight",), ("alice",)),
            id="skipped-satisfies-a-required-check",
        ),
        *(
            pytest.param(
                facts(mergeable_state=state),
                MergeNow(
                    MergeMethod.SQUASH, HEAD, ("greenlight", "lint", "ci/circleci"), ("alice",)
                ),
                id=f"state-{state}",
            )
            for state in ("clean", "has_hooks", "unstable", "behind")
        ),
        pytest.param(
            facts(mergeable_state="behind", config=config(update_branch=True)),
            UpdateBranch(HEAD),
            id="behind-update-first",
        ),
        pytest.param(
            facts(
                mergeable_state="behind",
                config=config(update_branch=True),
                checks=(run("greenlight", None, status="in_progress"),),
            ),
            UpdateBranch(HEAD),
            id="behind-updates-while-checks-pending",
        ),
    ],
)
def test_merge_now_or_update(merge_facts: MergeFacts, expected: Decision) -> None:
    assert decide_merge(merge_facts) == expected


def test_behind_does_not_update_with_a_failing_check() -> None:
    decision = decide_merge(
        facts(
            mergeable_state="behind",
            config=config(update_branch=True),
            checks=(*GREEN.checks, run("e2e", "failure")),
        )
    )
    assert codes(decision) == ("check_failed:e2e", "behind")


@pytest.mark.parametrize(
    ("reviews", "expected"),
    [
        ((), ((), ())),
        ((review("a", "APPROVED"),), (("a",), ())),
        ((review("a", "COMMENTED"),), ((), ())),
        ((review("a", "PENDING"),), ((), ())),
        ((review("a", "APPROVED", "1"), review("a", "COMMENTED", "2")), (("a",), ())),
        ((review("a", "APPROVED", "1"), review("a", "DISMISSED", "2")), ((), ())),
        ((review("a", "CHANGES_REQUESTED", "1"), review("a", "APPROVED", "2")), (("a",), ())),
        ((review("a", "APPROVED", "1"), review("a", "CHANGES_REQUESTED", "2")), ((), ("a",))),
        ((review("a", "CHANGES_REQUESTED", "2"), review("a", "APPROVED", "1")), ((), ("a",))),
        ((review("a", "CHANGES_REQUESTED", can_write=False),), ((), ())),
        ((review("a", "APPROVED", commit=OLD),), (("a",), ())),  # survives a new push
        ((review("Ann", "APPROVED", "1"), review("ann", "DISMISSED", "2")), ((), ())),
        ((review("b", "APPROVED", "2"), review("a", "APPROVED", "1")), (("a", "b"), ())),
    ],
)
def test_count_approvals(
    reviews: tuple[Review, ...], expected: tuple[tuple[str, ...], tuple[str, ...]]
) -> None:
    assert count_approvals(reviews) == expected


@pytest.mark.parametrize(
    ("check", "expected"),
    [
        (run("a"), CheckState.PASSED),
        (run("a", "neutral"), CheckState.SKIPPED),
        (run("a", "skipped"), CheckState.SKIPPED),
        (run("a", "failure"), CheckState.FAILED),
        (run("a", None, status="queued"), CheckState.PENDING),
        (run("a", None, status="waiting"), CheckState.PENDING),
        (CheckFact.from_status("s", "success"), CheckState.PASSED),
        (CheckFact.from_status("s", "pending"), CheckState.PENDING),
        (CheckFact.from_status("s", "error"), CheckState.FAILED),
        (CheckFact("s", None, "failure", None, is_status=True), CheckState.FAILED),  # raw state
    ],
)
def test_check_state(check: CheckFact, expected: CheckState) -> None:
    assert check_state(check) is expected


def test_latest_checks_keeps_the_newest_per_name_app_and_kind() -> None:
    checks = (run("a", "failure"), run("a", app="x"), CheckFact.from_status("a", "error"), run("a"))
    assert latest_checks(checks) == (run("a"), run("a", app="x"), checks[2])


# -- Messages -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("merge_facts", "first_line"),
    [
        (
            GREEN,
            "🚀 **Merging**: every check passed and every rule is met (a squash merge of "
            "`0123456`).",
        ),
        (
            facts(config=config(auto=False)),
            "✅ **Ready to merge**: every check passed and every "
            "rule is met, but auto-merge is off; comment /merge to merge it.",
        ),
        (
            facts(mergeable_state="behind", config=config(update_branch=True)),
            "🔄 **Updating the branch** with main first; it merges once the checks pass on the "
            "updated branch.",
        ),
        (facts(held_by="bob"), "❌ **Not merged**: held by `@bob`; comment /unhold to release"),
        (
            facts(draft=True, reviews=()),
            "⏳ **Not merged yet**: the pull request is a draft; "
            "mark it ready for review (and 1 more below)",
        ),
        (
            facts(labels=("<b>*wip*</b>",), config=config(block_labels=("<b>*wip*</b>",))),
            '❌ **Not merged**: the label "\\<b\\>\\*wip\\*\\</b\\>" blocks merging; remove it '
            "to merge",
        ),
    ],
)
def test_status_report_starts_with_the_answer(merge_facts: MergeFacts, first_line: str) -> None:
    report = status_report(merge_facts, decide_merge(merge_facts))
    assert report.splitlines()[0] == first_line
    assert report.endswith(STATUS_MARKER)


def test_status_report_lists_checks_reviews_and_rules() -> None:
    merge_facts = facts(
        checks=(
            run("lint", "failure"),
            run("test (3.11)", None, status="in_progress"),
            run("docs", "skipped"),
            CheckFact.from_status("ci/*x*", "success"),
        ),
        reviews=(review("alice", "APPROVED", commit=OLD), review("bob", "CHANGES_REQUESTED")),
        config=config(approvals=2, require_labels=("ready",)),
        held_by="carol",
        mergeable_state="behind",
        head_trusted=False,
    )
    report = status_report(merge_facts, decide_merge(merge_facts), checks_url="https://ci/x")
    for expected in [
        "**Why**\n\n- held by `@carol`; comment /unhold to release\n- `@bob` requested changes",
        "### Checks on `0123456`",
        "- ❌ **lint** · greenlight — failure",
        "- ⏳ **test (3.11)** · greenlight — in progress",
        "- ⏳ **greenlight** — has not reported",
        "- ✅ **ci/\\*x\\*** · commit status",
        "- ✅ **docs** · greenlight — skipped",
        "[All checks](https://ci/x)",
        "- ✅ Approved by `@alice` (on an older commit)",
        "- ❌ Changes requested by `@bob`",
        "- 1 more approval needed (2 required).",
        "- Auto-merge: on (squash)",
        "- Hold: `@carol`; comment /unhold",
        "- Labels: missing **ready**",
        "- Draft: no",
        "- Mergeability: behind the base branch",
        "- CI: waiting for /ok-to-test",
    ]:
        assert expected in report


@pytest.mark.parametrize(
    ("merge_facts", "line"),
    [
        (
            facts(merge_requested_by="dana", requested_method=MergeMethod.REBASE),
            "- Auto-merge: requested by `@dana` with /merge (rebase)",
        ),
        (facts(config=config(auto=False)), "- Auto-merge: off; comment /merge to merge when green"),
        (facts(labels=("wip",)), "- Labels: blocking **wip**"),
        (GREEN, "- Labels: nothing blocks, nothing missing"),
        (facts(config=config(approvals=0)), "- No approvals required."),
        (GREEN, "- Approvals: 1 of 1 required."),
        (facts(mergeable=False, mergeable_state="dirty"), "- Mergeability: conflicts"),
        (
            facts(mergeable_state="behind", config=config(update_branch=True)),
            "- Mergeability: behind the base branch; Greenlight updates it before merging",
        ),
        (facts(mergeable_state="weird*"), "- Mergeability: weird\\*"),
        (
            facts(checks=(), required_checks=(), own_check_names=()),
            "No checks have reported on this commit.",
        ),
    ],
)
def test_status_report_lines(merge_facts: MergeFacts, line: str) -> None:
    assert line in status_report(merge_facts, decide_merge(merge_facts))


def test_status_report_caps_the_check_list() -> None:
    many = facts(
        checks=tuple(run(f"job {index}") for index in range(150)),
        required_checks=(),
        own_check_names=(),
    )
    report = status_report(many, decide_merge(many))
    assert "- … and 50 more" in report
    assert "job 99**" in report
    assert "job 100**" not in report


def test_merge_comment() -> None:
    decision = MergeNow(MergeMethod.SQUASH, HEAD, ("lint", "test (3.11)"), ("alice", "bob"))
    comment = merge_comment(
        decision, pr_number=42, title="Fix *all* [the] bugs", next_step="deploying to production"
    )
    assert comment.split("\n\n") == [
        "✅ Merged #42 (Fix \\*all\\* \\[the\\] bugs) as a squash merge of `0123456`.",
        "Checks passed: **lint**, **test (3.11)**",
        "Approved by: `@alice`, `@bob`",
        "Next: deploying to production.",
        MERGED_MARKER,
    ]


def test_merge_comment_without_checks_reviews_or_next_step() -> None:
    comment = merge_comment(
        MergeNow(MergeMethod.MERGE, HEAD, (), ()), pr_number=1, title="t", next_step=None
    )
    assert "as a merge commit" in comment
    assert "No checks reported on this commit." in comment
    assert "No approving reviews." in comment
    assert "Next:" not in comment


def test_merge_refused_comment_escapes_githubs_message() -> None:
    comment = merge_refused_comment("Required status check <b>lint</b> is expected.")
    assert comment.startswith(
        "⚠️ GitHub refused to merge this pull request: Required status "
        "check \\<b\\>lint\\</b\\> is expected."
    )
    assert comment.endswith(MERGE_REFUSED_MARKER)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({"plan_pending": True}, ("plan_pending",), id="pull-request-not-planned"),
        pytest.param(
            {"skipped_by_marker": ("lint",)}, ("skipped_by_marker:lint",), id="marker-skip"
        ),
    ],
)
def test_a_head_not_built_for_the_pull_request_waits(
    changes: dict[str, Any], expected: tuple[str, ...]
) -> None:
    decision = decide_merge(facts(**changes))
    assert isinstance(decision, Wait)
    assert codes(decision) == expected


@pytest.mark.parametrize(
    ("checks", "expected"),
    [
        ((), {}),
        ((CheckFact("lint", "ci", "completed", "success"),), {"lint": "success"}),
        ((CheckFact("lint", "ci", "in_progress", None),), {"lint": None}),
        (  # a re-run: the latest report of a check counts
            (
                CheckFact("lint", "ci", "completed", "failure"),
                CheckFact("lint", "ci", "completed", "success"),
            ),
            {"lint": "success"},
        ),
        ((CheckFact.from_status("ci/jenkins", "pending"),), {"ci/jenkins": None}),
        ((CheckFact.from_status("ci/jenkins", "error"),), {"ci/jenkins": "error"}),
        ((CheckFact.from_status("ci/jenkins", "success"),), {"ci/jenkins": "success"}),
    ],
)
def test_results_by_name_as_deploys_read_them(
    checks: tuple[CheckFact, ...], expected: dict[str, str | None]
) -> None:
    assert results_by_name(checks) == expected


def without_checks(merge_facts: MergeFacts) -> MergeFacts:
    """What the evaluation knows before it reads checks, branch rules and freezes."""
    return replace(merge_facts, checks=(), required_checks=(), freeze=None)


@pytest.mark.parametrize(
    "merge_facts",
    [
        *(case.values[0] for case in BLOCK_CASES),
        *(case.values[0] for case in WAIT_CASES),
        GREEN,
        facts(mergeable_state="behind", config=config(update_branch=True)),
        facts(config=config(approvals=0), reviews=(), checks=(run("lint", "failure"),)),
        facts(freeze=Freeze(("release",), until=10.0)),
        facts(freeze=Freeze(("release",), until=10.0), reviews=()),
    ],
)
def test_an_early_decision_agrees_with_the_full_one(merge_facts: MergeFacts) -> None:
    """Decided before the checks: the full decision holds it back too, for those reasons
    among others, and says `auto_off` exactly when the early one does."""
    early = decided_before_checks(without_checks(merge_facts))
    full = decide_merge(merge_facts)
    if early is None:
        return
    assert isinstance(full, Wait | Block)
    assert set(codes(early)) <= set(codes(full))
    assert ("auto_off" in codes(early)) == ("auto_off" in codes(full))
    if isinstance(early, Block):
        assert isinstance(full, Block)


@pytest.mark.parametrize(
    ("merge_facts", "expected"),
    [
        pytest.param(facts(reviews=()), "approvals"),
        pytest.param(facts(config=config(auto=False)), "auto_off"),
        pytest.param(facts(held_by="bob", draft=True), "held"),
        pytest.param(facts(state="closed"), "closed"),
        pytest.param(GREEN, None),
        pytest.param(facts(mergeable_state="behind", config=config(update_branch=True)), None),
        pytest.param(facts(mergeable=False, mergeable_state="dirty"), None),
        pytest.param(facts(checks=(run("lint", "failure"),)), None),
    ],
)
def test_what_is_decided_before_the_checks(merge_facts: MergeFacts, expected: str | None) -> None:
    early = decided_before_checks(without_checks(merge_facts))
    if expected is None:
        assert early is None
    else:
        assert early is not None
        assert codes(early)[0] == expected
