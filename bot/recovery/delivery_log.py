"""The pass over GitHub's delivery log: every delivery Greenlight missed, fetched and handled.

GitHub never retries a failed delivery; it keeps it three days in the app's log. This pass
lists the log newest first back to the point the previous pass reached (kept in the
store), fetches the payload of each delivery the store never recorded, and hands it to
the same dedupe (`store.deliveries.record`, keyed by GUID) and dispatcher as a live
webhook. Fetching rather than asking GitHub to redeliver works while GitHub cannot reach
Greenlight at all (a lost tunnel), costs reads instead of writes, and lets the delivery be
marked as recovered, so handlers re-read the world before they act on it.
https://docs.github.com/en/webhooks/using-webhooks/handling-failed-webhook-deliveries

A pass that fails half way saves nothing: the next one walks the same entries again, and
those already recorded are skipped by GUID, so nothing is handled twice. A walk longer
than `MAX_PAGES` pages saves a cursor and goes on from there on the next pass.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from bot.core.lenient import object_at
from bot.core.recovery import LoggedDelivery, read_page, to_recover
from bot.dispatch.events import summarize
from bot.dispatch.queue import Dispatcher
from bot.github.conditional import AppReads
from bot.github.errors import NotFound
from bot.metrics import Metrics
from bot.store import Store
from bot.store.records import Delivery, RecoveryPoint

log = logging.getLogger("greenlight.recovery")
POINT_NAME = "github-deliveries"
PER_PAGE = 100
MAX_PAGES = 10  # a pass reads at most 1,000 log entries; a longer walk resumes next pass
FETCHES_AT_ONCE = 8  # well under GitHub's 100 concurrent requests
ALWAYS_RECOVERED = frozenset({"installation", "installation_repositories"})


@dataclass
class LogReport:
    """What one pass over the log did."""

    pages: int = 0
    missed: int = 0  # entries past the point that the store never recorded
    recovered: list[str] = field(default_factory=list)  # GUIDs handed to the dispatcher
    skipped: int = 0
    caught_up: bool = True  # False: a cursor was saved, older pages come next pass


@dataclass
class Walk:
    """The entries of one walk back through the log, and where it stopped."""

    entries: list[LoggedDelivery]
    point: RecoveryPoint  # what to save once the entries are handed on


class DeliveryLogPass:
    def __init__(
        self, store: Store, reads: AppReads, dispatcher: Dispatcher[Any], metrics: Metrics
    ) -> None:
        self._store = store
        self._reads = reads
        self._dispatcher = dispatcher
        self._metrics = metrics

    async def run(self, *, now: float) -> LogReport:
        """One pass: walk back, recover what was missed, then save how far it got."""
        report = LogReport()
        point = await self._store.recovery_points.get(POINT_NAME)
        if point is None and await self._store.deliveries.is_empty():
            await self._start_from_now(report, now=now)
            return report
        walk = await self._walk(point or RecoveryPoint(newest_id=0), report, now=now)
        await self._recover(walk.entries, report)
        await self._store.recovery_points.put(POINT_NAME, walk.point, now=now)
        report.caught_up = walk.point.resume_cursor is None
        return report

    async def _start_from_now(self, report: LogReport, *, now: float) -> None:
        """No webhook was ever recorded: nothing can have been missed yet."""
        items, _ = await self._reads.deliveries(cursor=None, per_page=1)
        report.pages = 1
        newest = _entries(items)
        start = newest[0].id if newest else 0
        await self._store.recovery_points.put(POINT_NAME, RecoveryPoint(start), now=now)
        log.info("no webhook deliveries recorded yet: reading GitHub's log from %d on", start)

    async def _walk(self, point: RecoveryPoint, report: LogReport, *, now: float) -> Walk:
        cursor, top = point.resume_cursor, point.resume_top
        entries: list[LoggedDelivery] = []
        while report.pages < MAX_PAGES:
            items, next_cursor = await self._reads.deliveries(cursor=cursor, per_page=PER_PAGE)
            report.pages += 1
            page = _entries(items)
            if top is None and page:
                top = page[0].id  # the newest delivery of a walk from the top
            reading = read_page(page, newest_done=point.newest_id, now=now)
            entries += reading.newer
            if reading.reached_the_point or next_cursor is None:
                return Walk(entries, RecoveryPoint(max(point.newest_id, top or 0)))
            cursor = next_cursor
        log.warning(
            "GitHub's delivery log holds more than %d pages since the last pass; "
            "the older ones are read on the next pass",
            MAX_PAGES,
        )
        return Walk(entries, RecoveryPoint(point.newest_id, resume_cursor=cursor, resume_top=top))

    async def _recover(self, entries: list[LoggedDelivery], report: LogReport) -> None:
        known = await self._store.deliveries.known([entry.guid for entry in entries])
        chosen = to_recover(entries, known=known, is_handled=self._dispatcher.handles)
        report.missed = len(chosen)
        gone: dict[int, bool] = {}
        alive = []
        for entry in chosen:
            if await self._is_gone(entry, gone):
                self._skip(report, entry, "installation gone")
            else:
                alive.append(entry)
        for start in range(0, len(alive), FETCHES_AT_ONCE):
            await self._recover_some(alive[start : start + FETCHES_AT_ONCE], report)

    async def _recover_some(self, entries: list[LoggedDelivery], report: LogReport) -> None:
        """Fetch a few payloads at once, then hand them on oldest first; a fetch that failed
        stops the pass there, after those before it were handed on."""
        fetched = await asyncio.gather(
            *(self._reads.delivery(entry.id) for entry in entries), return_exceptions=True
        )
        for entry, detail in zip(entries, fetched, strict=True):
            if isinstance(detail, NotFound):  # older than GitHub keeps, since it was listed
                self._skip(report, entry, "expired")
            elif isinstance(detail, BaseException):
                raise detail
            else:
                await self._recover_one(entry, detail, report)

    async def _is_gone(self, entry: LoggedDelivery, gone: dict[int, bool]) -> bool:
        """True when the delivery's installation was deleted since (its events still count)."""
        if entry.installation_id is None or entry.event in ALWAYS_RECOVERED:
            return False
        if entry.installation_id not in gone:
            try:
                await self._reads.installation(entry.installation_id)
                gone[entry.installation_id] = False
            except NotFound:
                gone[entry.installation_id] = True
        return gone[entry.installation_id]

    async def _recover_one(self, entry: LoggedDelivery, detail: Any, report: LogReport) -> None:
        request = object_at(detail, "request") if isinstance(detail, dict) else {}
        payload = dict(object_at(request, "payload"))
        if not payload:
            self._skip(report, entry, "unreadable payload")
            return
        action, installation_id, repo = summarize(entry.event, payload)
        delivery = Delivery(
            id=entry.guid,
            event=entry.event,
            action=action,
            installation_id=installation_id,
            repo=repo,
            payload=json.dumps(payload),
            received_at=entry.delivered_at,
            recovered=True,
        )
        if await self._store.deliveries.record(delivery):  # a live copy may have won
            self._dispatcher.submit(delivery, payload)
            report.recovered.append(entry.guid)
            self._metrics.recovered.labels(entry.event).inc()
            log.info(
                "recovered missed delivery %s (%s.%s, %s)",
                entry.guid,
                entry.event,
                action,
                repo,
                extra={"delivery": entry.guid, "repo": repo},
            )

    def _skip(self, report: LogReport, entry: LoggedDelivery, reason: str) -> None:
        report.skipped += 1
        self._metrics.recovery_skipped.labels(reason).inc()
        log.warning(
            "skipped missed delivery %s (%s.%s): %s",
            entry.guid,
            entry.event,
            entry.action,
            reason,
            extra={"delivery": entry.guid},
        )


def _entries(items: Any) -> list[LoggedDelivery]:
    """The page's entries that can be read; one GitHub garbled is logged and left out."""
    entries = []
    for item in items if isinstance(items, list) else []:
        entry = LoggedDelivery.from_json(item) if isinstance(item, dict) else None
        if entry is not None and entry.id and entry.guid and entry.event:
            entries.append(entry)
        else:
            log.warning("skipped an unreadable entry of GitHub's delivery log: %r", item)
    return entries
