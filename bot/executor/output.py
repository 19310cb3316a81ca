"""A step's output: read from its pipe, decoded, masked, cut into lines for `on_output`.

stdout and stderr arrive merged on one pipe. A partial line (a prompt, a progress bar) is
passed on once it has waited `partial_seconds`; a line longer than `MAX_LINE_CHARS` is
passed on in pieces; reading pauses while `on_output` is slower than the step, so a step
that prints fast cannot fill the service's memory.
"""

from __future__ import annotations

import asyncio
import codecs
from collections.abc import Awaitable, Callable
from typing import cast

from bot.core.masking import StreamMasker

OnOutput = Callable[[str], Awaitable[None]]
MAX_LINE_CHARS = 64 * 1024  # longer lines are passed on in pieces of this size
_PAUSE_READING_BYTES = 1 << 20  # unread output at which the pipe stops being read


class StepProtocol(asyncio.SubprocessProtocol):
    """Collects the step's output and notices its exit, which come separately.

    `Process.wait()` of asyncio's high-level API waits for the pipes to close too, so it
    would hang while a background process still holds stdout; `process_exited` does not.
    A step started in the job's sandbox is no subprocess of ours: its output pipe comes
    through `PipeFeed` and its exit from the sandbox's init.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.exited: asyncio.Future[None] = loop.create_future()
        self._chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._unread = 0
        self._pipe: asyncio.ReadTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        pipe = cast(asyncio.SubprocessTransport, transport).get_pipe_transport(1)
        if isinstance(pipe, asyncio.ReadTransport):
            self._pipe = pipe

    def attach(self, pipe: asyncio.ReadTransport) -> None:
        self._pipe = pipe

    def pipe_data_received(self, fd: int, data: bytes | str) -> None:
        assert isinstance(data, bytes)
        self._chunks.put_nowait(data)
        self._unread += len(data)
        if self._unread >= _PAUSE_READING_BYTES:  # `on_output` is slower than the step
            self._set_reading(False)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        self._chunks.put_nowait(None)

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)

    def close_output(self) -> None:
        """Stop reading: a process that left the step still holds its output."""
        if self._pipe is not None:
            self._pipe.close()

    async def next_chunk(self) -> bytes | None:
        """The next piece of output, or None at its end."""
        chunk = await self._chunks.get()
        self._unread -= len(chunk or b"")
        if self._unread < _PAUSE_READING_BYTES // 4:
            self._set_reading(True)
        return chunk

    def _set_reading(self, reading: bool) -> None:
        pipe = self._pipe
        if pipe is not None and not pipe.is_closing() and pipe.is_reading() != reading:
            (pipe.resume_reading if reading else pipe.pause_reading)()


class PipeFeed(asyncio.Protocol):
    """Passes what a read pipe gives to a `StepProtocol`, as a subprocess's stdout would."""

    def __init__(self, step: StepProtocol) -> None:
        self._step = step

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._step.attach(cast(asyncio.ReadTransport, transport))

    def data_received(self, data: bytes) -> None:
        self._step.pipe_data_received(1, data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._step.pipe_connection_lost(1, exc)


async def read_output(protocol: StepProtocol, sink: OutputSink) -> None:
    getter: asyncio.Task[bytes | None] | None = None
    try:
        while True:
            due = sink.partial_due_in()
            if due is not None and due <= 0:
                await sink.flush_partial()
                continue
            getter = getter or asyncio.create_task(protocol.next_chunk())
            done, _ = await asyncio.wait({getter}, timeout=due)
            if not done:
                continue  # the partial line is due: the next turn passes it on
            chunk, getter = getter.result(), None
            if chunk is None:
                await sink.close()
                return
            await sink.feed(chunk)
    finally:
        if getter is not None:
            getter.cancel()


class OutputSink:
    """Turns a step's bytes into masked lines for `on_output`."""

    def __init__(self, on_output: OnOutput, masker: StreamMasker, partial_seconds: float):
        self._on_output = on_output
        self._masker = masker
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial_seconds = partial_seconds
        self._line = ""  # masked text of the line not yet passed on
        self._partial_since: float | None = None
        self._at_line_start = True

    async def feed(self, data: bytes) -> None:
        await self._take(self._masker.feed(self._decoder.decode(data)))

    async def close(self) -> None:
        text = self._masker.feed(self._decoder.decode(b"", final=True))
        await self._take(text + self._masker.flush())
        await self.flush_partial()
        if not self._at_line_start:  # so the step's result line starts a line of its own
            await self._emit("\n")

    def partial_due_in(self) -> float | None:
        """Seconds until the waiting partial line is passed on; None when there is none."""
        if self._partial_since is None:
            return None
        age = asyncio.get_running_loop().time() - self._partial_since
        return max(self._partial_seconds - age, 0.0)

    async def flush_partial(self) -> None:
        # Only text the masker released: what it holds back may be the start of a secret.
        line, self._line, self._partial_since = self._line, "", None
        if line:
            await self._emit(line)

    async def _take(self, text: str) -> None:
        buffer, start = self._line + text, 0
        while True:
            end = buffer.find("\n", start, start + MAX_LINE_CHARS)
            if end == -1 and len(buffer) - start < MAX_LINE_CHARS:
                break
            stop = end + 1 if end != -1 else start + MAX_LINE_CHARS
            await self._emit(buffer[start:stop])
            start = stop
        self._line = buffer[start:]
        if not self._line:
            self._partial_since = None
        elif start > 0 or self._partial_since is None:  # a new partial line began
            self._partial_since = asyncio.get_running_loop().time()

    async def _emit(self, text: str) -> None:
        self._at_line_start = text.endswith("\n")
        await self._on_output(text)
