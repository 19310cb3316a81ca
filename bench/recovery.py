"""Recovery: restart to the first `in_progress` of a pull request opened while Greenlight
was down, and the GitHub API requests of one recovery-and-reconciliation pass.

(a) The app (SQLite, local executor) builds one pull request of a repository, stops; a
    pull request is opened while it is down (GitHub logs the failed delivery); the app
    starts again. Measured: from starting the app to the new head's first check run
    `in_progress` at the fake GitHub. Baselines in the same run: the same app started with
    nothing missed (start-up alone), and a pull request opened while the app is up
    (webhook → first `in_progress`).
(b) 20 repositories, each with its default branch and one open pull request built green,
    nothing missed. Measured: the requests the fake GitHub received during one pass, and
    how many it answered `304 Not Modified` (free of rate limit): the first pass after a
    start (no ETags yet, every green pull request evaluated for merging once), and the
    next pass (steady state, what every interval costs).

    .venv/bin/python -m bench recovery [--rounds 5] [--repos 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestServer

from bench import median, ratio, table
from bench.pipeline import Stamps, _instrument, _until
from bot.recovery.service import Recovery
from bot.web.keys import RECOVERY
from tests.e2e.conftest import start_greenlight
from tests.fakes.github import FakeGitHub
from tests.fakes.plugin import start_fake_github, stop_fake_github
from tests.helpers import wait_until

CONFIG = {".github/greenlight.yml": "jobs:\n  test:\n    run: echo ok\n"}
ONE_PASS_AT_START = {"GREENLIGHT_RECOVERY_INTERVAL": "1h"}
QUIET_SINCE = "2026-01-01T00:00:00Z"


def _in_progress(stamps: Stamps, sha: str) -> bool:
    return sha in stamps.in_progress or any(key[0] == sha for key in stamps.completed)


def _first_in_progress(stamps: Stamps, sha: str) -> float:
    """When a check run of `sha` first left `queued` at the fake (perf_counter)."""
    done = [at for (head, _), at in stamps.completed.items() if head == sha]
    return min([stamps.in_progress.get(sha, float("inf")), *done])


def _recovery(server: TestServer) -> Recovery:
    return server.app[RECOVERY]


async def _start(fake: FakeGitHub, tmp: Path) -> TestServer:
    server = await start_greenlight(fake, tmp, **ONE_PASS_AT_START)
    await wait_until(lambda: _recovery(server).completed_passes >= 1, message="a pass")
    return server


async def _open_pull_request(fake: FakeGitHub, repo: str, branch: str, *, live: bool) -> str:
    fake.commit(repo, branch, {f"{branch}.txt": "x\n"})
    pr = fake.open_pull_request(repo, branch)
    with contextlib.suppress(ConnectionError):
        status = await fake.send("pull_request", fake.pull_request_event("opened", repo, pr.number))
        assert live == (status == 202)
    return pr.head_sha


async def restart_round(tmp: Path, index: int) -> dict[str, float]:
    """One round of (a): the three timings, in seconds."""
    fake, fake_server = await start_fake_github(tmp / "github")
    stamps = Stamps()
    _instrument(fake, stamps)
    repo = f"octo/restart{index}"
    fake.create_repo(repo, CONFIG)
    try:
        server = await _start(fake, tmp)
        started = time.perf_counter()
        live_sha = await _open_pull_request(fake, repo, "live", live=True)
        await _until(lambda: _in_progress(stamps, live_sha), stamps)
        live = _first_in_progress(stamps, live_sha) - started
        await fake.settle()
        await server.close()

        missed_sha = await _open_pull_request(fake, repo, "missed", live=False)
        started = time.perf_counter()
        server = await start_greenlight(fake, tmp, **ONE_PASS_AT_START)
        serving = time.perf_counter() - started
        await _until(lambda: _in_progress(stamps, missed_sha), stamps)
        recovered = _first_in_progress(stamps, missed_sha) - started
        await fake.settle()
        await server.close()
        return {"live": live, "serving": serving, "recovered": recovered}
    finally:
        await stop_fake_github(fake, fake_server)


async def pass_cost(tmp: Path, repos: int) -> dict[str, Any]:
    """(b): requests of the first and of the next pass over `repos` quiet repositories."""
    fake, fake_server = await start_fake_github(tmp / "github")
    names = [f"octo/quiet{n}" for n in range(repos)]
    try:
        server = await _start(fake, tmp)
        for name in names:
            fake.create_repo(name, CONFIG)
            before = fake.repo(name).git.branch_sha("main") or ""
            tip = fake.commit(name, "main", {"tip.txt": "tip\n"})
            await fake.send("push", fake.push_event(name, "main", before, tip))
            await _open_pull_request(fake, name, "change", live=True)
        await wait_until(lambda: _all_built(fake, names), deadline=300, message="the builds")
        await fake.settle()
        await server.close()
        for pull in fake.world.pulls.values():
            pull.updated_at = QUIET_SINCE  # nobody touched them for a while
        before, not_modified = sum(fake.request_counts.values()), fake.not_modified
        server = await start_greenlight(fake, tmp, **ONE_PASS_AT_START)
        await wait_until(lambda: _recovery(server).completed_passes >= 1, message="a pass")
        await fake.settle()
        first = _counted(fake, before, not_modified, _recovery(server).last_report)
        before, not_modified = sum(fake.request_counts.values()), fake.not_modified
        report = await _recovery(server).run_pass()
        await fake.settle()
        steady = _counted(fake, before, not_modified, report)
        await server.close()
        return {"repos": repos, "first": first, "steady": steady}
    finally:
        await stop_fake_github(fake, fake_server)


def _all_built(fake: FakeGitHub, names: list[str]) -> bool:
    for name in names:
        for sha in {fake.repo(name).git.branch_sha("main"), fake.pull(name, 1).head_sha}:
            checks = fake.check_runs(name, sha or "")
            if not checks or any(c.status != "completed" for c in checks):
                return False
    return True


def _counted(fake: FakeGitHub, before: int, not_modified: int, report: Any) -> dict[str, Any]:
    """What the fake received since `before`, and what the pass said it cost."""
    return {
        "requests": sum(fake.request_counts.values()) - before,
        "not_modified": fake.not_modified - not_modified,
        "reported": report.requests if report is not None else None,
        "evaluated": report.reconcile.evaluated if report is not None else None,
    }


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench recovery", description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=5, help="(a) restarts")
    p.add_argument("--repos", type=int, default=20, help="(b) repositories")
    return p


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    rounds = []
    for index in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="bench-recovery-") as tmp:
            rounds.append(await restart_round(Path(tmp), index))
    with tempfile.TemporaryDirectory(prefix="bench-recovery-") as tmp:
        cost = await pass_cost(Path(tmp), args.repos)
    return {"rounds": rounds, "cost": cost}


def report(figures: dict[str, Any]) -> dict[str, Any]:
    rounds = figures["rounds"]
    live = median([r["live"] for r in rounds])
    serving = median([r["serving"] for r in rounds])
    recovered = median([r["recovered"] for r in rounds])
    print(f"\n(a) restart → first in_progress of a PR opened while down ({len(rounds)} rounds)")
    print(
        table(
            ["", "median s", "× live webhook"],
            [
                ["live: webhook → first in_progress", f"{live:.3f}", "1.000"],
                ["restart → app serving", f"{serving:.3f}", f"{ratio(serving, live):.2f}"],
                ["restart → first in_progress (recovered)", f"{recovered:.3f}",
                 f"{ratio(recovered, live):.2f}"],
            ],
        )
    )  # fmt: skip
    cost = figures["cost"]
    print(f"\n(b) one pass over {cost['repos']} repositories, nothing missed")
    rows = []
    # "first": the start-up pass, with the start-up's own few requests; merge evaluations
    # of green pull requests are in the fake's count, not in the pass's own (its reads).
    for name in ("first", "steady"):
        one = cost[name]
        charged = one["requests"] - one["not_modified"]
        own = str(one["reported"])
        rows.append([name, str(one["requests"]), str(one["not_modified"]), str(charged), own])
    print(table(["pass", "requests", "304", "rate-limited", "pass's own count"], rows))
    return {
        "live_s": live,
        "serving_s": serving,
        "recovered_s": recovered,
        "first_pass": cost["first"],
        "steady_pass": cost["steady"],
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    return report(asyncio.run(measure(args)))


def main(argv: list[str]) -> None:
    run(parser().parse_args(argv))
