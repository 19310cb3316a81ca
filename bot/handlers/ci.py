"""Continuous integration: build pushes and pull requests; re-runs from GitHub's buttons."""

from __future__ import annotations

import logging

from bot import messages
from bot.dispatch.events import WebhookEvent
from bot.dispatch.payloads import Checked, MergeGroup, PullRequest, Push, Repository
from bot.dispatch.router import Router
from bot.github.errors import NotFound
from bot.pipeline.requests import BuildRequest
from bot.wiring import Services

router: Router[Services] = Router()
log = logging.getLogger("greenlight.ci")
NULL_SHA = "0" * 40


def pull_request_build(
    repository: Repository, pr: PullRequest, installation_id: int
) -> BuildRequest:
    """What to build for a `pull_request` event: the head, from the head repository."""
    return BuildRequest(
        repo=repository.full_name,
        repo_id=repository.id,
        installation_id=installation_id,
        clone_url=pr.head_repo.clone_url,
        sha=pr.head_sha,
        event="pull_request",
        ref=pr.head_ref,
        base_ref=pr.base_ref,
        before_sha=pr.base_sha,
        pr_number=pr.number,
        author=pr.author,
        author_association=pr.author_association,
        is_fork=pr.head_repo.full_name != pr.base_repo.full_name,
        default_branch=repository.default_branch,
    )


def push_build(repository: Repository, push: Push, installation_id: int) -> BuildRequest | None:
    """What to build for a `push`: the new tip of a branch (not a deletion, not a tag)."""
    after = push.after or NULL_SHA
    if push.deleted or after == NULL_SHA or not push.ref.startswith("refs/heads/"):
        return None
    return BuildRequest(
        repo=repository.full_name,
        repo_id=repository.id,
        installation_id=installation_id,
        clone_url=repository.clone_url,
        sha=after,
        event="push",
        ref=push.ref.removeprefix("refs/heads/"),
        before_sha=push.before,
        commit_message=push.head_message,
        author=push.pusher,
        default_branch=repository.default_branch,
    )


def merge_group_build(
    repository: Repository, group: MergeGroup, installation_id: int
) -> BuildRequest:
    """GitHub's merge queue asks for checks on its temporary commit: build it like a push."""
    return BuildRequest(
        repo=repository.full_name,
        repo_id=repository.id,
        installation_id=installation_id,
        clone_url=repository.clone_url,
        sha=group.head_sha,
        event="merge_group",
        ref=group.head_ref.removeprefix("refs/heads/"),
        base_ref=group.base_ref.removeprefix("refs/heads/"),
        before_sha=group.base_sha,
        commit_message=group.head_message,
        default_branch=repository.default_branch,
    )


@router.register("pull_request", "opened", "synchronize", "reopened", "ready_for_review")
async def build_pull_request(event: WebhookEvent, services: Services) -> None:
    """Build the pull request's new head and cancel its superseded runs."""
    if event.installation_id is None:
        return
    request = pull_request_build(Repository.of(event), PullRequest.of(event), event.installation_id)
    if event.recovered and not await is_current_head(services, event.installation_id, request):
        return
    pipeline = services.pipeline
    await pipeline.cancel_pull_request(
        request.repo,
        request.pr_number or 0,
        keep_sha=request.sha,
        reason=messages.superseded(request.sha),
    )
    await pipeline.build(request)


async def is_current_head(services: Services, installation_id: int, request: BuildRequest) -> bool:
    """Whether a recovered event's head is still the open pull request's head: one that
    moved on is built by its own event (or reconciliation), and never cancelled by this."""
    assert request.pr_number is not None
    client = services.merging.client(installation_id)
    pull = await client.pull_request(request.repo, request.pr_number)
    if pull.state == "open" and pull.head_sha == request.sha:
        return True
    log.info("recovered event for %s#%d is out of date", request.repo, request.pr_number)
    return False


@router.register("pull_request", "closed")
async def stop_closed_pull_request(event: WebhookEvent, services: Services) -> None:
    """A closed pull request's runs are cancelled (unless, recovered, it was reopened since)."""
    repo, number = Repository.of(event).full_name, PullRequest.of(event).number
    if event.recovered and event.installation_id is not None:
        pull = await services.merging.client(event.installation_id).pull_request(repo, number)
        if pull.state == "open":
            return
    await services.pipeline.cancel_pull_request(
        repo,
        number,
        keep_sha=None,
        reason=messages.pr_closed(),
    )


@router.register("push")
async def build_push(event: WebhookEvent, services: Services) -> None:
    """Build the new tip of a pushed branch."""
    if event.installation_id is None:
        return
    request = push_build(Repository.of(event), Push.of(event), event.installation_id)
    if request is None:
        return
    if event.recovered and not await is_branch_tip(services, event.installation_id, request):
        return
    await services.pipeline.build(request)


async def is_branch_tip(services: Services, installation_id: int, request: BuildRequest) -> bool:
    """Whether a recovered push is still its branch's tip: an older one is not built (a
    green default-branch build would deploy a commit older than the live one)."""
    client = services.merging.client(installation_id)
    try:
        comparison = await client.compare(request.repo, request.sha, request.ref)
    except NotFound:  # the branch was deleted since
        return False
    if comparison.status == "identical":
        return True
    log.info("recovered push of %s to %s is no longer its tip", request.sha[:7], request.ref)
    return False


@router.register("merge_group", "checks_requested")
async def build_merge_group(event: WebhookEvent, services: Services) -> None:
    """Build the merge queue's temporary commit."""
    if event.installation_id is None:
        return
    request = merge_group_build(Repository.of(event), MergeGroup.of(event), event.installation_id)
    await services.pipeline.build(request)


@router.register("check_run", "rerequested")
async def rerun_check(event: WebhookEvent, services: Services) -> None:
    """GitHub's "Re-run" on one of our check runs: that job (and what needs it) again."""
    kind, _, ident = Checked.of(event).external_id.partition(":")
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
    repo = Repository.of(event).full_name
    run = await services.context.store.runs.for_sha(repo, Checked.of(event).head_sha)
    if run is not None:
        await services.pipeline.rerun(run.id)
