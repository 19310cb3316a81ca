"""The app's webhook delivery log: list (cursor pagination, newest first), get, redeliver.

https://docs.github.com/en/rest/apps/webhooks
"""

from __future__ import annotations

from aiohttp import web
from yarl import URL

from tests.fakes.delivery import LoggedDelivery
from tests.fakes.server import ApiError, Call, RouteTable, json_response

routes = RouteTable()
CURSOR_PREFIX = "v1_"  # GitHub's cursors look like `v1_12077215967`: opaque, but stable


@routes.add("get", "/app/hook/deliveries")
async def list_deliveries(call: Call) -> web.StreamResponse:
    """One page of the log, newest first; ``Link: rel="next"`` carries the next cursor."""
    entries = _filtered(call, call.fake.outbox.log.kept())
    start = _start(call, entries)
    per_page = min(int(call.query.get("per_page", 30)), 100)
    size = per_page
    if call.fake.delivery_page_limit is not None:  # GitHub sometimes cuts pages short
        size = min(size, call.fake.delivery_page_limit)
    page = entries[start : start + size]
    headers = None
    if start + size < len(entries):
        cursor = f"{CURSOR_PREFIX}{entries[start + size].id}"
        url = URL(call.fake.base_url).join(call.request.rel_url)
        headers = {"Link": f'<{url.update_query(per_page=per_page, cursor=cursor)}>; rel="next"'}
    return json_response([entry.summary() for entry in page], headers=headers)


def _filtered(call: Call, entries: list[LoggedDelivery]) -> list[LoggedDelivery]:
    wanted = call.query.get("status")
    if wanted == "success":
        return [e for e in entries if 200 <= e.status_code < 400]
    if wanted == "failure":
        return [e for e in entries if 400 <= e.status_code < 600]
    return entries


def _start(call: Call, entries: list[LoggedDelivery]) -> int:
    cursor = call.query.get("cursor")
    if cursor is None:
        return 0
    ident = cursor.removeprefix(CURSOR_PREFIX)
    if not cursor.startswith(CURSOR_PREFIX) or not ident.isdigit():
        raise ApiError(400, "Bad request: the cursor is not valid")
    # The first entry at or older than the cursor's: deliveries may have expired since.
    return next((i for i, e in enumerate(entries) if e.id <= int(ident)), len(entries))


@routes.add("get", "/app/hook/deliveries/{delivery_id}")
async def get_delivery(call: Call) -> web.StreamResponse:
    """One delivery with the request GitHub made (headers and payload)."""
    entry = _entry(call)
    if entry.id in call.fake.failing_deliveries:
        raise ApiError(502, "Server Error")
    return json_response(entry.detail())


@routes.add("post", "/app/hook/deliveries/{delivery_id}/attempts")
async def redeliver(call: Call) -> web.StreamResponse:
    """Deliver again (same GUID) in the background; 202 at once."""
    call.fake.outbox.redeliver(_entry(call))
    return json_response({}, 202)


def _entry(call: Call) -> LoggedDelivery:
    ident = call.params["delivery_id"]
    entry = call.fake.outbox.log.get(int(ident)) if ident.isdigit() else None
    if entry is None:
        raise ApiError(404, "Not Found")
    return entry
