"""Every user-visible string of the check-run core, and the Markdown quoting of user text.

User text (test names, messages, logs, step and job names) reaches Markdown only through
`code_span`, `fence`, `escape_text` and `table_cell`, so it can never close a code block,
split a table row or inject a link.
"""

from __future__ import annotations

import math
import re

ELLIPSIS = "…"

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
NO_VALUE = "—"

# --- Markdown quoting -------------------------------------------------------------------

_BACKTICK_RUN = re.compile(r"`+")
# `|` is left to `table_cell`: escaping it twice would show the backslash in some renderers.
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()<>#~&!])")
_WHITESPACE = re.compile(r"\s+")


def one_line(text: str, *, limit: int) -> str:
    """`text` with all whitespace collapsed to single spaces, cut to `limit` characters."""
    flat = _WHITESPACE.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + ELLIPSIS


def longest_backtick_run(text: str) -> int:
    """The length of the longest run of backticks in `text`."""
    return max((len(run) for run in _BACKTICK_RUN.findall(text)), default=0)


def code_span(text: str, *, limit: int = 200) -> str:
    """`text` as one inline code span that no backtick inside can end early."""
    flat = one_line(text, limit=limit) or NO_VALUE
    ticks = "`" * (longest_backtick_run(flat) + 1)
    # CommonMark strips one space from each side, so the padding only separates the
    # delimiter from a backtick at either end of the content.
    padded = f" {flat} " if flat[0] in "` " or flat[-1] in "` " else flat
    return f"{ticks}{padded}{ticks}"


def fence_for(text: str) -> str:
    """A backtick fence longer than any backtick run in `text`, so it cannot be closed."""
    return "`" * max(3, longest_backtick_run(text) + 1)


def fence(body: str, *, fence_marker: str | None = None) -> str:
    """`body` as a fenced code block, ending with a newline."""
    marker = fence_marker or fence_for(body)
    content = body if body.endswith("\n") else body + "\n"
    return f"{marker}text\n{content}{marker}\n"


def escape_text(text: str, *, limit: int = 200) -> str:
    """`text` on one line with every Markdown-significant character backslash-escaped."""
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", one_line(text, limit=limit))


def table_cell(markdown: str) -> str:
    """Markdown made safe for a table cell: GFM splits cells on every unescaped `|`."""
    return markdown.replace("|", "\\|")


def link(label_markdown: str, url: str) -> str:
    """A Markdown link; the angle-bracket destination allows spaces and parentheses."""
    target = re.sub(r"[<>\s]", "", url)[:2000]
    return f"[{label_markdown}](<{target}>)"


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
    return f"Skipped: {escape_text(reason, limit=1000)}\n" if reason else "Skipped.\n"


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
    return f"### {escape_text(name)}\n"


# --- actions ----------------------------------------------------------------------------

RERUN_FAILED_LABEL = "Re-run failed"
RERUN_FAILED_DESCRIPTION = "Run the failed jobs again"
PROMOTE_LABEL = "Promote"
MERGE_LABEL = "Merge when ready"
MERGE_DESCRIPTION = "Merge once approved and checks pass"


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
