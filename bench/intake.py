"""Webhook intake on loopback: Greenlight against the peer that does the same, gidgethub
alone, and a bare aiohttp handler.

The fair peer (`gidgethub+sqlite`) is the gidgethub starter that also keeps each delivery
in SQLite, committed before it answers (one transaction per request, on one connection
owned by one thread, as aiosqlite does), as Greenlight must to lose nothing on a crash.

Every server and the load generator run in processes of their own (`serve` and `load`
below), so the generator never shares an event loop or a CPU account with the server it
measures. The generator is an aiohttp client with a connector limit of `--concurrency`
(16) connections, sending signed `pull_request` opened payloads padded to about 25 KB,
each with a unique `X-GitHub-Delivery`. Rounds rotate the order of the servers; the
figures are medians over rounds.

The app is the real code path: `create_app(load_settings(...))`, SQLite in a temp dir,
each delivery recorded durably before the 202. The payload carries no `installation`, so
`build_pull_request` (bot/handlers/ci.py) returns at once and no build starts; the
dispatcher still reads back, dispatches and marks every delivery in the background, in
the same process. GITHUB_API_URL points at a closed local port.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import hashlib
import hmac
import json
import os
import pstats
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import median, percentile, ratio, table, verdict

SECRET = "bench-webhook-secret"
ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "webhooks" / "pull_request.opened.json"
TARGET_BYTES = 25 * 1024
SERVERS = ("app", "gidgethub+sqlite", "gidgethub", "bare")
PEER = "gidgethub+sqlite"
DEAD_API = "http://127.0.0.1:9"  # discard port: nothing listens
PR_BODY_PARAGRAPH = (
    "This change reworks how the scheduler picks the next job when several runs compete "
    "for the same slot. Before, a long matrix could starve a short lint job of a later "
    "push; now jobs are taken in the order their runs were planned, and a run's own jobs "
    "keep their dependency order. See the linked issue for the traces that showed it.\n\n"
    "- [x] tests for the ordering (`tests/core/test_schedule.py`)\n"
    "- [x] docs updated\n- [ ] benchmark figures refreshed\n\n"
)


def payload_body() -> bytes:
    """The real example, without `installation`, its PR body padded to about 25 KB compact."""
    payload = json.loads(FIXTURE.read_text())
    payload.pop("installation", None)
    body = payload["pull_request"].get("body") or ""
    payload["pull_request"]["body"] = body
    while len(json.dumps(payload, separators=(",", ":"))) < TARGET_BYTES:
        body += "\n\n" + PR_BODY_PARAGRAPH
        payload["pull_request"]["body"] = body
    return json.dumps(payload, separators=(",", ":")).encode()


def signature(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def delivery_headers(body: bytes) -> dict[str, str]:
    """GitHub's headers for a signed `pull_request` delivery of `body`, but its id."""
    return {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/bench",
        "X-GitHub-Event": "pull_request",
        "X-GitHub-Hook-ID": "1",
        "X-Hub-Signature-256": signature(body),
    }


# Servers ------------------------------------------------------------------------------------


def bare_app() -> Any:
    """The ceiling: read the body, answer 202."""
    from aiohttp import web

    async def receive(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=202)

    app = web.Application(client_max_size=26 * 1024 * 1024)
    app.router.add_post("/webhook", receive)
    return app


def gidgethub_app() -> Any:
    """What most Python bots do: verify and parse with gidgethub, dispatch to a no-op router."""
    from aiohttp import web
    from gidgethub import routing, sansio

    router = routing.Router()

    @router.register("pull_request", action="opened")
    async def opened(event: sansio.Event) -> None:
        return None

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        event = sansio.Event.from_http(request.headers, body, secret=SECRET)
        await router.dispatch(event)
        return web.Response(status=202)

    app = web.Application(client_max_size=26 * 1024 * 1024)
    app.router.add_post("/webhook", receive)
    return app


