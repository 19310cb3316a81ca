"""Two `python -m bot` processes on one PostgreSQL database, webhooks shared round-robin.

The fake GitHub runs in the test process; each replica is a real process with its own
port and work directory, as an operator would run them behind a load balancer.
"""

from __future__ import annotations

import itertools
import os
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.store import Store, open_store
from bot.store.deployments import Deployments, DeployState
from tests.fakes.github import FakeGitHub
from tests.helpers import WEBHOOK_SECRET, wait_until
from tests.replicas.processes import REPLICA_TIMEOUT_SECONDS, replicas, start_replica
from tests.services import postgres_database

REPO = "octo/hello"
MERGE = ("PUT", "/repos/{owner}/{repo}/pulls/{pull_number}/merge")
FINAL_STATES = {"success", "failure", "error", "inactive"}


@pytest.fixture
async def database() -> AsyncIterator[tuple[str, Store]]:
    """A fresh PostgreSQL database, and a store on it for the test to look with."""
    async with postgres_database() as url:
        store = await open_store(url)
        try:
            yield url, store
        finally:
            await store.close()


def deployment_config(deploy: str) -> dict[str, str]:
    text = f"""
        mode: deployment
        jobs:
          build:
            run: echo built
        deploy:
          environments:
            production:
              run: '{deploy}'
    """
    return {".github/greenlight.yml": textwrap.dedent(text)}


def intervals(log: Path) -> list[tuple[str, float, float]]:
    """(sha, start, end) of each deploy the script recorded, in start order."""
    starts: dict[str, float] = {}
    ends: dict[str, float] = {}
    for line in log.read_text().splitlines():
        kind, sha, when = line.split()[:3]
        (starts if kind == "start" else ends)[sha] = float(when)
    return sorted(((sha, starts[sha], ends[sha]) for sha in starts), key=lambda i: i[1])


def last_states(fake: FakeGitHub) -> dict[int, str | None]:
    """Each deployment's latest status on GitHub (None: none yet)."""
    return {
        deployment.id: (
            statuses[-1].state if (statuses := fake.deployment_statuses(deployment.id)) else None
        )
        for deployment in fake.deployments(REPO)
    }


async def test_a_burst_of_pull_requests_merges_each_once_and_deploys_one_at_a_time(
    fake_github: FakeGitHub, database: tuple[str, Store], tmp_path: Path
) -> None:
    fake, (url, store) = fake_github, database
    log = tmp_path / "deploys.log"
    script = (
        f'echo "start $GREENLIGHT_SHA $(date +%s.%N)" >> {log}; sleep 1.5; '
        f'echo "end $GREENLIGHT_SHA $(date +%s.%N)" >> {log}'
    )
    fake.create_repo(REPO, deployment_config(script))
    async with replicas(fake, url, tmp_path, "a", "b") as running:
        a, b = running["a"], running["b"]
        fake.configure_webhooks(a.webhook_url, WEBHOOK_SECRET, also=[b.webhook_url])
        numbers = []
        for index in range(10):
            fake.commit(REPO, f"feature-{index}", {f"file-{index}.txt": f"{index}\n"})
            pr = fake.open_pull_request(REPO, f"feature-{index}")
            await fake.send("pull_request", fake.pull_request_event("opened", REPO, pr.number))
            numbers.append(pr.number)

        def all_merged() -> bool:
            return all(fake.pull(REPO, number).merged for number in numbers)

        await wait_until(all_merged, deadline=60, message="every pull request to be merged")
        tip = fake.repo(REPO).git.branch_sha("main")

        async def tip_is_live() -> bool:
            live = await Deployments(store.engine).live(REPO, "production")
            return live is not None and live.sha == tip

        await wait_until(tip_is_live, deadline=60, message="main's tip to be live")
        await fake.settle()
        await wait_until(
            lambda: set(last_states(fake).values()) <= FINAL_STATES,
            deadline=30,
            message="every deployment to end on GitHub",
        )
        deliveries = {d.url for d in fake.deliveries}
        assert deliveries == {a.webhook_url, b.webhook_url}  # both replicas worked
        pids = {str(a.process.pid), str(b.process.pid)}

    assert fake.request_counts[MERGE] == 10  # each merged once, never tried twice
    ran = intervals(log)
    for (_, _, end), (sha, start, _) in itertools.pairwise(ran):
        assert start >= end, f"the deploy of {sha[:7]} began before the one before it ended"
    assert ran[-1][0] == tip  # the newest waiting deploy won
    assert len(ran) < 10  # older waiting deploys were replaced, not run one after another
    assert "in_progress" not in set(last_states(fake).values())
    # A replica's id names its process: every deploy was queued or run by one of the two.
    owners = {record.owner for record in await Deployments(store.engine).history(REPO)}
    assert {owner.rsplit("-", 2)[1] for owner in owners if owner} <= pids


