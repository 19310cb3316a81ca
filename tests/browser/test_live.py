"""Run and repository pages follow what runs without a reload: a job finishing flips its
status (colour, icon and word) on a page left open, within a few seconds."""

from __future__ import annotations

import time

from playwright.sync_api import Page, expect

from bot import links
from bot.store.records import Status
from tests.browser.conftest import LiveSite
from tests.web.seed import REPO, seed_run

DEADLINE_MS = 8_000  # the page asks every two seconds


def finish(site: LiveSite, run_id: int, job_id: int, conclusion: str) -> None:
    """The job ends, and with it the run, as the pipeline records them."""
    store = site.store
    site.call(
        store.runs.update_job(
            job_id, status=Status.COMPLETED, conclusion=conclusion, finished_at=time.time()
        )
    )
    site.call(
        store.runs.update(run_id, now=time.time(), status=Status.COMPLETED, conclusion=conclusion)
    )


def test_a_job_finishing_flips_its_status_on_an_open_run_page(site: LiveSite, page: Page) -> None:
    seeded = site.call(seed_run(site.store, "c" * 40, {"lint": "success", "build": None}))
    run, build = seeded.run, seeded.jobs["build"]
    page.goto(site.url + links.run_url("", run.id, site.store_secret))
    job_badge = page.locator(f'[data-job="{build.id}"] .badge')
    expect(job_badge).to_have_text("● Running")
    expect(page.get_by_role("status")).to_have_text("Updating live while it runs")
    page.evaluate("document.title = 'not reloaded'")  # a reload would reset it

    finish(site, run.id, build.id, "failure")
    expect(job_badge).to_have_text("✗ Failed", timeout=DEADLINE_MS)
    expect(job_badge).to_have_class("badge bad")
    expect(page.locator("h1 .badge")).to_have_text("✗ Failed")
    expect(page.get_by_role("status")).to_contain_text("This run has finished")
    assert page.title() == "not reloaded"


def test_a_run_finishing_flips_its_row_on_an_open_repository_page(
    site: LiveSite, page: Page
) -> None:
    older = site.call(seed_run(site.store, "1" * 40, {"build": "success"})).run
    seeded = site.call(seed_run(site.store, "2" * 40, {"build": None}))
    page.goto(site.url + links.repo_url("", REPO, site.store_secret))
    row = page.locator(f'tr[data-run="{seeded.run.id}"] .badge')
    expect(row).to_have_text("● Running")
    page.evaluate("document.title = 'not reloaded'")

    finish(site, seeded.run.id, seeded.jobs["build"].id, "success")
    expect(row).to_have_text("✓ Success", timeout=DEADLINE_MS)
    expect(row).to_have_class("badge good")
    expect(page.locator(f'tr[data-run="{older.id}"] .badge')).to_have_text("✓ Success")
    expect(page.get_by_role("status")).to_have_text("Nothing is running now.")
    assert page.title() == "not reloaded"


def test_a_new_run_is_announced_on_an_open_repository_page(site: LiveSite, page: Page) -> None:
    site.call(seed_run(site.store, "3" * 40, {"build": None}))
    page.goto(site.url + links.repo_url("", REPO, site.store_secret))
    expect(page.get_by_role("status")).to_have_text("Updating live while it runs")
    site.call(seed_run(site.store, "4" * 40, {"build": None}))
    expect(page.get_by_role("status")).to_contain_text("New runs have started", timeout=DEADLINE_MS)
    page.get_by_role("link", name="show them").click()
    expect(page.locator("tr[data-run]")).to_have_count(2)
