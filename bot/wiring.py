"""The services of one running app, built and tied together in one place at start-up.

`build_services` makes each service from the shared `Context` and registers, in plain view,
what listens to what; `running` starts and stops them in order. Handlers get the result,
one `Services` value, from the dispatcher; nothing looks a service up anywhere else.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from bot.commands.runner import Commands
from bot.context import Context
from bot.deploy.service import Deployer
from bot.merging.service import Merging
from bot.periodic import Periodic
from bot.pipeline.freeze_summary import FreezeSummary
from bot.pipeline.service import Pipeline
from bot.replica import beat_seconds
from bot.timekeeper import Timekeeper


@dataclass(frozen=True)
class Services:
    """Everything a handler may act through."""

    context: Context
    pipeline: Pipeline
    merging: Merging
    deployer: Deployer
    commands: Commands
    timekeeper: Timekeeper  # the store's timers, fired on one replica

    @property
    def own_app_id(self) -> str | None:
        """This app's id, which tells its own check runs from other apps'; None before the
        setup page has registered the app (it may, while the service runs)."""
        credentials = self.context.github.credentials
        return credentials.app_id if credentials is not None else None


def build_services(context: Context) -> Services:
    """Build the app's services on `context` and hook them to one another."""
    timekeeper = Timekeeper(context.store, context.replica_id, clock=context.clock)
    pipeline = Pipeline(context)
    # The merge evaluation reads the config at a head the pipeline fetched from its cache.
    merging = Merging(context, timekeeper, cache=pipeline.cache)
    # Deploys run their steps on the pipeline's executor, with tickets made as for jobs.
    deployer = Deployer(
        context, executor=pipeline.executor, tickets=pipeline.tickets, timekeeper=timekeeper
    )
    # One of our runs completed: its pull request may be mergeable now (auto-merge), and a
    # green default-branch build goes as far as the deploy mode takes it. In this order.
    pipeline.on_run_completed.append(merging.on_run_completed)
    pipeline.on_run_completed.append(deployer.on_run_completed)
    # Then the freeze windows on its aggregate check: people read it after the deploys.
    pipeline.on_run_completed.append(FreezeSummary(context).on_run_completed)
    commands = Commands(merging=merging, pipeline=pipeline, deployer=deployer)
    keep_work_put_off(context, timekeeper, pipeline, merging, deployer)
    return Services(context, pipeline, merging, deployer, commands, timekeeper)


def keep_work_put_off(
    context: Context,
    timekeeper: Timekeeper,
    pipeline: Pipeline,
    merging: Merging,
    deployer: Deployer,
) -> None:
    """Keep the work GitHub kept failing in the store's timers, and say who does each kind
    when its later try is due (the dispatcher adds `handler`: a webhook handler run again)."""
    backlog = context.github.backlog
    backlog.keep_in(timekeeper)
    backlog.handle("checks", lambda work: pipeline.reports.resync(work["run_id"]))
    backlog.handle(
        "run-completed", lambda work: pipeline.announce_again(work["run_id"], work["hook"])
    )
    backlog.handle(
        "evaluate",
        lambda work: merging.evaluate(work["installation_id"], work["repo"], work["number"]),
    )
    backlog.handle(
        "merge-comment",
        lambda work: merging.announce_merged(
            work["installation_id"], work["repo"], work["number"], work["body"]
        ),
    )
    backlog.handle(
        "deployment-status",
        lambda work: deployer.status_again(work["deployment_id"], work["body"]),
    )


@contextlib.asynccontextmanager
async def running(services: Services) -> AsyncIterator[None]:
    """The services started (unfinished work resumed) for the body, then stopped; the
    work of replicas that stop meanwhile is taken over every few seconds."""
    await services.pipeline.start()
    await take_over(services)
    every = beat_seconds(services.context.settings.replica_timeout)
    taking_over = Periodic(
        "take over",
        lambda: take_over(services),
        interval=every,
        first_delay=every,
        failure="could not take over the work of stopped replicas",
    )
    taking_over.start()
    services.timekeeper.start()
    try:
        yield
    finally:
        await services.timekeeper.stop()
        await services.merging.stop()
        await taking_over.stop()
        await services.deployer.stop()
        await services.pipeline.stop()


async def take_over(services: Services) -> None:
    """Carry on (jobs, runs, deploys checking health) or end (other deploys) what no live
    replica holds."""
    live = await services.context.live_replicas()
    await services.pipeline.take_over(live)
    await services.deployer.take_over(live)
