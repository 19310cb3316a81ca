"""Acting from the pages needs exactly what the matching slash-command needs (DESIGN.md
section 5): the pull request's author may re-run and cancel its runs without write access,
someone else with read access may not; a protected environment and a deploy forced
through a freeze window need admin, and a forced deploy is recorded with who forced it."""

from __future__ import annotations

import textwrap
import time

import aiohttp

from bot.store.deployments import Deployments
from bot.store.records import Status
from tests.e2e.conftest import Greenlight
from tests.e2e.test_freeze_deploys import iso
from tests.e2e.test_web_actions import REPO, csrf_of, signed_in, signing  # noqa: F401
from tests.helpers import wait_until

HOUR = 3600.0


async def installed(greenlight: Greenlight) -> None:
    """The repository's installation, known to the store (the pages list only those)."""
    fake = greenlight.fake
    installation = fake.world.installation_for(REPO, fake.app_id)
    assert installation is not None
    await greenlight.store.installations.save(installation.id, "octo", now=1.0)
    repo = fake.repo(REPO)
    await greenlight.store.installations.add_repositories(installation.id, [(repo.id, REPO, False)])


async def pull_request_run(greenlight: Greenlight, job: str, author: str) -> tuple[int, int]:
    """A pull request by `author` (no access to the repository) whose one job runs `job`."""
    fake = greenlight.fake
    config = f"trust: {{authors: everyone}}\njobs:\n  only:\n    run: {job}\n"
    fake.create_repo(REPO, {".github/greenlight.yml": config})
    await installed(greenlight)
    fake.user(author)
    fake.commit(REPO, "feature", {"a.txt": "a\n"}, author=author)
    pr = fake.open_pull_request(REPO, "feature", user=author, title="Speed it up")
    await fake.send("pull_request", fake.pull_request_event("opened", REPO, pr.number))
    await greenlight.settle()

    async def started() -> bool:
        run = await greenlight.store.runs.for_sha(REPO, pr.head_sha)
        return run is not None and any(
            job.status != Status.QUEUED for job in await greenlight.store.runs.jobs(run.id)
        )

    await wait_until(started, deadline=30, message="the pull request's job to start")
    run = await greenlight.store.runs.for_sha(REPO, pr.head_sha)
    assert run is not None
    return run.id, pr.number


async def act(session: aiohttp.ClientSession, greenlight: Greenlight, page: str, action: str,
              **form: str) -> tuple[int, str]:  # fmt: skip
    """POST `action` with the CSRF token of `page` (read first, as a browser would)."""
    url = greenlight.server.make_url
    text = await (await session.get(url(page))).text()
    answer = await session.post(url(action), data={"csrf": csrf_of(text), **form})
    return answer.status, await answer.text()


async def test_the_authors_of_a_pull_request_rerun_its_failed_jobs_and_others_may_not(
    signing: Greenlight,  # noqa: F811
) -> None:
    marks = signing.tmp_path / "once"
    flaky = f"test -e {marks} || {{ touch {marks}; exit 1; }}"
    run_id, _ = await pull_request_run(signing, f"'{flaky}'", author="alice")
    await signing.run_for(REPO, (await signing.store.runs.get(run_id)).sha)  # type: ignore[union-attr]
    signing.fake.set_permission(REPO, "bob", "read")
    url = signing.server.make_url
    async with await signed_in(signing, "bob") as bob:
        page = await (await bob.get(url(f"/runs/{run_id}"))).text()
        assert "Re-run failed jobs" not in page
        status, text = await act(bob, signing, f"/runs/{run_id}", f"/runs/{run_id}/rerun")
        assert status == 403
        assert "only the pull request&#39;s author or people with write access" in text
    async with await signed_in(signing, "Alice") as alice:  # logins ignore case
        page = await (await alice.get(url(f"/runs/{run_id}"))).text()
        assert "Re-run failed jobs" in page  # no access to the repository, but their PR
        status, text = await act(alice, signing, f"/runs/{run_id}", f"/runs/{run_id}/rerun")
        assert status == 200, text
        assert "Running again, as asked by @Alice: only." in text
    run = await signing.run_for(REPO, (await signing.store.runs.get(run_id)).sha)  # type: ignore[union-attr]
    assert run.conclusion == "success"


