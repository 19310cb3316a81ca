"""`python -m bot check [PATH]`: validate a repository config and report like a compiler.

Problems print as `path:line: key: message`, one per line, so editors and CI logs can
jump to them; a valid config prints a short summary of what Greenlight will do with it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.core.config import CONFIG_PATH, Config, ConfigError, JobConfig, MergeConfig
from bot.core.config_parser import format_duration, parse_config
from bot.core.plan import check_run_names

EXIT_VALID = 0
EXIT_INVALID = 1
EXIT_UNREADABLE = 2

# --- messages -----------------------------------------------------------------------

DESCRIPTION = f"Check a Greenlight config: a file, or a checkout containing {CONFIG_PATH}."
PATH_HELP = f"the config file, or a checkout directory (reads {CONFIG_PATH}); default: ."


def _msg_missing(path: Path) -> str:
    return f"greenlight: no config at {path} (give the file, or a checkout with {CONFIG_PATH})"


def _msg_unreadable(path: Path, reason: str) -> str:
    return f"greenlight: cannot read {path}: {reason}"


def _msg_error(path: Path, error: ConfigError) -> str:
    first, *rest = error.message.splitlines() or [""]
    where = f"{path}:{error.line}: " + (f"{error.key}: " if error.key else "")
    return "\n".join([where + first, *("    " + line for line in rest)])


def _msg_problem_count(count: int) -> str:
    return f"{count} problem{'s' if count != 1 else ''}; the config is not valid"


def _msg_job(job: JobConfig) -> str:
    names = check_run_names(job)
    line = job.name if names == (job.name,) else f"{job.name} → {', '.join(names)}"
    details = [f"needs {', '.join(job.needs)}"] if job.needs else []
    details.append(f"timeout {format_duration(job.timeout_seconds)}")
    if job.condition is not None:
        details.append(f"if {job.condition}")
    if job.paths:
        details.append(f"paths {', '.join(job.paths)}")
    return f"  {line}  ({'; '.join(details)})"


def _msg_merge(merge: MergeConfig) -> str:
    how = (
        f"auto ({merge.method.value})"
        if merge.auto
        else f"by hand or /merge ({merge.method.value})"
    )
    approvals = f"{merge.approvals} approval{'s' if merge.approvals != 1 else ''}"
    blocked = ", ".join(merge.block_labels) or "no labels"
    return f"merge: {how}, {approvals}, blocked by {blocked}"


def _msg_summary(path: Path, config: Config) -> str:
    jobs = [_msg_job(job) for job in config.jobs]
    count = sum(len(check_run_names(job)) for job in config.jobs)
    environments = [
        env.name + (" (protected)" if env.protected else "") for env in config.deploy.environments
    ]
    return "\n".join(
        [
            f"{path}: valid",
            f"mode: {config.mode.value}",
            f"jobs: {count} check run{'s' if count != 1 else ''}",
            *jobs,
            f"deploy: {' → '.join(environments) or 'no environments'}",
            _msg_merge(config.merge),
        ]
    )


# --- command ------------------------------------------------------------------------


def _arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot check", description=DESCRIPTION)
    parser.add_argument("path", nargs="?", default=".", type=Path, help=PATH_HELP)
    return parser


def config_path(path: Path) -> Path:
    """The config file `path` names: itself, or `.github/greenlight.yml` in a directory."""
    return path / CONFIG_PATH if path.is_dir() else path


def main(argv: Sequence[str]) -> int:
    """Check the config at argv's PATH; 0 valid, 1 invalid, 2 missing or unreadable."""
    path = config_path(_arguments().parse_args(list(argv)).path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        print(_msg_missing(path), file=sys.stderr)
        return EXIT_UNREADABLE
    except (OSError, UnicodeDecodeError) as error:
        print(_msg_unreadable(path, str(error)), file=sys.stderr)
        return EXIT_UNREADABLE
    result = parse_config(text)
    if isinstance(result, Config):
        print(_msg_summary(path, result))
        return EXIT_VALID
    for problem in result:
        print(_msg_error(path, problem))
    print(_msg_problem_count(len(result)), file=sys.stderr)
    return EXIT_INVALID


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
