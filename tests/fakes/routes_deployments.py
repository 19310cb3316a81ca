"""Deployments and deployment statuses.

https://docs.github.com/en/rest/deployments/deployments#create-a-deployment
"""

from __future__ import annotations

from aiohttp import web

from tests.fakes.gitrepo import MergeConflict
from tests.fakes.pulls import GITHUB_COMMITTER, check_results, identity
from tests.fakes.render_checks import deployment_json, deployment_status_json
from tests.fakes.server import ApiError, Call, RouteTable, json_response
from tests.fakes.state import Deployment, DeploymentStatus

routes = RouteTable()


def _deployment(call: Call) -> Deployment:
    deployment = call.fake.world.deployments.get(int(call.params["deployment_id"]))
    if deployment is None or deployment.repo != call.repo.full_name:
        raise ApiError(404, "Not Found")
    return deployment


@routes.add("post", "/repos/{owner}/{repo}/deployments")
async def create_deployment(call: Call) -> web.StreamResponse:
    """Create a deployment; 409 when required contexts have not passed."""
    body, repo = call.body, call.repo
    sha = repo.git.resolve(body["ref"])
    if sha is None:
        raise ApiError(422, f"No ref found for: {body['ref']}", violation=True)
    branch_tip = repo.git.branch_sha(body["ref"])
    default_tip = repo.git.branch_sha(repo.default_branch) or sha
    if body.get("auto_merge", True) and branch_tip and not repo.git.is_ancestor(default_tip, sha):
        return _auto_merge(call, body["ref"], branch_tip, default_tip)
    results = check_results(call.fake.world, repo, sha)
    required = body["required_contexts"] if "required_contexts" in body else list(results)
    failed = [context for context in required if results.get(context) is not True]
    if failed:
        errors = [{"contexts": [{"context": c, "state": "failure"} for c in failed]}]
        raise ApiError(409, f"Conflict: Commit status checks failed for {body['ref']}.", errors)
    environment = body.get("environment", "production")
    now = call.fake.now_iso()
    deployment = Deployment(
        id=call.fake.world.next_id(),
        repo=repo.full_name,
        sha=sha,
        ref=body["ref"],
        task=body.get("task", "deploy"),
        environment=environment,
        creator=call.actor,
        payload=body.get("payload", {}),
        description=body.get("description"),
        production_environment=body.get("production_environment", environment == "production"),
        transient_environment=body.get("transient_environment", False),
        created_at=now,
        updated_at=now,
    )
    call.fake.world.deployments[deployment.id] = deployment
    return json_response(deployment_json(call.r, deployment), 201)


def _auto_merge(call: Call, branch: str, tip: str, default_tip: str) -> web.StreamResponse:
    """GitHub merges the default branch into a branch that is behind it, and deploys nothing."""
    repo = call.repo
    try:
        tree = repo.git.merge_tree(tip, default_tip)
    except MergeConflict as conflict:
        message = f"Conflict merging {repo.default_branch} into {branch}."
        raise ApiError(409, message) from conflict
    message = f"Auto-merged {repo.default_branch} into {branch} on deployment."
    after = repo.git.commit_tree(
        tree, [tip, default_tip], message, identity(call.actor), GITHUB_COMMITTER
    )
    repo.git.set_ref(f"refs/heads/{branch}", after, tip)
    call.fake.move_pull_heads(repo, branch, after)
    call.fake.emit(
        "push",
        lambda: call.fake.payloads.push(
            repo.full_name, branch, tip, after, sender=call.actor.login
        ),
    )
    return json_response({"message": message}, 202)


@routes.add("get", "/repos/{owner}/{repo}/deployments")
async def list_deployments(call: Call) -> web.StreamResponse:
    """Deployments, newest first, filtered by sha, ref, task and environment."""
    found = [
        d
        for d in sorted(call.fake.world.deployments.values(), key=lambda d: d.id, reverse=True)
        if d.repo == call.repo.full_name
        and all(
            call.query.get(key) in (None, getattr(d, key))
            for key in ("sha", "ref", "task", "environment")
        )
    ]
    return call.fake.paginate(call, [deployment_json(call.r, d) for d in found])


@routes.add("post", "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses")
async def create_deployment_status(call: Call) -> web.StreamResponse:
    """Add a status; ``success`` marks older deployments of the environment inactive."""
    deployment, body = _deployment(call), call.body
    if "environment" in body:
        deployment.environment = body["environment"]
    status = _add_status(call, deployment, body)
    if body["state"] == "success" and body.get("auto_inactive", True):
        for older in list(call.fake.world.deployments.values()):
            if (
                older.repo == deployment.repo
                and older.environment == deployment.environment
                and older.id < deployment.id
                and _latest_state(call, older) not in (None, "inactive")
            ):
                _add_status(call, older, {"state": "inactive"})
    return json_response(deployment_status_json(call.r, status), 201)


def _add_status(call: Call, deployment: Deployment, body: dict[str, str]) -> DeploymentStatus:
    status = DeploymentStatus(
        id=call.fake.world.next_id(),
        deployment_id=deployment.id,
        state=body["state"],
        creator=call.actor,
        description=body.get("description", ""),
        environment=deployment.environment,
        environment_url=body.get("environment_url", ""),
        log_url=body.get("log_url", body.get("target_url", "")),
        target_url=body.get("target_url", body.get("log_url", "")),
        created_at=call.fake.now_iso(),
    )
    call.fake.world.deployment_statuses.append(status)
    deployment.updated_at = status.created_at
    return status


def _latest_state(call: Call, deployment: Deployment) -> str | None:
    states = [s for s in call.fake.world.deployment_statuses if s.deployment_id == deployment.id]
    return max(states, key=lambda s: s.id).state if states else None


@routes.add("get", "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses")
async def list_deployment_statuses(call: Call) -> web.StreamResponse:
    """Statuses of a deployment, newest first."""
    deployment = _deployment(call)
    statuses = sorted(
        (s for s in call.fake.world.deployment_statuses if s.deployment_id == deployment.id),
        key=lambda s: s.id,
        reverse=True,
    )
    return call.fake.paginate(call, [deployment_status_json(call.r, s) for s in statuses])
