"""The statuses a run's or repository's page polls while something runs: readable with the
page's own signed token only, and saying when there is nothing left to follow."""

from __future__ import annotations

from bot import links
from bot.settings import Settings
from bot.store import Store
from tests.web.conftest import Client
from tests.web.seed import REPO, seed_run


async def test_a_running_run_page_links_its_statuses_and_they_say_what_runs(
    client: Client, store: Store, settings: Settings
) -> None:
    seeded = await seed_run(store, "a" * 40, {"lint": "success", "build": None})
    run = seeded.run
    page = await (await client.get(links.run_url("", run.id, settings.link_secret))).text()
    token = links.sign("run", run.id, settings.link_secret)
    assert f'data-live="/runs/{run.id}/live?token={token}"' in page
    assert '<script src="/static/live.js" defer></script>' in page
    answer = await client.get(f"/runs/{run.id}/live?token={token}")
    assert answer.status == 200
    assert answer.headers["Cache-Control"] == "no-store"
    data = await answer.json()
    assert data["running"] is True
    build = data["badges"]["job"][str(seeded.jobs["build"].id)]
    assert build == {"key": "in_progress", "tone": "busy", "icon": "●", "word": "Running"}
    assert data["badges"]["run"][str(run.id)]["key"] == "in_progress"


async def test_statuses_need_the_pages_token(
    client: Client, store: Store, settings: Settings
) -> None:
    run = (await seed_run(store, "b" * 40, {"build": None})).run
    other = links.sign("run", run.id + 1, settings.link_secret)
    for path in (f"/runs/{run.id}/live", f"/runs/{run.id}/live?token={other}",
                 f"/repos/{REPO}/live?token=nope", f"/runs/{run.id + 99}/live"):  # fmt: skip
        assert (await client.get(path)).status in {403, 404}, path


async def test_a_finished_repository_page_does_not_poll(
    client: Client, store: Store, settings: Settings
) -> None:
    await seed_run(store, "c" * 40, {"build": "success"})
    url = links.repo_url("", REPO, settings.link_secret)
    page = await (await client.get(url)).text()
    assert "data-live=" not in page
    assert "live.js" not in page
    running = (await seed_run(store, "d" * 40, {"build": None}, ref="feature")).run
    page = await (await client.get(url + "&branch=feature")).text()
    token = links.sign("repo", REPO, settings.link_secret)
    live = f"/repos/{REPO}/live?token={token}&amp;branch=feature"
    assert f'data-live="{live}"' in page
    data = await (await client.get(live.replace("&amp;", "&"))).json()
    assert data["running"] is True
    assert list(data["badges"]["run"]) == [str(running.id)]  # the page's filter, kept
    assert data["newest"] == running.id
