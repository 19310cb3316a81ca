"""Freeze windows on a repository's page: those in force now with their end, the next ones
with their start, end and what they hold, in colour and in words, read from the default
branch's config through the fake GitHub; a GitHub fault leaves the page up, saying so."""

from __future__ import annotations

import re
import textwrap
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot import links
from bot.core.freeze import FreezeWindow
from bot.web.app import create_app
from bot.web.freeze_view import READ_SECONDS, WINDOWS, calendar, holds
from bot.web.keys import SETTINGS, STORE
from tests.fakes.github import FakeGitHub
from tests.helpers import make_settings
from tests.web.conftest import Client
from tests.web.seed import seed_run
from tests.web.test_run_and_repo_pages import remember_payload

REPO = "octo/hello"
# Wednesday 2026-12-02 12:00 UTC: the service's clock in these tests.
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC).timestamp()
HOUR = 3600.0
CONTENTS = "/repos/{owner}/{repo}/contents/{path}"
CONFIG = textwrap.dedent("""
    jobs:
      ok:
        run: echo ok
    deploy:
      environments:
        staging: {run: echo staging}
        production: {run: echo production}
    freeze:
      - name: release
        from: 2026-12-02T09:00:00Z
        until: 2026-12-02T15:30:00Z
        applies_to: [production]
      - name: weekend
        cron: "0 18 * * FRI"
        duration: 62h
        timezone: Europe/Berlin
        applies_to: [merge, production]
      - name: holidays
        from: 2026-12-24T00:00:00Z
        until: 2026-12-27T00:00:00Z
      - name: next-year
        from: 2027-06-01T00:00:00Z
        until: 2027-06-02T00:00:00Z
""")


@pytest.fixture
async def service(fake_github: FakeGitHub, tmp_path: Path) -> AsyncIterator[Client]:
    """Greenlight on a fixed clock, with a public repository whose main has `CONFIG`."""
    fake = fake_github
    repo = fake.create_repo(REPO, {".github/greenlight.yml": CONFIG})
    installation = fake.world.installation_for(REPO, fake.app_id)
    assert installation is not None
    settings = make_settings(
        tmp_path,
        fake.private_key_pem.decode(),
        GITHUB_API_URL=fake.base_url,
        GITHUB_APP_ID=str(fake.app_id),
    )
    async with TestClient(TestServer(create_app(settings, clock=lambda: NOW))) as client:
        store = client.app[STORE]
        await store.installations.save(installation.id, "octo", now=1.0)
        await store.installations.add_repositories(installation.id, [(repo.id, REPO, False)])
        yield client


def freeze_rows(page: str) -> list[str]:
    table = page.split('<table class="cards freezes">')[1].split("</table>")[0]
    return re.findall(r"<tr class=\"\w+\">.*?</tr>", table, re.S)


async def test_the_page_shows_the_window_in_force_and_the_next_ones(
    service: Client, fake_github: FakeGitHub
) -> None:
    url = links.repo_url("", REPO, service.app[SETTINGS].link_secret)
    page = await (await service.get(url)).text()
    rows = freeze_rows(page)
    assert len(rows) == 3  # next June's is beyond the month ahead
    release, weekend, holidays = rows
    assert '<tr class="frozen">' in release
    assert "❄ Frozen now" in release  # in words and an icon, not colour alone
    assert 'class="badge bad"' in release
    assert "Wed 2026-12-02 15:30 UTC" in release
    assert "(in 3 h)" in release  # its end, from now
    assert "deploys to production" in release
    assert '<tr class="upcoming">' in weekend
    assert "◷ Coming up" in weekend
    assert "Fri 2026-12-04 17:00 UTC" in weekend  # 18:00 in Berlin
    assert "Mon 2026-12-07 07:00 UTC" in weekend  # 62 h later
    assert "merges and deploys to production" in weekend
    assert "merges and every deploy" in holidays
    assert "next-year" not in page
    requests = fake_github.request_counts[("GET", CONTENTS)]
    assert requests == 1
    await service.get(url)
    again = fake_github.request_counts[("GET", CONTENTS)]
    assert again == requests  # remembered: a page refreshing itself costs GitHub nothing


async def test_a_github_fault_leaves_the_page_up_and_says_why_the_windows_are_missing(
    service: Client, fake_github: FakeGitHub
) -> None:
    fake_github.fail_next("get", CONTENTS, times=100)
    url = links.repo_url("", REPO, service.app[SETTINGS].link_secret)
    started = time.monotonic()
    answer = await service.get(url)
    assert answer.status == 200
    # Not held for the client's whole retry budget (a minute of back-off): a page waits
    # a few seconds for GitHub at most.
    assert time.monotonic() - started < READ_SECONDS + 2
    page = await answer.text()
    assert "GitHub could not be asked for the freeze windows just now" in page
    assert '<table class="cards freezes">' not in page
    assert not service.app[WINDOWS]  # not remembered: asked again next time


def test_the_calendar_of_windows() -> None:
    always = FreezeWindow("always", starts=NOW - HOUR, ends=NOW + HOUR)
    later = FreezeWindow("later", applies_to=("staging",), starts=NOW + HOUR, ends=NOW + 2 * HOUR)
    past = FreezeWindow("past", starts=NOW - 2 * HOUR, ends=NOW - HOUR)
    shown = calendar((later, always, past), NOW)
    assert [(s.name, s.in_force, s.key) for s in shown.spans] == [
        ("always", True, "frozen"),
        ("later", False, "upcoming"),
    ]
    assert shown.configured == 3
    assert holds(later) == "deploys to staging"
    assert holds(FreezeWindow("m", applies_to=("merge",))) == "merges"


async def test_a_push_that_edits_the_windows_shows_at_once(
    service: Client, fake_github: FakeGitHub
) -> None:
    url = links.repo_url("", REPO, service.app[SETTINGS].link_secret)
    assert len(freeze_rows(await (await service.get(url)).text())) == 3
    edited = CONFIG.replace("name: release", "name: hotfix-only")
    sha = fake_github.commit(REPO, "main", {".github/greenlight.yml": edited})
    store = service.app[STORE]
    await seed_run(store, sha, {"ok": "success"}, repo=REPO)
    await remember_payload(store, "push", {"after": sha, "repository": {"default_branch": "main"}})
    page = await (await service.get(url)).text()
    assert "hotfix-only" in freeze_rows(page)[0]  # read at the newest build, not remembered
    assert "release" not in page
