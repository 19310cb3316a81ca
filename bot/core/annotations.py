"""Check-run annotations from build logs (`path:line: message`) and from test reports.

GitHub's limits (https://docs.github.com/en/rest/checks/runs#update-a-check-run):
`message` at most 64 KB, `title` at most 255 characters; only paths inside the
repository can be annotated, so everything here is relative to the workspace root.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from bot.core import check_messages as msg
from bot.core.junit import TestFailure, TestReport
from bot.core.markdown import ELLIPSIS, truncate
from bot.core.paths import repo_relative_path

Level = Literal["notice", "warning", "failure"]

MAX_MESSAGE_BYTES = 64 * 1024
MAX_TITLE_CHARS = 255
# A failed test's annotation shows this many lines of its details under the message:
# enough for an assertion and its context, short enough to read inline in a diff.
REPORT_DETAIL_LINES = 30

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# `path:line: rest` or `path:line:col: rest` (gcc, clang, ruff, flake8, mypy, eslint -f unix,
# go vet). The path has no spaces or colons; the rest may be empty.
_LOG_LINE = re.compile(
    r"^(?P<path>[^\s:]+):(?P<line>\d+)(?::(?P<column>\d+))?:(?:\s+(?P<rest>.*))?$"
)
_LEVEL_WORD = re.compile(
    r"^(?P<word>fatal error|error|warning|warn|note|notice|info|hint)(?:\[[^\]]*\])?:\s*",
    re.IGNORECASE,
)
_ESLINT_LEVEL = re.compile(r"\[(?P<word>Error|Warning)/[^\]]*\]\s*$")
_LINT_CODE = re.compile(r"^(?P<letter>[A-Z]{1,3})\d{2,4}\b")
_WORD_LEVELS: dict[str, Level] = {
    "fatal error": "failure",
    "error": "failure",
    "warning": "warning",
    "warn": "warning",
    "note": "notice",
    "notice": "notice",
    "info": "notice",
    "hint": "notice",
}
_LEVEL_ORDER: dict[str, int] = {"failure": 0, "warning": 1, "notice": 2}


@dataclass(frozen=True)
class Annotation:
    """One annotation on a file of the repository; lines are 1-based."""

    path: str
    start_line: int
    end_line: int
    level: Level
    message: str
    title: str | None = None


def annotations_from_log(
    lines: Iterable[str],
    *,
    known_paths: Callable[[str], bool] | None = None,
    limit: int = 1000,
    workspace: str | None = None,
) -> tuple[Annotation, ...]:
    """Annotations for the `path:line[:col]: message` lines of a build log, deduplicated."""
    found: dict[Annotation, None] = {}
    for raw in lines:
        if len(found) >= limit:
            break
        annotation = parse_log_line(raw, workspace=workspace)
        if annotation is None or (known_paths is not None and not known_paths(annotation.path)):
            continue
        found.setdefault(annotation)
    return tuple(found)


def parse_log_line(raw: str, *, workspace: str | None = None) -> Annotation | None:
    """The annotation one log line asks for, if it has the `path:line: message` shape."""
    match = _LOG_LINE.match(_ANSI.sub("", raw).strip())
    if match is None:
        return None
    path = repo_relative_path(match["path"], workspace=workspace)
    line = int(match["line"])
    rest = (match["rest"] or "").strip()
    # A bare `path:line:` (an intermediate pytest traceback entry) says nothing to annotate.
    if path is None or not _looks_like_file(path) or line < 1 or not rest:
        return None
    level, message = _level_and_message(rest)
    return Annotation(path, line, line, level, truncate_message(message or rest))


def _looks_like_file(path: str) -> bool:
    # `localhost:8080:` or a timestamp `12:30:45:` are not files: a file has a directory,
    # an extension or a conventional name like `Makefile`.
    return "/" in path or re.search(r"\.\w+$|^(?:GNUmakefile|[A-Z][a-z]+file)$", path) is not None


def _level_and_message(rest: str) -> tuple[Level, str]:
    word = _LEVEL_WORD.match(rest)
    if word:
        return _WORD_LEVELS[word["word"].lower()], rest[word.end() :]
    eslint = _ESLINT_LEVEL.search(rest)
    if eslint:
        return _WORD_LEVELS[eslint["word"].lower()], rest
    code = _LINT_CODE.match(rest)
    # flake8/pycodestyle: E and F codes are errors, W and the rest are warnings.
    if code and code["letter"] in ("E", "F"):
        return "failure", rest
    return "warning", rest


def annotations_from_report(
    report: TestReport, *, known_paths: Callable[[str], bool] | None = None
) -> tuple[Annotation, ...]:
    """One `failure` annotation per failed or errored test whose report names a file and line."""
    found: dict[Annotation, None] = {}
    for failure in report.failures:
        if failure.file is None or failure.line is None or failure.line < 1:
            continue
        if known_paths is not None and not known_paths(failure.file):
            continue
        found.setdefault(_failure_annotation(failure))
    return tuple(found)


def _failure_annotation(failure: TestFailure) -> Annotation:
    assert failure.file is not None
    assert failure.line is not None
    name = failure_display_name(failure)
    title = msg.test_error_title(name) if failure.is_error else msg.test_failed_title(name)
    details = failure.details.strip("\n").splitlines()[:REPORT_DETAIL_LINES]
    body = "\n\n".join(part for part in (failure.message, "\n".join(details)) if part.strip())
    return Annotation(
        path=failure.file,
        start_line=failure.line,
        end_line=failure.line,
        level="failure",
        message=truncate_message(body or msg.failure_without_message()),
        title=truncate_title(title),
    )


def failure_display_name(failure: TestFailure) -> str:
    """`classname.name`, or just `name` when the class name adds nothing (jest-junit)."""
    if not failure.classname or not failure.name:
        return failure.name or failure.classname
    if failure.name.startswith(failure.classname):
        return failure.name
    return f"{failure.classname}.{failure.name}"


def truncate_message(message: str) -> str:
    """`message` cut to GitHub's 64 KB, counted in UTF-8 bytes like every limit."""
    return truncate(message, MAX_MESSAGE_BYTES)


def truncate_title(title: str) -> str:
    """`title` cut to GitHub's 255 characters."""
    if len(title) <= MAX_TITLE_CHARS:
        return title
    return title[: MAX_TITLE_CHARS - 1] + ELLIPSIS


def sort_for_display(annotations: Iterable[Annotation]) -> tuple[Annotation, ...]:
    """Annotations deduplicated, failures first, then warnings, then notices."""
    unique = dict.fromkeys(annotations)
    return tuple(sorted(unique, key=lambda annotation: _LEVEL_ORDER[annotation.level]))
