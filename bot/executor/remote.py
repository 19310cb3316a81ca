"""What the service and Celery workers share: task names, tickets as JSON, Redis keys.

Cancellation and liveness travel through Redis (the broker): the service sets a target's
cancel key; a worker keeps a heartbeat key alive while it runs the target's steps, so the
service can tell work whose worker died from work that is merely slow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from celery import Celery

from bot.core.config import Step
from bot.executor.base import Target, TargetKind, Ticket

# One task per kind, because Celery sets redelivery per task: a job whose worker dies goes
# back to the queue, a deploy never does (see bot/worker.py).
TASK_NAMES = {TargetKind.JOB: "greenlight.run_job", TargetKind.DEPLOY: "greenlight.run_deploy"}
HEARTBEAT_SECONDS = 5
HEARTBEAT_TTL_SECONDS = 30  # work whose worker was silent this long is lost


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


def target_to_json(target: Target) -> dict[str, Any]:
    return {"kind": target.kind.value, "id": target.id}


def target_from_json(data: dict[str, Any]) -> Target:
    return Target(TargetKind(data["kind"]), int(data["id"]))


def ticket_to_json(ticket: Ticket) -> dict[str, Any]:
    return {
        "target": target_to_json(ticket.target),
        "clone_url": ticket.clone_url,
        "sha": ticket.sha,
        "steps": [{"name": step.name, "run": step.run} for step in ticket.steps],
        "env": dict(ticket.env),
        "timeout_seconds": ticket.timeout_seconds,
        "secrets": dict(ticket.secrets),
        "secret_files": dict(ticket.secret_files),
        "token": ticket.token,
        "reports": list(ticket.reports),
    }


def ticket_from_json(data: dict[str, Any]) -> Ticket:
    return Ticket(
        target=target_from_json(data["target"]),
        clone_url=data["clone_url"],
        sha=data["sha"],
        steps=tuple(Step(name=step["name"], run=step["run"]) for step in data["steps"]),
        env=dict(data["env"]),
        timeout_seconds=float(data["timeout_seconds"]),
        secrets=dict(data["secrets"]),
        secret_files=dict(data["secret_files"]),
        token=data["token"],
        reports=tuple(data["reports"]),
    )


def cancel_key(target: Target) -> str:
    """Set by the service to stop a target's steps."""
    return f"greenlight:{target.kind}:{target.id}:cancel"


def heartbeat_key(target: Target) -> str:
    """Kept alive by the worker running that target's steps."""
    return f"greenlight:{target.kind}:{target.id}:alive"


@dataclass
class Liveness:
    """A worker's heartbeat as the service sees it, one per target watched.

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
