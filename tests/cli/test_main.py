"""`python -m bot` as people run it: serve, run, check."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.services import require_sandbox


def python_m_bot(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )


def git_repo(path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(textwrap.dedent(text).lstrip("\n"))
    for command in (
        ["git", "init", "-q", "-b", "main"],
        ["git", "add", "-A"],
        ["git", "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "c"],
    ):
        subprocess.run(command, cwd=path, check=True, capture_output=True)
    return path


@pytest.mark.parametrize(
    "args", [("--help",), ("-h",), ("help",), ("serve", "--help"), ("serve", "-h")]
)
def test_help_shows_every_command(tmp_path: Path, args: tuple[str, ...]) -> None:
    done = python_m_bot(*args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "usage: python -m bot [serve]" in done.stdout
    assert "python -m bot run [PATH] [--job NAME]... [--no-sandbox]" in done.stdout
    assert "python -m bot check [PATH]" in done.stdout
    assert not (tmp_path / "greenlight.db").exists()  # asking for help starts nothing


@pytest.mark.parametrize("command", ["run", "check"])
def test_each_command_has_its_own_help(tmp_path: Path, command: str) -> None:
    done = python_m_bot(command, "--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: python -m bot {command} ")


def test_an_unknown_command_is_refused_with_the_usage(tmp_path: Path) -> None:
    done = python_m_bot("chek", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    assert "unknown command 'chek'; did you mean 'check'?" in done.stderr
    assert "usage: python -m bot [serve]" in done.stderr
    unrelated = python_m_bot("deploy", cwd=tmp_path)
    assert unrelated.returncode == 2
    assert "the commands are serve, run, check" in unrelated.stderr


@pytest.mark.parametrize("args", [("--verbose",), ("serve", "now")])
def test_serve_refuses_arguments_with_the_usage(tmp_path: Path, args: tuple[str, ...]) -> None:
    done = python_m_bot(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert f"serve takes no arguments (got {args[-1]})" in done.stderr
    assert "usage: python -m bot [serve]" in done.stderr
    assert not (tmp_path / "greenlight.db").exists()


def test_check_reports_errors_with_lines(tmp_path: Path) -> None:
    git_repo(
        tmp_path,
        {
            ".github/greenlight.yml": """
        jobs:
          test:
            run: pytest
            needs: [lint]
    """
        },
    )
    done = python_m_bot("check", cwd=tmp_path)
    assert done.returncode == 1
    assert ".github/greenlight.yml:4: jobs.test.needs" in done.stdout


@pytest.mark.parametrize("sandboxed", [True, False])
def test_run_runs_the_pipeline_locally(tmp_path: Path, sandboxed: bool) -> None:
    if sandboxed:
        require_sandbox()
    repo = git_repo(
        tmp_path,
        {
            ".github/greenlight.yml": """
        jobs:
          build:
            run: echo "built $GREENLIGHT_JOB"; cat uncommitted.txt
          test:
            needs: build
            matrix: {n: ["1", "2"]}
            run: echo "test ${{ matrix.n }}"
    """
        },
    )
    (repo / "uncommitted.txt").write_text("work in progress\n")
    done = python_m_bot("run", str(repo), *([] if sandboxed else ["--no-sandbox"]), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[build] built build" in done.stdout
    assert "[build] work in progress" in done.stdout  # uncommitted changes are built too
    assert "[test (2)] test 2" in done.stdout
    assert "✓ success" in done.stdout
    assert not (repo / "build").exists()  # the checkout itself is untouched


def test_run_fails_when_a_job_fails_and_selects_jobs(tmp_path: Path) -> None:
    repo = git_repo(
        tmp_path,
        {
            ".github/greenlight.yml": """
        jobs:
          lint:
            run: echo lint
          test:
            needs: lint
            run: exit 4
          docs:
            run: echo docs
    """
        },
    )
    done = python_m_bot("run", str(repo), "--job", "test", "--no-sandbox", cwd=tmp_path)
    assert done.returncode == 1
    assert "[lint] lint" in done.stdout
    assert "docs" not in done.stdout
    assert "✗ failure" in done.stdout
    unknown = python_m_bot("run", str(repo), "--job", "nope", "--no-sandbox", cwd=tmp_path)
    assert unknown.returncode == 2
    assert "no job named nope" in unknown.stderr


def test_serve_reports_bad_settings_at_once(tmp_path: Path) -> None:
    done = python_m_bot(
        "serve",
        cwd=tmp_path,
        env={"GITHUB_APP_ID": "x", "GITHUB_PRIVATE_KEY": "nope", "PORT": "-1"},
    )
    assert done.returncode == 2
    for name in ("GITHUB_APP_ID", "GITHUB_PRIVATE_KEY", "PORT", "GITHUB_WEBHOOK_SECRET"):
        assert name in done.stderr
