"""The build sandbox, tried as an attacker's build step would: real bwrap, real processes.

Each test runs steps through `run_steps` with the sandbox the service makes, as root (CI
runs as root, so steps run as the unprivileged build user).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from bot.core.config import Step
from bot.executor.job_files import JobPaths
from bot.executor.process import JobOutcome, run_steps
from bot.executor.sandbox import SANDBOX_HOME, Sandbox
from bot.executor.sandbox_network import local_addresses
from bot.executor.sandbox_policy import SandboxPolicy
from bot.executor.workspace import GitCache, GitError
from tests.executor.test_process import Log
from tests.helpers import Listener, wait_until
from tests.sandbox.conftest import PeerHost, process_exists
from tests.services import POSTGRES_PORT, REDIS_PORT


async def run_in(
    sandbox: Sandbox,
    workspace: Path,
    *scripts: str,
    env: dict[str, str] | None = None,
    cancel: asyncio.Event | None = None,
    log: Log | None = None,
) -> tuple[JobOutcome, str]:
    log = log or Log()
    await asyncio.to_thread(workspace.mkdir, parents=True, exist_ok=True)
    outcome = await run_steps(
        [Step(name=f"step {i}", run=script) for i, script in enumerate(scripts)],
        workdir=workspace,
        env=env or {},
        timeout_seconds=30,
        on_output=log,
        cancel=cancel or asyncio.Event(),
        sandbox=sandbox,
        kill_grace_seconds=1,
    )
    return outcome, log.text


async def test_a_step_runs_as_the_build_user_with_a_clean_environment(
    sandbox: Sandbox, walkable: Path
) -> None:
    outcome, text = await run_in(
        sandbox,
        walkable / "ws",
        'echo "uid=$(id -u) home=$HOME path=$PATH ws=$GREENLIGHT_WORKSPACE job=$JOB_VAR"; pwd',
        env={"JOB_VAR": "from the ticket"},
    )
    assert outcome.conclusion == "success", text
    assert f"uid={sandbox.policy.build_user.uid}" in text
    assert f"home={SANDBOX_HOME}" in text
    assert "path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" in text
    assert f"ws={walkable / 'ws'}" in text
    assert "job=from the ticket" in text
    assert f"\n{walkable / 'ws'}\n" in text  # steps start in their workspace


async def test_a_step_cannot_read_root_only_files_nor_etc_secrets(
    sandbox: Sandbox, walkable: Path
) -> None:
    extra = walkable / "extra"
    extra.mkdir()
    (extra / "public.txt").write_text("anyone may read this\n")
    (extra / "root-only.txt").write_text("ROOT-ONLY-CANARY\n")
    (extra / "root-only.txt").chmod(0o600)
    widened = Sandbox(replace(sandbox.policy, extra_paths=(extra,)))
    outcome, text = await run_in(
        widened,
        walkable / "ws",
        f"cat {extra}/public.txt; cat {extra}/root-only.txt || echo refused; "
        "cat /etc/shadow || echo no-shadow; ls /etc/ssh | wc -l",
    )
    assert outcome.conclusion == "success", text
    assert "anyone may read this" in text
    assert "ROOT-ONLY-CANARY" not in text
    assert "refused" in text
    assert "root:" not in text  # /etc/shadow's first line
    assert "no-shadow" in text


async def test_greenlights_own_files_and_other_workspaces_are_not_there(
    sandbox: Sandbox, walkable: Path
) -> None:
    work_dir = walkable / "work"
    other = work_dir / "workspaces" / "job-1-1"
    other.mkdir(parents=True)
    (other / "theirs.txt").write_text("OTHER-JOB-CANARY\n")
    env_file = walkable / ".env"
    env_file.write_text("GITHUB_WEBHOOK_SECRET=ENV-FILE-CANARY\n")
    secrets_file = walkable / "secrets.yml"
    secrets_file.write_text("octo/other:\n  TOKEN: SECRETS-FILE-CANARY\n")
    # Even under a directory the operator shared with builds, they stay hidden.
    policy = replace(
        sandbox.policy, extra_paths=(walkable,), hidden=(env_file, secrets_file, work_dir)
    )
    outcome, text = await run_in(
        Sandbox(policy),
        walkable / "ws",
        f"cat {env_file} {secrets_file} {other}/theirs.txt || true; "
        "for f in /proc/[0-9]*/environ; do tr '\\0' '\\n' < $f; done; "
        "echo processes: $(ls -d /proc/[0-9]* | wc -l)",
    )
    assert outcome.conclusion == "success", text
    for canary in ("OTHER-JOB-CANARY", "ENV-FILE-CANARY", "SECRETS-FILE-CANARY"):
        assert canary not in text
    # Its own /proc: the sandbox's init, bash and the few commands of the pipeline.
    assert int(text.split("processes:")[1].split()[0]) < 10
    # The service's own environment (this test process) is nowhere to be read.
    assert os.environ["PATH"] not in text or os.environ["PATH"].startswith("/usr/local/sbin")


async def test_steps_of_a_job_share_home_tmp_and_workspace(
    sandbox: Sandbox, walkable: Path
) -> None:
    outcome, text = await run_in(
        sandbox,
        walkable / "ws",
        "echo one > ~/home.txt; echo two > /tmp/tmp.txt; echo three > ws.txt",
        "cat ~/home.txt /tmp/tmp.txt ws.txt",
    )
    assert outcome.conclusion == "success", text
    assert "one\ntwo\nthree\n" in text
    assert not JobPaths.beside(walkable / "ws").scratch.exists()  # gone with the job


async def test_nothing_a_step_started_outlives_it(sandbox: Sandbox, walkable: Path) -> None:
    marker = f"{secrets.randbelow(10**6) + 1000}.{secrets.randbelow(900) + 100}"
    outcome, text = await run_in(
        sandbox,
        walkable / "ws",
        f"setsid sleep {marker} & (nohup sleep {marker} >/dev/null 2>&1 &) ; echo started",
    )
    assert outcome.conclusion == "success", text
    assert not process_exists(f"sleep\0{marker}")


async def test_cancel_ends_every_process_of_the_step(sandbox: Sandbox, walkable: Path) -> None:
    marker = f"{secrets.randbelow(10**6) + 1000}.{secrets.randbelow(900) + 100}"
    cancel, log = asyncio.Event(), Log()
    running = asyncio.create_task(
        run_in(
            sandbox,
            walkable / "ws",
            f"setsid sleep {marker} & echo running; sleep {marker}",
            cancel=cancel,
            log=log,
        )
    )
    await log.wait_for("running")
    # "running" is printed while the sleeps may still be starting: wait for them.
    await wait_until(lambda: process_exists(f"sleep\0{marker}"), message="the sleeps")
    cancel.set()
    outcome, _ = await running
    assert outcome.conclusion == "cancelled"
    assert not process_exists(f"sleep\0{marker}")


def make_origin(origin: Path) -> str:
    """A repository with two commits; the SHA of the last."""
    origin.mkdir()
    (origin / "app.py").write_text("print('honest')\n")
    commit = ["git", "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q"]
    for command in (
        ["git", "init", "-q", "-b", "main"],
        [*commit, "--allow-empty", "-m", "first"],
        ["git", "add", "app.py"],
        [*commit, "-m", "app"],
    ):
        subprocess.run(command, cwd=origin, check=True)
    done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=origin, check=True, capture_output=True)
    return done.stdout.decode().strip()


def is_intact(workspace: Path) -> bool:
    fsck = subprocess.run(["git", "fsck", "--strict"], cwd=workspace, capture_output=True)
    return fsck.returncode == 0 and (workspace / "app.py").read_text() == "print('honest')\n"


async def test_a_step_cannot_poison_the_git_cache(sandbox: Sandbox, walkable: Path) -> None:
    origin = walkable / "origin"
    sha = await asyncio.to_thread(make_origin, origin)
    cache = GitCache(walkable / "work" / "cache")
    first = walkable / "work" / "workspaces" / "job-1-1"
    await cache.checkout(str(origin), sha, first, share_objects=sandbox.shares_objects_safely())
    attack = (
        "set +e; find .git/objects -type f | while read f; do "
        "chmod u+w $f; echo poisoned > $f || (rm -f $f && echo poisoned > $f); done; "
        "echo attacked"
    )
    _, text = await run_in(sandbox, first, attack)
    assert "attacked" in text, text
    second = walkable / "work" / "workspaces" / "job-2-1"
    await cache.checkout(str(origin), sha, second, share_objects=True)
    assert await asyncio.to_thread(is_intact, second)


async def test_the_network_reaches_the_world_but_not_this_machine(
    sandbox: Sandbox, walkable: Path, test_host: PeerHost
) -> None:
    listener = Listener()
    await listener.start("0.0.0.0")  # noqa: S104 (every local address: none may be reached)
    try:
        addresses = ["127.0.0.1", "10.0.2.2", test_host.host_address, *local_addresses()]
        # The listener on every address, and the store and the broker where they listen.
        ports = [listener.port, POSTGRES_PORT, REDIS_PORT]
        probes = " ".join(
            f"(exec 3<>/dev/tcp/{address}/{port} && echo REACHED {address}:{port}) "
            "2>/dev/null || true;"
            for address in addresses
            for port in ports
        )
        outcome, text = await run_in(
            sandbox,
            walkable / "ws",
            f"{probes} echo probed",
            f"exec 3<>/dev/tcp/{test_host.address}/{test_host.port}; cat <&3",
            "(exec 3<>/dev/tcp/169.254.169.254/80) 2>&1 | tail -1 || true",
        )
    finally:
        await listener.close()
    assert outcome.conclusion == "success", text
    assert "probed" in text
    assert "REACHED" not in text
    assert listener.connections == 0
    assert "hello from the test host" in text
    assert "No route to host" in text or "unreachable" in text


async def test_the_host_network_is_a_documented_choice(
    sandbox: Sandbox, walkable: Path, listener: Listener
) -> None:
    shared = Sandbox(replace(sandbox.policy, network="host"))
    outcome, text = await run_in(
        shared,
        walkable / "ws",
        f"exec 3<>/dev/tcp/127.0.0.1/{listener.port}; echo over the host network >&3",
    )
    assert outcome.conclusion == "success", text
    assert b"over the host network" in listener.received


async def test_without_bwrap_the_sandbox_names_the_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr("bot.executor.sandbox._TOOL_PATH", str(tmp_path))
    problem = await Sandbox(SandboxPolicy()).problem()
    assert problem is not None
    assert "bubblewrap" in problem
    assert "GREENLIGHT_SANDBOX=none" in problem


async def test_bubblewrap_installed_later_is_found_without_a_restart(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sandbox: Sandbox
) -> None:
    import bot.executor.sandbox as module

    installed = module._TOOL_PATH
    monkeypatch.setattr(module, "_TOOL_PATH", str(tmp_path))  # not installed yet
    later = Sandbox(sandbox.policy)
    assert await later.problem() is not None
    monkeypatch.setattr(module, "_TOOL_PATH", installed)  # the operator installs it
    assert await later.problem() is not None  # the no holds a while: no probe per job
    monkeypatch.setattr(module, "PROBE_AGAIN_SECONDS", 0.0)  # …then it is asked again
    assert await later.problem() is None


async def test_a_sandbox_that_cannot_be_made_says_why(sandbox: Sandbox, walkable: Path) -> None:
    unreadable = Sandbox(replace(sandbox.policy, extra_paths=(Path("/nonexistent/path"),)))
    assert await unreadable.problem() is None  # a missing extra path is left out
    root_only = walkable / "private"
    root_only.mkdir(mode=0o700)
    (root_only / "tools").mkdir()
    broken = Sandbox(replace(sandbox.policy, extra_paths=(root_only / "tools",)))
    problem = await broken.problem()
    assert problem is not None
    assert "Permission denied" in problem


async def test_unsandboxed_steps_see_the_service_environment_given() -> None:
    none = Sandbox(SandboxPolicy(mode="none", host_env=(("PATH", "/usr/bin:/bin"),)))
    assert await none.problem() is None
    assert not none.enabled
    paths = JobPaths.beside(Path("/tmp/ws"))
    assert none.environment({"A": "1"}, paths) == {"PATH": "/usr/bin:/bin", "A": "1"}


def test_workspaces_move_where_the_build_user_can_reach_them(
    sandbox: Sandbox, tmp_path: Path, walkable: Path
) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    moved = sandbox.workspaces(private / "work")
    assert not moved.is_relative_to(private)
    assert moved.name.startswith("greenlight-workspaces-")
    assert sandbox.workspaces(walkable / "work") == walkable / "work" / "workspaces"
    assert shutil.which("bwrap")


async def test_the_poisoning_attack_works_where_steps_share_the_cache_owner(
    walkable: Path,
) -> None:
    """The attack of the test above is real: unsandboxed, with the cache's objects hard-
    linked into the workspace (as the sandbox never allows), a step poisons later builds."""
    sha = await asyncio.to_thread(make_origin, walkable / "origin")
    cache = GitCache(walkable / "work" / "cache")
    first = walkable / "work" / "workspaces" / "job-1-1"
    await cache.checkout(str(walkable / "origin"), sha, first, share_objects=True)
    attack = "find .git/objects -type f | while read f; do chmod u+w $f; echo x > $f; done"
    outcome, text = await run_in(Sandbox.unsandboxed(), first, attack)
    assert outcome.conclusion == "success", text
    second = walkable / "work" / "workspaces" / "job-2-1"
    with pytest.raises(GitError):
        await cache.checkout(str(walkable / "origin"), sha, second, share_objects=True)


KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nsecond-line-of-key\n"
    "-----END OPENSSH PRIVATE KEY-----\n"
)


async def run_with_files(sandbox: Sandbox, workspace: Path, script: str) -> tuple[str, str]:
    log = Log()
    await asyncio.to_thread(workspace.mkdir, parents=True, exist_ok=True)
    outcome = await run_steps(
        [Step("use the key", script)],
        workdir=workspace,
        env={},
        timeout_seconds=30,
        on_output=log,
        cancel=asyncio.Event(),
        sandbox=sandbox,
        secret_files={"SSH_KEY": KEY},
    )
    return outcome.conclusion, log.text


async def test_a_secret_file_is_read_only_and_only_the_jobs(
    sandbox: Sandbox, walkable: Path
) -> None:
    conclusion, text = await run_with_files(
        sandbox,
        walkable / "ws",
        'echo "at $SSH_KEY_FILE"; sha256sum < "$SSH_KEY_FILE"; '
        'stat -c "%a %U" "$SSH_KEY_FILE"; (echo x >> "$SSH_KEY_FILE") 2>/dev/null '
        "|| echo read-only; env | grep -c '^SSH_KEY=' || true",
    )
    assert conclusion == "success", text
    assert "at /run/secrets/SSH_KEY" in text
    assert hashlib.sha256(KEY.encode()).hexdigest() in text
    assert "400 nobody" in text
    assert "read-only" in text
    assert "\n0\n" in text  # the value itself is in no variable
    assert not JobPaths.beside(walkable / "ws").secrets.exists()  # gone with the job


async def test_a_secret_file_unsandboxed_is_a_private_file_beside_the_workspace(
    tmp_path: Path,
) -> None:
    conclusion, text = await run_with_files(
        Sandbox.unsandboxed(),
        tmp_path / "ws",
        'stat -c "%a" "$SSH_KEY_FILE"; sha256sum < "$SSH_KEY_FILE"; echo "at $SSH_KEY_FILE"',
    )
    assert conclusion == "success", text
    assert "400\n" in text
    assert hashlib.sha256(KEY.encode()).hexdigest() in text
    assert f"at {JobPaths.beside(tmp_path / 'ws').secrets}/SSH_KEY" in text
    assert not JobPaths.beside(tmp_path / "ws").secrets.exists()


FORK_BOMB = """
import os, sys, time
forked = 0
try:
    for _ in range(200):
        if os.fork() == 0:
            time.sleep(600)
            os._exit(0)
        forked += 1
