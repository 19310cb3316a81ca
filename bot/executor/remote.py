"""What the service and Celery workers share: the task name, tickets as JSON, Redis keys.

Cancellation and liveness travel through Redis (the broker): the service sets a job's
cancel key; a worker keeps a heartbeat key alive while it runs a job, so the service can
tell a job whose worker died from one that is merely slow.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from bot.executor.base import JobTicket

TASK_NAME = "greenlight.run_job"
HEARTBEAT_SECONDS = 5
HEARTBEAT_TTL_SECONDS = 30  # a job whose worker was silent this long is lost


def ticket_to_json(ticket: JobTicket) -> dict[str, Any]:
    data = asdict(ticket)
    data["env"] = dict(ticket.env)
    data["secrets"] = dict(ticket.secrets)
    return data


def ticket_from_json(data: dict[str, Any]) -> JobTicket:
    return JobTicket(**data)


def cancel_key(job_id: int) -> str:
    return f"greenlight:job:{job_id}:cancel"


def heartbeat_key(job_id: int) -> str:
    return f"greenlight:job:{job_id}:alive"