async def test_the_author_cancels_a_running_pull_request_run_and_a_triager_may_not(
    signing: Greenlight,  # noqa: F811
) -> None:
    run_id, _ = await pull_request_run(signing, "sleep 60", author="alice")
    signing.fake.set_permission(REPO, "tom", "triage")
    async with await signed_in(signing, "tom") as tom:
        status, text = await act(tom, signing, f"/runs/{run_id}", f"/runs/{run_id}/cancel")
        assert status == 403
        assert "@tom has triage access" in text
    run = await signing.store.runs.get(run_id)
    assert run is not None
    assert run.status != Status.COMPLETED
    async with await signed_in(signing, "alice") as alice:
        status, text = await act(alice, signing, f"/runs/{run_id}", f"/runs/{run_id}/cancel")
        assert status == 200
        assert "cancelled, as asked by @alice" in text
    assert (await signing.run_for(REPO, run.sha)).conclusion == "cancelled"


def deploy_config(marks: str) -> dict[str, str]:
    """A green job; staging frozen for the next hour; production protected."""
    now = time.time()
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
              protected: true
        freeze:
          - name: release
            from: {iso(now - HOUR)}
            until: {iso(now + HOUR)}
            applies_to: [staging]
    """)
    return {".github/greenlight.yml": text.lstrip("\n")}


async def green_main(greenlight: Greenlight) -> str:
    fake = greenlight.fake
    fake.create_repo(REPO, {"README.md": "hi\n"})
    await installed(greenlight)
    marks = greenlight.tmp_path / "marks"
    marks.mkdir()
    sha = await fake.push(REPO, "main", deploy_config(str(marks)))
    assert (await greenlight.run_for(REPO, sha)).conclusion == "success"
    fake.set_permission(REPO, "wendy", "write")
    fake.set_permission(REPO, "adam", "admin")
    return sha


async def test_a_protected_environment_needs_an_admin_from_the_page_too(
    signing: Greenlight,  # noqa: F811
) -> None:
    sha = await green_main(signing)
    deploy = f"/repos/{REPO}/deploy"
    page = f"/repos/{REPO}"
    async with await signed_in(signing, "wendy") as wendy:
        status, text = await act(wendy, signing, page, deploy, environment="production", sha=sha)
        assert status == 409
        assert "admin access" in text
    async with await signed_in(signing, "adam") as adam:
        status, text = await act(adam, signing, page, deploy, environment="production", sha=sha)
        assert status == 200, text
    (record,) = await Deployments(signing.store.engine).history(REPO, "production")
    assert record.requested_by == "adam"


async def test_only_an_admin_forces_a_deploy_through_a_freeze_and_it_is_recorded(
    signing: Greenlight,  # noqa: F811
) -> None:
    sha = await green_main(signing)
    deploy = f"/repos/{REPO}/deploy"
    page = f"/repos/{REPO}"
    async with await signed_in(signing, "wendy") as wendy:
        status, text = await act(wendy, signing, page, deploy, environment="staging", sha=sha)
        assert status == 409
        assert "release" in text  # held by the window, named
        status, text = await act(
            wendy, signing, page, deploy, environment="staging", sha=sha, force="1"
        )
        assert status == 403
        assert "only people with admin access can deploy with --force through a freeze" in text
    deployments = Deployments(signing.store.engine)
    assert await deployments.history(REPO, "staging") == []
    async with await signed_in(signing, "adam") as adam:
        status, text = await act(
            adam, signing, page, deploy, environment="staging", sha=sha, force="1"
        )
        assert status == 200, text
    (record,) = await deployments.history(REPO, "staging")
    assert record.requested_by == "adam"
    log = await deployments.read_log(record.id)
    assert "Deployed during the freeze window release: forced by @adam." in log


async def test_an_untrusted_build_is_not_rerun_from_the_page_before_ok_to_test(
    signing: Greenlight,  # noqa: F811
) -> None:
    fake = signing.fake
    fake.create_repo(REPO, {".github/greenlight.yml": "jobs:\n  only:\n    run: exit 1\n"})
    await installed(signing)
    fake.user("mallory")
    fake.commit(REPO, "feature", {"a.txt": "a\n"}, author="mallory")
    pr = fake.open_pull_request(REPO, "feature", user="mallory")
    await fake.send("pull_request", fake.pull_request_event("opened", REPO, pr.number))
    await signing.settle()

    async def recorded() -> bool:
        return await signing.store.runs.for_sha(REPO, pr.head_sha) is not None

    await wait_until(recorded, deadline=30, message="the untrusted run")
    run = await signing.store.runs.for_sha(REPO, pr.head_sha)
    assert run is not None
    assert not run.trusted
    async with await signed_in(signing, "mallory") as mallory:
        status, text = await act(mallory, signing, f"/runs/{run.id}", f"/runs/{run.id}/rerun")
    assert status == 200
    assert "waits for /ok-to-test" in text
    assert all(job.attempt == 1 for job in await signing.store.runs.jobs(run.id))