def gidgethub_sqlite_app(directory: Path) -> Any:
    """The fair peer: gidgethub, and each delivery committed to SQLite before the 202."""
    import concurrent.futures
    import sqlite3

    from aiohttp import web
    from gidgethub import routing, sansio

    database = sqlite3.connect(directory / "peer.db", check_same_thread=False)
    database.execute("PRAGMA journal_mode=WAL")
    database.execute("PRAGMA synchronous=NORMAL")  # as Greenlight's store
    database.execute(
        "CREATE TABLE deliveries (id TEXT PRIMARY KEY, event TEXT NOT NULL, payload TEXT NOT NULL,"
        " received_at REAL NOT NULL)"
    )
    writer = concurrent.futures.ThreadPoolExecutor(max_workers=1)  # the connection's thread
    router = routing.Router()

    @router.register("pull_request", action="opened")
    async def opened(event: sansio.Event) -> None:
        return None

    def keep(delivery: str, event: str, body: bytes) -> None:
        with database:  # one transaction, committed
            database.execute(
                "INSERT OR IGNORE INTO deliveries VALUES (?, ?, ?, ?)",
                (delivery, event, body.decode(), time.time()),
            )

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        event = sansio.Event.from_http(request.headers, body, secret=SECRET)
        await asyncio.get_running_loop().run_in_executor(
            writer, keep, event.delivery_id, event.event, body
        )
        await router.dispatch(event)
        return web.Response(status=202)

    app = web.Application(client_max_size=26 * 1024 * 1024)
    app.router.add_post("/webhook", receive)
    return app


