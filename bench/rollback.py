"""Issue 15 benchmark: from a failing health check to the previous release's `success`.

One environment, `production`, deployed by pushes to `main` (`deployment` mode): its
deploy step sleeps 0.5 s and installs the release's answer for the health endpoint (a
local server, as in tests/e2e); its health check probes every 0.2 s for 1 s. Each run
pushes a release that answers 503: the clock starts when the endpoint serves that first
failing probe, and stops when GitHub holds `success` for the automatic rollback to the
last good release, whose step ran again and whose own health check passed for its period.
Steps run in the default sandbox (bubblewrap) given the host's network, so that they reach
the endpoint on 127.0.0.1; `--unsandboxed` runs them with GREENLIGHT_SANDBOX=none.

The baseline, measured in the same run, is the rollback's own work done by hand: the
deploy step as a bash process, then the probe loop (`bot/executor/health_probe.py`) as a
python3 process against the healthy endpoint. The ratio is the median over it; what is
left is Greenlight's: seeing the failure, the Deployments API calls, the checkout.

    .venv/bin/python -m bench rollback [--runs 10] [--unsandboxed]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from bot.deploy.health import SCRIPT
from bot.web.keys import SERVICES
from tests.e2e.conftest import start_greenlight
from tests.e2e.health_endpoint import HealthEndpoint
from tests.fakes.github import FakeGitHub
from tests.fakes.plugin import start_fake_github, stop_fake_github

REPO = "octo/rollback-bench"
DEPLOY_SECONDS = 0.5
EVERY, FOR = 0.2, 1.0


# The deploy tells the endpoint which answer its release gives: over HTTP, so that it
# works from inside the sandbox too (given the host's network).
INSTALL = "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)"


def step(url: str, answer: str) -> str:
    """The deploy step: the release's own work, then telling the endpoint its answer."""
    install = url.replace("/healthz", "/install")
    return f"sleep {DEPLOY_SECONDS}; python3 -c '{INSTALL}' {install}/{answer}"


def config(url: str) -> str:
    return textwrap.dedent(f"""
        mode: deployment
        jobs:
          build:
            run: "true"
        deploy:
          environments:
            production:
              run: {step(url, "$(cat health.txt)")}
              health:
                http: {url}
                every: {EVERY}s
                for: {FOR}s
    """).lstrip()


async def wait_for(condition: object, *, deadline: float = 120.0) -> None:
    give_up = time.monotonic() + deadline
    while not condition():  # type: ignore[operator]
        if time.monotonic() > give_up:
            raise TimeoutError("the benchmark's rollback never finished")
        await asyncio.sleep(0.005)


def succeeded(fake: FakeGitHub, count: int) -> bool:
    """The `count`-th deployment of production has reported `success`."""
    deployments = fake.deployments(REPO, "production")
    if len(deployments) < count:
        return False
    return any(s.state == "success" for s in fake.deployment_statuses(deployments[count - 1].id))


async def by_hand(url: str) -> float:
    """The rollback's own work outside Greenlight: the step, then the probe loop."""
    started = time.monotonic()
    deploy = await asyncio.create_subprocess_exec("bash", "-c", step(url, "200"))
    await deploy.wait()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "GREENLIGHT_HEALTH_HTTP": url,
        "GREENLIGHT_HEALTH_EXPECT": "200",
        "GREENLIGHT_HEALTH_EVERY": f"{EVERY:g}",
        "GREENLIGHT_HEALTH_FOR": f"{FOR:g}",
        "GREENLIGHT_HEALTH_TIMEOUT": f"{EVERY:g}",
    }
    probe = await asyncio.create_subprocess_exec(
        "python3", str(SCRIPT), env=env, stdout=asyncio.subprocess.DEVNULL
    )
    if await probe.wait() != 0:
        raise RuntimeError("the healthy endpoint failed the baseline's probes")
    return time.monotonic() - started


async def bench(runs: int, *, sandboxed: bool) -> tuple[list[float], list[float]]:
    """Seconds from each failing probe to the rollback's `success`, and the baselines."""
    sandbox = {"GREENLIGHT_SANDBOX": "none"}
    if sandboxed:  # the default sandbox, given the host's network to reach the endpoint
        sandbox = {"GREENLIGHT_SANDBOX": "bwrap", "GREENLIGHT_SANDBOX_NETWORK": "host"}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        endpoint = HealthEndpoint(root / "unused")
        url = await endpoint.start()
        fake, fake_server = await start_fake_github(root / "github")
        (root / "greenlight").mkdir()
        server = await start_greenlight(fake, root / "greenlight", **sandbox)
        deployer = server.app[SERVICES].deployer
        try:
            files = {".github/greenlight.yml": config(url), "health.txt": "200\n"}
            fake.create_repo(REPO, files)
            installation = fake.world.installation_for(REPO, fake.app_id)
            assert installation is not None
            server.app[SERVICES].context.github.installation(
                installation.id
            ).writes.limit = 1_000_000  # measure Greenlight, not the pacing of writes to GitHub
            await fake.push(REPO, "main", {"good.txt": "good\n"})
            await wait_for(lambda: succeeded(fake, 1))  # the good release: not timed
            times, baselines = [], []
            for index in range(runs + 1):  # the first run warms the git cache: not counted
                seen = len(endpoint.answered)
                await fake.push(REPO, "main", {"health.txt": "503\n", "bad.txt": f"{index}\n"})
                rollback = len(fake.deployments(REPO, "production")) + 2
                await wait_for(lambda: succeeded(fake, rollback))  # noqa: B023
                done = time.monotonic()
                back = fake.deployments(REPO, "production")[rollback - 1]
                assert "Automatic rollback" in back.description, back.description
                failed = next(at for at, said in endpoint.answered[seen:] if said == "503")
                await fake.settle()
                await deployer.wait_idle()
                baseline = await by_hand(url)
                if index > 0:
                    times.append(done - failed)
                    baselines.append(baseline)
                    print(f"run {index}: {done - failed:.2f} s (by hand {baseline:.2f} s)",
                          file=sys.stderr)  # fmt: skip
            return times, baselines
        finally:
            await server.close()
            await stop_fake_github(fake, fake_server)
            await endpoint.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument(
        "--unsandboxed", action="store_true", help="run steps with GREENLIGHT_SANDBOX=none"
    )
    args = parser.parse_args(argv)
    times, baselines = asyncio.run(bench(args.runs, sandboxed=not args.unsandboxed))
    median, base = statistics.median(times), statistics.median(baselines)
    print(
        f"failing health check → previous release's success, median of {len(times)}: "
        f"{median:.2f} s; the same step and health check by hand: {base:.2f} s; "
        f"ratio {median / base:.2f}, overhead {median - base:.2f} s "
        f"(min {min(times):.2f}, max {max(times):.2f})"
    )


if __name__ == "__main__":
    main()
