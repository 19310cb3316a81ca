"""The build pipeline: webhook to first `in_progress`, executor overhead, cached checkout.

(a) `pull_request` opened → first check run `in_progress` at the fake GitHub: the app and
    `tests.fakes.FakeGitHub` wired as in tests/e2e (one process, one event loop, real git,
    real processes), a repo whose config has one quick job. The fake's check-run hook
    stamps the moment a check run becomes `in_progress`. Each run is a new PR on a new
    commit; the next starts when the previous run completed and the app is idle again
    (its check runs concluded, the webhooks they cause handled). The fake's check of each
    request and answer against GitHub's OpenAPI description (milliseconds per call, no
    part of Greenlight's latency) is off unless `--validate`; the time spent inside the
    fake is shown beside the total. Goal (issue 13): a median under 50 ms, validation off.
(b) 10 steps of `sleep 0.2` through `bot.executor.process.run_steps` against one `bash`
    running the same 10 commands; and through the whole app (webhook → job check run
    completed) against the same bash figure.
(c) `GitCache.checkout` of a 500-commit repository, second build (the cache already has
    the repository), against a fresh `git clone` of it into a new directory. Both read the
    origin through a `file://` URL, so git uses its pack transport as it would over the
    network (a plain-path clone hard-links objects instead).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from bench import median, ratio, table, verdict

# GitHub allows an installation 80 content-creating requests a minute and the app paces its
# writes to that (bot.github.pacing.WritePacer); each quick run makes about 6 writes, so the
# runs rotate over 5 installations to measure latency, not that budget.
INSTALLATIONS = 5
FIRST_IN_PROGRESS_GOAL = 0.050  # seconds, median, the fake's validation off (issue 13)
SLOW_REPO = "bench-slow/project"
SLEEP_STEPS = 10
SLEEP_SECONDS = 0.2


# (a) and (b, end to end): the app and the fake GitHub ------------------------------------------


class Stamps:
    """When check runs changed at the fake, and how long the fake itself spent answering."""

    def __init__(self) -> None:
        self.in_progress: dict[str, float] = {}
        self.completed: dict[tuple[str, str], float] = {}
        self.fake_busy: list[tuple[float, float]] = []
        self.changed = asyncio.Event()

    def busy_between(self, start: float, end: float) -> float:
        return sum(min(b, end) - max(a, start) for a, b in self.fake_busy if b > start and a < end)


def _instrument(fake: Any, stamps: Stamps) -> None:
    original = fake.check_run_changed

    def changed(run: Any, *, created: bool, was_completed: bool) -> None:
        now = time.perf_counter()
        if run.status == "in_progress":
            stamps.in_progress.setdefault(run.head_sha, now)
        if run.status == "completed":
            stamps.completed.setdefault((run.head_sha, run.name), now)
        stamps.changed.set()
        original(run, created=created, was_completed=was_completed)

    fake.check_run_changed = changed


@contextlib.contextmanager
def _time_fake_requests(stamps: Stamps) -> Iterator[None]:
    """Wrap the fake's request dispatch (a module function its app looks up per request)."""
    from tests.fakes import server

    original = server._dispatch

    async def timed(*args: Any) -> Any:
        started = time.perf_counter()
        try:
            return await original(*args)
        finally:
            stamps.fake_busy.append((started, time.perf_counter()))

    server._dispatch = timed
    try:
        yield
    finally:
        server._dispatch = original


async def _until(condition: Callable[[], bool], stamps: Stamps, deadline: float = 60.0) -> None:
    async with asyncio.timeout(deadline):
        while not condition():
            stamps.changed.clear()
            await stamps.changed.wait()


def _config(run: str) -> dict[str, str]:
    return {".github/greenlight.yml": run}


