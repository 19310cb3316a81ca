"""What the service and Celery workers share: the task name, tickets as JSON, Redis keys.

Cancellation and liveness travel through Redis (the broker): the service sets a job's
cancel key; a worker keeps a heartbeat key alive while it runs a job, so the service can
tell a job whose worker died from one that is merely slow.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from celery import Celery

from bot.executor.base import JobTicket

TASK_NAME = "greenlight.run_job"
DEPLOY_TASK_NAME = "greenlight.run_deploy"
HEARTBEAT_SECONDS = 5
HEARTBEAT_TTL_SECONDS = 30  # a job whose worker was silent this long is lost


def sending_app(name: str, broker_url: str) -> Celery:
    """A Celery app that only sends tasks, never blocking the service for long."""
    app = Celery(name, broker=broker_url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        broker_connection_timeout=5,
        broker_transport_options={"max_retries": 3, "socket_timeout": 5},
    )
    return app


def ticket_to_json(ticket: JobTicket) -> dict[str, Any]:
    data = asdict(ticket)
    data["env"] = dict(ticket.env)
    data["secrets"] = dict(ticket.secrets)
    return data


def ticket_from_json(data: dict[str, Any]) -> JobTicket:
    # Keys a ticket no longer has (an older service's `kind`) are left behind.
    return JobTicket(**{f.name: data[f.name] for f in fields(JobTicket) if f.name in data})


def cancel_key(job_id: int, kind: str = "job") -> str:
    """Set by the service to stop a job (or, with kind="deploy", a deployment's steps)."""
    return f"greenlight:{kind}:{job_id}:cancel"


def heartbeat_key(job_id: int, kind: str = "job") -> str:
    """Kept alive by the worker running that job (or deployment)."""
    return f"greenlight:{kind}:{job_id}:alive"


@dataclass
class Liveness:
    """A worker's heartbeat as the service sees it, one per job or deployment watched.

    Lost once the heartbeat key has been missing for HEARTBEAT_TTL_SECONDS in a row.
    """

    silent_since: float | None = None

    def lost(self, beating: bool, now: float) -> bool:
        if beating:
            self.silent_since = None
            return False
        if self.silent_since is None:
            self.silent_since = now
        return now - self.silent_since >= HEARTBEAT_TTL_SECONDS
