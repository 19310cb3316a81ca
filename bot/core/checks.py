"""What a check run shows: title, Markdown summary, log text and annotation batches.

Everything is kept inside GitHub's limits (https://docs.github.com/en/rest/checks/runs):
`summary` and `text` within `markdown.MAX_CHECK_OUTPUT_BYTES`, cut by the limit rule of
`bot.core.markdown`; annotations go 50 per request; at most 3 actions with label ≤ 20,
description ≤ 40, identifier ≤ 20.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from bot.core import check_messages as msg
from bot.core import markdown
from bot.core.annotations import Annotation, failure_display_name, sort_for_display
from bot.core.freeze import Calendar
from bot.core.junit import TestFailure, TestReport
from bot.core.markdown import MAX_CHECK_OUTPUT_BYTES

ANNOTATIONS_PER_REQUEST = 50
# Each batch is one PATCH, a write that costs 5 points of the secondary rate limit and
# counts against ~80 content-creating requests a minute shared by every job of a push.
# Three requests per job mark every failure a reviewer will read; past that the log is
# the better place, and the summary says how many were left out.
MAX_ANNOTATIONS = 150
MAX_ACTIONS = 3
MAX_ACTION_LABEL = 20
MAX_ACTION_DESCRIPTION = 40
MAX_ACTION_IDENTIFIER = 20
# How much of each failed test the summary shows, so one test cannot crowd out the rest.
MAX_FAILURES_SHOWN = 50
DETAIL_HEAD_LINES = 20
DETAIL_TAIL_LINES = 10
DETAIL_LINE_CHARS = 300
MESSAGE_CHARS = 300

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")
_FAILING_STEP = ("failure", "timed_out")


@dataclass(frozen=True)
class StepSummary:
    name: str
    status: str  # success | failure | timed_out | cancelled | not_run | skipped
    exit_code: int | None
    duration_seconds: float


@dataclass(frozen=True)
class JobView:
    name: str
    conclusion: str | None  # None while running
    steps: tuple[StepSummary, ...]
    duration_seconds: float | None
    report: TestReport | None
    log_tail: str
    log_url: str
    skip_reason: str | None = None
    annotations: tuple[Annotation, ...] = ()
    note: str | None = None  # Markdown the summary opens with (a reused result's origin)


@dataclass(frozen=True)
class CheckOutput:
    title: str
    summary: str
    text: str | None
    annotation_batches: tuple[tuple[Annotation, ...], ...]


def render_job_output(job: JobView) -> CheckOutput:
    """The output of one job's check run."""
    batches = batch_annotations(job.annotations)
    shown = sum(len(batch) for batch in batches)
    chunks = _job_summary_chunks(job, shown, len(set(job.annotations)))
    return CheckOutput(
        title=job_title(job),
        summary=markdown.fit_start(
            chunks, MAX_CHECK_OUTPUT_BYTES, pointer=msg.summary_truncated(job.log_url)
        ),
        text=fit_log_tail(job.log_tail, log_url=job.log_url),
        annotation_batches=batches,
    )


def job_title(job: JobView) -> str:
    """`12 passed, 1 failed in 48 s`, `Failed at step "pytest" (exit 1) after 48 s`, …"""
    seconds, report = job.duration_seconds, job.report
    if job.conclusion is None:
        return msg.title_running()
    if job.conclusion == "skipped":
        return msg.title_skipped(job.skip_reason)
    if job.conclusion == "cancelled":
        return msg.title_cancelled()
    if job.conclusion == "timed_out":
        return msg.title_timed_out(seconds)
    if report is not None and (job.conclusion == "success" or report.failed + report.errored):
        duration = report.duration_seconds if seconds is None else seconds
        return msg.title_tests(
            report.passed, report.failed, report.errored, report.skipped, duration
        )
    if job.conclusion == "success":
        return msg.title_passed(seconds)
    if job.conclusion == "failure":
        step = next((step for step in job.steps if step.status in _FAILING_STEP), None)
        if step is None:
            return msg.title_failed(seconds)
        return msg.title_failed_at_step(step.name, step.exit_code, seconds)
    return msg.title_other(job.conclusion)


def _job_summary_chunks(job: JobView, annotations_shown: int, annotations_total: int) -> list[str]:
    chunks: list[str] = [job.note, "\n"] if job.note else []
    if job.conclusion == "skipped":
        chunks += [msg.skipped_paragraph(job.skip_reason), "\n"]
    if job.steps:
        chunks += [msg.STEPS_TABLE_HEADER, *map(_step_row, job.steps), "\n"]
    if job.report is not None:
        chunks += _report_chunks(job.report)
    if annotations_shown < annotations_total:
        chunks += [msg.annotations_capped(annotations_shown, annotations_total), "\n"]
    chunks.append(msg.full_log_link(job.log_url))
    return chunks


def _step_row(step: StepSummary) -> str:
    icon = msg.STEP_ICONS.get(step.status, msg.UNKNOWN_ICON)
    ran = step.status not in ("not_run", "skipped")
    cells = (
        icon,
        markdown.code_span(step.name, limit=100),
        markdown.NO_VALUE if step.exit_code is None else str(step.exit_code),
        msg.duration(step.duration_seconds) if ran else markdown.NO_VALUE,
    )
    return "| " + " | ".join(map(markdown.table_cell, cells)) + " |\n"