async def app_figures(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    stamps = Stamps()
    with _time_fake_requests(stamps):
        return await _app_figures(args, stamps, tmp)


async def _app_figures(args: argparse.Namespace, stamps: Stamps, tmp: Path) -> dict[str, Any]:
    from tests.e2e.conftest import Greenlight, start_greenlight
    from tests.fakes.plugin import start_fake_github, stop_fake_github

    (tmp / "app").mkdir(parents=True, exist_ok=True)
    validate = bool(args.validate)
    fake, fake_server = await start_fake_github(
        tmp / "github", validate_responses=validate, validate_requests=validate
    )
    _instrument(fake, stamps)
    server = await start_greenlight(fake, tmp / "app")
    greenlight = Greenlight(fake, server, tmp / "app")
    repos = [f"bench{n}/project" for n in range(args.installations)]
    try:
        for repo in [*repos, SLOW_REPO]:
            fake.create_repo(repo, _config("jobs:\n  test:\n    run: 'true'\n"))
        cold = [await _quick_run(greenlight, stamps, r, "warm-up") for r in [*repos, SLOW_REPO]]
        measured = [
            await _quick_run(greenlight, stamps, repos[n % len(repos)], f"quick-{n}")
            for n in range(args.runs)
        ]
        sleeps = "\n".join(f"      - run: sleep {args.sleep}" for _ in range(args.steps))
        slow = _config(f"jobs:\n  sleepy:\n    steps:\n{sleeps}\n")
        e2e, job_only = [], []
        for number in range(args.e2e_runs):
            sha, started = await _open_pull_request(fake, SLOW_REPO, f"slow-{number}", slow)
            await _until(lambda sha=sha: (sha, "sleepy") in stamps.completed, stamps)
            e2e.append(stamps.completed[(sha, "sleepy")] - started)
            job_only.append(stamps.completed[(sha, "sleepy")] - stamps.in_progress[sha])
            await greenlight.run_for(SLOW_REPO, sha)
        paced = _write_pacing(greenlight, [*repos, SLOW_REPO])
        fake.assert_no_violations()  # what the fake still checks when validation is off
    finally:
        await server.close()
        await stop_fake_github(fake, fake_server)
    return {
        "latencies": [total for total, _ in measured],
        "in_fake": [inside for _, inside in measured],
        "cold": cold[0],
        "e2e": e2e,
        "job_only": job_only,
        "paced_seconds": paced,
    }


async def _quick_run(
    greenlight: Any, stamps: Stamps, repo: str, branch: str
) -> tuple[float, float]:
    """A PR opened on a new commit: (webhook → first in_progress, time inside the fake)."""
    sha, started = await _open_pull_request(greenlight.fake, repo, branch, {"n.txt": branch})
    await _until(lambda: sha in stamps.in_progress, stamps)
    total = stamps.in_progress[sha] - started
    inside = stamps.busy_between(started, stamps.in_progress[sha])
    await greenlight.run_for(repo, sha)
    await _until(lambda: (sha, "greenlight") in stamps.completed, stamps)
    await greenlight.settle()  # the run's last reports and what they cause: not the next's
    return total, inside


def _write_pacing(greenlight: Any, repos: list[str]) -> float:
    """Seconds the app's write pacer (GitHub's 80 writes a minute) held writes back."""
    fake, github = greenlight.fake, greenlight.context.github
    ids = {fake.world.installation_for(repo, fake.app_id).id for repo in repos}
    return float(sum(github.installation(i).writes.waited for i in ids))


async def _open_pull_request(
    fake: Any, repo: str, branch: str, files: dict[str, str]
) -> tuple[str, float]:
    """A new commit on a new branch, its PR opened: (head sha, when the webhook was sent)."""
    sha: str = fake.commit(repo, branch, files)
    pr = fake.open_pull_request(repo, branch)
    payload = fake.pull_request_event("opened", repo, pr.number)
    started = time.perf_counter()
    status = await fake.send("pull_request", payload)
    if status != 202:
        raise RuntimeError(f"the app answered {status} to pull_request opened")
    return sha, started


# (b) the executor against bash ----------------------------------------------------------------


async def executor_figures(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    from bot.core.config import Step
    from bot.executor.process import run_steps
    from bot.executor.sandbox import Sandbox
    from bot.executor.sandbox_policy import DEFAULT_BUILD_USER, SandboxPolicy

    steps = [Step(f"sleep {n}", f"sleep {args.sleep}") for n in range(args.steps)]
    script = "\n".join(step.run for step in steps)
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp), "CI": "true"}
    bash = shutil.which("bash") or "/bin/bash"
    output: list[str] = []
    sandbox = Sandbox(SandboxPolicy(build_user=DEFAULT_BUILD_USER))
    problem = await sandbox.problem()
    workspace = await asyncio.to_thread(_walkable_workspace, tmp)

    async def collect(text: str) -> None:
        output.append(text)

    def through(chosen: Sandbox | None, job: list[Step]) -> Callable[[], Awaitable[float]]:
        async def executor() -> float:
            started = time.perf_counter()
            outcome = await run_steps(
                job, workdir=workspace, env=env, timeout_seconds=600,
                on_output=collect, cancel=asyncio.Event(), sandbox=chosen,
            )  # fmt: skip
            if outcome.conclusion != "success":
                raise RuntimeError(f"the executor's steps ended {outcome.conclusion}")
            return time.perf_counter() - started

        return executor

    async def direct() -> float:
        started = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            bash, "-eo", "pipefail", "-c", script, cwd=tmp, env=env
        )
        if await process.wait() != 0:
            raise RuntimeError("bash's sleeps failed")
        return time.perf_counter() - started

    contenders = {"executor": through(None, steps), "bash": direct}
    if problem is None:
        contenders["sandboxed"] = through(sandbox, steps)
    timings = await _interleaved(args.rounds, contenders)
    if problem is None:  # one `true` step, with and without the sandbox: its start-up cost
        true = [Step("true", "true")]
        starts = await _interleaved(
            args.rounds * 4, {"plain": through(None, true), "sandbox": through(sandbox, true)}
        )
        timings |= {"start_plain": starts["plain"], "start_sandbox": starts["sandbox"]}
    return {**timings, "sandbox_problem": problem}


