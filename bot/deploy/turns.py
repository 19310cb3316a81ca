"""Whose turn it is to deploy to an environment, across every replica on the database.

Each replica keeps its own waiting deploy per environment (`Queue`); the deploy is in the
store as `queued`, where a newer one, queued on any replica, supersedes it. The replica
running an environment's deploy holds the environment's lease, renewed while the deploy
runs and as long-lived as a replica's heartbeat: a replica taken for dead has lost its
environments too, and one that stops cleanly frees them at once. A waiting replica looks
every quarter of a second whether the lease is free or its deploy was superseded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from bot.context import Context
from bot.replica import beat_seconds
from bot.store.deployments import DeploymentRecord, Deployments

log = logging.getLogger("greenlight.deploy")
WAIT_SECONDS = 0.25
Request = TypeVar("Request")
Key = tuple[str, str]  # repository, environment


@dataclass
class Queue(Generic[Request]):
    """This replica's part of an environment's queue: its own waiting deploy, if any."""

    waiting: tuple[DeploymentRecord, Request] | None = None
    worker: asyncio.Task[None] | None = None
    cancel: asyncio.Event = field(default_factory=asyncio.Event)


def queue_lock(key: Key) -> str:
    """The short lock around changes to an environment's queue."""
    return f"deploy-queue:{key[0]}:{key[1]}"


def lease(key: Key) -> str:
    """The lease held by the replica running an environment's deploy."""
    return f"deploy:{key[0]}:{key[1]}"


class Turns:
    def __init__(self, context: Context, deployments: Deployments) -> None:
        self.context = context
        self.deployments = deployments
        self.lease_seconds = context.settings.replica_timeout

    async def take_next(
        self, key: Key, queue: Queue[Request]
    ) -> tuple[DeploymentRecord, Request] | None:
        """This replica's waiting deploy, put in progress once the environment's lease is
        ours; None when nothing waits here any more (a newer deploy superseded it)."""
        leases, me = self.context.store.leases, self.context.replica_id
        while queue.waiting is not None and not queue.cancel.is_set():
            record, request = queue.waiting
            if await leases.acquire(
                lease(key), me, ttl=self.lease_seconds, now=self.context.clock()
            ):
                async with self.context.store.locks.hold(queue_lock(key)):
                    now = self.context.clock()
                    began = await self.deployments.begin(record.id, owner=me, now=now)
                    if began or _waits(queue, record):
                        queue.waiting = None
                if began:
                    return record, request
                await leases.release(lease(key), me)
            elif await self._is_over(record):
                if _waits(queue, record):
                    queue.waiting = None  # superseded on another replica
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(queue.cancel.wait(), WAIT_SECONDS)
        return None

    async def acquire(self, key: Key, cancel: asyncio.Event) -> bool:
        """Wait until the environment's lease is ours (True) or `cancel` is set (False)."""
        leases, me = self.context.store.leases, self.context.replica_id
        while not cancel.is_set():
            if await leases.acquire(
                lease(key), me, ttl=self.lease_seconds, now=self.context.clock()
            ):
                return True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(cancel.wait(), WAIT_SECONDS)
        return False

    @contextlib.asynccontextmanager
    async def holding(self, key: Key) -> AsyncIterator[None]:
        """Keep the environment's lease (taken already) renewed for the body, then free it."""
        renewing = asyncio.create_task(self._renew(lease(key)), name=f"lease {key}")
        try:
            yield
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
            await self.context.store.leases.release(lease(key), self.context.replica_id)

    async def free(self, key: Key, holder: str) -> None:
        """Free the environment a stopped replica held, without waiting for its lease."""
        await self.context.store.leases.release(lease(key), holder)

    async def _is_over(self, record: DeploymentRecord) -> bool:
        found = await self.deployments.get(record.id)
        return found is None or found.state.is_finished

    async def _renew(self, name: str) -> None:
        leases, me = self.context.store.leases, self.context.replica_id
        while True:
            await asyncio.sleep(beat_seconds(self.lease_seconds))
            try:
                now = self.context.clock()
                held = await leases.acquire(name, me, ttl=self.lease_seconds, now=now)
            except Exception:  # the store may be down for a while: renew again later
                log.exception("could not renew the lease %s", name)
                continue
            if not held:
                log.error("lost the lease %s: another replica may deploy meanwhile", name)


def _waits(queue: Queue[Request], record: DeploymentRecord) -> bool:
    return queue.waiting is not None and queue.waiting[0].id == record.id