def _report_chunks(report: TestReport) -> list[str]:
    chunks = [
        msg.tests_heading(report.passed, report.failed, report.errored, report.skipped),
        "\n",
    ]
    if report.failures:
        chunks += [msg.FAILED_TESTS_HEADING, "\n"]
        chunks += [failure_markdown(failure) for failure in report.failures[:MAX_FAILURES_SHOWN]]
        hidden = len(report.failures) - MAX_FAILURES_SHOWN
        chunks += [msg.more_failures(hidden), "\n"] if hidden > 0 else []
    return chunks


def failure_markdown(failure: TestFailure) -> str:
    """A failed test: its name, where, the message and the telling lines of its details."""
    icon = msg.STEP_ICONS["failure"]
    heading = f"#### {icon} {markdown.code_span(failure_display_name(failure))}"
    if failure.file is not None:
        where = failure.file if failure.line is None else f"{failure.file}:{failure.line}"
        heading += f" · {markdown.code_span(where)}"
    parts = [heading + "\n"]
    if failure.message:
        parts.append(msg.failure_message(markdown.code_span(failure.message, limit=MESSAGE_CHARS)))
    body = failure.details or failure.message
    if body.strip():
        parts.append(markdown.fence(_telling_lines(body)))
    return "\n".join(parts) + "\n"


def _telling_lines(details: str) -> str:
    # Java and JavaScript put the cause first, Python last: keep both ends.
    lines = [_clip(line) for line in _plain(details).splitlines()]
    if len(lines) <= DETAIL_HEAD_LINES + DETAIL_TAIL_LINES:
        return "\n".join(lines)
    omitted = len(lines) - DETAIL_HEAD_LINES - DETAIL_TAIL_LINES
    kept = [*lines[:DETAIL_HEAD_LINES], msg.lines_omitted(omitted), *lines[-DETAIL_TAIL_LINES:]]
    return "\n".join(kept)


def _clip(line: str) -> str:
    return (
        line
        if len(line) <= DETAIL_LINE_CHARS
        else line[: DETAIL_LINE_CHARS - 1] + markdown.ELLIPSIS
    )


def _plain(log: str) -> str:
    """`log` without terminal colour codes, each line as a terminal would last show it."""
    lines = _ANSI.sub("", log).replace("\r\n", "\n").split("\n")
    return "\n".join(line.rstrip("\r").rsplit("\r", 1)[-1] for line in lines)


def fit_log_tail(log: str, *, log_url: str, limit: int = MAX_CHECK_OUTPUT_BYTES) -> str | None:
    """The end of `log` in a fenced block within `limit` bytes, with a pointer if cut."""
    plain = _plain(log).strip("\n")
    if not plain.strip():
        return None
    marker = markdown.fence_for(plain)
    whole = markdown.fence(plain, fence_marker=marker)
    if markdown.utf8_size(whole) <= limit:
        return whole
    pointer = msg.log_truncated(log_url)
    empty = markdown.fence("", fence_marker=marker)
    budget = limit - markdown.utf8_size(pointer) - markdown.utf8_size(empty)
    return pointer + markdown.fence(markdown.truncate_start(plain, budget - 1), fence_marker=marker)


def batch_annotations(annotations: Sequence[Annotation]) -> tuple[tuple[Annotation, ...], ...]:
    """Annotations deduplicated, failures first, capped, in requests of at most 50."""
    ordered = sort_for_display(annotations)[:MAX_ANNOTATIONS]
    return tuple(
        ordered[start : start + ANNOTATIONS_PER_REQUEST]
        for start in range(0, len(ordered), ANNOTATIONS_PER_REQUEST)
    )


# --- the aggregate `greenlight` run -------------------------------------------------------

_FAILED_JOB = ("failure", "timed_out", "startup_failure")
_PRECEDENCE = ("failure", "timed_out", "cancelled", "action_required")
_COUNT_ORDER = ("success", "failure", "timed_out", "cancelled", "skipped", "neutral")
MAX_FAILED_NAMES_IN_TITLE = 3


def aggregate_conclusion(conclusions: Sequence[str | None]) -> str | None:
    """The aggregate run's conclusion: None while any job runs, else the worst of them.

    failure > timed_out > cancelled > action_required > success. Skipped and neutral
    jobs count as passing, so all-skipped (or no jobs) is `success`: GitHub treats a
    skipped required check as passing anyway, and `render_aggregate_output` says why.
    """
    if any(conclusion is None for conclusion in conclusions):
        return None
    present = {"failure" if c == "startup_failure" else c for c in conclusions}
    return next((c for c in _PRECEDENCE if c in present), "success")