except OSError as error:
    print(f"fork failed after {forked}: {error}")
    sys.exit(1)
"""


async def test_a_fork_bomb_meets_the_process_limit_and_the_job_ends(
    sandbox: Sandbox, walkable: Path
) -> None:
    limited = Sandbox(replace(sandbox.policy, max_processes=40))
    marker = f"bomb-{secrets.token_hex(4)}"
    outcome, text = await run_in(limited, walkable / "ws", f"python3 -c '{FORK_BOMB}' {marker}")
    assert outcome.conclusion == "failure", text
    assert "Resource temporarily unavailable" in text
    assert not process_exists(marker)  # every child went with the step
    # The service is unharmed, and the next job runs as usual.
    outcome, text = await run_in(sandbox, walkable / "ws2", "echo fine")
    assert outcome.conclusion == "success", text


async def test_a_job_that_fills_its_disk_is_stopped_saying_why(
    sandbox: Sandbox, walkable: Path
) -> None:
    tiny = Sandbox(replace(sandbox.policy, max_disk_bytes=2 * 1024**2, disk_check_seconds=0.1))
    log = Log()
    running = asyncio.create_task(
        run_in(
            tiny,
            walkable / "ws",
            "head -c 3000000 /dev/zero > big; sync; echo written; sleep 30",
            "echo never",
            log=log,
        )
    )
    outcome, text = await running
    assert outcome.conclusion == "failure", text
    assert [step.status for step in outcome.steps] == ["failure", "not_run"]
    assert "more than its limit of 2.0 MB (GREENLIGHT_JOB_DISK)" in text
    assert "never" not in text.replace("echo never", "")
