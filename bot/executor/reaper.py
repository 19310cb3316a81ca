"""Steps die with the process that runs them, even when it is killed outright (`kill -9`).

Each step runs in a process group of its own (`bot.executor.process`), which outlives a
killed service: its processes would go on running while the replica that takes the work
over runs it again. So each process that runs steps starts one small watcher, whose
standard input is a pipe that only this process writes to; it is told each step's
group as the step starts and ends, and when the pipe closes (this process ended, however
it ended), the watcher kills every group still listed. In the sandbox, bubblewrap's
`--die-with-parent` and its PID namespace do the same; the watcher covers the unsandboxed
mode too. A process that leaves its step's group (`setsid`) escapes it: only the sandbox
stops those.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
from typing import IO

log = logging.getLogger("greenlight.executor")

# Run with `python -c`: no import of Greenlight, so it starts in a few milliseconds.
_WATCHER = """
import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
groups = set()
for line in sys.stdin:
    (groups.add if line[0] == "+" else groups.discard)(int(line[1:]))
for group in groups:
    try:
        os.killpg(group, signal.SIGKILL)
    except OSError:
        pass
"""


class _Watcher:
    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._pid = 0  # the process that started the watcher (a fork needs its own)

    def tell(self, line: str) -> None:
        try:
            stdin = self._stdin()
            stdin.write(line.encode())
            stdin.flush()
        except OSError:  # never stop a build for it: the steps still end with it, mostly
            log.warning("could not tell the step watcher %r", line.strip(), exc_info=True)

    def _stdin(self) -> IO[bytes]:
        process = self._process
        if process is None or self._pid != os.getpid() or process.poll() is not None:
            process = self._process = subprocess.Popen(
                [sys.executable, "-c", _WATCHER],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C to the service's group is not for it
            )
            self._pid = os.getpid()
        assert process.stdin is not None
        return process.stdin


# One per process, as the pipe's end must be this process's own.
_watcher = _Watcher()


def start_watching() -> None:
    """Have the watcher running before a step starts, so telling it takes no time."""
    with contextlib.suppress(OSError):  # `tell` says so when it matters
        _watcher._stdin()


def watch_group(group: int) -> None:
    """Kill the process group `group` if this process ends before `forget_group(group)`."""
    _watcher.tell(f"+{group}\n")


def forget_group(group: int) -> None:
    """The group ended: nothing to kill any more."""
    _watcher.tell(f"-{group}\n")
