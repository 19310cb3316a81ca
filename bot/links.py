"""Links to this service's pages, signed so that logs of private repositories stay private.

Anyone holding a link from a check run can read that page; nobody can guess another.
"""

from __future__ import annotations

import hashlib
import hmac


def sign(kind: str, ident: int | str, secret: str) -> str:
    digest = hmac.new(secret.encode(), f"{kind}:{ident}".encode(), hashlib.sha256).hexdigest()
    return digest[:32]


def is_signed(kind: str, ident: int | str, token: str, secret: str) -> bool:
    return hmac.compare_digest(sign(kind, ident, secret), token)


def job_log_url(public_url: str, job_id: int, secret: str) -> str:
    return f"{public_url}/jobs/{job_id}/log?token={sign('job', job_id, secret)}"


def run_url(public_url: str, run_id: int, secret: str) -> str:
    return f"{public_url}/runs/{run_id}?token={sign('run', run_id, secret)}"


def repo_url(public_url: str, repo: str, secret: str) -> str:
    return f"{public_url}/repos/{repo}?token={sign('repo', repo, secret)}"


def deployment_log_url(public_url: str, deployment_id: int, secret: str) -> str:
    token = sign("deployment", deployment_id, secret)
    return f"{public_url}/deployments/{deployment_id}/log?token={token}"
