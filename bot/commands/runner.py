"""Slash-commands carried out: one comment in, reactions and at most one reply out.

Parsing and permission rules are pure (`bot.core.commands`, `bot.core.permissions`); this
module reads the state they need, acts through the pipeline and the store, and answers:
👀 at once, then 👍 when every command was done, and one reply that gathers whatever had
to be said (refusals, unknown commands, "nothing failed"…). `/status` and `/help` answer
with their own comment, edited in place when asked again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.commands.deploys import request_deploy, request_rollback
from bot.core.commands import (
    BadArguments,
    Command,
    CommandName,
    ParsedCommand,
    UnknownCommand,
    deploy_request,
    unknown_command_message,
    usage,
)
from bot.core.config import Config
from bot.core.deploy import Refuse
from bot.core.merge_messages import STATUS_MARKER, status_report
from bot.core.permissions import Permission, Refused, authorize, required_permission
from bot.core.recovery import is_read_only
from bot.deploy import messages as deploy_messages
from bot.deploy.service import Deployer
from bot.github.client import InstallationClient
from bot.merging import messages
from bot.merging.comments import upsert_marked
from bot.merging.facts import PullRequest
from bot.merging.service import Merging
from bot.pipeline.service import Pipeline
from bot.repo_config import NoConfig, RepoConfig, read_config, usable
from bot.store.records import Status


@dataclass(frozen=True)
class Outcome:
    done: bool  # the command was carried out (👍)
    answer: str | None = None  # a paragraph for the reply comment


@dataclass(frozen=True)
class CommentContext:
    """One command comment: who wrote it, where, and the pull request it is on."""

    installation_id: int
    repo: str
    number: int
    comment_id: int
    actor: str
    pr_author: str
    # A recovered comment that sat in GitHub's delivery log past `STALE_COMMAND_SECONDS`:
    # commands that would act are not carried out (bot.core.recovery).
    stale: bool = False


@dataclass(frozen=True)
class Commands:
    """What slash-commands act on, built once at start-up (`bot.wiring`)."""

    merging: Merging
    pipeline: Pipeline
    deployer: Deployer

    async def run(self, comment: CommentContext, parsed: tuple[ParsedCommand, ...]) -> None:
        """Carry out the commands of one comment and answer it."""
        await CommandRunner(self, comment).run(parsed)


class CommandRunner:
    def __init__(self, commands: Commands, comment: CommentContext) -> None:
        self.merging = commands.merging
        self.pipeline = commands.pipeline
        self.deployer = commands.deployer
        self.comment = comment
        self.client: InstallationClient = self.merging.client(comment.installation_id)
        self._pull: PullRequest | None = None
        self._permission: Permission | None = None
        self._config_read: RepoConfig | None = None

    async def run(self, parsed: tuple[ParsedCommand, ...]) -> None:
        """Acknowledge, carry out every command in order, then answer once."""
        c = self.comment
        if isinstance(await self._repo_config(), NoConfig):
            return  # no config file: Greenlight stays silent on this repository
        await self.client.react(c.repo, c.comment_id, "eyes")
        outcomes = [await self._one(command) for command in parsed]
        answers = [o.answer for o in outcomes if o.answer]
        if answers:
            await self.client.comment(c.repo, c.number, messages.reply(c.actor, answers))
        if outcomes and all(o.done for o in outcomes):
            await self.client.react(c.repo, c.comment_id, "+1")

    async def _one(self, parsed: ParsedCommand) -> Outcome:
        match parsed:
            case UnknownCommand():
                return Outcome(False, messages.unknown(unknown_command_message(parsed)))
            case BadArguments(message=message):
                return Outcome(False, messages.bad_arguments(message))
            case Command() if self.comment.stale and not is_read_only(parsed.name):
                return Outcome(False, messages.came_in_while_down(usage(parsed.name)))
            case Command():
                return await self._authorized(parsed)

    async def _authorized(self, command: Command) -> Outcome:
        protected = await self._is_protected(command)
        forced = command.name is CommandName.DEPLOY and deploy_request(command).forced
        needed = required_permission(command.name, protected_env=protected, forced=forced)
        # /status and /help are for anyone: no need to ask GitHub who is asking.
        level = await self._actor_permission() if needed > Permission.NONE else Permission.NONE
        decision = authorize(
            command.name,
            actor=self.comment.actor,
            actor_permission=level,
            pr_author=self.comment.pr_author,
            protected_env=protected,
            forced=forced,
        )
        if isinstance(decision, Refused):
            return Outcome(False, messages.refused(usage(command.name), decision.reason))
        return await _ACTIONS[command.name](self, command)

    # -- Commands ---------------------------------------------------------------------------

    async def retest(self, command: Command) -> Outcome:
        store, pull = self.merging.context.store, await self.pull()
        run = await store.runs.for_sha(pull.repo, pull.head_sha)
        if run is None:
            return Outcome(False, messages.no_build(pull.head_sha))
        if not run.trusted:
            return Outcome(False, messages.awaiting_ok_to_test(pull.head_sha))
        jobs = await store.runs.jobs(run.id)
        known = {job.name for job in jobs}
        unknown = [name for name in command.args if name not in known]
        if unknown:
            return Outcome(False, messages.unknown_jobs(unknown, known))
        if command.args:
            started = await self.pipeline.rerun(run.id, names=set(command.args))
        else:
            started = await self.pipeline.rerun(run.id, failed_only=True)
        if started:
            return Outcome(True)
        if any(job.status != Status.COMPLETED for job in jobs):
            return Outcome(False, messages.still_running(pull.head_sha))
        return Outcome(True, messages.nothing_failed(pull.head_sha))

    async def cancel(self, command: Command) -> Outcome:
        c, store = self.comment, self.merging.context.store
        runs = [
            run
            for run in await store.runs.for_pull_request(c.repo, c.number)
            if run.status != Status.COMPLETED
        ]
        if not runs:
            return Outcome(True, messages.nothing_running())
        for run in runs:
            await self.pipeline.cancel_run(run.id, messages.cancelled_reason(c.actor))
        return Outcome(True)

    async def merge(self, command: Command) -> Outcome:
        method = command.args[0] if command.args else None
        await self._set(merge_requested_by=self.comment.actor, merge_method=method)
        return await self._evaluated()

    async def merge_cancel(self, command: Command) -> Outcome:
        await self._set(merge_requested_by=None, merge_method=None)
        return Outcome(True)

    async def hold(self, command: Command) -> Outcome:
        await self._set(held_by=self.comment.actor)
        return Outcome(True)

    async def unhold(self, command: Command) -> Outcome:
        await self._set(held_by=None)
        return await self._evaluated()

    async def ok_to_test(self, command: Command) -> Outcome:
        pull = await self.pull()
        # Only this SHA: a later push by an untrusted author needs a new /ok-to-test.
        await self._set(trusted_sha=pull.head_sha)
        await self.pipeline.approve(pull.repo, pull.head_sha)
        return Outcome(True)

    async def status(self, command: Command) -> Outcome:
        c = self.comment
        evaluator = await self.merging.evaluator()
        snapshot, decision = await evaluator.snapshot(self.client, c.repo, c.number)
        if snapshot is None or decision is None:
            return Outcome(False)  # the config file went away meanwhile: stay silent
        checks_url = f"{snapshot.pull.html_url}/checks" if snapshot.pull.html_url else None
        body = status_report(snapshot.facts, decision, checks_url=checks_url)
        await self._upsert(STATUS_MARKER, body)
        return Outcome(True)

    async def help(self, command: Command) -> Outcome:
        await self._upsert(messages.HELP_MARKER, messages.help_comment(await self._config()))
        return Outcome(True)

    async def deploy(self, command: Command) -> Outcome:
        c, env = self.comment, command.args[0]
        if command.name is CommandName.ROLLBACK:
            answer = await request_rollback(
                self.deployer, repo=c.repo, installation_id=c.installation_id, pr_number=c.number,
                actor=c.actor, env=env,
            )  # fmt: skip
        else:
            asked = deploy_request(command)
            answer = await request_deploy(
                self.deployer, repo=c.repo, installation_id=c.installation_id, pr_number=c.number,
                actor=c.actor, env=env, sha=asked.sha, forced=asked.forced,
            )  # fmt: skip
        return Outcome(not isinstance(answer, Refuse), deploy_messages.answer(answer))

    # -- Helpers ----------------------------------------------------------------------------

    async def pull(self) -> PullRequest:
        if self._pull is None:
            c = self.comment
            data = await self.client.pull_request(c.repo, c.number)
            self._pull = PullRequest.from_github(c.repo, data)
        return self._pull

    async def _actor_permission(self) -> Permission:
        if self._permission is None:
            self._permission = await self.merging.permissions.permission(
                self.client, self.comment.repo, self.comment.actor
            )
        return self._permission

    async def _is_protected(self, command: Command) -> bool:
        if command.name is not CommandName.DEPLOY or not command.args:
            return False
        config = await self._config()
        environment = config.deploy.environment(command.args[0]) if config else None
        return environment is not None and environment.protected

    async def _config(self) -> Config | None:
        return usable(await self._repo_config())

    async def _repo_config(self) -> RepoConfig:
        """The config at the head, read once per comment."""
        if self._config_read is None:
            pull = await self.pull()
            self._config_read = await read_config(self.client, pull.repo, pull.head_sha)
        return self._config_read

    async def _set(self, **changes: Any) -> None:
        c = self.comment
        # Any command that changes what the evaluation reads is a new trigger: a merge
        # GitHub refused before may be tried again.
        await self.merging.context.store.pull_requests.update(
            c.repo, c.number, merge_refused_sha=None, **changes
        )

    async def _evaluated(self) -> Outcome:
        c = self.comment
        await self.merging.evaluate_or_later(c.installation_id, c.repo, c.number)
        return Outcome(True)

    async def _upsert(self, marker: str, body: str) -> None:
        c = self.comment
        await upsert_marked(
            self.client,
            c.repo,
            c.number,
            marker=marker,
            body=body,
            bot_login=await self.merging.bot_login(),
        )


Action = Callable[[CommandRunner, Command], Awaitable[Outcome]]
_ACTIONS: dict[CommandName, Action] = {
    CommandName.RETEST: CommandRunner.retest,
    CommandName.CANCEL: CommandRunner.cancel,
    CommandName.MERGE: CommandRunner.merge,
    CommandName.MERGE_CANCEL: CommandRunner.merge_cancel,
    CommandName.HOLD: CommandRunner.hold,
    CommandName.UNHOLD: CommandRunner.unhold,
    CommandName.OK_TO_TEST: CommandRunner.ok_to_test,
    CommandName.STATUS: CommandRunner.status,
    CommandName.HELP: CommandRunner.help,
    CommandName.DEPLOY: CommandRunner.deploy,
    CommandName.ROLLBACK: CommandRunner.deploy,
}
