"""Following a running log: server-sent events carry new lines as they are stored, whole,
numbered and sectioned, and end when the job does; a reconnecting reader resumes."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import ClientResponse

from bot import links
from bot.settings import Settings
from bot.store import Store
from bot.store.deployments import Deployments, DeployState
from bot.store.records import Status
from tests.web.conftest import Client
from tests.web.seed import seed_deployment, seed_run


async def next_event(response: ClientResponse) -> tuple[str, dict[str, Any], str | None]:
    """The next event of a stream: its name, data and id (comments skipped)."""
    name, data, ident = "message", "", None
    while True:
        raw = await response.content.readline()
        assert raw, "the stream ended"
        line = raw.decode().rstrip("\n")
        if not line:
            if data:
                return name, json.loads(data), ident
            continue
        field, _, value = line.partition(": ")
        if field == "event":
            name = value
        elif field == "data":
            data += value
        elif field == "id":
            ident = value


async def running_job(store: Store) -> int:
    seeded = await seed_run(store, "e" * 40, {"test": None})
    return seeded.jobs["test"].id


async def test_new_lines_arrive_whole_numbered_and_in_sections_then_the_end(
    client: Client, store: Store, settings: Settings
) -> None:
    job_id = await running_job(store)
    await store.runs.append_log(job_id, "Cloning\n▶ build\nhalf a li")
    page = await (await client.get(links.job_log_url("", job_id, settings.link_secret))).text()
    assert "half a li" not in page  # the partial line waits for its end
    events_url = page.split('data-events="')[1].split('"')[0].replace("&amp;", "&")
    assert "at=16&line=3&section=step" in events_url
    async with client.get(events_url) as stream:
        assert stream.headers["Content-Type"] == "text/event-stream"
        await store.runs.append_log(
            job_id, "ne\n\x1b[31mred\x1b[0m <b>\n✗ build exited 2 (1.0 s)\n"
        )
        name, data, _ = await next_event(stream)
        assert name == "lines"
        lines = data["lines"]
        assert [line["n"] for line in lines] == [3, 4, 5]
        assert lines[0]["html"] == "half a line"
        assert lines[1]["html"] == '<span class="f1">red</span> &lt;b&gt;'
        assert lines[2]["ends"] is not None
        assert "Failed" in lines[2]["ends"]
        assert lines[2]["took"] == "1.0 s"
        await store.runs.append_log(job_id, "report written")  # no newline: sent at the end
        await store.runs.update_job(job_id, status=Status.COMPLETED, conclusion="failure")
        name, data, _ = await next_event(stream)
        assert name == "lines"
        assert data["lines"][0]["opens"] == {"name": "After the steps", "step": False}
        assert data["lines"][0]["html"] == "report written"
        name, data, _ = await next_event(stream)
        assert name == "done"
        assert data["status"] == "failure"


async def test_a_reconnecting_reader_resumes_after_the_last_event_it_got(
    client: Client, store: Store, settings: Settings
) -> None:
    job_id = await running_job(store)
    token = links.sign("job", job_id, settings.link_secret)
    url = f"/jobs/{job_id}/log/events?token={token}&at=0&line=1"
    await store.runs.append_log(job_id, "one\ntwo\n")
    async with client.get(url) as stream:
        _, data, ident = await next_event(stream)
        assert [line["html"] for line in data["lines"]] == ["one", "two"]
    await store.runs.append_log(job_id, "three\n")
    async with client.get(url, headers={"Last-Event-ID": ident or ""}) as stream:
        _, data, _ = await next_event(stream)
        assert [(line["n"], line["html"]) for line in data["lines"]] == [(3, "three")]


async def test_a_line_longer_than_a_page_shows_is_sent_cut_with_its_count(
    client: Client, store: Store, settings: Settings
) -> None:
    job_id = await running_job(store)
    token = links.sign("job", job_id, settings.link_secret)
    async with client.get(f"/jobs/{job_id}/log/events?token={token}") as stream:
        for _ in range(4):
            await store.runs.append_log(job_id, "w" * 100_000)
        await store.runs.append_log(job_id, "\nnext\n")
        _, data, ident = await next_event(stream)
    first, second = data["lines"]
    assert len(first["html"]) == 5_000
    assert "395,000 more characters" in first["cut"]
    assert (second["n"], second["html"]) == (2, "next")
    assert ident == f"{400_006}-3-other"


async def test_readers_at_different_places_each_get_their_own_lines(
    client: Client, store: Store, settings: Settings
) -> None:
    job_id = await running_job(store)
    token = links.sign("job", job_id, settings.link_secret)
    base = f"/jobs/{job_id}/log/events?token={token}"
    await store.runs.append_log(job_id, "one\ntwo\n")
    async with client.get(base) as first, client.get(base + "&at=4&line=2") as second:
        _, from_top, _ = await next_event(first)
        _, from_two, _ = await next_event(second)
        assert [(i["n"], i["html"]) for i in from_top["lines"]] == [(1, "one"), (2, "two")]
        assert [(i["n"], i["html"]) for i in from_two["lines"]] == [(2, "two")]
        await store.runs.append_log(job_id, "three\n")
        for stream in (first, second):  # now at the same place: the same events
            _, data, ident = await next_event(stream)
            assert [(i["n"], i["html"]) for i in data["lines"]] == [(3, "three")]
            assert ident == "14-4-other"


async def test_a_running_deployment_is_followed_the_same_way(
    client: Client, store: Store, settings: Settings
) -> None:
    record = await seed_deployment(store, "staging", "f" * 40, DeployState.IN_PROGRESS)
    page = await (
        await client.get(links.deployment_log_url("", record.id, settings.link_secret))
    ).text()
    assert "Following the log live" in page
    events_url = page.split('data-events="')[1].split('"')[0].replace("&amp;", "&")
    async with client.get(events_url) as stream:
        await Deployments(store.engine).append_log(record.id, "▶ deploy\nshipping <it>\n")
        _, data, _ = await next_event(stream)
        assert [i["html"] for i in data["lines"]] == ["▶ deploy", "shipping &lt;it&gt;"]
        await Deployments(store.engine).update(record.id, state=DeployState.SUCCESS)
        name, data, _ = await next_event(stream)
        assert (name, data["status"]) == ("done", "success")
