"""Issue 14 benchmark: a 50 MB log's page, and 100 readers following one running job.

1. A job with a 50 MB log (80-character lines, stored as the executor stores them: chunks
   of about 16 KB) is served by the pages' routes over SQLite. Measured: the time to the
   first byte and to the last of its page, and the page's weight, against the baseline of
   the page before issue 14 in the same run (the whole log read, escaped and sent in one
   page) and the raw download (`log.txt`, streamed).
2. 100 readers follow one running job's events stream while a writer appends lines (each
   holding the moment it was written) at a steady rate. Measured: the lines per second each
   reader receives, and how long a line takes from the store to a reader (median, p99).

    .venv/bin/python -m bench.logs [--megabytes 50] [--followers 100] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bench import median, percentile, ratio, table
from bot import links
from bot.settings import Settings
from bot.store import NewJob, NewRun, Store, open_store
from bot.store.records import Status
from bot.web import pages
from bot.web.keys import SETTINGS, STORE
from tests.helpers import make_settings

CHUNK_CHARS = 16 * 1024
LINE = "compiling src/module_{n:08d}.c … ok " + "x" * 40 + "\n"  # 80 characters or so


def _private_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


def parser() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(prog="python -m bench.logs", description=__doc__)
    options.add_argument("--megabytes", type=float, default=50.0, help="size of the big log")
    options.add_argument("--rounds", type=int, default=5, help="page loads measured")
    options.add_argument("--followers", type=int, default=100, help="readers of one job")
    options.add_argument("--seconds", type=float, default=10.0, help="how long they read")
    options.add_argument("--rate", type=int, default=200, help="lines written per second")
    return options


async def _job(store: Store, sha: str) -> int:
    run, _ = await store.runs.start(NewRun("octo/bench", sha, 1, "/x", "push", "main"), now=1.0)
    (job,) = await store.runs.add_jobs(run.id, [NewJob("build", "{}")])
    await store.runs.update_job(job.id, status=Status.IN_PROGRESS, started_at=time.time())
    return job.id


async def _fill(store: Store, job_id: int, megabytes: float) -> int:
    """Store about `megabytes` of lines in chunks, as the executor does; the characters."""
    target, written, n = int(megabytes * 1_000_000), 0, 0
    while written < target:
        lines = []
        size = 0
        while size < CHUNK_CHARS:
            line = LINE.format(n=n)
            lines.append(line)
            size += len(line)
            n += 1
        await store.runs.append_log(job_id, "".join(lines))
        written += size
    return written


async def _timed_get(session: aiohttp.ClientSession, url: str) -> tuple[float, float, int]:
    """Seconds to the first byte and to the last, and the bytes received."""
    start = time.perf_counter()
    async with session.get(url) as response:
        assert response.status == 200, response.status
        first = await response.content.readany()
        ttfb = time.perf_counter() - start
        size = len(first)
        async for chunk in response.content.iter_any():
            size += len(chunk)
    return ttfb, time.perf_counter() - start, size


async def _whole_page(request: web.Request) -> web.Response:
    """The page before issue 14: the whole log read, escaped, and sent in one page."""
    job_id = int(request.match_info["job_id"])
    text, _ = await request.app[STORE].runs.read_log(job_id)
    body = f"<!doctype html><pre id='log'>{html.escape(text)}</pre>"
    return web.Response(text=body, content_type="text/html")


def _app(settings: Settings, store: Store) -> web.Application:
    app = web.Application()
    app[SETTINGS], app[STORE] = settings, store
    pages.add_routes(app)
    app.router.add_get("/baseline/{job_id}", _whole_page)
    return app


async def big_log(args: argparse.Namespace, settings: Settings, store: Store) -> dict[str, Any]:
    """Time to first byte, total time and weight of the 50 MB log's page and baselines."""
    job_id = await _job(store, "a" * 40)
    chars = await _fill(store, job_id, args.megabytes)
    await store.runs.update_job(job_id, status=Status.COMPLETED, conclusion="success")
    page = links.job_log_url("", job_id, settings.link_secret)
    urls = {
        "page": page,
        "raw download": page.replace("/log?", "/log.txt?"),
        "whole log in the page (before)": f"/baseline/{job_id}",
    }
    figures: dict[str, Any] = {"log_megabytes": chars / 1_000_000}
    async with TestServer(_app(settings, store)) as server, aiohttp.ClientSession() as session:
        for name, path in urls.items():
            await _timed_get(session, str(server.make_url(path)))  # warm the caches
            rounds = [
                await _timed_get(session, str(server.make_url(path))) for _ in range(args.rounds)
            ]
            figures[name] = {
                "ttfb_ms": median([r[0] for r in rounds]) * 1000,
                "total_ms": median([r[1] for r in rounds]) * 1000,
                "bytes": rounds[-1][2],
            }
    return figures


