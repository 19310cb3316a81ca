"""Acting from the web pages, signed in through the fake GitHub's OAuth flow: a reader sees
no buttons and is refused, a forged form is refused, a writer re-runs a failed job and
deploys a commit, each recorded with who asked."""

from __future__ import annotations

import re
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot import links
from bot.store.deployments import Deployments
from bot.store.records import Status
from tests.e2e.conftest import Greenlight, start_greenlight
from tests.fakes.github import FakeGitHub
from tests.fakes.routes_oauth import client_secret
from tests.helpers import wait_until

REPO = "octo/hello"
PUBLIC_URL = "http://greenlight.test"


@pytest.fixture
async def signing(fake_github: FakeGitHub, tmp_path: Path) -> AsyncIterator[Greenlight]:
    """Greenlight with "Sign in with GitHub" through the fake."""
    fake_github.oauth.callback_urls = [f"{PUBLIC_URL}/auth/callback"]
    server = await start_greenlight(
        fake_github,
        tmp_path,
        GITHUB_URL=fake_github.base_url,
        GITHUB_CLIENT_ID=fake_github.github_app.client_id,
        GITHUB_CLIENT_SECRET=client_secret(fake_github.github_app),
    )
    try:
        yield Greenlight(fake_github, server, tmp_path)
    finally:
        await fake_github.settle()
        await server.close()


def config(marks: Path) -> dict[str, str]:
    """A job that fails the first time only, and a staging deploy that records its SHA."""
    text = textwrap.dedent(f"""
        mode: integration
        jobs:
          flaky:
            run: test -e {marks}/second || {{ touch {marks}/second; exit 1; }}
        deploy:
          environments:
            staging:
              run: echo "$GREENLIGHT_SHA" >> {marks}/staging
    """)
    return {".github/greenlight.yml": text.lstrip("\n")}


async def failed_run(greenlight: Greenlight) -> tuple[int, str]:
    """A push to main whose one job failed; the repository known to the store."""
    fake = greenlight.fake
    repo = fake.create_repo(REPO, {"README.md": "hi\n"})
    installation = fake.world.installation_for(REPO, fake.app_id)
    assert installation is not None
    await greenlight.store.installations.save(installation.id, "octo", now=1.0)
    await greenlight.store.installations.add_repositories(installation.id, [(repo.id, REPO, False)])
    marks = greenlight.tmp_path / "marks"
    marks.mkdir()
    sha = await fake.push(REPO, "main", config(marks))
    run = await greenlight.run_for(REPO, sha)
    assert run.conclusion == "failure"
    return run.id, sha


async def signed_in(greenlight: Greenlight, login: str) -> aiohttp.ClientSession:
    """A browser session that went through GitHub's web flow as `login`."""
    greenlight.fake.oauth.signed_in = login
    session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    url = greenlight.server.make_url
    start = await session.get(url("/auth/login"), allow_redirects=False)
    at_github = await session.get(start.headers["Location"], allow_redirects=False)
    back = at_github.headers["Location"].removeprefix(PUBLIC_URL)
    assert (await session.get(url(back), allow_redirects=False)).status == 302
    return session


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None
    return found[1]


async def test_a_reader_sees_no_buttons_and_cannot_act(signing: Greenlight) -> None:
    run_id, _ = await failed_run(signing)
    signing.fake.set_permission(REPO, "rita", "read")
    url = signing.server.make_url
    async with await signed_in(signing, "rita") as rita:
        page = await (await rita.get(url(f"/runs/{run_id}"))).text()
        assert "Signed in as <strong>rita</strong>" in page
        assert "Re-run failed jobs" not in page
        refused = await rita.post(url(f"/runs/{run_id}/rerun"), data={"csrf": csrf_of(page)})
        assert refused.status == 403
        assert "write access" in await refused.text()
        forged = await rita.post(url(f"/runs/{run_id}/rerun"), data={"csrf": "forged"})
        assert forged.status == 403
        assert "was not sent from Greenlight" in await forged.text()
    secret = signing.context.settings.link_secret
    async with aiohttp.ClientSession() as stranger:
        signed = url(links.run_url("", run_id, secret).replace("?", "/rerun?"))
        assert (await stranger.post(signed, data={"csrf": "x"})).status == 403
    jobs = await signing.store.runs.jobs(run_id)
    assert [job.attempt for job in jobs] == [1]


