"""The recovery pass's decisions, on the delivery log as GitHub documents it."""

from __future__ import annotations

from typing import Any

import pytest

from bot.core.commands import CommandName
from bot.core.recovery import (
    LOOK_BACK_SECONDS,
    STALE_COMMAND_SECONDS,
    LoggedDelivery,
    is_read_only,
    is_stale,
    parse_time,
    read_page,
    to_recover,
)

# GitHub's example for `GET /app/hook/deliveries` (components/examples/hook-delivery-items
# of @octokit/openapi 23.0.2): an original delivery and its redelivery, same GUID.
EXAMPLE: list[dict[str, Any]] = [
    {
        "id": 12345678,
        "guid": "0b989ba4-242f-11e5-81e1-c7b6966d2516",
        "delivered_at": "2019-06-03T00:57:16Z",
        "redelivery": False,
        "duration": 0.27,
        "status": "OK",
        "status_code": 200,
        "event": "issues",
        "action": "opened",
        "installation_id": 123,
        "repository_id": 456,
        "throttled_at": "2019-06-03T00:57:16Z",
    },
    {
        "id": 123456789,
        "guid": "0b989ba4-242f-11e5-81e1-c7b6966d2516",
        "delivered_at": "2019-06-04T00:57:16Z",
        "redelivery": True,
        "duration": 0.28,
        "status": "OK",
        "status_code": 200,
        "event": "issues",
        "action": "opened",
        "installation_id": 123,
        "repository_id": 456,
        "throttled_at": None,
    },
]
NOW = parse_time("2019-06-05T00:00:00Z")


def entry(ident: int, guid: str, *, age: float = 60, event: str = "push") -> LoggedDelivery:
    action = None if event == "push" else "created"
    return LoggedDelivery(ident, guid, NOW - age, event, action, 1, 502)


def test_an_entry_reads_from_githubs_example() -> None:
    first, redelivery = map(LoggedDelivery.from_json, EXAMPLE)
    assert first == LoggedDelivery(
        id=12345678,
        guid="0b989ba4-242f-11e5-81e1-c7b6966d2516",
        delivered_at=1559523436.0,
        event="issues",
        action="opened",
        installation_id=123,
        status_code=200,
    )
    assert (redelivery.guid, redelivery.id) == (first.guid, 123456789)


def test_an_entry_with_nulls_and_garbage_still_reads() -> None:
    garbled = LoggedDelivery.from_json(
        {"id": "x", "delivered_at": "yesterday", "action": None, "installation_id": None}
    )
    assert (garbled.id, garbled.guid, garbled.delivered_at) == (0, "", 0.0)
    assert (garbled.action, garbled.installation_id) == (None, None)


def test_a_page_is_read_down_to_the_point_already_reconciled() -> None:
    page = [entry(30, "c"), entry(20, "b"), entry(10, "a")]
    reading = read_page(page, newest_done=20, now=NOW)
    assert [e.guid for e in reading.newer] == ["c"]
    assert reading.reached_the_point


def test_a_page_all_newer_asks_for_the_next() -> None:
    reading = read_page([entry(30, "c"), entry(20, "b")], newest_done=0, now=NOW)
    assert len(reading.newer) == 2
    assert not reading.reached_the_point


def test_the_walk_stops_at_three_days_whatever_the_point() -> None:
    page = [entry(30, "c"), entry(20, "b", age=LOOK_BACK_SECONDS + 1), entry(10, "a")]
    reading = read_page(page, newest_done=0, now=NOW)
    assert [e.guid for e in reading.newer] == ["c"]
    assert reading.reached_the_point


def test_what_to_recover_oldest_first_once_per_guid_never_recorded_and_handled() -> None:
    entries = [
        entry(50, "redelivered"),
        entry(40, "ignored", event="watch"),
        entry(30, "received"),
        entry(20, "redelivered"),
        entry(10, "missed", event="issue_comment"),
    ]
    chosen = to_recover(
        entries,
        known={"received"},
        is_handled=lambda event, action: event in {"push", "issue_comment"},
    )
    assert [(e.id, e.guid) for e in chosen] == [(10, "missed"), (20, "redelivered")]


@pytest.mark.parametrize(
    ("recovered", "age", "stale"),
    [
        (True, STALE_COMMAND_SECONDS + 1, True),
        (True, STALE_COMMAND_SECONDS - 1, False),
        (False, STALE_COMMAND_SECONDS * 10, False),  # live, however late: not recovered
    ],
)
def test_a_recovered_comment_is_stale_after_a_few_minutes(
    recovered: bool, age: float, stale: bool
) -> None:
    assert is_stale(recovered=recovered, sent_at=NOW - age, now=NOW) is stale


def test_only_status_and_help_are_read_only() -> None:
    assert {name for name in CommandName if is_read_only(name)} == {
        CommandName.STATUS,
        CommandName.HELP,
    }
