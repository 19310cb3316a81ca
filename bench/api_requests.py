"""GitHub API requests Greenlight makes: one pull request's life, and a burst of merges.

Runs the whole app against the fake GitHub (real git, real processes) and counts the
requests the fake receives, by method and URL template.

    .venv/bin/python -m bench.api_requests            # both scenarios
    .venv/bin/python -m bench.api_requests --burst 20 --no-life

1. Life of one PR: opened, built with 3 jobs, approved by a reviewer with write access,
   auto-merged, merge comment posted. The default-branch build the merge starts is left
   out (the `push` webhook is not delivered) so the figure is the PR's alone; a push build
   of the same 3 jobs is measured on its own.
2. Burst: N pull requests whose builds (3 jobs each) are held on one gate; the gate
   opens and all go green at once. Measured from the gate opening until every PR is
   merged and the default-branch builds the merges start are done: writes in the busiest
   60-second window of the installation, against GitHub's 80 content-creating requests a
   minute.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import tempfile
import textwrap
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.web.keys import DISPATCHER, SERVICES
from tests.e2e.conftest import start_greenlight
from tests.fakes.github import DEFAULT_EVENTS, FakeGitHub
from tests.fakes.plugin import start_fake_github, stop_fake_github
from tests.helpers import WEBHOOK_SECRET, wait_until

REPO = "octo/bench"
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
APP_ONLY = "/app/installations/{installation_id}/access_tokens"  # as the app, not installation
WRITE_LIMIT = 80  # GitHub's content-creating requests a minute
WINDOW = 60.0
GATED = ("lint", "test")  # the jobs that wait for the gate in the burst
ALL_EVENTS = tuple(DEFAULT_EVENTS)  # what the fake's app subscribes to


class TimedCounter(collections.Counter[Any]):
    """The fake's request counter, also remembering when each request came."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[float, Any]] = []

    def __setitem__(self, key: Any, value: int) -> None:
        if value > self.get(key, 0):
            self.log.append((time.monotonic(), key))
        super().__setitem__(key, value)


@dataclass
class Measure:
    total: int
    writes: int
    by_template: dict[tuple[str, str], int]
    busiest_minute_writes: int
    seconds: float
    paced_seconds: float = 0.0  # time writes waited in the client's pacer, summed
    not_modified: int | None = None  # reads answered 304: free of GitHub's rate limit
    first_checks_seconds: float | None = None  # burst: until every PR has a check run

    @property
    def counted(self) -> int:
        """Requests that count against GitHub's rate limit (all but the 304s)."""
        return self.total - (self.not_modified or 0)

    @property
    def write_share(self) -> float:
        return self.writes / self.total if self.total else 0.0


def is_write(key: tuple[str, str]) -> bool:
    method, template = key
    return method in WRITE_METHODS and template != APP_ONLY


def measure(counter: TimedCounter, since: float) -> Measure:
    entries = [(at, key) for at, key in counter.log if at >= since]
    by_template = collections.Counter(key for _, key in entries)
    write_times = sorted(at for at, key in entries if is_write(key))
    busiest, start = 0, 0
    for end, at in enumerate(write_times):
        while at - write_times[start] >= WINDOW:
            start += 1
        busiest = max(busiest, end - start + 1)
    seconds = (entries[-1][0] - since) if entries else 0.0
    return Measure(
        total=len(entries),
        writes=len(write_times),
        by_template=dict(by_template),
        busiest_minute_writes=busiest,
        seconds=seconds,
    )


def config(gate: Path | None, *, approvals: int) -> dict[str, str]:
    # Held until the gate file appears (20 minutes at most, then the job fails).
    wait = f"for i in $(seq 24000); do [ -e {gate} ] && break; sleep 0.05; done; " if gate else ""
    wait += f"test -e {gate}; " if gate else ""
    text = textwrap.dedent(f"""
        merge: {{auto: true, approvals: {approvals}, delete_branch: true}}
        jobs:
          lint:
            run: '{wait}echo lint'
          test:
            run: '{wait}echo test'
          build:
            needs: [lint]
            run: echo build
    """).lstrip("\n")
    return {".github/greenlight.yml": text}


