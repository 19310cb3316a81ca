"""Pull requests: read, list, reviews, files, merge, update-branch, PRs of a commit."""

from __future__ import annotations

from aiohttp import web

from tests.fakes.pulls import Refused, merge, pull_json, update_branch
from tests.fakes.routes_repos import wants
from tests.fakes.server import ApiError, Call, RouteTable, json_response
from tests.fakes.state import PullRequest, iso

routes = RouteTable()


def _pull(call: Call) -> PullRequest:
    pr = call.fake.world.pull(call.repo.full_name, int(call.params["pull_number"]))
    if pr is None:
        raise ApiError(404, "Not Found")
    return pr


@routes.add("get", "/repos/{owner}/{repo}/pulls/{pull_number}")
async def get_pull(call: Call) -> web.StreamResponse:
    """One pull request, with mergeability; the diff on request."""
    pr = _pull(call)
    if wants(call, "diff"):
        git = call.repo.git
        base = git.branch_sha(pr.base_ref) or pr.head_sha
        diff = git.diff(git.merge_base(base, pr.head_sha) or base, pr.head_sha)
        return web.Response(text=diff, content_type="application/vnd.github.diff")
    return json_response(pull_json(call.r, pr))


@routes.add("get", "/repos/{owner}/{repo}/pulls")
async def list_pulls(call: Call) -> web.StreamResponse:
    """Pull requests filtered by state, head (``owner:branch``) and base."""
    state = call.query.get("state", "open")
    head, base = call.query.get("head"), call.query.get("base")
    pulls = [
        pr
        for pr in call.fake.world.pulls.values()
        if pr.repo == call.repo.full_name
        and (state == "all" or pr.state == state)
        and (base is None or pr.base_ref == base)
        and (head is None or f"{pr.head_repo.split('/')[0]}:{pr.head_ref}".lower() == head.lower())
    ]
    descending = (
        call.query.get(
            "direction", "desc" if call.query.get("sort", "created") == "created" else "asc"
        )
        == "desc"
    )
    sort_key = (
        "updated_at"
        if call.query.get("sort") in {"updated", "popularity", "long-running"}
        else "created_at"
    )
    pulls.sort(key=lambda pr: (getattr(pr, sort_key), pr.number), reverse=descending)
    return call.fake.paginate(call, [pull_json(call.r, pr, simple=True) for pr in pulls])


@routes.add("get", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews")
async def list_reviews(call: Call) -> web.StreamResponse:
    """Submitted reviews, oldest first."""
    pr = _pull(call)
    reviews = [
        call.r.review(review)
        for review in call.fake.world.reviews
        if (review.repo, review.pull_number) == (pr.repo, pr.number)
    ]
    return call.fake.paginate(call, reviews)


@routes.add("get", "/repos/{owner}/{repo}/pulls/{pull_number}/files")
async def list_files(call: Call) -> web.StreamResponse:
    """Files changed by the pull request (three-dot diff)."""
    pr = _pull(call)
    git = call.repo.git
    base = git.branch_sha(pr.base_ref) or pr.head_sha
    changes = git.changed_files(git.merge_base(base, pr.head_sha) or base, pr.head_sha)
    return call.fake.paginate(call, [call.r.diff_entry(call.repo, pr.head_sha, c) for c in changes])


@routes.add("put", "/repos/{owner}/{repo}/pulls/{pull_number}/merge")
async def merge_pull(call: Call) -> web.StreamResponse:
    """Merge with real git; emits ``push`` and ``pull_request`` closed."""
    pr = _pull(call)
    body = call.body or {}
    method = body.get("merge_method", "merge")
    try:
        result = merge(
            call.fake.world,
            pr,
            method=method,
            sha=body.get("sha"),
            title=body.get("commit_title"),
            message=body.get("commit_message"),
            actor=call.actor,
        )
    except Refused as refused:
        raise ApiError(refused.status, refused.message) from refused
    now = iso(call.fake.now())
    pr.state, pr.merged, pr.merged_at, pr.closed_at, pr.updated_at = "closed", True, now, now, now
    pr.merged_by, pr.merge_commit_sha = call.actor, result.after
    fake, sender = call.fake, call.actor.login
    fake.emit(
        "push",
        lambda: fake.payloads.push(
            pr.repo, pr.base_ref, result.before, result.after, sender=sender
        ),
    )
    fake.emit(
        "pull_request",
        lambda: fake.payloads.pull_request("closed", pr.repo, pr.number, sender=sender),
    )
    return json_response(
        {"sha": result.after, "merged": True, "message": "Pull Request successfully merged"}
    )


@routes.add("put", "/repos/{owner}/{repo}/pulls/{pull_number}/update-branch")
async def update_pull_branch(call: Call) -> web.StreamResponse:
    """Merge the base branch into the head branch; emits ``push`` and ``synchronize``."""
    pr = _pull(call)
    expected = (call.body or {}).get("expected_head_sha")
    try:
        result = update_branch(call.fake.world, pr, expected, call.actor)
    except Refused as refused:
        raise ApiError(refused.status, refused.message) from refused
    call.fake.move_pull_heads(call.repo, pr.head_ref, result.after)
    fake, sender = call.fake, call.actor.login
    fake.emit(
        "push",
        lambda: fake.payloads.push(
            pr.repo, pr.head_ref, result.before, result.after, sender=sender
        ),
    )
    fake.emit(
        "pull_request",
        lambda: fake.payloads.pull_request(
            "synchronize",
            pr.repo,
            pr.number,
            sender=sender,
            before=result.before,
            after=result.after,
        ),
    )
    html = f"https://github.com/{pr.repo}/pull/{pr.number}"
    return json_response({"message": "Updating pull request branch.", "url": html}, 202)


@routes.add("get", "/repos/{owner}/{repo}/commits/{commit_sha}/pulls")
async def pulls_of_commit(call: Call) -> web.StreamResponse:
    """Pull requests whose head or merge commit is the commit, or that contain it."""
    git = call.repo.git
    sha = git.resolve(call.params["commit_sha"])
    if sha is None:
        raise ApiError(422, f"No commit found for SHA: {call.params['commit_sha']}")
    found = []
    for pr in call.fake.world.pulls.values():
        if pr.repo != call.repo.full_name:
            continue
        base = git.branch_sha(pr.base_ref) or ""
        contains = pr.state == "open" and sha in git.commits_between(base, pr.head_sha)
        if sha in {pr.head_sha, pr.merge_commit_sha} or contains:
            found.append(pull_json(call.r, pr, simple=True))
    return call.fake.paginate(call, found)
