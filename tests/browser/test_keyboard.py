"""Acting with the keyboard alone, in Chromium: a writer tabs to "Roll back staging" on the
repository page and presses Enter, and the environment goes back to the commit before.
Every page is built from semantic HTML: one `h1`, headings that do not skip a level,
tables whose columns have header cells, buttons that are buttons, a visible focus."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

from playwright.sync_api import Page, expect

from bot import links
from bot.store.deployments import Deployments, DeployState
from tests.browser.conftest import LiveSite
from tests.browser.test_sign_in import finished
from tests.e2e.test_freeze_deploys import iso
from tests.e2e.test_web_actions import REPO
from tests.helpers import wait_until
from tests.web.seed import FAILED_LOG, seed_deployment, seed_run

DAY = 86_400.0
MAX_TABS = 300  # more stops than any page here has: past it, the control is unreachable


def config(marks: Path) -> dict[str, str]:
    """A green job, staging, and a freeze of production starting next month."""
    text = textwrap.dedent(f"""
        mode: integration
        jobs:
          ok:
            run: echo ok
        deploy:
          environments:
            staging:
              run: echo "$GREENLIGHT_SHA" >> {marks}/staging
            production:
              run: echo "$GREENLIGHT_SHA" >> {marks}/production
        freeze:
          - name: year-end
            from: {iso(time.time() + 20 * DAY)}
            until: {iso(time.time() + 22 * DAY)}
            applies_to: [production]
    """)
    return {".github/greenlight.yml": text.lstrip("\n")}


def deployed(site: LiveSite, count: int) -> None:
    """Wait until `count` deployments of staging have succeeded."""

    async def done() -> bool:
        history = await Deployments(site.store.engine).history(REPO, "staging")
        return sum(d.state == DeployState.SUCCESS for d in history) >= count

    site.call(wait_until(done, deadline=30, message=f"{count} deploys to staging"))


def tab_to(page: Page, name: str) -> None:
    """Press Tab from the top of the page until the control named `name` has the focus."""
    page.locator("body").focus()
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "(() => { const e = document.activeElement;"
            " return e ? (e.innerText || e.value || '').trim() : ''; })()"
        )
        if focused == name:
            return
    raise AssertionError(f"{name!r} cannot be reached with Tab")


def assert_focus_is_visible(page: Page) -> None:
    outline = page.evaluate(
        "(() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, s.outlineWidth]; })()"
    )
    assert outline[0] != "none", f"the focused control shows no outline: {outline}"
    assert outline[1] != "0px", f"the focused control shows no outline: {outline}"


def test_a_writer_rolls_back_with_the_keyboard_alone(github_site: LiveSite, page: Page) -> None:
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
    github.set_permission(REPO, "mona", "write")
    github.oauth.signed_in = "mona"
    page.goto(f"{github_site.url}/auth/login?next=/repos/{REPO}")
    first = github_site.call(github.push(REPO, "main", config(marks)))
    finished(github_site, first)
    second = github_site.call(github.push(REPO, "main", {"b.txt": "b\n"}))
    finished(github_site, second)
    for number, sha in enumerate((first, second), start=1):
        page.goto(f"{github_site.url}/repos/{REPO}")
        page.get_by_role("textbox", name="Environment").fill("staging")
        page.get_by_role("textbox", name="Commit").fill(sha)
        tab_to(page, "Deploy")  # the form's own button, by keyboard too
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", level=1)).to_have_text("Done")
        deployed(github_site, number)

    page.goto(f"{github_site.url}/repos/{REPO}")
    freezes = page.get_by_role("region", name="Freeze windows")
    expect(freezes.get_by_role("row", name="year-end")).to_contain_text("◷ Coming up")
    expect(freezes).to_contain_text("deploys to production")
    expect(page.get_by_role("checkbox", name="Through a freeze window")).not_to_be_checked()
    page.set_viewport_size({"width": 390, "height": 844})  # every part of it, on a phone
    wide = page.evaluate("document.scrollingElement.scrollWidth")
    assert wide <= 390, f"the repository page scrolls sideways ({wide} px)"
    tab_to(page, "Roll back staging")
    assert_focus_is_visible(page)
    assert page.evaluate("document.activeElement.tagName") == "BUTTON"
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Done")
    answer = page.get_by_role("main").get_by_role("paragraph").first
    expect(answer).to_contain_text(f"back from {second[:7]} to {first[:7]}, as @mona asked")
    expect(answer.locator("code")).to_have_count(3)  # the answer's Markdown code, drawn
    expect(page.get_by_role("link", name="Sign in with GitHub")).to_have_count(0)
    deployed(github_site, 3)
    (latest, *_) = github_site.call(Deployments(store.engine).history(REPO, "staging"))
    assert (latest.sha, latest.rollback, latest.requested_by) == (first, True, "mona")
    assert (marks / "staging").read_text().split() == [first, second, first]
    assert page.evaluate(SEMANTICS) == [], "the answer's page"
    page.goto(f"{github_site.url}/")
    assert page.evaluate(SEMANTICS) == [], "the signed-in start page"


SEMANTICS = """
(() => {
  const problems = [];
  const headings = [...document.querySelectorAll("h1, h2, h3, h4, h5, h6")];
  if (document.querySelectorAll("h1").length !== 1) problems.push("not exactly one h1");
  let level = 0;
  for (const h of headings) {
    const next = Number(h.tagName[1]);
    if (next > level + 1) problems.push(`h${next} after h${level}: ${h.textContent.trim()}`);
    level = next;
  }
  for (const table of document.querySelectorAll("table")) {
    const head = table.querySelectorAll("thead th[scope=col]").length;
    if (!head) problems.push("a table without column headers");
  }
  const fake = "[onclick], div[role=button], span[role=button], a:not([href])";
  for (const el of document.querySelectorAll(fake)) {
    problems.push(`a control that is not a button or link: ${el.outerHTML.slice(0, 60)}`);
  }
  for (const field of document.querySelectorAll("input:not([type=hidden]), select")) {
    if (!field.labels || !field.labels.length) problems.push(`an unlabelled field: ${field.name}`);
  }
  for (const el of document.querySelectorAll("[tabindex]")) {
    if (Number(el.getAttribute("tabindex")) > 0) problems.push("a positive tabindex");
  }
  if (!document.querySelector("nav[aria-label] ol li, nav[aria-label] ul li")) {
    problems.push("breadcrumbs are not a list");
  }
  if (!document.querySelector("main")) problems.push("no main landmark");
  const ids = [...document.querySelectorAll("[id]")].map((el) => el.id);
  for (const id of new Set(ids)) {
    if (ids.filter((other) => other === id).length > 1) problems.push(`the id ${id} twice`);
  }
  return problems;
})()
"""


def test_every_page_is_semantic_html(site: LiveSite, page: Page) -> None:
    seeded = site.call(
        seed_run(
            site.store,
            "a" * 40,
            {"lint": "success", "test": "failure", "ship": None},
            needs={"ship": ["lint", "test"]},
        )
    )
    site.call(site.store.runs.append_log(seeded.jobs["test"].id, FAILED_LOG))
    deployment = site.call(seed_deployment(site.store, "staging", "a" * 40, DeployState.SUCCESS))
    secret = site.store_secret
    pages = [
        links.repo_url("", REPO, secret),
        links.run_url("", seeded.run.id, secret),
        links.job_log_url("", seeded.jobs["test"].id, secret),
        links.deployment_log_url("", deployment.id, secret),
    ]
    for path in pages:
        page.goto(site.url + path)
        assert page.evaluate(SEMANTICS) == [], path
    page.goto(site.url + links.run_url("", seeded.run.id, secret))
    jobs = page.locator("ol.stages > li")
    expect(jobs).to_have_count(2)  # the stages are an ordered list, each with its jobs
    expect(jobs.first.locator("ul.jobs > li")).to_have_count(2)
