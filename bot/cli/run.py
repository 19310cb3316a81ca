"""`python -m bot run [PATH] [--job NAME]`: a checkout's pipeline, locally, without GitHub.

Each job runs in a fresh workspace made from the checkout (committed files plus the
uncommitted changes, so a config can be tried before it is committed), with the same
process runner and the same sandbox the service uses (`--no-sandbox` on a machine
without bubblewrap). Output is printed live, prefixed by the job's name.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.core.config import CONFIG_PATH, Config
from bot.core.config_parser import parse_config
from bot.core.plan import PlanContext, PlannedJob, plan_jobs
from bot.core.schedule import JobState, next_step
from bot.core.variables import BuildInfo, greenlight_variables
from bot.executor.local_checkout import git_output, make_workspace
from bot.executor.process import JobOutcome, run_steps
from bot.executor.sandbox import Sandbox
from bot.executor.sandbox_policy import (
    DEFAULT_BUILD_USER,
    BuildUser,
    SandboxPolicy,
    build_user_from,
)
from bot.settings import BUILD_ENV_PASSTHROUGH


@dataclass
class Result:
    job: PlannedJob
    conclusion: str
    seconds: float = 0.0
    note: str = ""


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot run", description=__doc__)
    parser.add_argument("path", nargs="?", default=".", help="the checkout (default: .)")
    parser.add_argument(
        "--job",
        action="append",
        default=[],
        help="run only this job (and what it needs); repeatable",
    )
    parser.add_argument(
        "--no-sandbox",
        action="store_true",
        help="run steps as your own processes, without bubblewrap (as GREENLIGHT_SANDBOX=none)",
    )
    args = parser.parse_args(list(argv))
    root = Path(args.path).resolve()
    config_file = root / CONFIG_PATH
    if not config_file.is_file():
        print(f"{config_file}: no such file; Greenlight needs {CONFIG_PATH}", file=sys.stderr)
        return 2
    parsed = parse_config(config_file.read_text())
    if isinstance(parsed, tuple):
        for error in parsed:
            print(f"{config_file}:{error.line}: {error.key}: {error.message}", file=sys.stderr)
        return 1
    plan = _select(plan_jobs(parsed, _context(root, parsed)), args.job)
    if isinstance(plan, str):
        print(plan, file=sys.stderr)
        return 2
    sandbox = Sandbox(_sandbox_policy(no_sandbox=args.no_sandbox))
    if (problem := asyncio.run(sandbox.problem())) is not None:
        print(f"{problem}\nOr run with --no-sandbox.", file=sys.stderr)
        return 2
    results = asyncio.run(_run_plan(root, plan, sandbox))
    _print_summary(results)
    return 0 if all(r.conclusion in ("success", "skipped") for r in results) else 1


def _context(root: Path, config: Config) -> PlanContext:
    return PlanContext(
        event="local",
        branch=git_output(root, "rev-parse", "--abbrev-ref", "HEAD"),
        mode=config.mode,
    )


def _select(plan: tuple[PlannedJob, ...], wanted: list[str]) -> tuple[PlannedJob, ...] | str:
    if not wanted:
        return plan
    names = {job.name for job in plan if job.name in wanted or job.base_name in wanted}
    unknown = [w for w in wanted if not any(w in (j.name, j.base_name) for j in plan)]
    if unknown:
        return f"no job named {', '.join(unknown)}; jobs: {', '.join(j.name for j in plan)}"
    needed = set(names)
    changed = True
    while changed:  # add what the chosen jobs need, transitively
        changed = False
        for job in plan:
            if job.name in needed and not set(job.needs) <= needed:
                needed |= set(job.needs)
                changed = True
    return tuple(job for job in plan if job.name in needed)


def _sandbox_policy(*, no_sandbox: bool) -> SandboxPolicy:
    """The service's sandbox, or none: your PATH and HOME, as the service passes its own."""
    host_env = tuple(
        (name, os.environ[name]) for name in BUILD_ENV_PASSTHROUGH if name in os.environ
    )
    user = build_user_from(os.environ.get("GREENLIGHT_BUILD_USER", "") or "65534")
    return SandboxPolicy(
        mode="none" if no_sandbox else "bwrap",
        network="host" if os.environ.get("GREENLIGHT_SANDBOX_NETWORK") == "host" else "own",
        build_user=user if isinstance(user, BuildUser) else DEFAULT_BUILD_USER,
        host_env=host_env,
    )