def greenlight_app(directory: Path, *, database_url: str | None = None) -> Any:
    """Greenlight itself, configured as `python -m bot` would be, SQLite in `directory`
    unless given another store (`bench.scale` puts replicas on one PostgreSQL database)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from bot.serve import configure_logging
    from bot.settings import load_settings
    from bot.web.app import create_app

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    settings = load_settings(
        {
            "GITHUB_APP_ID": "1",
            "GITHUB_PRIVATE_KEY": pem,
            "GITHUB_WEBHOOK_SECRET": SECRET,
            "GITHUB_API_URL": DEAD_API,
            "DATABASE_URL": database_url or f"sqlite:///{directory / 'greenlight.db'}",
            "GREENLIGHT_WORK_DIR": str(directory / "work"),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        },
        env_file=directory / ".env",
    )
    configure_logging()
    return create_app(settings)


async def serve(kind: str, directory: Path, profile: Path | None) -> None:
    """Serve one kind on a free port, print `READY <port>`, stop on SIGTERM."""
    from aiohttp import web

    peers = {"bare": bare_app, "gidgethub": gidgethub_app}
    if kind == PEER:
        application = gidgethub_sqlite_app(directory)
    elif kind in peers:
        application = peers[kind]()
    else:
        from bench import prototypes

        prototypes.apply(kind.partition(":")[2])
        application = greenlight_app(directory)
    runner = web.AppRunner(application, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    profiler = cProfile.Profile() if profile else None
    if profiler is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, profiler.enable)
    print(f"READY {port}", flush=True)
    await stop.wait()
    if kind.startswith("app"):
        from bench import prototypes

        (directory / "stats.json").write_text(json.dumps(prototypes.batch_stats()))
    if profiler is not None and profile is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    await runner.cleanup()


# Load generator -----------------------------------------------------------------------------


async def load(
    url: str, requests: int, concurrency: int, warmup: int, rate: float = 0
) -> dict[str, Any]:
    """POST `requests` deliveries over `concurrency` connections; latencies in seconds.

    Closed loop (each connection sends its next request when the last one is answered),
    or with `rate`, open loop: request i is due at start + i / rate and its latency counts
    from then, so time spent waiting for a free connection is not hidden.
    """
    import aiohttp

    body = payload_body()
    base = delivery_headers(body)
    statuses: dict[int, int] = {}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def post(due: float | None = None) -> float:
            headers = {**base, "X-GitHub-Delivery": str(uuid.uuid4())}
            started = time.perf_counter() if due is None else due
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
            statuses[response.status] = statuses.get(response.status, 0) + 1
            return time.perf_counter() - started

        async def worker(count: int, out: list[float]) -> None:
            for _ in range(count):
                out.append(await post())

        async def batch(total: int) -> list[float]:
            shares = [total // concurrency + (i < total % concurrency) for i in range(concurrency)]
            outs: list[list[float]] = [[] for _ in shares]
            await asyncio.gather(*(worker(n, o) for n, o in zip(shares, outs, strict=True)))
            return [latency for out in outs for latency in out]

        async def paced(total: int) -> list[float]:
            start, sent = time.perf_counter(), []
            for number in range(total):
                due = start + number / rate
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                sent.append(asyncio.create_task(post(due)))
            return list(await asyncio.gather(*sent))

        await batch(warmup)
        print("MEASURING", flush=True)  # the parent starts the server's CPU clock here
        started = time.perf_counter()
        latencies = await (paced(requests) if rate else batch(requests))
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "latencies": latencies, "statuses": statuses, "bytes": len(body)}


# Orchestration ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    kind: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_request: float
    main_thread_ms_per_request: float  # the event loop's thread alone
    statuses: dict[int, int]
    backlog: int | None = None  # app only: deliveries queued, not yet handled, at the end
    mean_batch: float | None = None  # app only: deliveries per group-commit transaction


def _cpu_seconds(pid: int, *, main_thread: bool = False) -> float:
    """User + system CPU of a process (all its threads, or its main thread), from /proc."""
    stat = f"/proc/{pid}/task/{pid}/stat" if main_thread else f"/proc/{pid}/stat"
    fields = Path(stat).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def server(
    kind: str, directory: Path, profile: Path | None = None
) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """A server subprocess of `kind` and the port it listens on; stopped with SIGTERM."""
    command = [sys.executable, "-m", "bench.intake", "serve", kind, str(directory)]
    if profile is not None:
        command += ["--profile", str(profile)]
    log = (directory / f"{kind}.log").open("w")
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("READY "):
            raise RuntimeError(
                f"{kind} server did not start: {(directory / f'{kind}.log').read_text()}"
            )
        yield process, int(line.split()[1])
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
        log.close()


def measure(
    kind: str,
    args: argparse.Namespace,
    directory: Path,
    profile: Path | None = None,
    rate: float = 0,
) -> Sample:
    """One server, one load run (closed loop, or open loop at `rate` requests/s)."""
    workdir = Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=directory))
    with server(kind, workdir, profile) as (process, port):
        command = [
            sys.executable, "-m", "bench.intake", "load", f"http://127.0.0.1:{port}/webhook",
            "--requests", str(args.rate_requests if rate else args.requests),
            "--concurrency", str(args.concurrency),
            "--warmup", str(args.warmup), "--rate", str(rate),
        ]  # fmt: skip
        with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) as generator:
            assert generator.stdout is not None
            marker = generator.stdout.readline()
            if profile is not None:
                process.send_signal(signal.SIGUSR1)  # profile the measured requests only
            cpu_before = _cpu_seconds(process.pid)
            main_before = _cpu_seconds(process.pid, main_thread=True)
            output = generator.stdout.read()
            cpu_after = _cpu_seconds(process.pid)
            main_after = _cpu_seconds(process.pid, main_thread=True)
        if generator.returncode != 0 or marker.strip() != "MEASURING":
            raise RuntimeError(f"load generator failed against {kind}")
        backlog = _queue_depth(port) if kind.startswith("app") else None
    result = json.loads(output)
    latencies = result["latencies"]
    stats_file = workdir / "stats.json"
    stats = json.loads(stats_file.read_text()) if stats_file.exists() else {}
    return Sample(
        kind=kind,
        requests_per_second=len(latencies) / result["seconds"],
        p50_ms=percentile(latencies, 0.50) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        cpu_ms_per_request=(cpu_after - cpu_before) * 1000 / len(latencies),
        main_thread_ms_per_request=(main_after - main_before) * 1000 / len(latencies),
        statuses={int(k): v for k, v in result["statuses"].items()},
        backlog=backlog,
        mean_batch=stats.get("mean_batch"),
    )


def _queue_depth(port: int) -> int | None:
    """Deliveries the app recorded but had not handled when the load stopped (/metrics)."""
    import urllib.request

    url = f"http://127.0.0.1:{port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as answer:
        for line in answer.read().decode().splitlines():
            if line.startswith("greenlight_queue_depth "):
                return int(float(line.split()[1]))
    return None


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every server, `rounds` times in rotating order; print and return the medians."""
    kinds = tuple(dict.fromkeys([*SERVERS, *args.servers]))
    closed: dict[str, list[Sample]] = {kind: [] for kind in kinds}
    paced: dict[str, list[Sample]] = {kind: [] for kind in kinds}
    with tempfile.TemporaryDirectory(prefix="greenlight-bench-") as tmp:
        for number in range(args.rounds):
            shift = number % len(kinds)
            for kind in kinds[shift:] + kinds[:shift]:
                closed[kind].append(measure(kind, args, Path(tmp)))
                _print_sample(number, kind, "", closed[kind][-1])
                if args.rate:
                    paced[kind].append(measure(kind, args, Path(tmp), rate=args.rate))
                    _print_sample(number, kind, f" @{args.rate:g}/s", paced[kind][-1])
        summary = summarize(closed, paced if args.rate else None)
        print_summary(summary, args)
        if args.profile:
            profile = Path(tmp) / "app.prof"
            measure("app", args, Path(tmp), profile)
            print_profile(profile, args.profile_out)
    return summary