def _walkable_workspace(tmp: Path) -> Path:
    """A workspace the sandbox's build user may walk to (temporary directories are 0700)."""
    for directory in (tmp.parent, tmp):
        directory.chmod(0o755)
    workspace = tmp / "workspace"
    workspace.mkdir()
    return workspace


async def _interleaved(
    rounds: int, contenders: dict[str, Callable[[], Awaitable[float]]]
) -> dict[str, list[float]]:
    """Each contender once per round, alternating which goes first."""
    timings: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    for number in range(rounds):
        for name in names[number % 2 :] + names[: number % 2]:
            timings[name].append(await contenders[name]())
    return timings


# (c) cached checkout against a fresh clone -----------------------------------------------------


def make_repository(path: Path, commits: int, files: int) -> str:
    """A bare repository of `files` modules, then small commits up to `commits`; its tip.

    Made with `git fast-import`: the first commit adds every file, each later commit
    changes one of them.
    """
    subprocess.run(["git", "init", "--quiet", "--bare", str(path)], check=True)
    stream: list[bytes] = []
    for number in range(commits):
        changed = range(files) if number == 0 else [number % files]
        message = f"Change {number}: adjust {len(changed)} module(s)\n".encode()
        stream += [
            b"commit refs/heads/main\n",
            f"mark :{number + 1}\n".encode(),
            f"committer Bench <bench@example.com> {1_700_000_000 + number * 60} +0000\n".encode(),
            f"data {len(message)}\n".encode() + message,
            f"from :{number}\n".encode() if number else b"",
        ]
        for index in changed:
            content = _module(index, number)
            stream.append(f"M 100644 inline src/pkg_{index % 10}/module_{index}.py\n".encode())
            stream.append(f"data {len(content)}\n".encode() + content + b"\n")
    subprocess.run(["git", "fast-import", "--quiet"], cwd=path, input=b"".join(stream), check=True)
    subprocess.run(["git", "symbolic-ref", "HEAD", "refs/heads/main"], cwd=path, check=True)
    tip = subprocess.run(
        ["git", "rev-parse", "main"], cwd=path, check=True, capture_output=True, text=True
    )
    return tip.stdout.strip()


def _module(index: int, version: int) -> bytes:
    """About 1.5 KB of Python source, different for each file and version."""
    functions = "".join(
        f'def f_{index}_{n}(x):\n    """Step {n} of module {index}."""\n'
        f"    return x * {n + version} + {index}\n\n\n"
        for n in range(20)
    )
    return (
        f'"""Module {index}, version {version}."""\n\nVERSION = {version}\n\n\n{functions}'.encode()
    )


