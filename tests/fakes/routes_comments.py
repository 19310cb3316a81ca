"""Issue comments (on pull requests) and their reactions."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from tests.fakes.server import ApiError, Call, RouteTable, json_response
from tests.fakes.state import IssueComment, Reaction

routes = RouteTable()
# GitHub refuses longer comment bodies.
BODY_LIMIT = 65536


def _check_body(body: str) -> None:
    if len(body) > BODY_LIMIT:
        raise ApiError(
            422,
            "Validation Failed",
            [
                {
                    "resource": "IssueComment",
                    "code": "custom",
                    "field": "body",
                    "message": f"body is too long (maximum is {BODY_LIMIT} characters)",
                }
            ],
            violation=True,
        )


def _comment(call: Call) -> IssueComment:
    comment = call.fake.world.comments.get(int(call.params["comment_id"]))
    if comment is None or comment.repo != call.repo.full_name:
        raise ApiError(404, "Not Found")
    return comment


@routes.add("post", "/repos/{owner}/{repo}/issues/{issue_number}/comments")
async def create_comment(call: Call) -> web.StreamResponse:
    """Comment as the app's bot; emits ``issue_comment`` created."""
    number = int(call.params["issue_number"])
    if call.fake.world.pull(call.repo.full_name, number) is None:
        raise ApiError(404, "Not Found")
    _check_body(call.body["body"])
    comment = call.fake.record_comment(
        call.repo.full_name, number, call.actor, call.body["body"], app_id=call.installation.app_id
    )
    return json_response(call.r.comment(comment), 201)


@routes.add("patch", "/repos/{owner}/{repo}/issues/comments/{comment_id}")
async def edit_comment(call: Call) -> web.StreamResponse:
    """Edit a comment; emits ``issue_comment`` edited."""
    comment = _comment(call)
    _check_body(call.body["body"])
    call.fake.edit_comment(comment.id, call.body["body"])
    return json_response(call.r.comment(comment))


@routes.add("get", "/repos/{owner}/{repo}/issues/{issue_number}/comments")
async def list_comments(call: Call) -> web.StreamResponse:
    """Comments of an issue, oldest first (``since`` filters by update time)."""
    number = int(call.params["issue_number"])
    if call.fake.world.pull(call.repo.full_name, number) is None:
        raise ApiError(404, "Not Found")
    since = call.query.get("since")
    cutoff = datetime.fromisoformat(since.replace("Z", "+00:00")) if since else None
    comments = [
        c
        for c in sorted(call.fake.world.comments.values(), key=lambda c: c.id)
        if (c.repo, c.issue_number) == (call.repo.full_name, number)
        and (
            cutoff is None or datetime.fromisoformat(c.updated_at.replace("Z", "+00:00")) >= cutoff
        )
    ]
    return call.fake.paginate(call, [call.r.comment(c) for c in comments])


@routes.add("post", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions")
async def react(call: Call) -> web.StreamResponse:
    """Add a reaction (200 with the existing one if the app already reacted so)."""
    comment = _comment(call)
    content = call.body["content"]
    for reaction in call.fake.world.reactions:
        if (reaction.comment_id, reaction.user.login, reaction.content) == (
            comment.id,
            call.actor.login,
            content,
        ):
            return json_response(call.r.reaction(reaction), 200)
    reaction = Reaction(
        call.fake.world.next_id(), comment.id, call.actor, content, call.fake.now_iso()
    )
    call.fake.world.reactions.append(reaction)
    return json_response(call.r.reaction(reaction), 201)
