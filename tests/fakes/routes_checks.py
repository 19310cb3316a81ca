"""Check runs, check suites and commit statuses."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.fakes.render_checks import check_run_json, check_suite_json, status_json
from tests.fakes.server import ApiError, Call, RouteTable, json_response
from tests.fakes.state import CheckRun, combined_state, latest_per_context

Json = Any
routes = RouteTable()
# GitHub's cap on output.summary and output.text, in UTF-8 bytes although its docs say
# characters (github/docs#35252); the OpenAPI description's maxLength counts characters.
TEXT_LIMIT = 65535


def _sha(call: Call, ref: str) -> str:
    sha = call.repo.git.resolve(ref)
    if sha is None:
        raise ApiError(422, f"No commit found for SHA: {ref}", violation=True)
    return sha


def _validate(call: Call, body: Json, run: CheckRun | None) -> None:
    """The rules GitHub enforces beyond the schema."""
    status = body.get("status", run.status if run else "queued")
    conclusion = body.get("conclusion", run.conclusion if run else None)
    if body.get("conclusion") == "stale":
        raise ApiError(
            422, "Invalid request.\n\nOnly GitHub can set the conclusion to stale.", violation=True
        )
    if (status == "completed" or body.get("completed_at")) and conclusion is None:
        raise ApiError(
            422,
            "Invalid request.\n\nconclusion is required when status is completed.",
            violation=True,
        )
    output = body.get("output") or {}
    if output and ("title" not in output or "summary" not in output):
        raise ApiError(
            422,
            "Invalid request.\n\nFor 'properties/output', title and summary are required.",
            violation=True,
        )
    for field in ("summary", "text"):
        if len(str(output.get(field) or "").encode()) > TEXT_LIMIT:
            raise ApiError(
                422,
                "Validation Failed",
                [
                    {
                        "resource": "CheckRun",
                        "code": "custom",
                        "field": field,
                        "message": f"{field} exceeds a maximum bytesize of {TEXT_LIMIT}",
                    }
                ],
                violation=True,
            )


def _apply(call: Call, run: CheckRun, body: Json) -> None:
    for key in ("name", "details_url", "external_id", "started_at"):
        if key in body:
            setattr(run, key, body[key])
    if "conclusion" in body:
        run.conclusion, run.status = body["conclusion"], "completed"
    elif "status" in body:
        run.status = body["status"]
    if run.status == "in_progress" and run.started_at is None:
        run.started_at = call.fake.now_iso()
    if run.status == "completed":
        run.completed_at = body.get("completed_at") or run.completed_at or call.fake.now_iso()
    output = body.get("output") or {}
    run.output.update({k: output[k] for k in ("title", "summary", "text") if k in output})
    run.annotations.extend(output.get("annotations", []))  # appended across PATCHes
    if "actions" in body:
        run.actions = list(body["actions"])


@routes.add("post", "/repos/{owner}/{repo}/check-runs")
async def create_check_run(call: Call) -> web.StreamResponse:
    """Create a check run in the calling app's suite; emits ``check_run`` created."""
    body = call.body
    sha = _sha(call, body["head_sha"])
    _validate(call, body, None)
    suite = call.fake.suite_for(call.repo, sha, call.installation.app_id)
    run = CheckRun(
        id=call.fake.world.next_id(),
        repo=call.repo.full_name,
        head_sha=sha,
        name=body["name"],
        app_id=call.installation.app_id,
        suite_id=suite.id,
    )
    _apply(call, run, body)
    call.fake.world.check_runs[run.id] = run
    call.fake.check_run_changed(run, created=True, was_completed=False)
    return json_response(check_run_json(call.r, run), 201)


def _run(call: Call) -> CheckRun:
    run = call.fake.world.check_runs.get(int(call.params["check_run_id"]))
    if run is None or run.repo != call.repo.full_name:
        raise ApiError(404, "Not Found")
    return run


