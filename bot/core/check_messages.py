"""Every user-visible string of the check-run core.

User text (test names, messages, logs, step and job names) reaches Markdown only through
`bot.core.markdown`, so it can never close a code block, split a table row or inject a
link.
"""

from __future__ import annotations

import math

from bot.core.freeze import MERGE, Calendar, until_text
from bot.core.markdown import SENTENCE_CHARS, code_span, escape, link, one_line

STEP_ICONS: dict[str | None, str] = {
    "success": "✅",
    "failure": "❌",
    "timed_out": "⏱️",
    "cancelled": "🚫",
    "not_run": "⚪",
    "skipped": "⏭️",
}
CONCLUSION_ICONS: dict[str | None, str] = {
    **STEP_ICONS,
    "neutral": "⚪",
    "action_required": "⚠️",
    None: "🔄",
}
CONCLUSION_LABELS: dict[str | None, str] = {
    "success": "Passed",
    "failure": "Failed",
    "timed_out": "Timed out",
    "cancelled": "Cancelled",
    "skipped": "Skipped",
    "neutral": "Neutral",
    "action_required": "Action required",
    "startup_failure": "Failed to start",
    "stale": "Stale",
    None: "Running",
}
UNKNOWN_ICON = "•"

# --- durations --------------------------------------------------------------------------


def duration(seconds: float | None) -> str:
    """A duration as people say it: `850 ms`, `3.2 s`, `48 s`, `2 min 5 s`, `1 h 3 min`."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        seconds = 0.0
    if round(seconds * 1000) < 1000:
        return f"{round(seconds * 1000)} ms"
    if round(seconds, 1) < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        minutes, rest = divmod(whole, 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, rest = divmod(round(whole / 60), 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def _after(seconds: float | None) -> str:
    return "" if seconds is None else f" after {duration(seconds)}"


def _in(seconds: float | None) -> str:
    return "" if seconds is None else f" in {duration(seconds)}"


def plural(count: int, word: str, plural_word: str | None = None) -> str:
    """`1 job`, `2 jobs`."""
    return f"{count} {word if count == 1 else (plural_word or word + 's')}"


# --- job check run ----------------------------------------------------------------------


def title_running() -> str:
    return "Running…"


def title_tests(passed: int, failed: int, errored: int, skipped: int, seconds: float | None) -> str:
    parts = [f"{passed} passed"]
    parts += [f"{failed} failed"] if failed else []
    parts += [plural(errored, "error")] if errored else []
    parts += [f"{skipped} skipped"] if skipped else []
    return ", ".join(parts) + _in(seconds)


def title_passed(seconds: float | None) -> str:
    return "Passed" + _in(seconds)


def title_failed_at_step(step: str, exit_code: int | None, seconds: float | None) -> str:
    code = "" if exit_code is None else f" (exit {exit_code})"
    return f'Failed at step "{one_line(step, limit=80)}"{code}' + _after(seconds)


def title_failed(seconds: float | None) -> str:
    return "Failed" + _after(seconds)


def title_timed_out(seconds: float | None) -> str:
    return "Timed out" + _after(seconds)


def title_cancelled() -> str:
    return "Cancelled"


def title_skipped(reason: str | None) -> str:
    return f"Skipped: {one_line(reason, limit=200)}" if reason else "Skipped"


def title_other(conclusion: str) -> str:
    return CONCLUSION_LABELS.get(conclusion, conclusion.replace("_", " ").capitalize())


def skipped_paragraph(reason: str | None) -> str:
    return f"Skipped: {escape(reason, limit=SENTENCE_CHARS)}\n" if reason else "Skipped.\n"


STEPS_TABLE_HEADER = "| | Step | Exit code | Duration |\n| --- | --- | ---: | ---: |\n"


def tests_heading(passed: int, failed: int, errored: int, skipped: int) -> str:
    counts = f"{passed} passed, {failed} failed, {plural(errored, 'error')}, {skipped} skipped"
    return f"**Tests:** {counts}\n"


FAILED_TESTS_HEADING = "### Failed tests\n"


def failure_message(code: str) -> str:
    # Never start a line with the code span: a run of backticks there may open a fence.
    return f"**Message:** {code}\n"


def more_failures(count: int) -> str:
    return f"…and {plural(count, 'more failed test', 'more failed tests')}.\n"


def lines_omitted(count: int) -> str:
    return f"[… {plural(count, 'line')} omitted …]"


def annotations_capped(shown: int, total: int) -> str:
    return f"Showing {shown} of {total} annotations; the full log has them all.\n"


def full_log_link(url: str) -> str:
    return link("Full log", url) + "\n"


def summary_truncated(url: str) -> str:
    return f"\n**This summary was cut to GitHub's size limit.** {link('Full log', url)}\n"


def log_truncated(url: str) -> str:
    return f"Only the end of the log is shown. {link('Full log', url)}\n"


def test_failed_title(test_name: str) -> str:
    return f"Test failed: {one_line(test_name, limit=200)}"


def test_error_title(test_name: str) -> str:
    return f"Test error: {one_line(test_name, limit=200)}"


def failure_without_message() -> str:
    return "Failed without a message"


# --- aggregate check run ----------------------------------------------------------------

JOBS_TABLE_HEADER = "| | Job | Result | Duration | Details |\n| --- | --- | --- | ---: | --- |\n"


def title_no_jobs() -> str:
    return "No jobs to run"


def title_aggregate_running(finished: int, total: int) -> str:
    return f"Running: {finished} of {plural(total, 'job')} finished"


def title_aggregate_failed(names: list[str], more: int) -> str:
    shown = ", ".join(one_line(name, limit=60) for name in names)
    return f"Failed: {shown}" + (f" and {more} more" if more else "")


def title_aggregate_counts(counts: dict[str, int]) -> str:
    return ", ".join(
        f"{count} {CONCLUSION_LABELS.get(c, c).lower()}" for c, count in counts.items()
    )


def all_jobs_skipped_note() -> str:
    # https://docs.github.com/en/pull-requests/collaborating-with-pull-requests/collaborating-on-repositories-with-code-quality-features/troubleshooting-required-status-checks
    return "Every job was skipped for this commit; GitHub counts that as passing."


def no_jobs_note() -> str:
    return "No job applies to this commit; GitHub counts that as passing."


def run_link(url: str) -> str:
    return link("All jobs and logs", url) + "\n"


def job_heading(name: str) -> str:
    return f"### {escape(name)}\n"


# --- actions ----------------------------------------------------------------------------

RERUN_FAILED_LABEL = "Re-run failed"
RERUN_FAILED_DESCRIPTION = "Run the failed jobs again"
PROMOTE_LABEL = "Promote"
MERGE_LABEL = "Merge when ready"
MERGE_DESCRIPTION = "Merge once approved and checks pass"


FREEZE_MARKER = "<!-- greenlight:freeze -->"  # where the windows begin in a summary


def freeze_section(shown: Calendar) -> str:
    """The aggregate check's paragraph on freeze windows (it never changes the conclusion)."""
    lines = [FREEZE_MARKER, "**Freeze windows** (they hold merges and deploys, not this check)", ""]
    for span in shown.in_force:
        lines.append(
            f"- 🧊 now: {code_span(span.window.name)} holds {_held(span.window.applies_to)} "
            f"until {until_text(span.ends)}"
        )
    if shown.coming is not None:
        span = shown.coming
        lines.append(
            f"- 📅 next: {code_span(span.window.name)} holds {_held(span.window.applies_to)} "
            f"from {until_text(span.starts)} until {until_text(span.ends)}"
        )
    return "\n".join(lines) + "\n"


