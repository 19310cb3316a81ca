"""Scaling out: sleep-bound jobs on one and two Celery workers; webhook intake on one and two
web replicas sharing one PostgreSQL database.

(a) **Workers.** The app and the fake GitHub of `tests/fakes` in this process (as the
    end-to-end tests wire them), the Celery executor, a real Redis broker and a real
    PostgreSQL store; the workers are `celery -A bot.worker worker` processes, each with the
    same fixed pool (`--concurrency`, 4), started and ready before the round. Each round
    pushes a config of `--jobs` jobs of `sleep --seconds` (40 of 1 s), and waits until
    every job has ended. The app's pacing of writes to GitHub (80 a minute per
    installation; 40 jobs make about 120) is lifted in this process, so the figure is the
    executor's, and all the jobs are handed to the workers at once. Throughput is the
    number of jobs over the time from the first job a worker took to the last one finished
    (the stamps the workers write in the store); from the first webhook is shown beside.
    Rounds alternate which configuration goes first. Goal: two workers ≥ 1.9 × one.
(b) **Replicas** (`bench/replicas.py`). `bench.intake`'s Greenlight server (verify, parse,
    record durably, 202; its payload has no installation, so nothing is built), its store
    on PostgreSQL, one process or two; the load generator (this process) sends signed
    `pull_request` deliveries over `--intake-concurrency` connections, each request to the
    next replica in turn, as a round-robin load balancer would. Reported, no goal: on two
    cores, two replicas and the generator compete for the same CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench import median, ratio, table, verdict
from bench.replicas import replica_figures, tree_cpu_seconds

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BROKER = "redis://127.0.0.1:6379/14"
READY_SECONDS = 60.0
GOAL = 1.9


# (a) Workers ---------------------------------------------------------------------------------


@contextmanager
def workers(
    count: int, *, concurrency: int, database: str, broker: str, key: str, tmp: Path
) -> Iterator[list[tuple[subprocess.Popen[bytes], Path]]]:
    """`count` Celery workers, ready to take tasks; yields each with its log file."""
    processes, logs = [], []
    try:
        for number in range(count):
            log = tmp / f"worker{number}.log"
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "HOME": str(tmp),
                "LANG": "C.UTF-8",
                "DATABASE_URL": database,
                "CELERY_BROKER_URL": broker,
                "GREENLIGHT_TICKET_KEY": key,
                "GREENLIGHT_WORK_DIR": str(tmp / f"worker{number}"),
                "GREENLIGHT_SANDBOX": "none",  # the executor's figure, not the sandbox's
            }
            command = [
                sys.executable, "-m", "celery", "-A", "bot.worker", "worker",
                f"--hostname=bench{number}@%h", f"--concurrency={concurrency}",
                "--loglevel=INFO", "--without-gossip", "--without-mingle",
            ]  # fmt: skip
            with log.open("wb") as out:
                processes.append(
                    subprocess.Popen(
                        command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
                    )
                )
            logs.append(log)
        _wait_ready(processes, logs)
        yield list(zip(processes, logs, strict=True))
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_ready(processes: list[subprocess.Popen[bytes]], logs: list[Path]) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while not all(" ready." in log.read_text(errors="replace") for log in logs):
        for process, log in zip(processes, logs, strict=True):
            if process.poll() is not None:
                raise RuntimeError(f"a worker stopped:\n{log.read_text(errors='replace')}")
        if time.monotonic() > deadline:
            raise RuntimeError("the workers did not get ready in time")
        time.sleep(0.1)


def _config(jobs: int, seconds: float) -> dict[str, str]:
    lines = "".join(f"  sleep{n}:\n    run: sleep {seconds}\n" for n in range(jobs))
    return {".github/greenlight.yml": f"jobs:\n{lines}"}


async def jobs_round(
    args: argparse.Namespace, count: int, label: str, database: str, tmp: Path
) -> dict[str, Any]:
    """One burst of jobs through the app and `count` workers: its timings."""
    from cryptography.fernet import Fernet

    from bot.store.records import Status
    from tests.e2e.conftest import Greenlight, start_greenlight
    from tests.fakes.plugin import start_fake_github, stop_fake_github
    from tests.services import empty_database

    await empty_database(database)
    await _flush(args.broker)
    key = Fernet.generate_key().decode()
    settings = {
        "DATABASE_URL": database,
        "GREENLIGHT_EXECUTOR": "celery",
        "CELERY_BROKER_URL": args.broker,
        "GREENLIGHT_TICKET_KEY": key,
    }
    (tmp / "app").mkdir(parents=True)
    options = {"concurrency": args.concurrency, "database": database, "broker": args.broker}
    with workers(count, key=key, tmp=tmp, **options) as started:
        cpu_before = sum(tree_cpu_seconds(process.pid) for process, _ in started)
        fake, fake_server = await start_fake_github(tmp / "github")
        server = await start_greenlight(fake, tmp / "app", **settings)
        greenlight = Greenlight(fake, server, tmp / "app")
        try:
            repos = [f"{label}-{n}/project" for n in range(args.repos)]
            share = [
                args.jobs // args.repos + (n < args.jobs % args.repos) for n in range(args.repos)
            ]
            for repo in repos:
                fake.create_repo(repo, {"README.md": "scale\n"})
            sent = time.time()
            shas = [
                await fake.push(repo, "main", _config(jobs, args.seconds))
                for repo, jobs in zip(repos, share, strict=True)
            ]
            jobs = []
            for repo, sha in zip(repos, shas, strict=True):
                run = await greenlight.run_for(repo, sha, deadline=args.deadline)
                jobs += await greenlight.store.runs.jobs(run.id)
            fake.assert_no_violations()
            cpu = sum(tree_cpu_seconds(process.pid) for process, _ in started) - cpu_before
        finally:
            await server.close()
            await stop_fake_github(fake, fake_server)
        per_worker = [
            len(re.findall(r"greenlight\.run_job\[[^]]+\] succeeded", log.read_text()))
            for _, log in started
        ]
    if len(jobs) != args.jobs or any(
        job.status != Status.COMPLETED or job.conclusion != "success" for job in jobs
    ):
        raise RuntimeError(f"not every job succeeded: {[(j.name, j.conclusion) for j in jobs]}")
    first = min(job.started_at or 0.0 for job in jobs)
    last = max(job.finished_at or 0.0 for job in jobs)
    return {
        "window": last - first,
        "from_webhook": last - sent,
        "per_worker": per_worker,
        "cpu_per_job": cpu / len(jobs),
    }


async def _flush(broker: str) -> None:
    import redis.asyncio as aioredis

    client: Any = aioredis.from_url(broker)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


@contextmanager
def unpaced_writes() -> Iterator[None]:
    """The app's writes to GitHub never wait for the installation's budget, in this process."""
    from bot.github.pacing import Priority, WritePacer

    original = WritePacer.wait

    async def at_once(self: WritePacer, priority: Priority = Priority.FEEDBACK) -> None:
        return None

    WritePacer.wait = at_once  # type: ignore[method-assign]
    try:
        yield
    finally:
        WritePacer.wait = original  # type: ignore[method-assign]


async def worker_figures(args: argparse.Namespace, database: str, tmp: Path) -> dict[int, Any]:
    with unpaced_writes():
        return await _worker_rounds(args, database, tmp)


async def _worker_rounds(args: argparse.Namespace, database: str, tmp: Path) -> dict[int, Any]:
    rounds: dict[int, list[dict[str, Any]]] = {1: [], 2: []}
    for number in range(args.rounds):
        for count in (1, 2) if number % 2 == 0 else (2, 1):
            label = f"r{number}w{count}"
            print(f"  round {number + 1}: {count} worker(s)…", flush=True)
            figures = await jobs_round(args, count, label, database, tmp / label)
            print(
                f"    jobs {figures['window']:.2f} s, from the webhook "
                f"{figures['from_webhook']:.2f} s, jobs per worker {figures['per_worker']}, "
                f"workers' CPU {figures['cpu_per_job'] * 1000:.0f} ms a job",
                flush=True,
            )
            rounds[count].append(figures)
    return rounds


# Orchestration -------------------------------------------------------------------------------


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    from tests.services import create_database, drop_database

    database = await create_database()
    tmp = Path(tempfile.mkdtemp(prefix="greenlight-scale-"))
    try:
        await (await _open(database)).close()  # migrated once, emptied per round
        print(
            f"(a) {args.jobs} jobs of sleep {args.seconds} s, workers of {args.concurrency}…",
            flush=True,
        )
        figures: dict[str, Any] = {"workers": await worker_figures(args, database, tmp)}
        if args.requests:
            print(f"(b) {args.requests} deliveries, one and two replicas…", flush=True)
            figures["replicas"] = await replica_figures(args, database, tmp)
        return figures
    finally:
        await drop_database(database)
        shutil.rmtree(tmp, ignore_errors=True)


async def _open(database: str) -> Any:
    from bot.store import open_store

    return await open_store(database)


def report(figures: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    rows, throughput = [], {}
    for count, rounds in figures["workers"].items():
        window = median([r["window"] for r in rounds])
        from_webhook = median([r["from_webhook"] for r in rounds])
        cpu = median([r["cpu_per_job"] for r in rounds])
        throughput[count] = args.jobs / window
        rows.append([
            f"{count} worker(s) × {args.concurrency}", f"{window:.2f}", f"{throughput[count]:.2f}",
            f"{from_webhook:.2f}", f"{args.jobs / from_webhook:.2f}", f"{cpu * 1000:.0f}",
        ])  # fmt: skip
    print(f"\n(a) {args.jobs} jobs of sleep {args.seconds} s, median of {args.rounds} rounds")
    headers = ["", "jobs s", "jobs/s", "webhook→done s", "jobs/s from webhook", "CPU ms/job"]
    print(table(headers, rows))
    speedup = ratio(throughput[2], throughput[1])
    print(f"two workers / one = {speedup:.2f}× (goal >= {GOAL}×: {verdict(speedup >= GOAL)})")
    summary: dict[str, Any] = {"jobs_per_second": throughput, "two_workers_vs_one": speedup}
    if "replicas" in figures:
        rows, rates = [], {}
        for count, rounds in figures["replicas"].items():
            rates[count] = median([r["requests_per_second"] for r in rounds])
            rows.append([
                f"{count} replica(s)", f"{rates[count]:,.0f}",
                f"{median([r['p50_ms'] for r in rounds]):.1f}",
                f"{median([r['p99_ms'] for r in rounds]):.1f}",
                f"{median([r['cpu_ms_per_request'] for r in rounds]):.2f}",
                str(all(r["recorded"] and r["all_202"] for r in rounds)),
            ])  # fmt: skip
        print(f"\n(b) {args.requests} deliveries over {args.intake_concurrency} connections")
        headers = ["", "req/s", "p50 ms", "p99 ms", "CPU ms/req", "all 202, each recorded once"]
        print(table(headers, rows))
        summary["two_replicas_vs_one"] = ratio(rates[2], rates[1])
        summary["every_delivery_recorded_once"] = all(
            r["recorded"] and r["all_202"]
            for rounds in figures["replicas"].values()
            for r in rounds
        )
        print(f"two replicas / one = {summary['two_replicas_vs_one']:.2f}× (reported)")
    return summary


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench scale", description=__doc__.split("\n")[0])
    p.add_argument("--jobs", type=int, default=40, help="(a) jobs per round")
    p.add_argument("--seconds", type=float, default=1.0, help="(a) each job's sleep")
    p.add_argument("--concurrency", type=int, default=4, help="(a) pool size of each worker")
    p.add_argument("--repos", type=int, default=1, help="(a) the jobs are spread over these")
    p.add_argument("--rounds", type=int, default=3, help="rounds of each configuration")
    p.add_argument("--deadline", type=float, default=300.0, help="(a) seconds a round may take")
    p.add_argument(
        "--broker", default=DEFAULT_BROKER, help="Redis for the workers (its database is FLUSHED)"
    )
    p.add_argument("--requests", type=int, default=3000, help="(b) deliveries; 0 skips (b)")
    p.add_argument("--warmup", type=int, default=200, help="(b) deliveries before measuring")
    p.add_argument("--intake-concurrency", type=int, default=16, help="(b) connections")
    return p


def main(argv: list[str]) -> dict[str, Any]:
    args = parser().parse_args(argv)
    return report(asyncio.run(measure(args)), args)


if __name__ == "__main__":
    main(sys.argv[1:])