async def test_a_killed_replicas_deploy_is_ended_by_the_other_and_only_it(
    fake_github: FakeGitHub, database: tuple[str, Store], tmp_path: Path
) -> None:
    fake, (url, store) = fake_github, database
    pids, gate = tmp_path / "pids", tmp_path / "gate"
    # Holds the deploy until the gate opens; a child process, as a real deploy has.
    script = (
        f"sleep 120 & echo $$ $! > {pids}.tmp; mv {pids}.tmp {pids}; "
        f"while [ ! -e {gate} ]; do sleep 0.05; done"
    )
    fake.create_repo(REPO, deployment_config(script))
    deployments = Deployments(store.engine)
    async with replicas(fake, url, tmp_path, "a") as running:
        a = running["a"]
        fake.configure_webhooks(a.webhook_url, WEBHOOK_SECRET)
        sha = await fake.push(REPO, "main", {"x.txt": "x\n"})
        await wait_until(pids.exists, deadline=40, message="the deploy to run on replica a")
        (record,) = await deployments.unfinished()
        assert record.state == DeployState.IN_PROGRESS

        # A second replica starting must leave the first one's running deploy alone.
        b = await start_replica(fake, url, tmp_path, "b")
        running["b"] = b
        fake.configure_webhooks(b.webhook_url, WEBHOOK_SECRET)
        job_gate = tmp_path / "job-gate"
        fake.commit(REPO, "feature", {".github/greenlight.yml": job_config(job_gate)})
        pr = fake.open_pull_request(REPO, "feature")
        await fake.send("pull_request", fake.pull_request_event("opened", REPO, pr.number))
        await wait_until(
            lambda: job_running(fake, pr.head_sha), deadline=30, message="b to run the PR's job"
        )
        assert (await deployments.get(record.id)).state == DeployState.IN_PROGRESS  # type: ignore[union-attr]

        a.kill()
        shell, child = (int(pid) for pid in pids.read_text().split())

        async def ended() -> bool:
            found = await deployments.get(record.id)
            return found is not None and found.state.is_finished

        # The replica timeout (the lease's length) and a scan of the survivor's, with room
        # for a loaded machine.
        await wait_until(
            ended, deadline=REPLICA_TIMEOUT_SECONDS + 10, message="b to end a's deploy"
        )
        await fake.settle()
        (deployment,) = fake.deployments(REPO)
        statuses = fake.deployment_statuses(deployment.id)
        assert [s.state for s in statuses] == ["in_progress", "error"]
        assert "replica running it stopped" in statuses[-1].description
        assert not is_alive(shell)  # the deploy's processes died with their replica
        assert not is_alive(child)

        # b's own job ran on, untouched, and ends as it should.
        assert job_running(fake, pr.head_sha)
        job_gate.touch()
        await wait_until(
            lambda: checks_done(fake, pr.head_sha), deadline=30, message="b's job to finish"
        )
        assert {c.conclusion for c in fake.check_runs(REPO, pr.head_sha)} == {"success"}
        assert all(c.status == "completed" for c in fake.check_runs(REPO, sha))
        assert b.is_running()


def job_config(gate: Path) -> str:
    return textwrap.dedent(f"""
        jobs:
          wait:
            run: 'while [ ! -e {gate} ]; do sleep 0.05; done'
    """)


def job_running(fake: FakeGitHub, sha: str) -> bool:
    return any(c.name == "wait" and c.status == "in_progress" for c in fake.check_runs(REPO, sha))


def checks_done(fake: FakeGitHub, sha: str) -> bool:
    found = fake.check_runs(REPO, sha)
    return bool(found) and all(c.status == "completed" for c in found)


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended
