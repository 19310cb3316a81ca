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
(b) **Replicas.** `bench.intake`'s Greenlight server (verify, parse, record durably, 202;
    its payload has no installation, so nothing is built), with its store on PostgreSQL,
    one process or two; the load generator (this process) sends signed `pull_request`
    deliveries over `--intake-concurrency` connections, each request to the next replica in
    turn, as a round-robin load balancer would. Reported, no goal: on two cores, two
    replicas and the generator compete for the same CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench import median, percentile, ratio, table, verdict

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


def tree_cpu_seconds(pid: int) -> float:
    """CPU of a process and its live descendants, with what each reaped (git, bash, sleep)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return 0.0  # it ended meanwhile
    own = sum(int(field) for field in stat[11:15]) / os.sysconf("SC_CLK_TCK")
    return own + sum(tree_cpu_seconds(int(child)) for child in children)


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
    from bot.github.pacing import WritePacer

    original = WritePacer.wait

    async def at_once(self: WritePacer) -> None:
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


# (b) Replicas --------------------------------------------------------------------------------


async def serve(directory: Path, database: str) -> None:
    """One web replica on a free port: print `READY <port>`, stop on SIGTERM."""
    from aiohttp import web

    from bench.intake import greenlight_app

    runner = web.AppRunner(greenlight_app(directory, database_url=database), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print(f"READY {runner.addresses[0][1]}", flush=True)
    await stop.wait()
    await runner.cleanup()


@contextmanager
def replicas(count: int, database: str, tmp: Path) -> Iterator[dict[int, int]]:
    """`count` replicas on one database: their process ids by port."""
    processes: list[subprocess.Popen[str]] = []
    ports = {}
    try:
        for number in range(count):
            directory = tmp / f"replica{number}"
            directory.mkdir(parents=True)
            command = [sys.executable, "-m", "bench.scale", "serve", str(directory), database]
            with (directory / "replica.log").open("w") as log:  # the replica keeps its own copy
                process = subprocess.Popen(
                    command, cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True
                )
            processes.append(process)
            assert process.stdout is not None
            line = process.stdout.readline()
            if not line.startswith("READY "):
                raise RuntimeError(
                    f"a replica did not start: {(directory / 'replica.log').read_text()}"
                )
            ports[int(line.split()[1])] = process.pid
        yield ports
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()


async def load(
    urls: list[str], requests: int, concurrency: int, warmup: int, servers: list[int]
) -> dict[str, Any]:
    """POST signed deliveries over `concurrency` connections, each to the next URL in turn;
    the CPU the `servers` processes spent on the measured ones."""
    import aiohttp

    from bench.intake import payload_body, signature

    body = payload_body()
    base = {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/bench",
        "X-GitHub-Event": "pull_request",
        "X-GitHub-Hook-ID": "1",
        "X-Hub-Signature-256": signature(body),
    }
    statuses: dict[int, int] = {}
    turn = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def post() -> float:
            nonlocal turn
            url, turn = urls[turn % len(urls)], turn + 1
            headers = {**base, "X-GitHub-Delivery": str(uuid.uuid4())}
            started = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
            statuses[response.status] = statuses.get(response.status, 0) + 1
            return time.perf_counter() - started

        async def connection(count: int) -> list[float]:
            return [await post() for _ in range(count)]

        async def batch(total: int) -> list[float]:
            shares = [total // concurrency + (i < total % concurrency) for i in range(concurrency)]
            outs = await asyncio.gather(*(connection(n) for n in shares))
            return [latency for out in outs for latency in out]

        await batch(warmup)
        cpu = sum(tree_cpu_seconds(pid) for pid in servers)
        started = time.perf_counter()
        latencies = await batch(requests)
        seconds = time.perf_counter() - started
        cpu = sum(tree_cpu_seconds(pid) for pid in servers) - cpu
    return {"seconds": seconds, "latencies": latencies, "statuses": statuses, "cpu": cpu}


async def _deliveries(database: str) -> int:
    import asyncpg

    connection = await asyncpg.connect(database)
    try:
        return int(await connection.fetchval("SELECT count(*) FROM deliveries"))
    finally:
        await connection.close()


async def replica_figures(args: argparse.Namespace, database: str, tmp: Path) -> dict[int, Any]:
    from tests.services import empty_database

    rounds: dict[int, list[dict[str, Any]]] = {1: [], 2: []}
    for number in range(args.rounds):
        for count in (1, 2) if number % 2 == 0 else (2, 1):
            await empty_database(database)
            with replicas(count, database, tmp / f"intake-r{number}-{count}") as ports:
                urls = [f"http://127.0.0.1:{port}/webhook" for port in ports]
                result = await load(
                    urls, args.requests, args.intake_concurrency, args.warmup, list(ports.values())
                )
            recorded = await _deliveries(database)
            latencies = result["latencies"]
            figures = {
                "requests_per_second": len(latencies) / result["seconds"],
                "p50_ms": percentile(latencies, 0.5) * 1000,
                "p99_ms": percentile(latencies, 0.99) * 1000,
                "all_202": result["statuses"] == {202: len(latencies) + args.warmup},
                "recorded": recorded == len(latencies) + args.warmup,
                "cpu_ms_per_request": result["cpu"] * 1000 / len(latencies),
            }
            print(
                f"  round {number + 1}: {count} replica(s): "
                f"{figures['requests_per_second']:.0f} req/s, p50 {figures['p50_ms']:.1f} ms, "
                f"p99 {figures['p99_ms']:.1f} ms, replicas' CPU "
                f"{figures['cpu_ms_per_request']:.2f} ms a request, every delivery recorded "
                f"once: {figures['recorded']}",
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
    if argv[:1] == ["serve"]:
        asyncio.run(serve(Path(argv[1]), argv[2]))
        return {}
    args = parser().parse_args(argv)
    return report(asyncio.run(measure(args)), args)


if __name__ == "__main__":
    main(sys.argv[1:])
