"""Acting from the pages: re-run a run's failed jobs, cancel a run, deploy a commit to an
environment, roll an environment back.

Each is a POST from a viewer signed in with GitHub, carrying their session's CSRF token
(a signed link is never enough to act), checked against the permission its slash-command
needs (DESIGN.md section 5, decided by the same `authorize`): write access, or being the
pull request's author for re-running and cancelling its runs, as `/retest` and `/cancel`
allow; admin for a protected environment (checked by `request_deploy`, as for `/deploy`)
and for deploying through a freeze window (`/deploy ENV --force`). Each is carried out by
the same services as the command, answered with a page saying what was done or why not,
and recorded with who asked: in the re-run jobs' logs, the cancelled jobs' reason, the
deployment's `requested_by` (and its log, for a forced one), and the service's log.
"""

from __future__ import annotations

import hmac
import logging

from aiohttp import web

from bot import links
from bot.commands.deploys import request_deploy, request_rollback
from bot.core.commands import CommandName
from bot.core.deploy import Answer, Refuse
from bot.core.permissions import Authorization, Refused, authorize
from bot.deploy import messages as deploy_messages
from bot.github.errors import GitHubError
from bot.store import overview
from bot.store.records import Run, Status
from bot.web import messages
from bot.web.access import refused
from bot.web.keys import GITHUB, SERVICES, SETTINGS, STORE
from bot.web.sessions import Viewer, login_url, viewer_of
from bot.web.templating import render
from bot.web.viewers import permission

log = logging.getLogger("greenlight.web")


def add_routes(app: web.Application) -> None:
    app.router.add_post("/runs/{run_id:\\d{1,18}}/rerun", rerun)
    app.router.add_post("/runs/{run_id:\\d{1,18}}/cancel", cancel)
    app.router.add_post("/repos/{owner}/{name}/deploy", deploy)
    app.router.add_post("/repos/{owner}/{name}/rollback", rollback)


async def may_act(request: web.Request, repo: str, run: Run | None = None) -> bool:
    """Whether the viewer could use the pages' buttons on `repo` (write access), or on
    `run`'s re-run and cancel buttons (write access, or the author of its pull request)."""
    viewer = viewer_of(request)
    if viewer is None:
        return False
    command = CommandName.RETEST if run is not None else CommandName.DEPLOY
    decision = await _decision(request, viewer, repo, command, run=run)
    return not isinstance(decision, Refused)


async def _decision(
    request: web.Request,
    viewer: Viewer,
    repo: str,
    command: CommandName,
    *,
    run: Run | None = None,
    forced: bool = False,
) -> Authorization:
    """`authorize` with the viewer's permission; the pull request's author is asked of
    GitHub only when it could matter (a re-run or cancel of a pull request's run by
    someone without write access)."""
    level = await permission(request, viewer, repo)
    decision = authorize(
        command, actor=viewer.login, actor_permission=level, pr_author="", forced=forced
    )
    if isinstance(decision, Refused) and run is not None and run.pr_number is not None:
        author = await _pr_author(request, run)
        decision = authorize(
            command, actor=viewer.login, actor_permission=level, pr_author=author, forced=forced
        )
    return decision


async def _pr_author(request: web.Request, run: Run) -> str:
    """The login of the author of `run`'s pull request; "" when GitHub cannot say."""
    if run.pr_number is None or run.installation_id is None:
        return ""
    client = request.app[GITHUB].installation(run.installation_id)
    try:
        return (await client.pull_request(run.repo, run.pr_number)).author
    except GitHubError as error:
        log.warning("could not read the author of %s#%s: %s", run.repo, run.pr_number, error)
        return ""


async def _actor(
    request: web.Request, repo: str, command: CommandName, *, run: Run | None = None
) -> tuple[Viewer, dict[str, str]]:
    """The signed-in viewer asking, and their form, once the form is theirs and they may."""
    viewer = viewer_of(request)
    if viewer is None:
        back = request.headers.get("Referer", "/")
        raise refused(
            web.HTTPForbidden,
            messages.SIGN_IN_TO_ACT,
            messages.SIGN_IN_TO_ACT_DETAIL,
            sign_in=login_url(back if back.startswith("/") else "/"),
        )
    form = {key: str(value) for key, value in (await request.post()).items()}
    if not hmac.compare_digest(viewer.csrf.encode(), form.get("csrf", "").encode()):
        raise refused(web.HTTPForbidden, messages.FORGED, messages.FORGED_DETAIL, viewer=viewer)
    forced = command is CommandName.DEPLOY and is_forced(form)
    decision = await _decision(request, viewer, repo, command, run=run, forced=forced)
    if isinstance(decision, Refused):
        raise refused(web.HTTPForbidden, messages.NOT_ALLOWED, decision.reason, viewer=viewer)
    return viewer, form