async def with_greenlight(
    root: Path,
    scenario: Callable[[FakeGitHub, Any], Awaitable[Measure]],
    *,
    events: tuple[str, ...] = ALL_EVENTS,
    concurrency: int = 4,
) -> Measure:
    await asyncio.to_thread(root.mkdir, parents=True, exist_ok=True)
    fake, fake_server = await start_fake_github(root / "github")
    counter = TimedCounter()
    fake.request_counts = counter
    server = await start_greenlight(fake, root, GREENLIGHT_CONCURRENCY=str(concurrency))
    fake.configure_webhooks(str(server.make_url("/webhook")), WEBHOOK_SECRET, events=events)
    try:
        not_modified = fake.not_modified
        result = await scenario(fake, server)
        if result.not_modified is None:  # the scenario's: the app is idle before it starts
            result.not_modified = fake.not_modified - not_modified
        github = server.app[SERVICES].context.github
        result.paced_seconds = sum(c.writes.waited for c in github._clients.values())
        return result
    finally:
        await fake.settle()
        await server.close()
        await stop_fake_github(fake, fake_server)


async def settle(fake: FakeGitHub, server: Any) -> None:
    await fake.settle()
    await server.app[DISPATCHER].wait_idle()


async def pr_life(fake: FakeGitHub, server: Any) -> Measure:
    """Opened, built with 3 jobs, approved, auto-merged, merge comment."""
    fake.create_repo(REPO, config(None, approvals=1))
    fake.set_permission(REPO, "wendy", "write")
    return await one_life(fake, server, "feature")


async def second_life(fake: FakeGitHub, server: Any) -> Measure:
    """The life of a second pull request, once the process has seen a first: what a
    running service spends (the repository's reads already have ETags)."""
    await pr_life(fake, server)
    return await one_life(fake, server, "second")


async def one_life(fake: FakeGitHub, server: Any, branch: str) -> Measure:
    since, not_modified = time.monotonic(), fake.not_modified
    fake.commit(REPO, branch, {f"{branch}.txt": "a\n"})
    pr = fake.open_pull_request(REPO, branch)
    await fake.send("pull_request", fake.pull_request_event("opened", REPO, pr.number))
    await wait_for_check(fake, server, pr.head_sha)
    review = fake.add_review(REPO, pr.number, "wendy")
    await fake.send("pull_request_review", fake.review_event("submitted", review.id))
    await wait_merged(fake, server, [pr.number])
    await wait_quiet(fake, server)
    result = measure(fake.request_counts, since)  # type: ignore[arg-type]
    result.not_modified = fake.not_modified - not_modified
    return result


async def push_build(fake: FakeGitHub, server: Any) -> Measure:
    """The default-branch build a merge starts: 3 jobs on a push."""
    fake.create_repo(REPO, config(None, approvals=1))
    since = time.monotonic()
    sha = await fake.push(REPO, "main", {"a.txt": "a\n"})
    await wait_for_check(fake, server, sha)
    return measure(fake.request_counts, since)  # type: ignore[arg-type]


def burst(count: int, gate: Path) -> Callable[[FakeGitHub, Any], Awaitable[Measure]]:
    async def scenario(fake: FakeGitHub, server: Any) -> Measure:
        fake.create_repo(REPO, config(gate, approvals=0))
        numbers = []
        opened = time.monotonic()
        for n in range(count):
            fake.commit(REPO, f"feature-{n}", {f"file-{n}.txt": f"{n}\n"})
            pr = fake.open_pull_request(REPO, f"feature-{n}")
            await fake.send("pull_request", fake.pull_request_event("opened", REPO, pr.number))
            numbers.append(pr.number)
        heads = [fake.pull(REPO, n).head_sha for n in numbers]
        await wait_until(
            lambda: all(fake.check_runs(REPO, sha) for sha in heads),
            deadline=900,
            message="every PR's first check run",
        )
        first_checks = time.monotonic() - opened
        await wait_held(fake, server, [fake.pull(REPO, n).head_sha for n in numbers])
        since = time.monotonic()
        await asyncio.to_thread(gate.touch)
        await wait_merged(fake, server, numbers, deadline=900)
        await wait_main_built(fake, server, count)
        result = measure(fake.request_counts, since)  # type: ignore[arg-type]
        result.first_checks_seconds = first_checks
        return result

    return scenario