def _environment(root: Path, job: PlannedJob) -> dict[str, str]:
    build = BuildInfo(
        sha=git_output(root, "rev-parse", "HEAD"),
        ref=git_output(root, "rev-parse", "--abbrev-ref", "HEAD"),
        event="local",
        job=job.name,
    )
    env = greenlight_variables(build, env=dict(job.env))
    # Locally, a job's secrets come from variables of the same name in your environment.
    env.update({name: os.environ[name] for name in job.secrets if name in os.environ})
    return env


async def _run_job(
    root: Path, job: PlannedJob, slots: asyncio.Semaphore, sandbox: Sandbox
) -> Result:
    async with slots:
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="greenlight-run-") as temp:
            os.chmod(temp, 0o711)  # noqa: S103 (the sandbox's build user walks through it)
            workspace = Path(temp) / "workspace"
            await asyncio.to_thread(make_workspace, root, workspace)

            async def show(text: str) -> None:
                for line in text.splitlines():
                    print(f"[{job.name}] {line}", flush=True)

            outcome: JobOutcome = await run_steps(
                job.steps,
                workdir=workspace,
                env=_environment(root, job),
                timeout_seconds=job.timeout_seconds,
                on_output=show,
                cancel=asyncio.Event(),
                sandbox=sandbox,
                # Locally, as a job's secrets, its secret files come from your variables.
                secret_files={n: os.environ[n] for n in job.secret_files if n in os.environ},
            )
        return Result(job, outcome.conclusion, time.monotonic() - started)


async def _run_plan(root: Path, plan: tuple[PlannedJob, ...], sandbox: Sandbox) -> list[Result]:
    results: dict[str, Result] = {
        job.name: Result(job, "skipped", note=job.skip_reason or "")
        for job in plan
        if job.skip_reason
    }
    running: dict[str, asyncio.Task[Result]] = {}
    slots = asyncio.Semaphore(int(os.environ.get("GREENLIGHT_CONCURRENCY") or os.cpu_count() or 2))
    while True:
        states = [
            JobState(
                job.name,
                job.needs,
                "completed" if job.name in results else "queued",
                results[job.name].conclusion if job.name in results else None,
            )
            for job in plan
        ]
        step = next_step(states, started=running)
        for skip in step.skip:
            job = next(j for j in plan if j.name == skip.name)
            results[skip.name] = Result(job, "skipped", note=f"needs {skip.need}")
        for name in step.start:
            job = next(j for j in plan if j.name == name)
            running[name] = asyncio.create_task(_run_job(root, job, slots, sandbox))
        if step.finished or (not running and not step.skip):
            break
        if step.skip and not step.start and not running:
            continue
        done, _ = await asyncio.wait(running.values(), return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            result = task.result()
            results[result.job.name] = result
            running.pop(result.job.name)
    return [results[job.name] for job in plan if job.name in results]


def _print_summary(results: list[Result]) -> None:
    marks = {"success": "✓", "skipped": "-", "cancelled": "⊘"}
    width = max((len(r.job.name) for r in results), default=4)
    print()
    print(f"{'job'.ljust(width)}  result     time")
    for result in results:
        mark = marks.get(result.conclusion, "✗")
        note = f"  ({result.note})" if result.note else ""
        print(
            f"{result.job.name.ljust(width)}  {mark} {result.conclusion.ljust(9)}"
            f"{result.seconds:6.1f} s{note}"
        )
