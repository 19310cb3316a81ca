"""A run's page (stages of `needs`, matrix grouped, links to GitHub) and a repository's
(runs with filters, charts drawn as SVG, environments with what is live and rollbacks)."""

from __future__ import annotations

import json
import re
import time

from bot import links
from bot.settings import Settings
from bot.store import Store
from bot.store.deployments import DeployState
from bot.store.records import Delivery
from tests.web.conftest import Client
from tests.web.seed import REPO, seed_deployment, seed_run


async def remember_payload(store: Store, event: str, payload: dict[str, object]) -> None:
    """A delivery as the webhook endpoint records it."""
    delivery = Delivery(
        str(time.monotonic_ns()), event, "opened", 1, REPO, json.dumps(payload), time.time()
    )
    await store.deliveries.record(delivery)
    await store.deliveries.flush()


async def test_a_run_shows_its_jobs_in_stages_with_matrix_combinations_grouped(
    client: Client, store: Store, settings: Settings
) -> None:
    seeded = await seed_run(
        store,
        "f" * 40,
        {"lint": "success", "test (3.11)": "success", "test (3.12)": "failure", "ship": None},
        ref="feature",
        pr_number=12,
        needs={"ship": ["lint", "test"]},
        base_names={"test (3.11)": "test", "test (3.12)": "test"},
    )
    await remember_payload(store, "pull_request", {
        "number": 12,
        "pull_request": {"title": "Make <it> faster", "head": {"sha": "f" * 40}},
        "repository": {"default_branch": "main"},
        "sender": {"login": "mona"},
    })  # fmt: skip
    response = await client.get(links.run_url("", seeded.run.id, settings.link_secret))
    assert response.status == 200
    page = await response.text()
    stages = page.split('<li class="stage">')[1:]
    assert len(stages) == 2
    assert "lint" in stages[0]
    assert "test (3.12)" in stages[0]
    assert "ship" not in stages[0]
    assert "ship" in stages[1]
    assert '<span class="name">test</span> <span class="count">2 jobs</span>' in stages[0]
    assert "✗ Failed" in page
    assert "● Running" in page
    assert "✓ Success" in page
    assert 'href="https://github.example/octo/hello/pull/12">#12 Make &lt;it&gt; faster' in page
    assert f'href="https://github.example/octo/hello/commit/{"f" * 40}"' in page
    assert "mona" in page


async def test_a_repository_lists_runs_filters_them_and_charts_the_default_branch(
    client: Client, store: Store, settings: Settings
) -> None:
    for index, outcome in enumerate(["success", "failure", "success"]):
        await seed_run(store, f"{index}" * 40, {"build": outcome, "test": "success"})
    await seed_run(store, "9" * 40, {"build": "success"}, ref="feature", pr_number=3)
    url = links.repo_url("", REPO, settings.link_secret)
    page = await (await client.get(url)).text()
    chart = page.split('<figure class="chart">')[1].split("</figure>")[0]
    assert chart.count("<rect") == 3  # the default branch's runs only
    assert chart.count('<rect class="bad"') == 1
    assert chart.count('<text class="bad"') == 1  # and an icon: not colour alone
    trends = page.split('<table class="trends">')[1].split("</table>")[0]
    assert trends.count("<polyline") == 2  # build and test
    runs = page.split('class="cards runs"')[1]
    assert runs.count("<tr") == 1 + 4
    filtered = await (await client.get(url + "&status=failure")).text()
    assert filtered.split('class="cards runs"')[1].count("<tr") == 1 + 1
    by_pr = await (await client.get(url + "&pr=%233")).text()
    assert by_pr.split('class="cards runs"')[1].count("<tr") == 1 + 1
    by_branch = await (await client.get(url + "&branch=nope&pr=x&status=%3Cb%3E")).text()
    assert "No runs match this filter." in by_branch


async def test_a_repository_shows_what_is_live_and_where_a_rollback_goes(
    client: Client, store: Store, settings: Settings
) -> None:
    older = await seed_deployment(store, "production", "1" * 40, DeployState.SUCCESS)
    await seed_deployment(store, "production", "2" * 40, DeployState.FAILURE)
    live = await seed_deployment(store, "production", "3" * 40, DeployState.SUCCESS)
    await seed_deployment(store, "staging", "3" * 40, DeployState.SUCCESS)
    page = await (await client.get(links.repo_url("", REPO, settings.link_secret))).text()
    environments = page.split('id="live"')[1].split("</table>")[0]
    rows = re.findall(r"<tr><th scope=\"row\" data-label=\"Environment\">(\w+)</th>(.*?)</tr>",
                      environments, re.S)  # fmt: skip
    assert [name for name, _ in rows] == ["production", "staging"]
    production = rows[0][1]
    assert f"/deployments/{live.id}/log" in production
    assert "3333333" in production
    assert f"deployment {older.id}</a>" in production
    assert "no earlier success" in rows[1][1]
    history = page.split("Deploy history")[1].split("</table>")[0]
    assert history.count("rollback target") == 1


def pull_request_payload(action: str, title: str, updated_at: str) -> dict[str, object]:
    return {
        "action": action,
        "number": 12,
        "pull_request": {"title": title, "updated_at": updated_at, "head": {"sha": "e" * 40}},
        "repository": {"default_branch": "main"},
        "sender": {"login": "mona"},
    }


async def test_a_renamed_pull_request_shows_its_new_title_even_if_an_old_payload_comes_late(
    client: Client, store: Store, settings: Settings
) -> None:
    seeded = await seed_run(store, "e" * 40, {"build": "success"}, ref="feature", pr_number=12)
    opened = pull_request_payload("opened", "Frist draft", "2026-11-30T10:00:00Z")
    await remember_payload(store, "pull_request", opened)
    edited = pull_request_payload("edited", "Speed up <the> build", "2026-11-30T11:00:00Z")
    await remember_payload(store, "pull_request", edited)
    # The opening payload again, received after the edit (redelivered, or recovered from
    # GitHub's delivery log): it must not put the old title back.
    await remember_payload(store, "pull_request", opened)
    run_page = await (
        await client.get(links.run_url("", seeded.run.id, settings.link_secret))
    ).text()
    repo_page = await (await client.get(links.repo_url("", REPO, settings.link_secret))).text()
    for page in (run_page, repo_page):
        assert "#12 Speed up &lt;the&gt; build" in page
        assert "Frist draft" not in page


async def test_a_pull_request_run_without_any_stored_payload_shows_its_number(
    client: Client, store: Store, settings: Settings
) -> None:
    seeded = await seed_run(store, "d" * 40, {"build": "failure"}, ref="fix", pr_number=7)
    run_page = await client.get(links.run_url("", seeded.run.id, settings.link_secret))
    assert run_page.status == 200
    assert 'href="https://github.example/octo/hello/pull/7">#7</a> (fix)' in await run_page.text()
    repo_page = await client.get(links.repo_url("", REPO, settings.link_secret))
    assert repo_page.status == 200
    assert '<span class="pr">#7</span>' in await repo_page.text()
