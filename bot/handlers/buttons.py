"""Buttons on the aggregate `greenlight` check run (`check_run` requested_action).

A click arrives with the clicker as `sender` and no pull request to reply on, so a refusal
is written into that check run's summary. Each identifier maps to one function in
`BUTTONS`: `rerun-failed`, `deploy`, `merge`.
https://docs.github.com/en/rest/guides/using-the-rest-api-to-interact-with-checks#check-runs-and-requested-actions
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.commands.deploys import deploy_button
from bot.core.deploy import Refuse
from bot.core.markdown import MAX_CHECK_OUTPUT_BYTES, truncate
from bot.core.permissions import Permission
from bot.core.recovery import is_stale
from bot.deploy import messages as deploy_messages
from bot.dispatch.events import WebhookEvent
from bot.dispatch.payloads import Checked, requested_action
from bot.dispatch.router import Router
from bot.merging import messages
from bot.merging.evaluator import pull_numbers
from bot.merging.service import Merging
from bot.wiring import Services

router: Router[Services] = Router()


@dataclass(frozen=True)
class Click:
    """One button press on one of our check runs."""

    installation_id: int
    repo: str
    check_run: Checked
    run_id: int  # from the aggregate's external_id `run:<id>`
    actor: str
    identifier: str


Button = Callable[[Services, Click], Awaitable[None]]


@router.register("check_run", "requested_action")
async def press_button(event: WebhookEvent, services: Services) -> None:
    """Someone pressed a button on our aggregate check run: do what it says."""
    click = read_click(event)
    if click is None:
        return
    if is_stale(recovered=event.recovered, sent_at=event.sent_at, now=services.context.clock()):
        paragraph = messages.button_came_in_while_down(click.identifier)
        await explain(services.merging, click, "Nothing done", paragraph)
        return
    button = BUTTONS.get(click.identifier.partition(":")[0])
    if button is None:
        await explain(
            services.merging, click, "Nothing done", messages.unknown_action(click.identifier)
        )
        return
    await button(services, click)


def read_click(event: WebhookEvent) -> Click | None:
    """The button press of a `requested_action` event on our aggregate check run, if it is one."""
    check_run = Checked.of(event)
    kind, _, ident = check_run.external_id.partition(":")
    if event.installation_id is None or event.repo is None or kind != "run" or not ident.isdigit():
        return None
    return Click(
        installation_id=event.installation_id,
        repo=event.repo,
        check_run=check_run,
        run_id=int(ident),
        actor=event.sender,
        identifier=requested_action(event),
    )


Refusal = Callable[[str, Permission], tuple[str, str]]


async def may_write(merging: Merging, click: Click, refusal: Refusal) -> bool:
    """Whether the clicker has write access; if not, the refusal goes into the summary."""
    client = merging.client(click.installation_id)
    level = await merging.permissions.permission(client, click.repo, click.actor)
    if level < Permission.WRITE:
        await explain(merging, click, *refusal(click.actor, level))
    return level >= Permission.WRITE


async def rerun_failed(services: Services, click: Click) -> None:
    """ "Re-run failed": write access needed, as for `/retest` by someone else."""
    if await may_write(services.merging, click, messages.rerun_refused):
        await services.pipeline.rerun(click.run_id, failed_only=True)


async def merge(services: Services, click: Click) -> None:
    """ "Merge when ready": what `/merge` does, from the pull request's green check run."""
    merging = services.merging
    if not await may_write(merging, click, messages.merge_button_refused):
        return
    client = merging.client(click.installation_id)
    run = await merging.context.store.runs.get(click.run_id)
    sha = run.sha if run is not None else click.check_run.head_sha
    numbers = pull_numbers(await client.pull_requests_for_commit(click.repo, sha), sha)
    if not numbers:
        await explain(merging, click, *messages.merge_button_no_pull_request())
        return
    for number in numbers:
        await merging.context.store.pull_requests.update(
            click.repo, number, merge_refused_sha=None, merge_requested_by=click.actor
        )
    await explain(
        merging, click, *messages.merge_button_pressed(click.actor, numbers[0]), actions=()
    )
    for number in numbers:
        await merging.evaluate_or_later(click.installation_id, click.repo, number)


async def explain(
    merging: Merging,
    click: Click,
    title: str,
    paragraph: str,
    *,
    actions: tuple[dict[str, str], ...] | None = None,
) -> None:
    """Put `paragraph` at the top of the check run's summary, keeping what it said;
    `actions` replaces its buttons (None leaves them)."""
    check_run = click.check_run
    summary = truncate(
        f"{paragraph}\n\n{check_run.output_summary}".rstrip(), MAX_CHECK_OUTPUT_BYTES
    )
    changes: dict[str, Any] = {
        "output": {"title": check_run.output_title or title, "summary": summary}
    }
    if actions is not None:
        changes["actions"] = list(actions)
    await merging.client(click.installation_id).update_check_run(click.repo, check_run.id, changes)


async def deploy(services: Services, click: Click) -> None:
    """ "Deploy to <env>": write access, admin for a protected environment (checked there)."""
    answer = await deploy_button(services.deployer, run_id=click.run_id, actor=click.actor)
    if isinstance(answer, Refuse):
        await explain(services.merging, click, "Not deployed", deploy_messages.answer(answer))


BUTTONS: dict[str, Button] = {
    "rerun-failed": rerun_failed,
    "deploy": deploy,
    "merge": merge,
}
