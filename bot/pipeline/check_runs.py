"""Check runs on GitHub for a run's jobs and its aggregate `greenlight` check.

The pipeline decides; this module only turns records into check-run requests.
GitHub's limits (65,535 UTF-8 bytes a field, 50 annotations a request, 3 actions) are
kept by the renderer in `bot.core.checks`; annotations beyond the first 50 go in
further PATCHes, which GitHub appends.
https://docs.github.com/en/rest/checks/runs#update-a-check-run
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from datetime import UTC, datetime
from typing import Any

from bot import messages
from bot.core.annotations import Annotation, annotations_from_log, annotations_from_report
from bot.core.checks import CheckOutput, JobView, StepSummary
from bot.core.config import ConfigError
from bot.core.junit import TestFailure, TestReport
from bot.github.backlog import is_worth_retrying
from bot.github.client import InstallationClient
from bot.github.errors import GitHubError
from bot.store.records import Job, Run

log = logging.getLogger("greenlight.checks")
AGGREGATE = "greenlight"
CONFIG_CHECK = "greenlight/config"
LOG_TAIL_CHARS = 60_000
# What a check run shows; a write that would leave all of it as it is is not sent.
SHOWN = ("status", "conclusion", "output", "actions")


def shown(body: dict[str, Any]) -> str:
    """What a check-run write makes GitHub show, to compare with the last one written."""
    return json.dumps({key: body[key] for key in SHOWN if key in body}, sort_keys=True)


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def annotation_json(annotation: Annotation) -> dict[str, Any]:
    body: dict[str, Any] = {
        "path": annotation.path,
        "start_line": annotation.start_line,
        "end_line": annotation.end_line,
        "annotation_level": annotation.level,
        "message": annotation.message,
    }
    if annotation.title:
        body["title"] = annotation.title
    return body


def output_json(output: CheckOutput, batch: int = 0) -> dict[str, Any]:
    """The `output` object; later batches carry only the next annotations (text is kept)."""
    body: dict[str, Any] = {"title": output.title, "summary": output.summary}
    if output.text and batch == 0:
        body["text"] = output.text
    if batch < len(output.annotation_batches):
        body["annotations"] = [annotation_json(a) for a in output.annotation_batches[batch]]
    return body


def load_report(job: Job) -> TestReport | None:
    if not job.report:
        return None
    data = json.loads(job.report)
    data["failures"] = tuple(TestFailure(**failure) for failure in data.get("failures", ()))
    return TestReport(**data)


def job_view(job: Job, *, log_text: str, log_url: str, workspace_prefix: str = "") -> JobView:
    """What a check run shows of a stored job."""
    steps = tuple(
        StepSummary(
            name=step["name"],
            status=step["status"],
            exit_code=step["exit_code"],
            duration_seconds=step["duration_seconds"],
        )
        for step in json.loads(job.steps or "[]")
    )
    report = load_report(job)
    annotations = annotations_from_log(log_text.splitlines(), workspace=workspace_prefix)
    if report is not None:
        annotations = annotations_from_report(report) + annotations
    duration = (
        job.finished_at - job.started_at
        if job.finished_at is not None and job.started_at is not None
        else None
    )
    return JobView(
        name=job.name,
        conclusion=job.conclusion,
        steps=steps,
        duration_seconds=duration,
        report=report,
        log_tail=log_text[-LOG_TAIL_CHARS:],
        log_url=log_url,
        skip_reason=job.skip_reason,
        annotations=annotations,
        note=job.note,
    )


class CheckReporter:
    """Creates and updates one repository's check runs.

    GitHub failures are logged, not raised, and `on_failure` hears of those worth trying
    again (the pipeline then brings the run's checks up to date later), unless `strict`:
    then they are raised, for the one doing that. A `strict` reporter also looks a check
    run up by its `external_id` before creating it: an earlier try may have made it.

    `written` keeps, per check run, what was last written to it (`shown`): an update that
    would show the same again is not sent (a run's checks brought up to date after a
    failure, the aggregate concluded twice, a log tail that did not grow).
    """

    def __init__(
        self,
        client: InstallationClient,
        run: Run,
        *,
        on_failure: Callable[[GitHubError], Awaitable[None]] | None = None,
        strict: bool = False,
        written: MutableMapping[int, str] | None = None,
    ) -> None:
        self._client = client
        self._run = run
        self._on_failure = on_failure
        self._strict = strict
        self._written: MutableMapping[int, str] = written if written is not None else {}

    def is_unchanged(self, check_run_id: int, body: dict[str, Any]) -> bool:
        """Whether `body` would show what was last written to the check run."""
        return self._written.get(check_run_id) == shown(body)

    async def _send(self, check_run_id: int | None, body: dict[str, Any]) -> int | None:
        try:
            if check_run_id is None:
                created = await self._create(body)
                self._written[created] = shown(body)
                return created
            await self._client.update_check_run(self._run.repo, check_run_id, body)
            self._written[check_run_id] = shown(body)
            return check_run_id
        except GitHubError as error:
            if self._strict:
                raise
            if self._on_failure is not None and is_worth_retrying(error):
                await self._on_failure(error)
                return check_run_id
            log.warning(
                "check run %s on %s@%s not reported: %s",
                body.get("name", check_run_id),
                self._run.repo,
                self._run.sha[:7],
                error,
                extra={"repo": self._run.repo},
            )
            return check_run_id

    async def _create(self, body: dict[str, Any]) -> int:
        if self._strict:
            found = await self._client.find_check_run(
                self._run.repo, self._run.sha, body["name"], body["external_id"]
            )
            if found is not None:
                return found.id
        created = await self._client.create_check_run(
            self._run.repo, {"head_sha": self._run.sha, **body}
        )
        return created.id

    async def create(
        self,
        name: str,
        *,
        external_id: str,
        details_url: str,
        status: str = "queued",
        output: CheckOutput | None = None,
        conclusion: str | None = None,
        now: float | None = None,
        actions: Sequence[dict[str, str]] = (),
        started_at: float | None = None,
    ) -> int | None:
        """Create a check run: `queued`, `in_progress` (from `started_at`) or `completed`."""
        body: dict[str, Any] = {
            "name": name,
            "external_id": external_id,
            "details_url": details_url,
            "status": status,
        }
        if started_at is not None:
            body["started_at"] = iso(started_at)
        if conclusion is not None:
            body["conclusion"] = conclusion
            if now is not None:
                body["completed_at"] = iso(now)
        if output is not None:
            body["output"] = output_json(output)
        if actions:
            body["actions"] = list(actions)
        check_id = await self._send(None, body)
        if output is not None and check_id is not None:
            await self._append_annotations(check_id, output)
        return check_id

    async def start(self, check_run_id: int | None, *, started_at: float, title: str) -> None:
        if check_run_id is None:
            return
        body: dict[str, Any] = {
            "status": "in_progress",
            "started_at": iso(started_at),
            "output": {"title": title, "summary": title},
        }
        if not self.is_unchanged(check_run_id, body):  # created `in_progress` already
            await self._send(check_run_id, body)

    async def complete(
        self,
        check_run_id: int | None,
        *,
        conclusion: str,
        output: CheckOutput,
        now: float,
        actions: Sequence[dict[str, str]] = (),
    ) -> None:
        if check_run_id is None:
            return
        body: dict[str, Any] = {
            "status": "completed",
            "conclusion": conclusion,
            "completed_at": iso(now),
            "output": output_json(output),
            "actions": list(actions),
        }
        if self.is_unchanged(check_run_id, body):
            return  # written already: so were its annotations
        await self._send(check_run_id, body)
        await self._append_annotations(check_run_id, output)

    async def show(self, check_run_id: int | None, output: CheckOutput) -> None:
        """Change what a running check run shows, unless it shows that already."""
        if check_run_id is None:
            return
        body: dict[str, Any] = {"output": output_json(output)}
        if not self.is_unchanged(check_run_id, body):
            await self._send(check_run_id, body)

    async def _append_annotations(self, check_run_id: int, output: CheckOutput) -> None:
        for batch in range(1, len(output.annotation_batches)):
            await self._send(check_run_id, {"output": output_json(output, batch)})


def config_error_output(errors: Sequence[ConfigError], *, path: str) -> CheckOutput:
    """The `greenlight/config` check: every error, each annotated on its line."""
    annotations = tuple(
        Annotation(
            path=path,
            start_line=e.line,
            end_line=e.line,
            level="failure",
            message=e.message,
            title=e.key,
        )
        for e in errors
    )
    batches = tuple(annotations[i : i + 50] for i in range(0, len(annotations), 50))
    return CheckOutput(
        title=messages.config_invalid_title(len(errors)),
        summary=messages.config_invalid_summary(errors, path=path),
        text=None,
        annotation_batches=batches,
    )
