"""Signing in with GitHub in Chromium: a private repository's page asks for it, the fake
GitHub's web flow signs the reader in, and the page they wanted opens; someone without
access is refused."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveSite
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