async def _follow(session: aiohttp.ClientSession, url: str, received: list[float]) -> int:
    """Read one events stream until the job ends; each line's delay goes to `received`."""
    lines = 0
    async with session.get(url, timeout=aiohttp.ClientTimeout(total=None)) as response:
        async for raw in response.content:
            if raw.startswith(b"data: ") and b'"lines"' in raw:
                now = time.time()
                for item in json.loads(raw[6:])["lines"]:
                    received.append(now - float(item["html"].split()[1]))
                    lines += 1
    return lines


async def followers(args: argparse.Namespace, settings: Settings, store: Store) -> dict[str, Any]:
    """Lines per second each of N readers of one running job receives, and their delay."""
    job_id = await _job(store, "b" * 40)
    token = links.sign("job", job_id, settings.link_secret)
    delays: list[float] = []
    connector = aiohttp.TCPConnector(limit=0)
    async with (
        TestServer(_app(settings, store)) as server,
        aiohttp.ClientSession(connector=connector) as session,
    ):
        url = str(server.make_url(f"/jobs/{job_id}/log/events?token={token}"))
        readers = [
            asyncio.create_task(_follow(session, url, delays)) for _ in range(args.followers)
        ]
        written = await _write(store, job_id, args.rate, args.seconds)
        await store.runs.update_job(job_id, status=Status.COMPLETED, conclusion="success")
        counts = await asyncio.wait_for(asyncio.gather(*readers), timeout=60)
    return {
        "followers": args.followers,
        "lines_written": written,
        "lines_per_second_each": median([c / args.seconds for c in counts]),
        "lines_per_second_all": sum(counts) / args.seconds,
        "every_reader_got_every_line": all(c == written for c in counts),
        "delay_p50_ms": median(delays) * 1000 if delays else float("nan"),
        "delay_p99_ms": percentile(delays, 0.99) * 1000 if delays else float("nan"),
    }


async def _write(store: Store, job_id: int, rate: int, seconds: float) -> int:
    """Append `rate` lines a second, four times a second (as the executor flushes)."""
    written, start = 0, time.monotonic()
    while (elapsed := time.monotonic() - start) < seconds:
        due = int(elapsed * rate) + 1 - written
        if due > 0:
            now = time.time()
            await store.runs.append_log(job_id, "".join(f"t {now:.6f}\n" for _ in range(due)))
            written += due
        await asyncio.sleep(0.25)
    return written


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = make_settings(Path(tmp), _private_key())
        store = await open_store(settings.database_url)
        try:
            return {
                "big_log": await big_log(args, settings, store),
                "follow": await followers(args, settings, store),
            }
        finally:
            await store.close()


def report(summary: dict[str, Any]) -> str:
    big, follow = summary["big_log"], summary["follow"]
    rows = [
        [name, f"{f['ttfb_ms']:.0f}", f"{f['total_ms']:.0f}", f"{f['bytes'] / 1_000_000:.2f}"]
        for name, f in big.items()
        if isinstance(f, dict)
    ]
    before = big["whole log in the page (before)"]
    return "\n".join(
        [
            f"A {big['log_megabytes']:.1f} MB log (medians):",
            table(["what", "first byte ms", "last byte ms", "MB sent"], rows),
            f"page vs before: first byte {ratio(big['page']['ttfb_ms'], before['ttfb_ms']):.2f}, "
            f"weight {ratio(big['page']['bytes'], before['bytes']):.3f}",
            "",
            f"{follow['followers']} readers following one running job "
            f"({follow['lines_written']} lines written):",
            f"  lines per second, each reader: {follow['lines_per_second_each']:.0f}; "
            f"all readers: {follow['lines_per_second_all']:.0f}; "
            f"every reader got every line: {follow['every_reader_got_every_line']}",
            f"  store to reader: p50 {follow['delay_p50_ms']:.0f} ms, "
            f"p99 {follow['delay_p99_ms']:.0f} ms",
        ]
    )


def main(argv: list[str]) -> dict[str, Any]:
    summary = asyncio.run(run(parser().parse_args(argv)))
    print(report(summary))
    return summary


if __name__ == "__main__":
    main(sys.argv[1:])
