"""JSON of check runs, check suites, commit statuses and deployments."""

from __future__ import annotations

from typing import Any

from tests.fakes.render import WEB_URL, Renderer, node_id
from tests.fakes.state import (
    CheckRun,
    CheckSuite,
    CommitStatus,
    Deployment,
    DeploymentStatus,
    PullRequest,
    suite_status,
)

Json = Any


# ------------------------------------------------------------------ checks and statuses


def check_run_json(r: Renderer, run: CheckRun) -> Json:
    """check-run; ``pull_requests`` lists only same-repository PRs, as GitHub does."""
    api = r.repo_api(run.repo)
    output = {"title": None, "summary": None, "text": None, **run.output}
    return {
        "id": run.id,
        "node_id": node_id("CheckRun", run.id),
        "head_sha": run.head_sha,
        "name": run.name,
        "external_id": run.external_id,
        "url": f"{api}/check-runs/{run.id}",
        "html_url": f"{WEB_URL}/{run.repo}/runs/{run.id}",
        "details_url": run.details_url,
        "status": run.status,
        "conclusion": run.conclusion,
        "started_at": run.started_at,
        "completed_at": run.completed_at,
        "output": {
            **output,
            "annotations_count": len(run.annotations),
            "annotations_url": f"{api}/check-runs/{run.id}/annotations",
        },
        "check_suite": {"id": run.suite_id},
        "app": r.app(r.world.apps[run.app_id]),
        "pull_requests": pull_requests_minimal(r, run.repo, run.head_sha),
    }


def check_suite_json(r: Renderer, suite: CheckSuite) -> Json:
    """check-suite."""
    repo = r.world.repos[suite.repo.lower()]
    runs = r.world.suite_runs(suite.id)
    status, conclusion = suite_status(runs)
    info = repo.git.commit_info(suite.head_sha)
    return {
        "id": suite.id,
        "node_id": node_id("CheckSuite", suite.id),
        "head_branch": suite.head_branch,
        "head_sha": suite.head_sha,
        "status": status,
        "conclusion": conclusion,
        "url": f"{r.repo_api(suite.repo)}/check-suites/{suite.id}",
        "before": info.parents[0] if info.parents else None,
        "after": suite.head_sha,
        "pull_requests": pull_requests_minimal(r, suite.repo, suite.head_sha),
        "app": r.app(r.world.apps[suite.app_id]),
        "repository": r.minimal_repository(repo),
        "created_at": suite.created_at,
        "updated_at": suite.updated_at,
        "head_commit": r.simple_commit(info),
        "latest_check_runs_count": len(runs),
        "check_runs_url": f"{r.repo_api(suite.repo)}/check-suites/{suite.id}/check-runs",
        "rerequestable": True,
        "runs_rerequestable": True,
    }


def pull_requests_minimal(r: Renderer, full_name: str, sha: str) -> Json:
    """pull-request-minimal of open same-repository PRs whose head is ``sha``."""
    return [
        {
            "id": pr.id,
            "number": pr.number,
            "url": f"{r.repo_api(pr.repo)}/pulls/{pr.number}",
            "head": _minimal_ref(r, pr.head_repo, pr.head_ref, pr.head_sha),
            "base": _minimal_ref(r, pr.repo, pr.base_ref, _base_sha(r, pr)),
        }
        for pr in r.world.pulls.values()
        if pr.repo == full_name
        and pr.head_repo == full_name
        and pr.head_sha == sha
        and pr.state == "open"
    ]


def _minimal_ref(r: Renderer, full_name: str, ref: str, sha: str) -> Json:
    repo = r.world.repos[full_name.lower()]
    return {
        "ref": ref,
        "sha": sha,
        "repo": {"id": repo.id, "url": r.repo_api(full_name), "name": repo.name},
    }


def _base_sha(r: Renderer, pr: PullRequest) -> str:
    repo = r.world.repos[pr.repo.lower()]
    return repo.git.branch_sha(pr.base_ref) or ""


def status_json(r: Renderer, status: CommitStatus) -> Json:
    """status / simple-commit-status."""
    return {
        "url": f"{r.repo_api(status.repo)}/statuses/{status.sha}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{status.creator.id}?v=4",
        "id": status.id,
        "node_id": node_id("StatusContext", status.id),
        "state": status.state,
        "description": status.description,
        "target_url": status.target_url,
        "context": status.context,
        "created_at": status.created_at,
        "updated_at": status.created_at,
        "creator": r.user(status.creator),
    }


# ------------------------------------------------------------------ deployments


def deployment_json(r: Renderer, deployment: Deployment) -> Json:
    """deployment."""
    api = r.repo_api(deployment.repo)
    return {
        "url": f"{api}/deployments/{deployment.id}",
        "id": deployment.id,
        "node_id": node_id("Deployment", deployment.id),
        "sha": deployment.sha,
        "ref": deployment.ref,
        "task": deployment.task,
        "payload": deployment.payload,
        "original_environment": deployment.environment,
        "environment": deployment.environment,
        "description": deployment.description,
        "creator": r.user(deployment.creator),
        "created_at": deployment.created_at,
        "updated_at": deployment.updated_at,
        "statuses_url": f"{api}/deployments/{deployment.id}/statuses",
        "repository_url": api,
        "transient_environment": deployment.transient_environment,
        "production_environment": deployment.production_environment,
    }


def deployment_status_json(r: Renderer, status: DeploymentStatus) -> Json:
    """deployment-status."""
    deployment = r.world.deployments[status.deployment_id]
    api = r.repo_api(deployment.repo)
    return {
        "url": f"{api}/deployments/{deployment.id}/statuses/{status.id}",
        "id": status.id,
        "node_id": node_id("DeploymentStatus", status.id),
        "state": status.state,
        "creator": r.user(status.creator),
        "description": status.description,
        "environment": status.environment,
        "target_url": status.target_url,
        "created_at": status.created_at,
        "updated_at": status.created_at,
        "deployment_url": f"{api}/deployments/{deployment.id}",
        "repository_url": api,
        "environment_url": status.environment_url,
        "log_url": status.log_url,
    }