@routes.add("patch", "/repos/{owner}/{repo}/check-runs/{check_run_id}")
async def update_check_run(call: Call) -> web.StreamResponse:
    """Update a check run of the calling app; emits ``check_run`` completed on completion."""
    run = _run(call)
    if run.app_id != call.installation.app_id:
        raise ApiError(
            403,
            f"Invalid app_id `{call.installation.app_id}` - check run can only be modified by "
            "the GitHub App that created it.",
            violation=True,
        )
    _validate(call, call.body, run)
    was_completed = run.status == "completed"
    _apply(call, run, call.body)
    call.fake.check_run_changed(run, created=False, was_completed=was_completed)
    return json_response(check_run_json(call.r, run))


@routes.add("get", "/repos/{owner}/{repo}/check-runs/{check_run_id}")
async def get_check_run(call: Call) -> web.StreamResponse:
    """One check run."""
    return json_response(check_run_json(call.r, _run(call)))


@routes.add("get", "/repos/{owner}/{repo}/commits/{ref}/check-runs")
async def list_check_runs(call: Call) -> web.StreamResponse:
    """Check runs on a ref: the latest per name and app unless ``filter=all``."""
    sha = _sha(call, call.params["ref"])
    runs = [
        r
        for r in call.fake.world.check_runs.values()
        if r.repo == call.repo.full_name and r.head_sha == sha
    ]
    if call.query.get("filter", "latest") == "latest":
        latest: dict[tuple[int, str], CheckRun] = {}
        for run in sorted(runs, key=lambda r: r.id):
            latest[(run.app_id, run.name)] = run
        runs = list(latest.values())
    for key, attribute in (("check_name", "name"), ("status", "status"), ("app_id", "app_id")):
        if key in call.query:
            wanted = call.query[key]
            runs = [r for r in runs if str(getattr(r, attribute)) == wanted]
    runs.sort(key=lambda r: r.id, reverse=True)
    items = [check_run_json(call.r, run) for run in runs]
    return call.fake.paginate(call, items, key="check_runs")


@routes.add("get", "/repos/{owner}/{repo}/commits/{ref}/check-suites")
async def list_check_suites(call: Call) -> web.StreamResponse:
    """Check suites on a ref."""
    sha = _sha(call, call.params["ref"])
    suites = [
        s
        for s in call.fake.world.check_suites.values()
        if s.repo == call.repo.full_name and s.head_sha == sha
    ]
    if "app_id" in call.query:
        suites = [s for s in suites if str(s.app_id) == call.query["app_id"]]
    if "check_name" in call.query:
        names = {
            r.suite_id
            for r in call.fake.world.check_runs.values()
            if r.name == call.query["check_name"]
        }
        suites = [s for s in suites if s.id in names]
    items = [check_suite_json(call.r, suite) for suite in suites]
    return call.fake.paginate(call, items, key="check_suites")


@routes.add("get", "/repos/{owner}/{repo}/commits/{ref}/status")
async def combined_status(call: Call) -> web.StreamResponse:
    """The combined status: the latest status of each context."""
    ref = call.params["ref"]
    sha = call.repo.git.resolve(ref)
    if sha is None:
        raise ApiError(404, f"No commit found for SHA: {ref}")
    all_statuses = [
        s for s in call.fake.world.statuses if s.repo == call.repo.full_name and s.sha == sha
    ]
    latest = latest_per_context(all_statuses)
    api = call.r.repo_api(call.repo.full_name)
    body = {
        "state": combined_state(latest),
        "sha": sha,
        "total_count": len(latest),
        "statuses": [status_json(call.r, s) for s in latest],
        "repository": call.r.minimal_repository(call.repo),
        "commit_url": f"{api}/commits/{sha}",
        "url": f"{api}/commits/{sha}/status",
    }
    return json_response(body)


@routes.add("post", "/repos/{owner}/{repo}/statuses/{sha}")
async def create_status(call: Call) -> web.StreamResponse:
    """Create a commit status; emits ``status``."""
    sha = call.repo.git.resolve(call.params["sha"])
    if sha is None or not sha.startswith(call.params["sha"]):
        raise ApiError(422, f"No commit found for SHA: {call.params['sha']}", violation=True)
    status = call.fake.record_status(
        call.repo,
        sha,
        state=call.body["state"],
        context=call.body.get("context", "default"),
        creator=call.actor,
        description=call.body.get("description"),
        target_url=call.body.get("target_url"),
    )
    return json_response(status_json(call.r, status), 201)
