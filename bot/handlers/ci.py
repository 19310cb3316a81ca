"""Continuous integration: build pushes and pull requests; re-runs from GitHub's buttons."""

from __future__ import annotations

import logging
from typing import Any

from bot import messages
from bot.dispatch.events import WebhookEvent
from bot.dispatch.router import Router
from bot.pipeline.requests import BuildRequest
from bot.wiring import Services

router: Router[Services] = Router()
log = logging.getLogger("greenlight.ci")
NULL_SHA = "0" * 40


def pull_request_build(payload: dict[str, Any], installation_id: int) -> BuildRequest:
    """What to build for a `pull_request` event: the head, from the head repository."""
    pr = payload["pull_request"]
    head, base = pr["head"], pr["base"]
    head_repo = head.get("repo") or base["repo"]  # a deleted fork has no head repo
    return BuildRequest(
        repo=payload["repository"]["full_name"],
        repo_id=payload["repository"]["id"],
        installation_id=installation_id,
        clone_url=head_repo["clone_url"],
        sha=head["sha"],
        event="pull_request",
        ref=head["ref"],
        base_ref=base["ref"],
        before_sha=base["sha"],
        pr_number=pr["number"],
        author=(pr.get("user") or {}).get("login", ""),
        author_association=pr.get("author_association") or "NONE",
        is_fork=head_repo["full_name"] != base["repo"]["full_name"],
        default_branch=payload["repository"].get("default_branch") or "main",
    )


def push_build(payload: dict[str, Any], installation_id: int) -> BuildRequest | None:
    """What to build for a `push`: the new tip of a branch (not a deletion, not a tag)."""
    ref = payload.get("ref", "")
    after = payload.get("after") or NULL_SHA
    if payload.get("deleted") or after == NULL_SHA or not ref.startswith("refs/heads/"):
        return None
    repository = payload["repository"]
    head_commit = payload.get("head_commit") or {}
    return BuildRequest(
        repo=repository["full_name"],
        repo_id=repository["id"],
        installation_id=installation_id,
        clone_url=repository["clone_url"],
        sha=after,
        event="push",
        ref=ref.removeprefix("refs/heads/"),
        before_sha=payload.get("before") or "",
        commit_message=head_commit.get("message"),
        author=(payload.get("pusher") or {}).get("name", ""),
        default_branch=repository.get("default_branch")
        or repository.get("master_branch")
        or "main",
    )


def merge_group_build(payload: dict[str, Any], installation_id: int) -> BuildRequest:
    """GitHub's merge queue asks for checks on its temporary commit: build it like a push."""
    group = payload["merge_group"]
    repository = payload["repository"]
    return BuildRequest(
        repo=repository["full_name"],
        repo_id=repository["id"],
        installation_id=installation_id,
        clone_url=repository["clone_url"],
        sha=group["head_sha"],
        event="merge_group",
        ref=group["head_ref"].removeprefix("refs/heads/"),
        base_ref=group.get("base_ref", "").removeprefix("refs/heads/"),
        before_sha=group.get("base_sha", ""),
        commit_message=(group.get("head_commit") or {}).get("message"),
        default_branch=repository.get("default_branch") or "main",
    )


@router.register("pull_request", "opened", "synchronize", "reopened", "ready_for_review")
async def build_pull_request(event: WebhookEvent, services: Services) -> None:
    """Build the pull request's new head and cancel its superseded runs."""
    if event.installation_id is None:
        return
    request = pull_request_build(event.payload, event.installation_id)
    pipeline = services.pipeline
    await pipeline.cancel_pull_request(
        request.repo,
        request.pr_number or 0,
        keep_sha=request.sha,
        reason=messages.superseded(request.sha),
    )
    await pipeline.build(request)


@router.register("pull_request", "closed")
async def stop_closed_pull_request(event: WebhookEvent, services: Services) -> None:
    """A closed pull request's runs are cancelled."""
    number = event.payload["pull_request"]["number"]
    await services.pipeline.cancel_pull_request(
        event.payload["repository"]["full_name"],
        number,
        keep_sha=None,
        reason=messages.pr_closed(),
    )


@router.register("push")
async def build_push(event: WebhookEvent, services: Services) -> None:
    """Build the new tip of a pushed branch."""
    if event.installation_id is None:
        return
    request = push_build(event.payload, event.installation_id)
    if request is not None:
        await services.pipeline.build(request)


@router.register("merge_group", "checks_requested")
async def build_merge_group(event: WebhookEvent, services: Services) -> None:
    """Build the merge queue's temporary commit."""
    if event.installation_id is None:
        return
    await services.pipeline.build(merge_group_build(event.payload, event.installation_id))


@router.register("check_run", "rerequested")
async def rerun_check(event: WebhookEvent, services: Services) -> None:
    """GitHub's "Re-run" on one of our check runs: that job (and what needs it) again."""
    external_id = str(event.payload["check_run"].get("external_id") or "")
    kind, _, ident = external_id.partition(":")
    if not ident.isdigit():
        return
    pipeline = services.pipeline
    if kind == "job":
        job = await services.context.store.runs.job(int(ident))
        if job is not None:
            await pipeline.rerun(job.run_id, names={job.name})
    elif kind == "run":
        await pipeline.rerun(int(ident))


@router.register("check_suite", "rerequested")
async def rerun_suite(event: WebhookEvent, services: Services) -> None:
    """GitHub's "Re-run all jobs": the whole run of that commit again."""
    repo = event.payload["repository"]["full_name"]
    run = await services.context.store.runs.for_sha(repo, event.payload["check_suite"]["head_sha"])
    if run is not None:
        await services.pipeline.rerun(run.id)
