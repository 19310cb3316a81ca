"""A health endpoint for the end-to-end tests: a raw TCP server on 127.0.0.1 whose answer
is whatever the last deploy wrote to a file or sent to /install/ANSWER (so the release
that runs decides whether it is healthy, as in life), or what a test forces.

Answers: a status code ("200", "503"), "redirect" (a 302), "garbage" (not HTTP), "hang"
(never answers), "drip" (the status line a byte at a time, slower than any probe waits).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from pathlib import Path


class HealthEndpoint:
    def __init__(self, release_file: Path) -> None:
        self.release_file = release_file
        self.forced: str | None = None
        self.hits = 0
        self.answered: list[tuple[float, str]] = []  # (time.monotonic(), answer) per probe
        self.url = ""  # set by start
        self.installed: str | None = None  # what a deploy said with GET /install/ANSWER
        self._stop = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def answer(self) -> str:
        if self.forced is not None:
            return self.forced
        if self.installed is not None:
            return self.installed
        text = self.release_file.read_text().strip() if self.release_file.exists() else ""
        return text or "503"

    async def start(self, *, tls: ssl.SSLContext | None = None) -> str:
        """Listen (over TLS with `tls`); the URL to probe."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=tls)
        port = self._server.sockets[0].getsockname()[1]
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{port}/healthz"
        return self.url

    async def close(self) -> None:
        self._stop.set()
        for writer in list(self._writers):
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            request = await reader.readuntil(b"\r\n\r\n")
            path = request.split(b" ", 2)[1].decode()
            if path.startswith("/install/"):  # a deploy in a sandbox, where files are its own
                self.installed = path.removeprefix("/install/")
                await self._answer("200", writer)
                return
            self.hits += 1
            answer = self.answer
            self.answered.append((time.monotonic(), answer))
            await self._answer(answer, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _answer(self, answer: str, writer: asyncio.StreamWriter) -> None:
        if answer == "hang":
            await self._stop.wait()
        elif answer == "drip":
            for byte in b"HTTP/1.1 200 OK\r\n":
                writer.write(bytes([byte]))
                await writer.drain()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), 0.1)  # the drip's pace
        elif answer == "garbage":
            writer.write(b"\x00\xffnot http at all\r\n\r\n")
        elif answer == "redirect":
            writer.write(b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n")
        else:
            body = b"ok"
            head = f"HTTP/1.1 {answer} Whatever\r\nContent-Length: {len(body)}\r\n"
            writer.write(head.encode() + b"Connection: close\r\n\r\n" + body)
        await writer.drain()