def _held(applies_to: tuple[str, ...]) -> str:
    """`merges and deploys to `production``; every merge and deploy when it names nothing."""
    if not applies_to:
        return "every merge and deploy"
    environments = [code_span(name) for name in applies_to if name != MERGE]
    held = ["merges"] if MERGE in applies_to else []
    if environments:
        held.append(f"deploys to {', '.join(environments)}")
    return " and ".join(held)


def deploy_label(environment: str) -> str:
    return f"Deploy to {environment}"


def deploy_description(environment: str) -> str:
    return f"Deploy this commit to {environment}"


DEPLOY_DESCRIPTION_FALLBACK = "Deploy to the last environment"

# --- JUnit reports ----------------------------------------------------------------------


def junit_too_large(limit: int) -> str:
    return f"the report is larger than {limit:,} characters"


def junit_has_doctype() -> str:
    return "the report declares a DOCTYPE or entities, which are refused for safety"


def junit_not_xml(detail: str) -> str:
    return f"the report is not well-formed XML ({one_line(detail, limit=200)})"


def junit_wrong_root(tag: str) -> str:
    return (
        f"the report's root element is <{one_line(tag, limit=60)}>, not <testsuites> or <testsuite>"
    )


def junit_error(report_path: str, reason: str) -> str:
    return f"Could not read the test report {report_path}: {reason}"