async def checkout_figures(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    from bot.executor.workspace import GitCache, remove_workspace

    origin = tmp / "origin.git"
    tip = make_repository(origin, args.commits, args.files)
    url = origin.as_uri()
    cache = GitCache(tmp / "cache")
    first = tmp / "first-build"
    started = time.perf_counter()
    await cache.checkout(url, tip, first)  # the first build fills the cache
    first_build = time.perf_counter() - started
    count = 0

    async def cached() -> float:
        nonlocal count
        count += 1
        dest = tmp / f"cached-{count}"
        started = time.perf_counter()
        await cache.checkout(url, tip, dest)
        took = time.perf_counter() - started
        await remove_workspace(dest)
        return took

    async def fresh() -> float:
        nonlocal count
        count += 1
        dest = tmp / f"fresh-{count}"
        started = time.perf_counter()
        process = await asyncio.create_subprocess_exec("git", "clone", "--quiet", url, str(dest))
        if await process.wait() != 0:
            raise RuntimeError("git clone failed")
        took = time.perf_counter() - started
        await remove_workspace(dest)
        return took

    timings = await _interleaved(args.checkout_rounds, {"cached": cached, "fresh": fresh})
    fetches_after_first = cache.command_counts["fetch"]
    size = sum(f.stat().st_size for f in origin.rglob("*") if f.is_file())
    return {
        **timings,
        "first_build": first_build,
        "fetches": fetches_after_first,
        "origin_bytes": size,
    }


# Report -----------------------------------------------------------------------------------------


def _size(count: int) -> str:
    return f"{count / 1024:.0f} KB" if count < 1 << 20 else f"{count / (1 << 20):.1f} MB"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def report(figures: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    app = figures["app"]
    a = median(app["latencies"])
    a_fake = median(app["in_fake"])
    summary["webhook_to_in_progress_ms"] = a * 1000
    print(
        f"\n(a) pull_request opened → first check run in_progress, {len(app['latencies'])} "
        f"runs over {args.installations} installations, after one warm-up run on each"
    )
    cold_total, cold_fake = app["cold"]
    print(
        table(
            ["", "median ms", "min ms", "max ms", "cold ms"],
            [
                ["total", _ms(a), _ms(min(app["latencies"])), _ms(max(app["latencies"])),
                 _ms(cold_total)],
                ["of which inside the fake", _ms(a_fake), _ms(min(app["in_fake"])),
                 _ms(max(app["in_fake"])), _ms(cold_fake)],
            ],
        )
    )  # fmt: skip
    goal = FIRST_IN_PROGRESS_GOAL
    summary["webhook_to_in_progress_vs_goal"] = ratio(a, goal)
    validation = "on" if args.validate else "off"
    print(
        f"median {_ms(a)} ms = {ratio(a, goal):.2f} of the goal, the fake's request validation "
        f"{validation}; goal < {_ms(goal)} ms: {verdict(a < goal)}  (cold: the first PR of the "
        f"service, with a new installation token and an empty git cache; writes held back by "
        f"the app's write pacer: {app['paced_seconds']:.1f} s)"
    )

    ex = figures["executor"]
    executor, bash = median(ex["executor"]), median(ex["bash"])
    summary["executor_vs_bash"] = ratio(executor, bash)
    print(f"\n(b) {args.steps} steps of sleep {args.sleep}, median of {len(ex['bash'])} rounds")
    rows = [
        [f"bash -c (the {args.steps} commands)", f"{bash:.3f}", "1.00"],
        ["run_steps (executor)", f"{executor:.3f}", f"{ratio(executor, bash):.3f}"],
    ]
    if app["e2e"]:
        e2e, job_only = median(app["e2e"]), median(app["job_only"])
        summary["app_e2e_vs_bash"] = ratio(e2e, bash)
        summary["app_job_vs_bash"] = ratio(job_only, bash)
        rows += [
            ["app: job in_progress → completed", f"{job_only:.3f}", f"{ratio(job_only, bash):.3f}"],
            ["app: webhook → job completed", f"{e2e:.3f}", f"{ratio(e2e, bash):.3f}"],
        ]
    if ex.get("sandboxed"):
        sandboxed = median(ex["sandboxed"])
        summary["sandboxed_vs_bash"] = ratio(sandboxed, bash)
        rows.insert(
            2, ["run_steps in the sandbox", f"{sandboxed:.3f}", f"{ratio(sandboxed, bash):.3f}"]
        )
    print(table(["", "seconds", "ratio to bash"], rows))
    print(f"goal executor / bash <= 1.15: {verdict(summary['executor_vs_bash'] <= 1.15)}")
    if ex.get("sandboxed"):
        per_job = median(ex["start_sandbox"]) - median(ex["start_plain"])
        per_step = (sandboxed - executor - per_job) / max(args.steps - 1, 1)
        summary["sandbox_job_ms"], summary["sandbox_step_ms"] = per_job * 1000, per_step * 1000
        print(
            f"goal sandboxed / bash <= 1.05: {verdict(summary['sandboxed_vs_bash'] <= 1.05)}; "
            f"the sandbox's cost: {_ms(per_job)} ms per job (its network, its one bwrap and "
            f"init, and the first step: one `true` step sandboxed minus plain, median of "
            f"{len(ex['start_sandbox'])}), then "
            f"about {_ms(per_step)} ms per further step"
        )
    else:
        print(f"the sandbox was not measured: {ex['sandbox_problem']}")

    co = figures["checkout"]
    cached, fresh = median(co["cached"]), median(co["fresh"])
    summary["fresh_clone_vs_cached"] = ratio(fresh, cached)
    print(
        f"\n(c) checkout of a repository of {args.commits} commits and {args.files} files, "
        f"{_size(co['origin_bytes'])}, median of "
        f"{len(co['cached'])} rounds (first build, filling the cache: {_ms(co['first_build'])} ms)"
    )
    print(
        table(
            ["", "median ms", "min ms", "max ms"],
            [
                ["git clone (fresh)", _ms(fresh), _ms(min(co["fresh"])), _ms(max(co["fresh"]))],
                ["GitCache.checkout (2nd build)", _ms(cached), _ms(min(co["cached"])),
                 _ms(max(co["cached"]))],
            ],
        )
    )  # fmt: skip
    speedup = summary["fresh_clone_vs_cached"]
    print(f"fresh / cached = {speedup:.2f}× (goal >= 3×: {verdict(speedup >= 3)}); "
          f"fetches by the cache after the first build: {co['fetches'] - 1}")  # fmt: skip
    return summary


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="greenlight-bench-") as name:
        tmp = Path(name)
        for part in ("app", "executor", "checkout"):
            (tmp / part).mkdir()
        print("measuring (a) and (b) through the app…", flush=True)
        app = await app_figures(args, tmp / "app")
        print("measuring (b) the executor against bash…", flush=True)
        executor = await executor_figures(args, tmp / "executor")
        print("measuring (c) checkouts…", flush=True)
        checkout = await checkout_figures(args, tmp / "checkout")
    return {"app": app, "executor": executor, "checkout": checkout}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench pipeline", description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=20, help="(a) webhook → in_progress runs")
    p.add_argument(
        "--validate",
        action="store_true",
        help="(a, b) the fake checks requests and answers against GitHub's OpenAPI description",
    )
    p.add_argument(
        "--installations", type=int, default=INSTALLATIONS, help="(a) runs rotate over these"
    )
    p.add_argument("--e2e-runs", type=int, default=3, help="(b) 10-sleep runs through the app")
    p.add_argument("--rounds", type=int, default=5, help="(b) executor / bash rounds")
    p.add_argument("--checkout-rounds", type=int, default=9, help="(c) rounds")
    p.add_argument("--steps", type=int, default=SLEEP_STEPS, help="(b) steps per job")
    p.add_argument("--sleep", type=float, default=SLEEP_SECONDS, help="(b) seconds per step")
    p.add_argument("--commits", type=int, default=500, help="(c) commits in the repository")
    p.add_argument("--files", type=int, default=100, help="(c) files in the repository")
    return p


def main(argv: list[str]) -> dict[str, Any]:
    args = parser().parse_args(argv)
    figures = asyncio.run(measure(args))
    return report(figures, args)


if __name__ == "__main__":
    main(sys.argv[1:])