async def test_a_writer_reruns_the_failed_job_and_deploys_it_from_the_pages(
    signing: Greenlight,
) -> None:
    run_id, sha = await failed_run(signing)
    signing.fake.set_permission(REPO, "mona", "write")
    url = signing.server.make_url
    async with await signed_in(signing, "mona") as mona:
        page = await (await mona.get(url(f"/runs/{run_id}"))).text()
        assert "Re-run failed jobs" in page
        done = await mona.post(url(f"/runs/{run_id}/rerun"), data={"csrf": csrf_of(page)})
        assert done.status == 200
        assert "Running again, as asked by @mona: flaky." in await done.text()

        async def green() -> bool:
            run = await signing.store.runs.get(run_id)
            return run is not None and run.status == Status.COMPLETED

        await wait_until(green, deadline=30, message="the re-run")
        (job,) = await signing.store.runs.jobs(run_id)
        assert (job.attempt, job.conclusion) == (2, "success")
        assert (await signing.log(job)).startswith("Re-run by @mona from the web page.\n")

        repo_page = await (await mona.get(url(f"/repos/{REPO}"))).text()
        assert f'value="{sha[:12]}"' in repo_page  # the green commit, ready to deploy
        form = {"csrf": csrf_of(repo_page), "environment": "staging", "sha": sha[:12]}
        deployed = await mona.post(url(f"/repos/{REPO}/deploy"), data=form)
        assert deployed.status == 200, await deployed.text()
        (record,) = await Deployments(signing.store.engine).history(REPO, "staging")
        assert (record.sha, record.requested_by) == (sha, "mona")
        unknown = await mona.post(
            url(f"/repos/{REPO}/deploy"), data={**form, "environment": "moon"}
        )
        assert unknown.status == 409
        assert "Not deployed" in await unknown.text()


async def test_a_writer_cancels_a_running_run_and_is_told_why_a_rollback_cannot_happen(
    signing: Greenlight,
) -> None:
    fake = signing.fake
    repo = fake.create_repo(REPO, {"README.md": "hi\n"})
    installation = fake.world.installation_for(REPO, fake.app_id)
    assert installation is not None
    await signing.store.installations.save(installation.id, "octo", now=1.0)
    await signing.store.installations.add_repositories(installation.id, [(repo.id, REPO, False)])
    slow = "mode: integration\njobs:\n  slow:\n    run: sleep 60\n"
    sha = await fake.push(REPO, "main", {".github/greenlight.yml": slow})

    async def running() -> bool:
        run = await signing.store.runs.for_sha(REPO, sha)
        return run is not None and any(
            job.status == Status.IN_PROGRESS for job in await signing.store.runs.jobs(run.id)
        )

    await signing.settle()
    await wait_until(running, deadline=30, message="the slow job to start")
    run = await signing.store.runs.for_sha(REPO, sha)
    assert run is not None
    fake.set_permission(REPO, "mona", "write")
    url = signing.server.make_url
    async with await signed_in(signing, "mona") as mona:
        page = await (await mona.get(url(f"/runs/{run.id}"))).text()
        assert "Re-run failed jobs" not in page  # still running: it can be cancelled
        done = await mona.post(url(f"/runs/{run.id}/cancel"), data={"csrf": csrf_of(page)})
        assert "cancelled, as asked by @mona" in await done.text()
        finished = await signing.run_for(REPO, sha)
        assert finished.conclusion == "cancelled"
        rollback = await mona.post(
            url(f"/repos/{REPO}/rollback"), data={"csrf": csrf_of(page), "environment": "prod"}
        )
        assert rollback.status == 409
        assert "Not deployed" in await rollback.text()