def _print_sample(number: int, kind: str, mode: str, sample: Sample) -> None:
    extras = ""
    if sample.mean_batch is not None:
        extras = f"  backlog {sample.backlog}  batch {sample.mean_batch:.1f}"
    print(
        f"  round {number + 1} {kind + mode:24} {sample.requests_per_second:6.0f} req/s  "
        f"p50 {sample.p50_ms:6.2f} ms  p99 {sample.p99_ms:7.2f} ms  "
        f"CPU {sample.cpu_ms_per_request:.3f} ms/req (main thread "
        f"{sample.main_thread_ms_per_request:.3f})  {sample.statuses}{extras}",
        flush=True,
    )


def _medians(runs: list[Sample]) -> dict[str, Any]:
    return {
        "requests_per_second": median([s.requests_per_second for s in runs]),
        "p50_ms": median([s.p50_ms for s in runs]),
        "p99_ms": median([s.p99_ms for s in runs]),
        "cpu_ms_per_request": median([s.cpu_ms_per_request for s in runs]),
        "main_thread_ms_per_request": median([s.main_thread_ms_per_request for s in runs]),
        "all_202": all(set(s.statuses) == {202} for s in runs),
    }


def summarize(
    closed: dict[str, list[Sample]], paced: dict[str, list[Sample]] | None = None
) -> dict[str, Any]:
    figures = {kind: _medians(runs) for kind, runs in closed.items()}
    app, peer, gidgethub, bare = (figures[k]["requests_per_second"] for k in SERVERS)
    summary: dict[str, Any] = {
        "servers": figures,
        "app_vs_peer": ratio(app, peer),
        "app_vs_gidgethub": ratio(app, gidgethub),
        "app_vs_bare": ratio(app, bare),
        "rounds": len(closed["app"]),
    }
    if paced is not None:
        summary["paced"] = {kind: _medians(runs) for kind, runs in paced.items()}
    return summary


