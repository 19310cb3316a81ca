"""Run one ticket end to end: check out the SHA, run the steps, keep the log and the outcome.

The same for a build job and a deploy, and for every executor: the local one calls it
in-process, a Celery worker in its own. What differs between a job and a deploy is only
where the log and the conclusion go (`bot.executor.targets`).

Everything the steps produce passes the ticket's secrets' masker here, before it is
stored: the log (masked as it streams), the report, the step results. Whatever is built
later from the store (check runs, annotations, titles, pages, comments) then only ever
sees masked text.
"""

from __future__ import annotations

import asyncio
import glob
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

from bot.core.junit import JUnitError, TestReport, merge_reports, parse_junit
from bot.core.masking import Masker, mask_report
from bot.executor import messages
from bot.executor.base import Target, Ticket
from bot.executor.logs import LogWriter
from bot.executor.process import JobOutcome, StepResult, run_steps
from bot.executor.sandbox import Sandbox
from bot.executor.targets import Skip, destination
from bot.executor.workspace import GitCache, GitError, remove_workspace
from bot.store import Store

log = logging.getLogger("greenlight.executor")
MAX_REPORT_BYTES = 20 * 1024 * 1024


async def run_ticket(
    ticket: Ticket,
    *,
    store: Store,
    cache: GitCache,
    work_dir: Path,
    cancel: asyncio.Event,
    on_started: Callable[[Target], Awaitable[None]],
    sandbox: Sandbox,
    kill_grace_seconds: float = 5.0,
) -> str:
    """Run the ticket's steps and record their outcome at its target; return the conclusion."""
    row = destination(ticket.target, store)
    begun = await row.begin(cancel)
    if isinstance(begun, Skip):
        return begun.conclusion
    await on_started(ticket.target)
    masker = Masker([*ticket.secrets.values(), *ticket.secret_files.values()])
    writer = LogWriter(row.append_log)
    if (problem := await sandbox.problem()) is not None:
        await writer.write(messages.sandbox_unavailable(problem))
        await writer.close()
        await row.finish("failure")
        return "failure"
    workspace = sandbox.workspaces(work_dir) / begun.workspace
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
            await writer.write(messages.checkout_failed(ticket.sha, masker.mask(str(error))))
            await writer.close()
            await row.finish("failure")
            return "failure"
        outcome: JobOutcome = await run_steps(
            ticket.steps,
            workdir=workspace,
            env={**ticket.env, **ticket.secrets},
            secret_files=ticket.secret_files,
            timeout_seconds=ticket.timeout_seconds,
            on_output=writer.write,
            cancel=cancel,
            masker=masker,
            sandbox=sandbox,
            kill_grace_seconds=kill_grace_seconds,
        )
        report = _read_reports(workspace, ticket.reports)
        if isinstance(report, str):
            await writer.write(masker.mask(report) + "\n")  # file names are the job's too
            report = None
        await writer.close()
        await row.finish(
            outcome.conclusion,
            _masked_steps(outcome.steps, masker),
            mask_report(report, masker) if report is not None else None,
        )
        return outcome.conclusion
    finally:
        await writer.close()
        await remove_workspace(workspace)


async def refuse_ticket(target: Target, store: Store, reason: str) -> str:
    """End a target whose ticket cannot be run, saying why, unless it ended already."""
    row = destination(target, store)
    begun = await row.begin(asyncio.Event())
    if isinstance(begun, Skip):
        return begun.conclusion
    await row.append_log(messages.ticket_unreadable(target.kind, reason))
    await row.finish("failure")
    return "failure"


def _masked_steps(steps: tuple[StepResult, ...], masker: Masker) -> tuple[StepResult, ...]:
    """The step results with their names masked: a name can hold a secret as written in
    the config."""
    return tuple(replace(step, name=masker.mask(step.name)) for step in steps)


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
