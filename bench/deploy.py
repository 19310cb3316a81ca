"""Issue 5 benchmark: from the merge of a green PR to production's `success`, `deployment` mode.

The build sleeps 1 s and each of two environments' deploy sleeps 0.5 s, so the work is
2 s; the rest is Greenlight's overhead (webhooks, the Checks and Deployments API calls,
git checkouts). Everything is local: the fake GitHub, real git, real processes.

The clock starts when a person's merge lands on `main` (GitHub's `push`). Each pull request
is up to date when merged, so the merge commit has the tree its head was built with: the
build is reused (README, "Reuse by tree") and production's `success` needs only the two
deploys (1 s of sleeps). `--no-reuse` sets `reuse: false` on the build, as before reuse.

The client paces writes to GitHub's 80 a minute; one merge here makes about 20 writes
(check runs of two builds, a deployment and two statuses per environment, the comment),
so ten back-to-back merges would mostly measure that pacing. By default the benchmark
lifts the pace to measure Greenlight itself; `--pace` keeps it.

    .venv/bin/python -m bench.deploy [--runs 10] [--pace] [--no-reuse]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

from bot.web.keys import SERVICES
from tests.e2e.conftest import start_greenlight
from tests.fakes.github import FakeGitHub
from tests.fakes.plugin import start_fake_github, stop_fake_github
from tests.fakes.pulls import merge

REPO = "octo/bench"
BUILD_SECONDS = 1.0
DEPLOY_SECONDS = 0.5
CONFIG = textwrap.dedent(f"""
    mode: deployment
    jobs:
      build:
        run: sleep {BUILD_SECONDS}
        reuse: REUSE
    deploy:
      environments:
        staging:
          run: sleep {DEPLOY_SECONDS}
          url: https://staging.example.com
        production:
          run: sleep {DEPLOY_SECONDS}
          url: https://example.com
""").lstrip()


def work_seconds(*, reuse: bool) -> float:
    """The sleeps between the merge and production's `success`: no build when reused."""
    return 2 * DEPLOY_SECONDS + (0.0 if reuse else BUILD_SECONDS)


def was_reused(fake: FakeGitHub, sha: str) -> bool:
    """Whether the build's check run on `sha` took an earlier result instead of running."""
    return any(
        c.name == "build" and "Reused" in (c.output.get("summary") or "")
        for c in fake.check_runs(REPO, sha)
    )


async def wait_for(condition: Callable[[], bool], *, deadline: float = 60.0) -> None:
    give_up = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > give_up:
            raise TimeoutError("the benchmark's deploy never finished")
        await asyncio.sleep(0.005)


def production_success(fake: FakeGitHub, sha: str) -> bool:
    for deployment in fake.deployments(REPO, "production"):
        if deployment.sha == sha and any(
            s.state == "success" for s in fake.deployment_statuses(deployment.id)
        ):
            return True
    return False


async def green_pr(fake: FakeGitHub, index: int) -> int:
    """Open a PR and wait until its build is green (not timed)."""
    branch = f"change-{index}"
    sha = fake.commit(REPO, branch, {f"file-{index}.txt": f"{index}\n"})
    pr = fake.open_pull_request(REPO, branch, title=f"Change {index}")
    fake.add_review(REPO, pr.number, "reviewer")
    await fake.send("pull_request", fake.pull_request_event("opened", REPO, pr.number))

    def green() -> bool:
        return any(
            c.name == "greenlight" and c.conclusion == "success" for c in fake.check_runs(REPO, sha)
        )

    await wait_for(green)
    return pr.number


async def merge_and_time(fake: FakeGitHub, number: int, *, reuse: bool) -> float:
    """Merge as a person; seconds until production reports `success` for the merge."""
    pr = fake.pull(REPO, number)
    actor = fake.world.user("octo")
    started = time.monotonic()
    result = merge(fake.world, pr, method="merge", sha=None, title=None, message=None, actor=actor)
    now = fake.now_iso()
    pr.state, pr.merged, pr.merged_at, pr.closed_at = "closed", True, now, now
    pr.merged_by, pr.merge_commit_sha = actor, result.after
    fake.emit("push", lambda: fake.payloads.push(REPO, "main", result.before, result.after))
    fake.emit("pull_request", lambda: fake.payloads.pull_request("closed", REPO, number))
    await wait_for(lambda: production_success(fake, result.after))
    elapsed = time.monotonic() - started
    if was_reused(fake, result.after) is not reuse:
        raise RuntimeError(f"the build of {result.after[:7]} was not as expected (reuse={reuse})")
    return elapsed


async def bench(runs: int, *, pace: bool, reuse: bool = True) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        fake, fake_server = await start_fake_github(root / "github")
        (root / "greenlight").mkdir()
        server = await start_greenlight(fake, root / "greenlight")
        services = server.app[SERVICES]
        context, deployer = services.context, services.deployer
        try:
            config = CONFIG.replace("REUSE", str(reuse).lower())
            fake.create_repo(REPO, {".github/greenlight.yml": config, "README.md": "bench\n"})
            installation = fake.world.installation_for(REPO, fake.app_id)
            assert installation is not None
            writes = context.github.installation(installation.id).writes
            if not pace:
                writes.limit = writes.hourly_limit = 1_000_000
            times = []
            for index in range(runs + 1):  # the first run warms the git cache: not counted
                number = await green_pr(fake, index)
                elapsed = await merge_and_time(fake, number, reuse=reuse)
                await fake.settle()
                await deployer.wait_idle()
                if index > 0:
                    times.append(elapsed)
                    print(f"run {index}: {elapsed:.2f} s", file=sys.stderr)
            print(f"writes waited {writes.waited:.1f} s for GitHub's write limit", file=sys.stderr)
            return times
        finally:
            await server.close()  # stops the deployer too
            await stop_fake_github(fake, fake_server)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument(
        "--pace",
        action="store_true",
        help="keep the client's pacing of writes to GitHub's 80 a minute (each merge here "
        "makes ~20 writes, so back-to-back runs mostly measure that wait)",
    )
    parser.add_argument(
        "--no-reuse",
        action="store_true",
        help="set `reuse: false` on the build, so the merge commit builds again",
    )
    args = parser.parse_args(argv)
    reuse = not args.no_reuse
    times = asyncio.run(bench(args.runs, pace=args.pace, reuse=reuse))
    median = statistics.median(times)
    work = work_seconds(reuse=reuse)
    build = "build reused" if reuse else "build run again"
    print(
        f"merge → production success, deployment mode, {build}, median of {len(times)}: "
        f"{median:.2f} s for {work:.1f} s of sleeps: ratio {median / work:.2f}, "
        f"overhead {median - work:.2f} s (min {min(times):.2f}, max {max(times):.2f})"
    )


if __name__ == "__main__":
    main()