def render_aggregate_output(
    jobs: Sequence[JobView], *, run_url: str, note: str | None = None
) -> CheckOutput:
    """The output of the aggregate run: every job, its result and where its log is.

    `note` is Markdown written by the bot (never user text) and is shown as given.
    """
    chunks = [msg.JOBS_TABLE_HEADER, *map(_job_row, jobs), "\n"] if jobs else []
    notes = [note] if note else []
    if not jobs:
        notes.append(msg.no_jobs_note())
    elif all(job.conclusion == "skipped" for job in jobs):
        notes.append(msg.all_jobs_skipped_note())
    chunks += [f"{text}\n\n" for text in notes]
    chunks.append(msg.run_link(run_url))
    failure_chunks = _failed_jobs_chunks(jobs)
    pointer = msg.summary_truncated(run_url)
    return CheckOutput(
        title=aggregate_title(jobs),
        summary=markdown.fit_start(chunks, MAX_CHECK_OUTPUT_BYTES, pointer=pointer),
        text=(
            markdown.fit_start(failure_chunks, MAX_CHECK_OUTPUT_BYTES, pointer=pointer)
            if failure_chunks
            else None
        ),
        annotation_batches=(),
    )


def aggregate_title(jobs: Sequence[JobView]) -> str:
    """`Failed: lint, test (3.11)`, `4 passed, 1 skipped`, `Running: 2 of 5 jobs finished`."""
    conclusions = [job.conclusion for job in jobs]
    if not jobs:
        return msg.title_no_jobs()
    if aggregate_conclusion(conclusions) is None:
        finished = sum(conclusion is not None for conclusion in conclusions)
        return msg.title_aggregate_running(finished, len(jobs))
    failed = [job.name for job in jobs if job.conclusion in _FAILED_JOB]
    if failed:
        more = len(failed) - MAX_FAILED_NAMES_IN_TITLE
        return msg.title_aggregate_failed(failed[:MAX_FAILED_NAMES_IN_TITLE], max(more, 0))
    counts = Counter(conclusion for conclusion in conclusions if conclusion is not None)
    ordered = sorted(counts.items(), key=lambda item: _count_rank(item[0]))
    return msg.title_aggregate_counts(dict(ordered))


def _count_rank(conclusion: str) -> int:
    return _COUNT_ORDER.index(conclusion) if conclusion in _COUNT_ORDER else len(_COUNT_ORDER)


def _job_row(job: JobView) -> str:
    cells = (
        msg.CONCLUSION_ICONS.get(job.conclusion, msg.UNKNOWN_ICON),
        markdown.link(markdown.escape(job.name, limit=100) or markdown.NO_VALUE, job.log_url),
        msg.CONCLUSION_LABELS.get(job.conclusion, markdown.escape(str(job.conclusion))),
        markdown.NO_VALUE if job.duration_seconds is None else msg.duration(job.duration_seconds),
        markdown.escape(job_title(job), limit=300),
    )
    return "| " + " | ".join(map(markdown.table_cell, cells)) + " |\n"


def _failed_jobs_chunks(jobs: Sequence[JobView]) -> list[str]:
    chunks: list[str] = []
    for job in jobs:
        if job.report is None or not job.report.failures or job.conclusion is None:
            continue
        chunks += [msg.job_heading(job.name), "\n"]
        chunks += [
            failure_markdown(failure) for failure in job.report.failures[:MAX_FAILURES_SHOWN]
        ]
    return chunks


# --- buttons ------------------------------------------------------------------------------


def check_run_actions(
    *, can_rerun_failed: bool, deploy_env: str | None, can_merge: bool = False
) -> tuple[dict[str, str], ...]:
    """The buttons of the aggregate run, within GitHub's limits on count and lengths."""
    actions: list[dict[str, str]] = []
    if can_merge:
        actions.append(_action(msg.MERGE_LABEL, msg.MERGE_DESCRIPTION, "merge"))
    if can_rerun_failed:
        actions.append(
            _action(msg.RERUN_FAILED_LABEL, msg.RERUN_FAILED_DESCRIPTION, "rerun-failed")
        )
    if deploy_env:
        label = msg.deploy_label(deploy_env)
        description = msg.deploy_description(deploy_env)
        actions.append(
            _action(
                label if len(label) <= MAX_ACTION_LABEL else msg.PROMOTE_LABEL,
                description
                if len(description) <= MAX_ACTION_DESCRIPTION
                else msg.DEPLOY_DESCRIPTION_FALLBACK,
                "deploy",
            )
        )
    return tuple(actions[:MAX_ACTIONS])


def _action(label: str, description: str, identifier: str) -> dict[str, str]:
    assert len(label) <= MAX_ACTION_LABEL, label
    assert len(description) <= MAX_ACTION_DESCRIPTION, description
    assert len(identifier) <= MAX_ACTION_IDENTIFIER, identifier
    return {"label": label, "description": description, "identifier": identifier}


def with_freeze_section(summary: str, shown: Calendar) -> str:
    """`summary` with the freeze windows' paragraph at its end, in place of an earlier one
    (none when nothing is in force or coming), within GitHub's limit."""
    kept = summary.split(msg.FREEZE_MARKER, 1)[0].rstrip()
    if shown.is_empty:
        return kept
    section = msg.freeze_section(shown)
    room = MAX_CHECK_OUTPUT_BYTES - markdown.utf8_size(section) - 2
    return f"{markdown.truncate(kept, room)}\n\n{section}"
