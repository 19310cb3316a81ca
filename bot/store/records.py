"""What the store hands out: frozen records, one per row kind."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class Status(StrEnum):
    """Life of a run or a job, as GitHub names the check-run statuses."""

    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


@dataclass(frozen=True)
class Delivery:
    id: str
    event: str
    action: str | None
    installation_id: int | None
    repo: str | None
    payload: str
    received_at: float  # for a recovered delivery: when GitHub tried to deliver it
    recovered: bool = False  # fetched from GitHub's delivery log after it was missed


@dataclass(frozen=True)
class Claim:
    """A replica's hold on a pending delivery: no other replica handles it until `expires`."""

    holder: str
    expires: float


@dataclass(frozen=True)
class Installation:
    id: int
    account: str
    suspended: bool


@dataclass(frozen=True)
class Run:
    id: int
    repo: str
    repo_id: int | None  # GitHub's id of `repo`; None for runs older than the column
    sha: str
    installation_id: int | None
    clone_url: str
    event: str
    ref: str  # the branch built (PR head branch for pull requests)
    base_ref: str  # PR base branch, "" otherwise
    before_sha: str  # push `before` or PR base sha: what `paths` diffs against
    pr_number: int | None
    status: Status
    conclusion: str | None
    note: str | None
    aggregate_check_id: int | None
    trusted: bool
    fork: bool  # built from a fork: never given secrets
    plans: tuple[
        str, ...
    ] = ()  # the triggers its jobs were planned for ("push", "pull_request:12")
    ignored_marker: str | None = None  # a skip marker in the message, not honoured (a PR head)
    owner: str | None = None  # the replica that last scheduled its jobs
    created_at: float = 0.0  # when it was recorded
    tree: str | None = None  # the git tree of `sha`; None when it could not be read


@dataclass(frozen=True)
class Job:
    id: int
    run_id: int
    name: str
    attempt: int
    spec: str  # the planned job as JSON
    status: Status
    conclusion: str | None
    check_run_id: int | None
    steps: str  # step results as JSON
    report: str | None  # test report as JSON
    skip_reason: str | None
    started_at: float | None
    finished_at: float | None
    owner: str | None = None  # the replica that handed it to its executor
    input_digest: str | None = None  # what can change its result besides the tree
    reused_job_id: int | None = None  # it took that job's result instead of running
    note: str | None = None  # Markdown its check run's summary opens with


@dataclass(frozen=True)
class PullRequestState:
    repo: str
    number: int
    held_by: str | None = None
    merge_requested_by: str | None = None
    merge_method: str | None = None
    trusted_sha: str | None = None
    merge_refused_sha: str | None = None
    merged_by_app: bool = False


@dataclass(frozen=True)
class RecoveryPoint:
    """How far back GitHub's delivery log has been reconciled (see bot.recovery)."""

    newest_id: int  # every delivery with an id up to this one was looked at
    resume_cursor: str | None = None  # a walk cut short by its page cap goes on from here…
    resume_top: int | None = None  # …and, once through, `newest_id` becomes this id
