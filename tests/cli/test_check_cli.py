from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.cli.check import main

CONFIGS = Path(__file__).parent.parent / "fixtures" / "configs"


def checkout_with(tmp_path: Path, fixture: str) -> Path:
    """A directory laid out like a checkout, holding the fixture as its config."""
    (tmp_path / ".github").mkdir()
    shutil.copy(CONFIGS / fixture, tmp_path / ".github" / "greenlight.yml")
    return tmp_path


def test_valid_file_prints_a_summary_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    path = CONFIGS / "design.yml"
    assert main([str(path)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [
        f"{path}: valid",
        "mode: delivery",
        "jobs: 3 check runs",
        "  lint  (timeout 30m)",
        "  test → test (3.11), test (3.12)  "
        "(needs lint; timeout 15m; if branch == 'main'; paths src/**, tests/**)",
        "deploy: staging → production (protected)",
        "merge: auto (squash), 1 approval, blocked by do-not-merge, wip",
    ]


def test_invalid_file_prints_one_compiler_style_line_per_error_and_exits_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = CONFIGS / "many-errors.yml"
    assert main([str(path)]) == 1
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert len(lines) == 8
    assert lines[0] == (f'{path}:1: mode: "fast" is not one of integration, delivery, deployment')
    assert lines[1] == (
        f'{path}:4: jobs.lint.timeout: "15 minutes" is not a duration;'
        " write it like 90s, 15m or 1h30m"
    )
    assert captured.err == "8 problems; the config is not valid\n"


def test_directory_means_its_github_greenlight_yml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    checkout = checkout_with(tmp_path, "minimal.yml")
    assert main([str(checkout)]) == 0
    assert capsys.readouterr().out.splitlines()[:3] == [
        f"{checkout / '.github' / 'greenlight.yml'}: valid",
        "mode: integration",
        "jobs: 1 check run",
    ]


def test_default_path_is_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(checkout_with(tmp_path, "many-errors.yml"))
    assert main([]) == 1
    assert capsys.readouterr().out.startswith(".github/greenlight.yml:1: mode: ")


def test_whole_file_errors_have_no_key_and_indent_continuation_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "empty.yml"
    path.write_text("")
    assert main([str(path)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{path}:1: the file is empty; it needs at least one job, like:",
        "    jobs:",
        "      test:",
        "        run: make test",
    ]


@pytest.mark.parametrize("relative", ["missing.yml", "checkout-without-config"])
def test_missing_config_says_so_and_exits_2(
    tmp_path: Path, relative: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "checkout-without-config").mkdir()
    assert main([str(tmp_path / relative)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("greenlight: no config at ")
    assert "give the file, or a checkout with .github/greenlight.yml" in captured.err


def test_file_that_is_not_utf8_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "latin1.yml"
    path.write_bytes("jobs: {a: {run: caf\xe9}}".encode("latin-1"))
    assert main([str(path)]) == 2
    assert capsys.readouterr().err.startswith(f"greenlight: cannot read {path}: ")


def test_help_exits_0_through_argparse(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    assert "usage: python -m bot check [-h] [path]" in capsys.readouterr().out


def test_a_plan_over_the_cap_is_reported_on_the_line_of_the_largest_matrix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "greenlight.yml"
    axis = "[" + ", ".join(map(str, range(150))) + "]"
    path.write_text(
        f"jobs:\n  a:\n    run: x\n    matrix: {{v: {axis}}}\n  b:\n    run: x\n"
        f"    matrix: {{v: {axis}}}\n  ../x:\n    run: x\n"
    )
    assert main([str(path)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{path}:4: jobs.a.matrix: the jobs make 301 check runs in all, matrices expanded"
        " (`a` 150, `b` 150, `../x` 1); at most 256 are allowed for one commit: remove matrix"
        " values or jobs, or run several values in one job, looping over them in its steps",
        f'{path}:8: jobs.../x: "../x" cannot be a job name: use only letters, digits, - and _;'
        " did you mean `x`?",
    ]
