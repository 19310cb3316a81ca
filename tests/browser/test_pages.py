"""The pages as a reader uses them, in Chromium: a live log, a failed step, colours,
navigation by clicking, and no sideways scrolling on a phone."""

from __future__ import annotations

import time

from playwright.sync_api import Page, expect

from bot import links
from bot.store.deployments import DeployState
from bot.store.records import Status
from tests.browser.conftest import LiveSite
from tests.web.seed import FAILED_LOG, REPO, seed_deployment, seed_run

ROOMY_LOG = "".join(f"compiling module {n}\n" for n in range(200))


def job_url(site: LiveSite, job_id: int) -> str:
    return site.url + links.job_log_url("", job_id, site.store_secret)


def test_a_running_log_shows_new_lines_and_follows_its_end(site: LiveSite, page: Page) -> None:
    job = site.call(seed_run(site.store, "a" * 40, {"build": None})).jobs["build"]
    site.call(site.store.runs.append_log(job.id, "▶ build\n" + ROOMY_LOG))
    page.goto(job_url(site, job.id))
    expect(page.locator("#L201")).to_be_visible()
    page.evaluate("window.scrollTo(0, document.scrollingElement.scrollHeight)")

    site.call(site.store.runs.append_log(job.id, "fresh line one\nfresh line two\n"))
    expect(page.locator("#L203")).to_contain_text("fresh line two", timeout=2_000)
    assert page.evaluate(
        "window.scrollY + innerHeight >= document.scrollingElement.scrollHeight - 2"
    ), "the view stays at the end while the reader is there"

    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_function("window.scrollY === 0")
    site.call(site.store.runs.append_log(job.id, "while reading above\n"))
    expect(page.locator("#L204")).to_contain_text("while reading above", timeout=2_000)
    assert page.evaluate("window.scrollY") == 0, "a reader who scrolled up is left there"

    site.call(site.store.runs.append_log(job.id, "✓ build (3.0 s)\n"))
    site.call(site.store.runs.update_job(job.id, status=Status.COMPLETED, conclusion="success"))
    expect(page.locator("#status")).to_contain_text("Success", timeout=2_000)
    expect(page.locator("details.section summary").last).to_contain_text("3.0 s")


def test_a_failed_job_opens_on_the_failing_step(site: LiveSite, page: Page) -> None:
    job = site.call(seed_run(site.store, "b" * 40, {"test": "failure"})).jobs["test"]
    noisy_test = FAILED_LOG.replace("running 2 tests\n", "running 200 tests\n" + ROOMY_LOG)
    site.call(site.store.runs.append_log(job.id, noisy_test))
    page.goto(job_url(site, job.id))
    failing = page.locator("#failed-step")
    expect(failing).to_have_attribute("open", "")
    expect(failing.locator("summary")).to_contain_text("test")
    last_line = failing.locator(".line").last
    expect(last_line).to_contain_text("exited 1")
    expect(last_line).to_be_in_viewport()
    assert page.evaluate("window.scrollY") > 0, "the page scrolled down to the failure"

    page.goto(job_url(site, job.id) + "#L2")  # a permalink into a folded, passing step
    expect(page.locator("#L2")).to_be_in_viewport()
    expect(page.locator("#L2")).to_have_class("line target")
    expect(page.locator("#L2").locator("xpath=ancestor::details")).to_have_attribute("open", "")


def test_colours_are_rendered_and_html_in_a_log_is_text(site: LiveSite, page: Page) -> None:
    job = site.call(seed_run(site.store, "c" * 40, {"test": "failure"})).jobs["test"]
    site.call(site.store.runs.append_log(job.id, FAILED_LOG))
    page.goto(job_url(site, job.id))
    failed = page.locator("span.f1.bold", has_text="FAILED")
    expect(failed).to_be_visible()
    red, green, blue = page.evaluate(
        "getComputedStyle(document.querySelector('span.f1')).color.match(/\\d+/g).map(Number)"
    )
    assert red > 200 > green
    assert blue < 150
    expect(page.get_by_text("<script>alert(1)</script>")).to_be_visible()
    assert "\x1b" not in page.locator("#log").inner_text()


def test_breadcrumbs_lead_from_a_log_to_its_run_its_repository_and_home(
    site: LiveSite, page: Page
) -> None:
    site.call(site.store.installations.save(1, "octo", now=1.0))
    site.call(site.store.installations.add_repositories(1, [(10, REPO, False)]))
    job = site.call(seed_run(site.store, "d" * 40, {"test": "failure"})).jobs["test"]
    page.goto(job_url(site, job.id))
    crumbs = page.get_by_role("navigation", name="Breadcrumb")
    crumbs.get_by_role("link", name="Run ddddddd").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("octo/hello @ ddddddd")
    expect(page.get_by_role("link", name="test")).to_be_visible()
    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name=REPO).click()
    expect(page.get_by_role("heading", name="Runs", exact=True)).to_be_visible()
    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name="Home").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Greenlight is running")
    page.get_by_role("link", name=REPO).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(REPO)


def test_no_page_scrolls_sideways_on_a_phone(site: LiveSite, phone: Page) -> None:
    store, secret = site.store, site.store_secret
    site.call(store.installations.save(1, "octo", now=1.0))
    site.call(store.installations.add_repositories(1, [(10, REPO, False)]))
    for index in range(5):
        site.call(
            seed_run(store, f"{index}" * 40, {"build": "success", "test (3.12, debian)": "failure"})
        )
    seeded = site.call(
        seed_run(
            store,
            "e" * 40,
            {"a-rather-long-job-name-for-a-phone": None},
            ref="feature/" + "x" * 60,
            pr_number=7,
        )
    )
    job = seeded.jobs["a-rather-long-job-name-for-a-phone"]
    site.call(
        store.runs.append_log(
            job.id, "▶ build\n" + "a-very-long-word" * 80 + "\n" + "\x1b[31m" + "z " * 300 + "\n"
        )
    )
    deployment = site.call(
        seed_deployment(store, "production-eu-west-1", "e" * 40, DeployState.SUCCESS)
    )
    site.call(Deployments_log(store, deployment.id, "deploying " + "q" * 3000 + "\n"))
    pages = {
        "home": "/",
        "repository": links.repo_url("", REPO, secret),
        "run": links.run_url("", seeded.run.id, secret),
        "job log": links.job_log_url("", job.id, secret),
        "deployment log": links.deployment_log_url("", deployment.id, secret),
        "refusal": f"/jobs/{job.id}/log?token=forged",
    }
    for name, path in pages.items():
        phone.goto(site.url + path)
        expect(phone.locator("main h1")).to_be_visible()
        wide = phone.evaluate("document.scrollingElement.scrollWidth")
        assert wide <= phone.evaluate("innerWidth"), f"the {name} page scrolls sideways ({wide} px)"


async def Deployments_log(store: object, deployment_id: int, text: str) -> None:
    from bot.store.deployments import Deployments

    await Deployments(store.engine).append_log(deployment_id, text)  # type: ignore[attr-defined]


def test_time_is_relative_with_the_exact_moment_on_hover(site: LiveSite, page: Page) -> None:
    seeded = site.call(seed_run(site.store, "f" * 40, {"build": "success"}))
    page.goto(site.url + links.run_url("", seeded.run.id, site.store_secret))
    moment = page.locator("dd time").first
    expect(moment).to_have_text("1 min ago")
    assert moment.get_attribute("title").endswith(" UTC")  # type: ignore[union-attr]
    assert time.gmtime().tm_year == int(moment.get_attribute("title")[:4])  # type: ignore[index]