async def wait_for_check(fake: FakeGitHub, server: Any, sha: str) -> None:
    async def done() -> bool:
        await settle(fake, server)
        runs = fake.check_runs(REPO, sha, name="greenlight")
        return bool(runs) and runs[-1].status == "completed"

    await wait_until(done, deadline=120, message=f"the build of {sha[:7]}")


async def wait_quiet(fake: FakeGitHub, server: Any, *, quiet: float = 1.0) -> None:
    """Until the app has made no request for `quiet` seconds: the hooks that run after a
    merge (the freeze summary, a deploy's look) belong to the life too."""
    log: list[tuple[float, Any]] = fake.request_counts.log  # type: ignore[attr-defined]

    async def idle() -> bool:  # the last request's time, not a fixed sleep
        await settle(fake, server)
        return time.monotonic() - (log[-1][0] if log else 0.0) >= quiet

    await wait_until(idle, deadline=60, message="the app to stop making requests")


async def wait_held(fake: FakeGitHub, server: Any, heads: list[str]) -> None:
    """Until every gated job of every head shows `in_progress` on GitHub."""

    async def held() -> bool:
        await settle(fake, server)
        latest = [fake.check_runs(REPO, sha, name=name) for sha in heads for name in GATED]
        return all(runs and runs[-1].status == "in_progress" for runs in latest)

    await wait_until(held, deadline=900, message="every gated job to be running")


async def wait_merged(
    fake: FakeGitHub, server: Any, numbers: list[int], *, deadline: float = 120
) -> None:
    async def merged() -> bool:
        await settle(fake, server)
        return all(fake.pull(REPO, n).merged for n in numbers) and all(
            any("greenlight:merged" in c.body for c in fake.comments(REPO, n)) for n in numbers
        )

    await wait_until(merged, deadline=deadline, message="every PR to be merged")


async def wait_main_built(fake: FakeGitHub, server: Any, count: int) -> None:
    async def built() -> bool:
        await settle(fake, server)
        merges = [fake.pull(REPO, n).merge_commit_sha for n in range(1, count + 1)]
        checks = [fake.check_runs(REPO, sha, name="greenlight") for sha in merges if sha]
        return len(checks) == count and all(c and c[-1].status == "completed" for c in checks)

    await wait_until(built, deadline=900, message="the default branch builds")


def report(title: str, result: Measure, *, top: int = 0) -> str:
    lines = [
        f"## {title}",
        f"requests: {result.total}, writes: {result.writes} "
        f"({result.write_share:.0%}), in {result.seconds:.1f} s; "
        f"{result.not_modified} answered 304, {result.counted} counted against the rate limit",
        f"busiest 60 s of writes: {result.busiest_minute_writes} (limit {WRITE_LIMIT}); "
        f"writes waited {result.paced_seconds:.0f} s in total in the client's pacer",
    ]
    if result.first_checks_seconds is not None:
        lines.append(
            f"every PR had its first check run {result.first_checks_seconds:.1f} s "
            "after the first was opened"
        )
    if top:
        lines.append("| requests | method | template |")
        lines.append("| ---: | --- | --- |")
        ranked = sorted(result.by_template.items(), key=lambda item: -item[1])
        lines += [f"| {n} | {method} | `{template}` |" for (method, template), n in ranked[:top]]
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="greenlight-bench-") as tmp:
        root = Path(tmp)
        if args.life:
            no_push = tuple(event for event in ALL_EVENTS if event != "push")
            life = await with_greenlight(root / "life", pr_life, events=no_push)
            print(report("One pull request's life (3 jobs)", life, top=40))
            again = await with_greenlight(root / "again", second_life, events=no_push)
            print(report("A second pull request's life, same process", again, top=40))
            build = await with_greenlight(root / "push", push_build)
            print(report("A default-branch build (3 jobs)", build, top=0))
        if args.burst:
            scenario = burst(args.burst, root / "gate")
            result = await with_greenlight(root / "burst", scenario, concurrency=3 * args.burst + 4)
            print(report(f"Burst: {args.burst} PRs going green at once", result, top=20))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=20, help="PRs in the burst (0: skip)")
    parser.add_argument("--no-life", dest="life", action="store_false", help="skip scenario 1")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
