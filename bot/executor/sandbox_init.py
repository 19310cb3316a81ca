"""The first process of a job's sandbox: it starts each step the service sends, inside.

One sandbox per job, as GitHub Actions gives one machine per job: the service starts one
bwrap per job with this program as its PID 1 (run by the sandbox's own `python3 -I -S`,
from the read-only /usr, so it must keep to the standard library of Python 3.8), and
sends it each step over a socket the two share. This process is the build user's, with
no capabilities, like the steps; as the PID namespace's init, nothing inside can kill it.

Messages, one per datagram of a SOCK_SEQPACKET socket:

- service → here: `run\\0ARG\\0ARG…` with the step's output pipe attached (SCM_RIGHTS):
  start the step in a session of its own, stdout and stderr on that pipe, stdin
  /dev/null, with the job's environment (read once, at start, from a file descriptor);
- here → service: `exit CODE` when the step's own process ended (CODE as
  `subprocess` gives it: negative for a signal), `exit CODE alone` when it left no
  process behind;
- service → here: `end SIGNAL`: send SIGNAL to every process of the sandbox (this one
  excepted), SIGKILL again until none is left, and answer `gone` once none is;
- the service closing the socket: the job is over; kill everything and exit.

Between steps no process but this one is left, so "every process of the sandbox" is the
step's whole tree, daemons included.
"""

from __future__ import annotations

# Only modules built into the interpreter: `os`, `socket`, `signal` and `contextlib`
# would double the sandbox's start-up time.
import _signal  # type: ignore[import-not-found]
import _socket
import posix
import select
import sys

_RETRY_MS = 20  # while killing, how often SIGKILL is sent again (a step may fork)
_NO_START = 126  # the step could not be started (the shell's code for "cannot execute")


def _decode(data: bytes) -> str:
    return data.decode(sys.getfilesystemencoding(), "surrogateescape")


def read_environment(descriptor: int) -> dict[str, str]:
    """`NAME=VALUE\\0…` from `descriptor`, closed after."""
    data = b""
    while True:
        chunk = posix.read(descriptor, 1 << 16)
        if not chunk:
            break
        data += chunk
    posix.close(descriptor)
    pairs = (item.partition(b"=") for item in data.split(b"\0") if item)
    return {_decode(name): _decode(value) for name, _, value in pairs}


def exit_code(status: int) -> int:
    """A wait status as `subprocess` gives it."""
    return -posix.WTERMSIG(status) if posix.WIFSIGNALED(status) else posix.WEXITSTATUS(status)


class Init:
    def __init__(self, control: _socket.socket, env: dict[str, str]) -> None:
        self.control = control
        self.env = env
        self.step: int | None = None  # the pid of the running step's own process
        self.ending: int | None = None  # the signal being sent to everything left

    def start(self, argv: list[str], output: int) -> None:
        posix.set_inheritable(output, False)
        try:
            self.step = posix.posix_spawn(
                argv[0],
                argv,
                self.env,
                file_actions=[
                    (posix.POSIX_SPAWN_OPEN, 0, "/dev/null", posix.O_RDONLY, 0),
                    (posix.POSIX_SPAWN_DUP2, output, 1),
                    (posix.POSIX_SPAWN_DUP2, output, 2),
                ],
                setsid=True,
                setsigdef=(_signal.SIGPIPE, _signal.SIGXFSZ, _signal.SIGCHLD),
            )
        except OSError as error:
            posix.write(output, f"greenlight: the step could not start: {error}\n".encode())
            self.control.send(b"exit %d alone" % _NO_START)
        finally:
            posix.close(output)

    def end(self, signal_number: int) -> None:
        """Signal everything left once; SIGKILL again until nothing is (a step may fork
        while it is sent), and answer `gone` then."""
        self.ending = signal_number
        kill_all(signal_number)
        self.reap()

    def reap(self) -> None:
        """Reap every ended process; report the step's end, saying whether it left
        nothing behind; go on ending what is left."""
        code, alone = None, False
        while True:
            try:
                pid, status = posix.waitpid(-1, posix.WNOHANG)
            except ChildProcessError:  # nothing left in the sandbox but this process
                alone = True
                break
            if pid == 0:
                break
            if pid == self.step:
                self.step, code = None, exit_code(status)
        if code is not None:
            self.control.send(b"exit %d%s" % (code, b" alone" if alone else b""))
        if self.ending is not None and alone:
            self.ending = None
            self.control.send(b"gone")
        elif self.ending == _signal.SIGKILL:
            kill_all(_signal.SIGKILL)

    def receive(self) -> bool:
        """Act on one message; False once the service closed the socket."""
        message, ancillary, _, _ = self.control.recvmsg(1 << 20, _socket.CMSG_SPACE(4 * 4))
        descriptors = [
            int.from_bytes(data[i : i + 4], sys.byteorder)
            for level, kind, data in ancillary
            if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS
            for i in range(0, len(data) - len(data) % 4, 4)
        ]
        if not message:
            return False
        verb, _, rest = message.partition(b"\0" if message.startswith(b"run") else b" ")
        if verb == b"run" and len(descriptors) == 1:
            self.start([_decode(arg) for arg in rest.split(b"\0")], descriptors[0])
        elif verb == b"end":
            self.end(int(rest))
        else:
            for descriptor in descriptors:
                posix.close(descriptor)
        return True


def kill_all(signal_number: int) -> None:
    """Signal every process of the PID namespace but its init (this one)."""
    try:
        posix.kill(-1, signal_number)
    except ProcessLookupError:  # nothing to signal
        return


def serve(control: _socket.socket, env: dict[str, str]) -> None:
    init = Init(control, env)
    wake_read, wake_write = posix.pipe()
    posix.set_blocking(wake_write, False)
    _signal.set_wakeup_fd(wake_write)
    _signal.signal(_signal.SIGCHLD, lambda *_: None)
    # Python's own handler would let a step end this process with SIGINT; the default
    # action, for a PID namespace's init, ignores the signals sent from inside.
    _signal.signal(_signal.SIGINT, _signal.SIG_DFL)
    poller = select.poll()
    poller.register(control, select.POLLIN)
    poller.register(wake_read, select.POLLIN)
    control.send(b"ready")
    while True:
        killing = init.ending == _signal.SIGKILL
        events = dict(poller.poll(_RETRY_MS if killing else None))
        if wake_read in events:
            posix.read(wake_read, 4096)
        init.reap()
        if control.fileno() in events and not init.receive():
            break
    # The job is over. Once this process exits, the kernel kills whatever is left.
    kill_all(_signal.SIGKILL)


def main(argv: list[str]) -> None:
    control_fd, env_fd = int(argv[1]), int(argv[2])
    posix.set_inheritable(control_fd, False)
    control = _socket.socket(fileno=control_fd)
    try:
        serve(control, read_environment(env_fd))
    except (BrokenPipeError, ConnectionResetError):  # the service is gone: so is the job
        kill_all(_signal.SIGKILL)


if __name__ == "__main__":
    main(sys.argv)
