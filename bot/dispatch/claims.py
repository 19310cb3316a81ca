"""This replica's claims on the deliveries it queued: each delivery is handled by one replica.

A claim is a lease of `CLAIM_SECONDS` on a pending delivery (bot.store.claims). The
replica that receives a webhook records it claimed by itself; every `SCAN_SECONDS` it
renews the claims past half their lease of what it still has queued or running, and takes
over the pending deliveries whose claim ran out (their replica died) or was given back
(it stopped).

Renewing beats a lease long enough for any handler: a handler's length has no bound (it
may wait minutes on GitHub's write budget, or behind a slow repository's queue), while a
renewal is one statement every few seconds for all of a replica's claims due. The lease
only has to outlast a few missed renewals (a slow database, a pause), and it bounds how
long a dead replica's deliveries wait: taken over within `CLAIM_SECONDS + SCAN_SECONDS`.
Replicas' clocks must agree within `SCAN_SECONDS`: a replica handles without asking the
database only while its claim has more than that left.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.store import Store
from bot.store.records import Claim, Delivery

log = logging.getLogger("greenlight.dispatch")
CLAIM_SECONDS = 30.0
SCAN_SECONDS = 5.0
_UNCLAIMED = 0.0  # queued without a claim (a test's submit): taken just before handling


class Claims:
    """What this replica holds, with when each claim runs out as far as it knows."""

    def __init__(
        self,
        store: Store,
        holder: str,
        *,
        clock: Callable[[], float],
        lease: float = CLAIM_SECONDS,
        margin: float = SCAN_SECONDS,
    ) -> None:
        self._store = store
        self.holder = holder
        self._clock = clock
        self._lease = lease
        self._margin = margin  # a claim this close to running out is taken again first
        self._expires: dict[str, float] = {}

    def new(self) -> Claim:
        """A claim for a delivery this replica is receiving now."""
        return Claim(self.holder, self._clock() + self._lease)

    def hold(self, delivery_id: str, claim: Claim | None) -> None:
        """Remember a queued delivery and its claim (None: claim it before handling)."""
        self._expires[delivery_id] = claim.expires if claim else _UNCLAIMED

    def forget(self, delivery_id: str) -> None:
        """The delivery was handled (or given up): stop renewing its claim."""
        self._expires.pop(delivery_id, None)

    async def confirm(self, delivery_id: str) -> bool:
        """True when this replica may handle the delivery now: its claim has time left, or
        could be taken again; False when another replica holds it or it was handled."""
        expires = self._expires.get(delivery_id)
        now = self._clock()
        if expires is None:
            return False
        if now < expires - self._margin:
            return True
        until = now + self._lease
        try:
            taken = await self._store.claims.take(delivery_id, self.holder, now=now, until=until)
        except Exception:  # out of reach: whoever takes it once the claim runs out handles it
            log.exception("could not renew the claim on delivery %s; leaving it", delivery_id)
            taken = False
        if taken:
            self._expires[delivery_id] = until
            return True
        log.warning("delivery %s was taken over by another replica", delivery_id)
        self.forget(delivery_id)
        return False

    async def renew(self) -> None:
        """Extend the claims past half their lease on what is queued or running; forget
        those another replica took over after they ran out (a long pause, the database
        out of reach). A delivery handled within half the lease, the usual case, costs no
        renewal at all."""
        now = self._clock()
        due = now + self._lease / 2
        held = [ident for ident, expires in self._expires.items() if _UNCLAIMED < expires < due]
        if not held:
            return
        until = now + self._lease
        renewed = await self._store.claims.renew(self.holder, held, until=until)
        for ident in held:
            if ident not in self._expires:  # handled meanwhile
                continue
            if ident in renewed:
                self._expires[ident] = until
            else:
                log.warning("the claim on delivery %s ran out; another replica has it", ident)
                self.forget(ident)

    async def take_free(self, *, everything: bool = False) -> list[Delivery]:
        """Claim the pending deliveries no live claim holds (`everything`: all pending);
        those not queued here already, oldest first."""
        now = self._clock()
        until = now + self._lease
        taken = await self._store.claims.take_free(
            self.holder, now=now, until=until, everything=everything
        )
        fresh = [delivery for delivery in taken if delivery.id not in self._expires]
        for delivery in taken:
            self._expires[delivery.id] = until
        return fresh

    async def release(self) -> None:
        """Give back every claim on what was not handled, for another replica to take."""
        self._expires.clear()
        await self._store.claims.release(self.holder)
