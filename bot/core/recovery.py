"""Decisions of the recovery pass over GitHub's delivery log, and about what it recovers.

GitHub keeps an app's deliveries for three days and never retries a failed one; the log
lists them newest first. These functions decide, from one page of the log and what the
store already holds, which deliveries to fetch, when the walk back is over, and whether a
recovered command is too old to carry out. No I/O and no clock: `now` comes in.
https://docs.github.com/en/webhooks/using-webhooks/handling-failed-webhook-deliveries

Judgement calls:
- A delivery counts as received when its GUID is in the store, whatever GitHub recorded
  (an answer slower than GitHub's 10 s shows as failed there, yet it was recorded here).
  One missing from the store is recovered whether GitHub says it failed or not.
- The log is read back to the newest id the previous pass reached, or three days (what
  GitHub keeps), whichever is nearer. Entries a few seconds older than three days may
  still be listed; they are skipped, as GitHub may drop them before they are fetched.
- A recovered command older than `STALE_COMMAND_SECONDS` that would change something is
  not carried out: its author wrote it for a state that may be gone. `/status` and
  `/help` only say how things are now, so they are answered whatever their age.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.core.commands import CommandName
from bot.core.lenient import Json, number_at, optional_text_at, text_at

LOOK_BACK_SECONDS = 3 * 86_400  # GitHub keeps deliveries three days
STALE_COMMAND_SECONDS = 5 * 60
READ_ONLY_COMMANDS = frozenset({CommandName.STATUS, CommandName.HELP})


@dataclass(frozen=True)
class LoggedDelivery:
    """One entry of `GET /app/hook/deliveries` (an attempt; a redelivery repeats the GUID)."""

    id: int
    guid: str  # the X-GitHub-Delivery of the original delivery
    delivered_at: float  # seconds since the epoch
    event: str
    action: str | None
    installation_id: int | None
    status_code: int

    @classmethod
    def from_json(cls, data: Json) -> LoggedDelivery:
        installation = data.get("installation_id") if isinstance(data, dict) else None
        return cls(
            id=number_at(data, "id"),
            guid=text_at(data, "guid"),
            delivered_at=parse_time(text_at(data, "delivered_at")),
            event=text_at(data, "event"),
            action=optional_text_at(data, "action"),
            installation_id=installation if isinstance(installation, int) else None,
            status_code=number_at(data, "status_code"),
        )


def parse_time(text: str) -> float:
    """GitHub's `2021-05-12T20:33:44Z` as seconds since the epoch (0 when unreadable)."""
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


@dataclass(frozen=True)
class PageReading:
    """What one page of the log holds for this pass."""

    newer: tuple[LoggedDelivery, ...]  # entries past the point, newest first
    reached_the_point: bool  # the walk back is over: no older page is needed


def read_page(page: Sequence[LoggedDelivery], *, newest_done: int, now: float) -> PageReading:
    """Split a page at the point already reconciled and at GitHub's three days."""
    oldest_kept = now - LOOK_BACK_SECONDS
    newer: list[LoggedDelivery] = []
    for entry in page:
        if entry.id <= newest_done or entry.delivered_at < oldest_kept:
            return PageReading(tuple(newer), reached_the_point=True)
        newer.append(entry)
    return PageReading(tuple(newer), reached_the_point=False)


def to_recover(
    entries: Iterable[LoggedDelivery],
    *,
    known: set[str],
    is_handled: Callable[[str, str | None], bool],
) -> list[LoggedDelivery]:
    """The deliveries to fetch, oldest first: one attempt per GUID never recorded, for an
    event and action some handler listens to."""
    chosen: dict[str, LoggedDelivery] = {}
    for entry in sorted(entries, key=lambda e: e.id):
        if entry.guid in known or entry.guid in chosen or not entry.guid:
            continue
        if is_handled(entry.event, entry.action):
            chosen[entry.guid] = entry
    return list(chosen.values())


def is_read_only(name: CommandName) -> bool:
    """True for the commands that only say how things are (`/status`, `/help`)."""
    return name in READ_ONLY_COMMANDS


def is_stale(*, recovered: bool, sent_at: float | None, now: float) -> bool:
    """True when a recovered comment is too old for its commands that would act."""
    return recovered and sent_at is not None and now - sent_at > STALE_COMMAND_SECONDS
