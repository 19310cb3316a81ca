"""A planned job stored with its run, as JSON, so a restart or a worker can rebuild it."""

from __future__ import annotations

import json
from typing import Any

from bot.core.config import Step
from bot.core.plan import PlannedJob


def dump_job(job: PlannedJob, *, order: int) -> str:
    return json.dumps(
        {
            "order": order,
            "name": job.name,
            "base_name": job.base_name,
            "matrix": [list(pair) for pair in job.matrix],
            "steps": [{"name": s.name, "run": s.run} for s in job.steps],
            "env": [list(pair) for pair in job.env],
            "needs": list(job.needs),
            "timeout_seconds": job.timeout_seconds,
            "reports": list(job.reports),
            "secrets": list(job.secrets),
            "secret_files": list(job.secret_files),
            "skip_reason": job.skip_reason,
            "skipped_by_marker": job.skipped_by_marker,
            "reuse": job.reuse,
        }
    )


def load_job(text: str) -> PlannedJob:
    data: dict[str, Any] = json.loads(text)
    return PlannedJob(
        name=data["name"],
        base_name=data["base_name"],
        matrix=tuple((k, v) for k, v in data["matrix"]),
        steps=tuple(Step(name=s["name"], run=s["run"]) for s in data["steps"]),
        env=tuple((k, v) for k, v in data["env"]),
        needs=tuple(data["needs"]),
        timeout_seconds=float(data["timeout_seconds"]),
        reports=tuple(data["reports"]),
        secrets=tuple(data["secrets"]),
        secret_files=tuple(data.get("secret_files", ())),  # runs planned before they existed
        skip_reason=data.get("skip_reason"),
        skipped_by_marker=bool(data.get("skipped_by_marker", False)),
        reuse=bool(data.get("reuse", True)),
    )