def is_forced(form: dict[str, str]) -> bool:
    """Whether a deploy form asks to go through a freeze window (its `force` box)."""
    return form.get("force", "") in {"1", "on", "yes"}


async def _run(request: web.Request) -> Run:
    run = await request.app[STORE].runs.get(int(request.match_info["run_id"]))
    if run is None:
        raise refused(web.HTTPNotFound, messages.NOT_FOUND, messages.NO_SUCH_RUN)
    return run


def _answer(request: web.Request, title: str, detail: str, back: str) -> web.Response:
    return render(request, "message.html", title=title, detail=detail, back=back)


async def rerun(request: web.Request) -> web.Response:
    """Run the failed jobs of a run again (with what depends on them), as `/retest` does."""
    run = await _run(request)
    viewer, _ = await _actor(request, run.repo, CommandName.RETEST, run=run)
    back = links.run_url("", run.id, request.app[SETTINGS].link_secret)
    store = request.app[STORE]
    if not run.trusted:  # as /retest: an untrusted build waits for /ok-to-test first
        return _answer(request, messages.NOTHING_DONE, messages.awaiting_ok_to_test(), back)
    started = await request.app[SERVICES].pipeline.rerun(run.id, failed_only=True)
    if not started:
        jobs = await store.runs.jobs(run.id)
        busy = any(job.status != Status.COMPLETED for job in jobs)
        reason = messages.still_running() if busy else messages.nothing_failed()
        return _answer(request, messages.NOTHING_DONE, reason, back)
    for job in await store.runs.jobs(run.id):
        if job.name in started:
            await store.runs.append_log(job.id, messages.rerun_by(viewer.login))
    log.info("%s re-ran %s of %s @ %s from the web page", viewer.login, started, run.repo, run.sha)
    return _answer(request, messages.DONE, messages.rerunning(started, viewer.login), back)


async def cancel(request: web.Request) -> web.Response:
    """Cancel a run's unfinished jobs, as `/cancel` does."""
    run = await _run(request)
    viewer, _ = await _actor(request, run.repo, CommandName.CANCEL, run=run)
    back = links.run_url("", run.id, request.app[SETTINGS].link_secret)
    if run.status == Status.COMPLETED:
        return _answer(request, messages.NOTHING_DONE, messages.nothing_to_cancel(), back)
    await request.app[SERVICES].pipeline.cancel_run(run.id, messages.cancelled_by(viewer.login))
    log.info("%s cancelled run %s of %s from the web page", viewer.login, run.id, run.repo)
    return _answer(request, messages.DONE, messages.cancelled(viewer.login), back)


async def deploy(request: web.Request) -> web.Response:
    """Deploy a commit to an environment, as `/deploy ENV SHA` does."""
    repo, installation_id = await _repository(request)
    viewer, form = await _actor(request, repo, CommandName.DEPLOY)
    answer = await request_deploy(
        request.app[SERVICES].deployer, repo=repo, installation_id=installation_id,
        pr_number=None, actor=viewer.login, env=form.get("environment", "").strip(),
        sha=form.get("sha", "").strip() or None, forced=is_forced(form),
    )  # fmt: skip
    return _reply(request, repo, viewer, answer)


async def rollback(request: web.Request) -> web.Response:
    """Redeploy an environment's last good deployment before the current one."""
    repo, installation_id = await _repository(request)
    viewer, form = await _actor(request, repo, CommandName.ROLLBACK)
    answer = await request_rollback(
        request.app[SERVICES].deployer, repo=repo, installation_id=installation_id,
        pr_number=None, actor=viewer.login, env=form.get("environment", "").strip(),
    )  # fmt: skip
    return _reply(request, repo, viewer, answer)


async def _repository(request: web.Request) -> tuple[str, int]:
    repo = f"{request.match_info['owner']}/{request.match_info['name']}"
    entry = await overview.repository_entry(request.app[STORE].engine, repo)
    if entry is None:
        raise refused(web.HTTPNotFound, messages.NOT_FOUND, messages.NO_SUCH_REPOSITORY)
    return repo, entry.installation_id


def _reply(request: web.Request, repo: str, viewer: Viewer, outcome: Answer) -> web.Response:
    done = not isinstance(outcome, Refuse)
    answer = deploy_messages.answer(outcome)
    log.info("%s from the web page, by %s: %s", repo, viewer.login, answer)
    back = links.repo_url("", repo, request.app[SETTINGS].link_secret)
    status = 200 if done else 409
    return render(
        request,
        "message.html",
        status=status,
        title=messages.DONE if done else messages.NOTHING_DONE,
        detail=answer,
        back=back,
    )
