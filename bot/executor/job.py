"""Run one job end to end: check out the SHA, run the steps, keep the log and the report.

Shared by every executor: the local one calls it in-process, a Celery worker in its own.
Everything the job produces passes its secrets' masker here, before it is stored: the log
(masked as it streams), the report, the step results. Whatever is built later from the
store (check runs, annotations, titles, pages, comments) then only ever sees masked text.
"""

from __future__ import annotations

import asyncio
import functools
import glob
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, replace
from pathlib import Path

from bot import messages
from bot.core.junit import JUnitError, TestReport, merge_reports, parse_junit
from bot.core.masking import Masker, mask_report
from bot.executor.base import JobTicket
from bot.executor.logs import LogWriter
from bot.executor.process import JobOutcome, StepResult, run_steps
from bot.executor.sandbox import Sandbox
from bot.executor.workspace import GitCache, GitError, remove_workspace
from bot.pipeline.jobspec import load_job
from bot.store import Store
from bot.store.records import Status

log = logging.getLogger("greenlight.executor")
MAX_REPORT_BYTES = 20 * 1024 * 1024


async def execute_job(
    ticket: JobTicket,
    *,
    store: Store,
    cache: GitCache,
    work_dir: Path,
    cancel: asyncio.Event,
    on_started: Callable[[int], Awaitable[None]],
    sandbox: Sandbox,
    kill_grace_seconds: float = 5.0,
) -> str:
    """Run the ticket's job and record its outcome in the store; return the conclusion."""
    job = await store.runs.job(ticket.job_id)
    if job is None:
        raise LookupError(f"job {ticket.job_id} is not in the store")
    spec = load_job(job.spec)
    if job.status != Status.QUEUED:
        return job.conclusion or job.status  # submitted twice: the other copy has it
    masker = Masker(ticket.secrets.values())
    if cancel.is_set():
        await _finish(store, ticket.job_id, "cancelled", (), None, masker)
        return "cancelled"
    if not await store.runs.claim_job(ticket.job_id, now=time.time()):
        return "claimed elsewhere"
    await on_started(ticket.job_id)
    writer = LogWriter(functools.partial(store.runs.append_log, ticket.job_id))
    workspace = sandbox.workspaces(work_dir) / f"job-{ticket.job_id}-{job.attempt}"
    if (problem := await sandbox.problem()) is not None:
        await writer.write(messages.sandbox_unavailable_job(problem))
        await writer.close()
        await _finish(store, ticket.job_id, "failure", (), None, masker)
        return "failure"
    try:
        try:
            await cache.checkout(
                ticket.clone_url,
                ticket.sha,
                workspace,
                token=ticket.token,
                share_objects=sandbox.shares_objects_safely(),
            )
        except GitError as error:
            await writer.write(f"Could not check out {ticket.sha}: {masker.mask(str(error))}\n")
            await writer.close()
            await _finish(store, ticket.job_id, "failure", (), None, masker)
            return "failure"
        env = {**ticket.env, **ticket.secrets}
        outcome: JobOutcome = await run_steps(
            spec.steps,
            workdir=workspace,
            env=env,
            timeout_seconds=spec.timeout_seconds,
            on_output=writer.write,
            cancel=cancel,
            masker=masker,
            sandbox=sandbox,
            kill_grace_seconds=kill_grace_seconds,
        )
        report = _read_reports(workspace, spec.reports)
        if isinstance(report, str):
            await writer.write(masker.mask(report) + "\n")  # file names are the job's too
            report = None
        await writer.close()
        await _finish(store, ticket.job_id, outcome.conclusion, outcome.steps, report, masker)
        return outcome.conclusion
    finally:
        await writer.close()
        await remove_workspace(workspace)


def _read_reports(workspace: Path, patterns: tuple[str, ...]) -> TestReport | str | None:
    """Every JUnit report the job wrote, merged; a message when one cannot be read."""
    reports: list[TestReport] = []
    problems: list[str] = []
    for pattern in patterns:
        paths = sorted(glob.glob(str(workspace / pattern), recursive=True))
        if not paths:
            problems.append(f"Report {pattern}: no such file was written by the job.")
        for path in paths:
            file = Path(path)
            relative = str(file.relative_to(workspace))
            if file.stat().st_size > MAX_REPORT_BYTES:
                problems.append(f"Report {relative}: larger than 20 MB, not read.")
                continue
            parsed = parse_junit(file.read_text(errors="replace"), report_path=relative)
            if isinstance(parsed, JUnitError):
                problems.append(f"Report {relative}: {parsed.message}")
            else:
                reports.append(parsed)
    if problems and not reports:
        return "\n".join(problems)
    return merge_reports(reports) if reports else None


async def _finish(
    store: Store,
    job_id: int,
    conclusion: str,
    steps: tuple[StepResult, ...],
    report: TestReport | None,
    masker: Masker,
) -> None:
    """Store the job's outcome, its step names and report masked (a step's name can hold a
    secret as written in the config, a report whatever the tests wrote)."""
    masked_steps = [asdict(replace(step, name=masker.mask(step.name))) for step in steps]
    masked_report = None if report is None else mask_report(report, masker)
    await store.runs.update_job(
        job_id,
        status=Status.COMPLETED,
        conclusion=conclusion,
        steps=json.dumps(masked_steps),
        report=json.dumps(asdict(masked_report)) if masked_report is not None else None,
        finished_at=time.time(),
    )
