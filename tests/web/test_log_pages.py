"""A job's log page: steps as sections, the failed one open, colours, escaped HTML, line
anchors, breadcrumbs; big and hostile logs rendered safely; the raw download."""

from __future__ import annotations

import re

from bot import links
from bot.settings import Settings
from bot.store import Store
from tests.web.conftest import Client
from tests.web.seed import FAILED_LOG, REPO, seed_run


async def failed_job(store: Store) -> int:
    seeded = await seed_run(store, "a" * 40, {"test": "failure"})
    job = seeded.jobs["test"]
    await store.runs.append_log(job.id, FAILED_LOG)
    return job.id


async def test_the_failed_step_is_the_open_section_and_colours_are_spans(
    client: Client, store: Store, settings: Settings
) -> None:
    job_id = await failed_job(store)
    response = await client.get(links.job_log_url("", job_id, settings.link_secret))
    assert response.status == 200
    page = await response.text()
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    sections = re.findall(r"<details class=\"section\"( open)?( id=\"failed-step\")?", page)
    assert sections == [("", ""), ("", ""), (" open", ' id="failed-step"'), ("", "")]
    assert '<span class="f2">compiled</span>' in page
    assert '<span class="f1 bold">FAILED</span>' in page
    assert "\x1b" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert" not in page
    assert '<div class="line" id="L7"><a class="ln" href="#L7">7</a>' in page
    assert "✗ Failed" in page
    assert "0.4 s" in page


async def test_breadcrumbs_lead_back_to_the_run_the_repository_and_home(
    client: Client, store: Store, settings: Settings
) -> None:
    job_id = await failed_job(store)
    page = await (await client.get(links.job_log_url("", job_id, settings.link_secret))).text()
    crumbs = page.split('aria-label="Breadcrumb"')[1].split("</nav>")[0]
    hrefs = re.findall(r'href="([^"]+)"', crumbs)
    job = await store.runs.job(job_id)
    assert job is not None
    secret = settings.link_secret
    assert hrefs == [
        "/",
        links.repo_url("", REPO, secret).replace("&", "&amp;"),
        links.run_url("", job.run_id, secret),
    ]
    for href in hrefs[1:]:
        assert (await client.get(href.replace("&amp;", "&"))).status == 200


async def test_a_tampered_link_gets_a_page_saying_so_on_every_address(
    client: Client, store: Store
) -> None:
    job_id = await failed_job(store)
    for path in ("log", "log.json", "log.txt", "log/events"):
        response = await client.get(f"/jobs/{job_id}/{path}?token=forged")
        assert response.status == 403, path
        assert "This link is not valid" in await response.text()
    for path in ("/runs/1?token=x", f"/repos/{REPO}", "/deployments/1/log?token=x"):
        assert (await client.get(path)).status == 403


async def test_the_raw_log_is_the_whole_text_never_rendered_as_html(
    client: Client, store: Store, settings: Settings
) -> None:
    job_id = await failed_job(store)
    url = links.job_log_url("", job_id, settings.link_secret).replace("/log?", "/log.txt?")
    response = await client.get(url)
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert await response.text() == FAILED_LOG
    download = await client.get(url + "&download=1")
    assert download.headers["Content-Disposition"].startswith("attachment")


async def test_a_big_log_shows_its_end_with_true_line_numbers_and_a_link_to_all_of_it(
    client: Client, store: Store, settings: Settings
) -> None:
    seeded = await seed_run(store, "b" * 40, {"test": "failure"})
    job_id = seeded.jobs["test"].id
    line = "x" * 99 + "\n"
    for chunk in range(60):  # 60 chunks of 16 000 lines… of 100 characters: 3 MB
        await store.runs.append_log(job_id, line * 500 + ("" if chunk < 59 else "the end\n"))
    response = await client.get(links.job_log_url("", job_id, settings.link_secret))
    page = await response.text()
    assert response.status == 200
    assert len(page) < 2_500_000
    assert "the page shows its last" in page
    assert 'id="L30001"' in page  # the last line: 60 × 500 lines, then "the end"
    assert "the end" in page
    first = int(re.findall(r'id="L(\d+)"', page)[0])
    assert 20_000 < first < 30_001
    assert "/log.txt?token=" in page


async def test_a_line_of_a_megabyte_is_cut_on_the_page_but_whole_in_the_raw_log(
    client: Client, store: Store, settings: Settings
) -> None:
    seeded = await seed_run(store, "c" * 40, {"test": "success"})
    job_id = seeded.jobs["test"].id
    await store.runs.append_log(job_id, "start\n" + "y" * 1_000_000 + "\n")
    url = links.job_log_url("", job_id, settings.link_secret)
    page = await (await client.get(url)).text()
    assert len(page) < 100_000
    assert "the page shows its last" in page  # over the page's budget: its end is shown
    await store.runs.append_log(job_id, "z" * 100_000 + "\nend\n")
    page = await (await client.get(url)).text()
    assert len(page) < 100_000
    assert "95,000 more characters on this line" in page
    assert 'id="L3"' in page
    assert 'id="L4"' in page
    raw = await (await client.get(url.replace("/log?", "/log.txt?"))).text()
    assert len(raw) == 1_100_012


async def test_undecodable_output_and_control_characters_render_safely(
    client: Client, store: Store, settings: Settings
) -> None:
    seeded = await seed_run(store, "d" * 40, {"test": "success"})
    job_id = seeded.jobs["test"].id
    await store.runs.append_log(job_id, "bad \ufffd\ufffd bytes\x00\x07\x1b]0;title\x07 ok\r\n")
    page = await (await client.get(links.job_log_url("", job_id, settings.link_secret))).text()
    assert "bad \ufffd\ufffd bytes ok" in page
    assert "\x00" not in page
    assert "\x07" not in page


async def test_absurd_addresses_get_a_page_not_a_500(client: Client) -> None:
    huge = "9" * 30
    for path in (
        f"/jobs/{huge}/log",
        f"/jobs/{huge}/log/events",
        f"/runs/{huge}",
        f"/deployments/{huge}/log",
        f"/jobs/1/log?token={'x' * 3_000}",
        f"/jobs/1/log/events?token=x&at={huge}&line=-5&section=<b>",
        "/repos/octo/hello?token=x&pr=%00&status=%ff",
    ):
        response = await client.get(path)
        assert response.status in (403, 404), path
