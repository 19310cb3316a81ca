"""`/deploy ENV [SHA]`, `/rollback ENV` and the aggregate check's `deploy` button.

The caller has checked write access (DESIGN.md section 5); these check what only the
deploy knows: admin for protected environments, the environment, the SHA's build.
Each returns an `Answer` value (queued, or refused and why), which the caller renders with
`bot.deploy.messages.answer` for the reply (or the check run, for the button).
"""

from __future__ import annotations

from dataclasses import replace

from bot.context import Context
from bot.core import deploy as decide
from bot.core.commands import CommandName
from bot.core.config import Config, Environment
from bot.core.deploy import Answer, DeployQueued, Refuse, RollbackQueued
from bot.core.freeze import freeze_at
from bot.core.permissions import Permission, Refused, authorize
from bot.deploy import messages
from bot.deploy.facts import Facts
from bot.deploy.service import Deployer, DeployRequest
from bot.store.deployments import DeploymentRecord
from bot.store.records import Run

SHA_SEARCH_RUNS = 500  # how far back `/deploy ENV abc1234` looks for the build of a short SHA
MIN_SHA_CHARS = 7  # a shorter prefix could name several commits


async def request_deploy(
    deployer: Deployer,
    *,
    repo: str,
    installation_id: int,
    pr_number: int | None,
    actor: str,
    env: str,
    sha: str | None,
    forced: bool = False,
) -> Answer:
    """Deploy the PR's head (its merge commit once merged), or `sha`, to `env` (from a web
    page, `pr_number` is None and `sha` is given); `forced`: through a freeze window (admins
    only, checked by the caller)."""
    context = deployer.context
    facts = Facts(context, installation_id, repo)
    default_branch = await facts.default_branch()
    config = await facts.config(default_branch)
    if config is None:
        return Refuse(decide.NoConfig())
    target_sha, open_head = await _target_sha(context, facts, pr_number, sha)
    if target_sha is None:
        return Refuse(decide.NotFound(sha or "the pull request's head"))
    environments = config.deploy.environments
    in_history = not decide.is_production(environments, env) or (
        await facts.in_default_history(target_sha, default_branch)
    )
    target = decide.command_environment(environments, env, in_default_history=in_history)
    if isinstance(target, Refuse):
        return target
    return await _deploy(
        deployer,
        facts,
        config,
        target,
        target_sha,
        actor=actor,
        default_branch=default_branch,
        pr_number=pr_number,
        head_of=pr_number if open_head and pr_number is not None else None,
        forced=forced,
    )


async def request_rollback(
    deployer: Deployer,
    *,
    repo: str,
    installation_id: int,
    pr_number: int | None,
    actor: str,
    env: str,
) -> Answer:
    """Redeploy the last successful deployment of `env` before the current one."""
    context = deployer.context
    facts = Facts(context, installation_id, repo)
    config = await facts.config(await facts.default_branch())
    if config is None:
        return Refuse(decide.NoConfig())
    environment = config.deploy.environment(env)
    if environment is None:
        names = tuple(e.name for e in config.deploy.environments)
        return Refuse(decide.UnknownEnvironment(env, names))
    history = await deployer.store.history(repo, env)
    past = [decide.PastDeploy(d.sha, d.state.value, d.rollback) for d in history]
    target = decide.rollback_target(past)
    if isinstance(target, Refuse):
        return target
    run = await context.store.runs.for_sha(repo, target.sha)
    if run is None:
        return Refuse(decide.NeverBuilt(target.sha[:7]))
    current = next(p for p in past if p.state in {"success", "failure"})
    request = DeployRequest(
        run,
        environment,
        config.deploy.environments,
        requested_by=actor,
        rollback=True,
        pr_number=pr_number,
    )
    queued = await deployer.submit(request)
    if not isinstance(queued, DeploymentRecord):
        return decide.as_refusal(queued)
    return RollbackQueued(env, target.sha, current.sha, actor)