def print_summary(summary: dict[str, Any], args: argparse.Namespace) -> None:
    headers = ["server", "req/s", "p50 ms", "p99 ms", "server CPU ms/req", "main thread", "all 202"]
    print(
        f"\nWebhook intake, closed loop: {args.requests} signed pull_request deliveries of "
        f"{len(payload_body())} bytes over {args.concurrency} connections, "
        f"median of {summary['rounds']} rounds"
    )
    print(table(headers, _rows(summary["servers"])))
    app_p99 = summary["servers"]["app"]["p99_ms"]
    if "paced" in summary:
        print(
            f"\nOpen loop: {args.rate_requests} deliveries at a steady {args.rate:g} per second "
            f"(up to {args.concurrency} connections), latency from when each was due"
        )
        print(table(headers, _rows(summary["paced"])))
        app_p99 = summary["paced"]["app"]["p99_ms"]
    print(
        f"\napp / {PEER} = {summary['app_vs_peer']:.2f} req/s "
        f"(goal >= 1.5: {verdict(summary['app_vs_peer'] >= 1.5)})\n"
        f"app / gidgethub        = {summary['app_vs_gidgethub']:.2f} req/s (keeps nothing)\n"
        f"app / bare             = {summary['app_vs_bare']:.2f} req/s (the ceiling)\n"
        f"app p99                = {app_p99:.2f} ms "
        f"{'open loop at ' + format(args.rate, 'g') + '/s' if 'paced' in summary else ''} "
        f"(goal < 3 ms: {verdict(app_p99 < 3)})"
    )


def _rows(figures: dict[str, Any]) -> list[list[str]]:
    return [
        [
            kind,
            f"{f['requests_per_second']:.0f}",
            f"{f['p50_ms']:.2f}",
            f"{f['p99_ms']:.2f}",
            f"{f['cpu_ms_per_request']:.3f}",
            f"{f['main_thread_ms_per_request']:.3f}",
            "yes" if f["all_202"] else "NO",
        ]
        for kind, f in figures.items()
    ]


def print_profile(path: Path, keep: str | None) -> None:
    """Where the app's main thread spends its time (the aiosqlite thread is not profiled)."""
    stats = pstats.Stats(str(path))
    if keep:
        stats.dump_stats(keep)
        print(f"\nprofile saved to {keep} (open with `python -m pstats {keep}`)")
    print("\nApp server, main thread, by own time:")
    stats.sort_stats("tottime").print_stats(25)
    print("App server, main thread, by cumulative time:")
    stats.sort_stats("cumulative").print_stats(30)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench intake", description=__doc__.split("\n")[0])
    p.add_argument("--requests", type=int, default=5000, help="measured requests per run")
    p.add_argument("--warmup", type=int, default=300, help="unmeasured requests first")
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--rounds", type=int, default=3, help="runs per server; medians reported")
    p.add_argument(
        "--rate", type=float, default=200, help="open-loop phase: requests/s (0: skip it)"
    )
    p.add_argument("--rate-requests", type=int, default=1500, help="open-loop requests")
    p.add_argument(
        "--servers",
        type=lambda text: [kind for kind in text.split(",") if kind],
        default=[],
        help="also measure app variants, e.g. app:no-store,app:orjson (bench/prototypes.py)",
    )
    p.add_argument("--profile", action="store_true", help="then profile the app with cProfile")
    p.add_argument("--profile-out", help="keep the app's profile in this file")
    return p


def main(argv: list[str]) -> int:
    if argv[:1] == ["serve"]:
        profile = Path(argv[4]) if argv[3:4] == ["--profile"] else None
        asyncio.run(serve(argv[1], Path(argv[2]), profile))
        return 0
    if argv[:1] == ["load"]:
        p = argparse.ArgumentParser()
        p.add_argument("url")
        for name in ("--requests", "--concurrency", "--warmup"):
            p.add_argument(name, type=int, required=True)
        p.add_argument("--rate", type=float, default=0)
        a = p.parse_args(argv[1:])
        result = asyncio.run(load(a.url, a.requests, a.concurrency, a.warmup, a.rate))
        print(json.dumps(result))
        return 0
    run(parser().parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
