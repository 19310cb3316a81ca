"""Webhook intake on web replicas sharing one PostgreSQL database: part (b) of
`python -m bench scale` (see `bench.scale`). `python -m bench.replicas serve DIR DATABASE`
is one replica.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench import percentile

ROOT = Path(__file__).resolve().parent.parent


def tree_cpu_seconds(pid: int) -> float:
    """CPU of a process and its live descendants, with what each reaped (git, bash, sleep)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return 0.0  # it ended meanwhile
    own = sum(int(field) for field in stat[11:15]) / os.sysconf("SC_CLK_TCK")
    return own + sum(tree_cpu_seconds(int(child)) for child in children)


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
            command = [sys.executable, "-m", "bench.replicas", "serve", str(directory), database]
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

    from bench.intake import delivery_headers, payload_body

    body = payload_body()
    base = delivery_headers(body)
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


if __name__ == "__main__" and sys.argv[1:2] == ["serve"]:
    asyncio.run(serve(Path(sys.argv[2]), sys.argv[3]))
