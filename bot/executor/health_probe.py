"""The health check's probe loop, run as a deploy step where steps run (the job sandbox).

Greenlight does not run it itself: `bot.deploy.health` sends its source to the sandbox,
where `python3` runs it with the standard library only (Greenlight's own files are not
there). It probes every GREENLIGHT_HEALTH_EVERY seconds until GREENLIGHT_HEALTH_FOR
seconds have passed or one probe failed, and prints one line per probe, beginning with
`health-probe ` and a JSON object of what it saw; the deployer judges those lines.

Every probe has a deadline (GREENLIGHT_HEALTH_TIMEOUT): a timer signal interrupts a
connection that hangs or drips, and a check command's whole process group is killed.
Redirects are not followed: a 301 counts as the status it is. An https address is
verified against the system's CA bundle (the sandbox mounts /etc read-only, so the host's
bundle is what it sees) and, when the operator set GREENLIGHT_HEALTH_CA_FILE, the
certificates it holds (passed as GREENLIGHT_HEALTH_CA text); a certificate neither trusts,
or one for another name, fails the probe saying so.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from types import FrameType
from typing import Any

PREFIX = "health-probe "
OUTPUT_LINES = 20  # of a check command's output, shown under its probe


class ProbeTimeout(Exception):
    pass


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 3xx comes back as an HTTPError: its status is what the probe saw


def _alarm(_signum: int, _frame: FrameType | None) -> None:
    raise ProbeTimeout


def tls_context(extra_ca: str) -> ssl.SSLContext:
    """The system's trust, plus the operator's extra certificates (PEM text) if any."""
    context = ssl.create_default_context()
    if extra_ca:
        context.load_verify_locations(cadata=extra_ca)
    return context


def http_probe(url: str, timeout: float, extra_ca: str = "") -> dict[str, Any]:
    """GET `url` within `timeout` seconds: its status, or what went wrong."""
    https = urllib.request.HTTPSHandler(context=tls_context(extra_ca))
    opener = urllib.request.build_opener(_NoRedirects, https)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        with opener.open(url, timeout=timeout) as answer:
            return {"status": answer.status}
    except urllib.error.HTTPError as error:
        return {"status": error.code}
    except ProbeTimeout:
        return {"error": f"no answer within {timeout:g}s"}
    except (http.client.HTTPException, ValueError) as error:
        return {"error": f"not an HTTP answer ({type(error).__name__}: {error})"[:200]}
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        if isinstance(reason, ssl.SSLCertVerificationError):
            return {"error": f"TLS certificate not trusted ({reason.verify_message})"[:200]}
        if isinstance(reason, TimeoutError):
            return {"error": f"no answer within {timeout:g}s"}
        return {"error": f"could not connect ({reason})"[:200]}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def command_probe(command: str, timeout: float) -> dict[str, Any]:
    """Run `command` with bash within `timeout` seconds: its exit code (None: killed)."""
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(
            ["bash", "-c", command],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: a timeout kills what it started too
        )
        try:
            code: int | None = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            code = None
        output.seek(0)
        lines = output.read().decode(errors="replace").splitlines()[-OUTPUT_LINES:]
    return {"exit": code, "output": lines}


def report(number: int, at: float, seen: dict[str, Any]) -> bool:
    """Print the probe's line (its output indented under it); True if it passed."""
    lines = seen.pop("output", [])
    print(PREFIX + json.dumps({"n": number, "at": at, **seen}), flush=True)
    for line in lines:
        print(f"    {line}", flush=True)  # indented: never mistaken for a probe's line
    expect = int(os.environ.get("GREENLIGHT_HEALTH_EXPECT", "200"))
    return seen.get("status") == expect or seen.get("exit") == 0


def main() -> int:
    os.environ.pop("GREENLIGHT_HEALTH_SCRIPT", None)  # the check command need not see it
    url = os.environ.get("GREENLIGHT_HEALTH_HTTP", "")
    command = os.environ.get("GREENLIGHT_HEALTH_RUN", "")
    every = float(os.environ["GREENLIGHT_HEALTH_EVERY"])
    period = float(os.environ["GREENLIGHT_HEALTH_FOR"])
    timeout = float(os.environ["GREENLIGHT_HEALTH_TIMEOUT"])
    extra_ca = os.environ.pop("GREENLIGHT_HEALTH_CA", "")
    signal.signal(signal.SIGALRM, _alarm)
    started = time.time()
    print(PREFIX + json.dumps({"started": started}), flush=True)
    number = 0
    while True:
        number += 1
        at = time.time()
        seen = http_probe(url, timeout, extra_ca) if url else command_probe(command, timeout)
        if not report(number, at, seen):
            return 1
        if at - started >= period:
            return 0
        time.sleep(max(0.0, started + number * every - time.time()))


if __name__ == "__main__":
    sys.exit(main())
