"""Signing in with GitHub in Chromium: a private repository's page asks for it, the fake
GitHub's web flow signs the reader in, and the page they wanted opens; someone without
access is refused; a writer re-runs a failed job and deploys it by clicking."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from bot.store.records import Status
from tests.browser.conftest import LiveSite
from tests.e2e.test_web_actions import REPO, config
from tests.helpers import wait_until
from tests.web.seed import seed_run

PRIVATE = "octo/secret-plans"


def private_repository(site: LiveSite) -> None:
    """A private repository, installed, with one run, known to the store."""
    github = site.github
    repo = github.create_repo(PRIVATE, {"README.md": "hi\n"}, private=True)
    installation = github.world.installation_for(PRIVATE, github.app_id)
    assert installation is not None
    store = site.store
    site.call(store.installations.save(installation.id, "octo", now=1.0))
    site.call(store.installations.add_repositories(installation.id, [(repo.id, PRIVATE, True)]))
    site.call(seed_run(store, "a" * 40, {"build": "success"}, repo=PRIVATE))


def test_a_reader_signs_in_from_the_refusal_and_lands_on_the_page(
    github_site: LiveSite, page: Page
) -> None:
    private_repository(github_site)
    github_site.github.set_permission(PRIVATE, "mona", "read")
    github_site.github.oauth.signed_in = "mona"
    page.goto(f"{github_site.url}/repos/{PRIVATE}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to see this page")
    page.get_by_role("link", name="Sign in with GitHub").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(PRIVATE)
    assert page.url == f"{github_site.url}/repos/{PRIVATE}"
    expect(page.get_by_text("Signed in as mona")).to_be_visible()
    page.set_viewport_size({"width": 390, "height": 844})  # signed in, on a phone
    wide = page.evaluate("document.scrollingElement.scrollWidth")
    assert wide <= 390, f"the signed-in page scrolls sideways ({wide} px)"
    page.get_by_role("link", name="Home").click()
    expect(page.get_by_role("link", name=PRIVATE)).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("link", name=PRIVATE)).to_have_count(0)


def test_someone_without_access_is_refused_after_signing_in(
    github_site: LiveSite, page: Page
) -> None:
    private_repository(github_site)
    github_site.github.oauth.signed_in = "eve"
    page.goto(f"{github_site.url}/repos/{PRIVATE}")
    page.get_by_role("link", name="Sign in with GitHub").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You cannot see this repository")
    expect(page.get_by_text("Signed in as eve")).to_be_visible()


def test_a_writer_reruns_a_failed_job_and_deploys_it_by_clicking(
    github_site: LiveSite, page: Page
) -> None:
    github = github_site.github
    marks = github.root / "marks"
    marks.mkdir(parents=True)
    repo = github.create_repo(REPO, {"README.md": "hi\n"})
    installation = github.world.installation_for(REPO, github.app_id)
    assert installation is not None
    store = github_site.store
    github_site.call(store.installations.save(installation.id, "octo", now=1.0))
    github_site.call(
        store.installations.add_repositories(installation.id, [(repo.id, REPO, False)])
    )
    sha = github_site.call(github.push(REPO, "main", config(marks)))
    github.set_permission(REPO, "mona", "write")
    github.oauth.signed_in = "mona"

    page.goto(f"{github_site.url}/")
    page.get_by_role("link", name="Sign in with GitHub").first.click()
    page.get_by_role("link", name=REPO).click()
    finished(github_site, sha)
    page.reload()
    page.get_by_role("link", name=sha[:7]).first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Failed")
    page.get_by_role("button", name="Re-run failed jobs").click()
    expect(page.get_by_text("Running again, as asked by @mona: flaky.")).to_be_visible()
    finished(github_site, sha)
    page.get_by_role("link", name="Go back").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Success")

    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name=REPO).click()
    page.get_by_label("Environment").fill("staging")
    page.get_by_role("button", name="Deploy", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Done")
    expect(page.get_by_text("staging")).to_be_visible()


def finished(site: LiveSite, sha: str) -> None:
    """Wait until the run of `sha` has finished (every job of its latest attempts)."""

    async def done() -> bool:
        run = await site.store.runs.for_sha(REPO, sha)
        return run is not None and run.status == Status.COMPLETED

    site.call(wait_until(done, deadline=30, message=f"the run of {sha[:7]}"))