async def deploy_button(deployer: Deployer, *, run_id: int, actor: str) -> Answer:
    """The `deploy` button of a green default-branch commit: the last environment."""
    context = deployer.context
    run = await context.store.runs.get(run_id)
    if run is None or run.installation_id is None:
        return Refuse(decide.NeverBuilt(str(run_id)))
    facts = Facts(context, run.installation_id, run.repo)
    default_branch = await facts.default_branch()
    config = await facts.config(run.sha)
    if config is None:
        return Refuse(decide.NoConfig())
    tip = await facts.config(default_branch)  # its freeze windows hold, not the commit's
    config = replace(config, freeze=tip.freeze if tip is not None else ())
    env = decide.button_environment(config.mode, config.deploy.environments)
    if env is None or run.ref != default_branch or run.event != "push":
        return Refuse(decide.NoButton(config.mode.value))
    target = config.deploy.environment(env)
    assert target is not None
    refusal = await _permission_refusal(facts, actor, target)
    if refusal is not None:
        return refusal
    return await _deploy(
        deployer,
        facts,
        config,
        target,
        run.sha,
        actor=actor,
        default_branch=default_branch,
        pr_number=None,
        permission_checked=True,
    )


async def _deploy(
    deployer: Deployer,
    facts: Facts,
    config: Config,
    target: Environment,
    sha: str,
    *,
    actor: str,
    default_branch: str,
    pr_number: int | None,
    permission_checked: bool = False,
    head_of: int | None = None,
    forced: bool = False,
) -> Answer:
    if not permission_checked and target.protected:
        refusal = await _permission_refusal(facts, actor, target)
        if refusal is not None:
            return refusal
    freeze = freeze_at(config.freeze, target.name, deployer.context.clock())
    held = decide.through_freeze(target.name, freeze, asked_by_person=True, forced=forced)
    if isinstance(held, Refuse):
        return held
    verdict = decide.may_deploy(await facts.sha_facts(sha, default_branch, head_of=head_of))
    if isinstance(verdict, Refuse):
        return verdict
    run = await deployer.context.store.runs.for_sha(facts.repo, sha)
    assert run is not None  # may_deploy refuses a SHA that was never built
    request = DeployRequest(
        run, target, config.deploy.environments, requested_by=actor, pr_number=pr_number
    )
    queued = await deployer.submit(request)
    if not isinstance(queued, DeploymentRecord):
        return decide.as_refusal(queued)
    if freeze is not None:  # forced through it: on the record, with who did it
        await deployer.store.append_log(queued.id, messages.forced_through(freeze.windows, actor))
    return DeployQueued(target.name, sha, actor)


async def _permission_refusal(facts: Facts, actor: str, target: Environment) -> Refuse | None:
    """Write access deploys; a protected environment needs admin."""
    permission, role = await facts.client.permission(facts.repo, actor)
    verdict = authorize(
        CommandName.DEPLOY,
        actor=actor,
        actor_permission=Permission.from_github(permission, role),
        pr_author="",
        protected_env=target.protected,
    )
    return Refuse(decide.AdminNeeded(verdict.reason)) if isinstance(verdict, Refused) else None


async def _target_sha(
    context: Context, facts: Facts, pr_number: int | None, sha: str | None
) -> tuple[str | None, bool]:
    """The full SHA meant: the one given (short ones found among builds), or the PR's; and
    whether it is the head of the open pull request."""
    if sha is None:
        if pr_number is None:
            return None, False
        pr = await facts.client.pull_request(facts.repo, pr_number)
        if pr.merged_at and pr.merge_commit_sha:
            return pr.merge_commit_sha, False
        return pr.head_sha, True
    wanted = sha.lower()
    if len(wanted) < MIN_SHA_CHARS:
        return None, False
    runs: list[Run] = await context.store.runs.recent(facts.repo, limit=SHA_SEARCH_RUNS)
    return next((run.sha for run in runs if run.sha.startswith(wanted)), None), False
