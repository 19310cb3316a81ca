"""JUnit XML test reports (pytest, Maven Surefire and Gradle, jest-junit) as frozen values.

Reports come from the code under test, so they are hostile input: a report that declares
a DOCTYPE (the only place entities can be declared, hence "billion laughs") is refused
before parsing, size is capped, and every failure to read one is a `JUnitError` value.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass

from bot.core import check_messages as msg
from bot.core.paths import repo_relative_path

# Surefire reports with captured output reach tens of megabytes; past this, refuse.
MAX_REPORT_CHARS = 32 * 1024 * 1024

_PROLOG_ITEM = re.compile(r"\s*(?:<\?.*?\?>|<!--.*?-->)", re.DOTALL)
_DECLARATION = re.compile(r"\s*<!(?!--)")
# Python: pytest's `path:line: Error` lines and traceback `File "path", line N`.
_PYTHON_LOCATION = re.compile(
    r'^(?P<path>[^\s:"]+\.\w+):(?P<line>\d+):(?: |$)'
    r'|File "(?P<tb_path>[^"\n]+)", line (?P<tb_line>\d+)',
    re.MULTILINE,
)
# JavaScript stack frames: `at fn (path:line:col)` or `at path:line:col`.
_JS_FRAME = re.compile(
    r"\bat\s+(?:[^\n(]*?\()?(?:file://)?(?P<path>[^\s():]+):(?P<line>\d+):\d+\)?(?:\s|$)"
)
# JVM stack frames: `at com.example.FooTest.bar(FooTest.java:27)`.
_JVM_FRAME = re.compile(
    r"\bat\s+(?P<cls>[\w$.]+)\.[\w$<>]+\((?P<file>[\w$]+\.(?P<ext>java|kt|groovy|scala)):(?P<line>\d+)\)"
)
_JVM_REPORT_DIR = re.compile(
    r"^(?P<module>(?:.*/)?)(?:target/(?:surefire|failsafe)-reports|build/test-results)/"
)
_JVM_SOURCE_DIRS = {"java": "java", "kt": "kotlin", "groovy": "groovy", "scala": "scala"}
_VENDORED = frozenset({"node_modules", "site-packages", "dist-packages"})


@dataclass(frozen=True)
class TestFailure:
    """A failed (or, with `is_error`, errored) test; `file` and `line` locate it in the repo."""

    __test__ = False  # not a pytest test class, despite the name

    suite: str
    name: str
    classname: str
    message: str
    details: str
    file: str | None
    line: int | None  # 1-based
    is_error: bool = False


@dataclass(frozen=True)
class TestReport:
    """Counts of one or more reports, with every failure in document order."""

    __test__ = False  # not a pytest test class, despite the name

    passed: int
    failed: int
    errored: int
    skipped: int
    duration_seconds: float
    failures: tuple[TestFailure, ...] = ()

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.errored + self.skipped


@dataclass(frozen=True)
class JUnitError:
    """A report that could not be read, and why."""

    report_path: str
    reason: str

    @property
    def message(self) -> str:
        return msg.junit_error(self.report_path, self.reason)


@dataclass(frozen=True)
class _Context:
    report_path: str
    workspace: str | None
    zero_based_lines: bool


def parse_junit(
    text: str, *, report_path: str, workspace: str | None = None
) -> TestReport | JUnitError:
    """The report in `text` (read from `report_path` in the workspace), or why it is unusable."""
    if len(text) > MAX_REPORT_CHARS:
        return JUnitError(report_path, msg.junit_too_large(MAX_REPORT_CHARS))
    if _declares_doctype(text):
        return JUnitError(report_path, msg.junit_has_doctype())
    try:
        root = ET.fromstring(text)  # noqa: S314 - no DOCTYPE, so no entity can be declared
    except (ET.ParseError, UnicodeError) as error:
        return JUnitError(report_path, msg.junit_not_xml(str(error)))
    if _local_name(root.tag) not in ("testsuites", "testsuite"):
        return JUnitError(report_path, msg.junit_wrong_root(_local_name(root.tag)))
    context = _Context(report_path, workspace, zero_based_lines=_is_pytest(root))
    return _read_report(root, context)


def merge_reports(reports: Iterable[TestReport]) -> TestReport:
    """One report adding up the counts, durations and failures of `reports`."""
    merged = TestReport(0, 0, 0, 0, 0.0)
    for report in reports:
        merged = TestReport(
            passed=merged.passed + report.passed,
            failed=merged.failed + report.failed,
            errored=merged.errored + report.errored,
            skipped=merged.skipped + report.skipped,
            duration_seconds=merged.duration_seconds + report.duration_seconds,
            failures=merged.failures + report.failures,
        )
    return merged


def _declares_doctype(text: str) -> bool:
    # A DOCTYPE may only stand in the prolog, before the root element; anywhere else the
    # parser rejects it. Looking only there lets `<!DOCTYPE html>` in a CDATA section of
    # captured output through.
    position = 1 if text.startswith("\ufeff") else 0
    while (item := _PROLOG_ITEM.match(text, position)) and item.end() > position:
        position = item.end()
    return _DECLARATION.match(text, position) is not None


def _local_name(tag: object) -> str:
    return str(tag).rpartition("}")[2]


def _is_pytest(root: ET.Element) -> bool:
    # pytest writes `line` 0-based (`Item.location`, see _pytest/junitxml.py) under a root
    # it always names "pytest tests" (a bare <testsuite name="pytest"> before pytest 5.1).
    name = root.get("name", "")
    return name == "pytest tests" or (_local_name(root.tag) == "testsuite" and name == "pytest")


def _read_report(root: ET.Element, context: _Context) -> TestReport:
    outcomes = {"passed": 0, "failed": 0, "errored": 0, "skipped": 0}
    failures: list[TestFailure] = []
    suite_of: dict[ET.Element, ET.Element | None] = {root: None}
    for element in root.iter():  # document order, parents before children
        is_suite = _local_name(element.tag) == "testsuite"
        for child in element:
            suite_of[child] = element if is_suite else suite_of[element]
        if _local_name(element.tag) == "testcase":
            outcome, found = _read_testcase(element, suite_of[element], context)
            outcomes[outcome] += 1
            failures.extend(found)
    return TestReport(**outcomes, duration_seconds=_duration(root), failures=tuple(failures))


def _duration(root: ET.Element) -> float:
    own = _seconds(root.get("time"))
    if own is not None:
        return own
    suites = [child for child in root if _local_name(child.tag) == "testsuite"]
    if not suites:
        return _testcases_duration(root)
    return sum(_seconds(suite.get("time")) or _testcases_duration(suite) for suite in suites)


def _testcases_duration(element: ET.Element) -> float:
    return sum(_seconds(case.get("time")) or 0.0 for case in element.iter("testcase"))


def _seconds(value: str | None) -> float | None:
    if value is None:
        return None
    # Surefire under some locales writes "1,234.5" or "0,25".
    text = value.strip().replace(",", "." if value.count(",") == 1 and "." not in value else "")
    try:
        seconds = float(text)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _read_testcase(
    case: ET.Element, suite: ET.Element | None, context: _Context
) -> tuple[str, list[TestFailure]]:
    problems = [child for child in case if _local_name(child.tag) in ("failure", "error")]
    failures = [_read_failure(problem, case, suite, context) for problem in problems]
    if any(not failure.is_error for failure in failures):
        return "failed", failures
    if failures:
        return "errored", failures
    if any(_local_name(child.tag) == "skipped" for child in case):
        return "skipped", []
    return "passed", []


def _read_failure(
    problem: ET.Element, case: ET.Element, suite: ET.Element | None, context: _Context
) -> TestFailure:
    details = (problem.text or "").strip("\n").rstrip()
    first_line = next((line.strip() for line in details.splitlines() if line.strip()), "")
    file, line = _location(case, suite, details, context)
    return TestFailure(
        suite=suite.get("name", "") if suite is not None else "",
        name=case.get("name", ""),
        classname=case.get("classname", ""),
        message=(problem.get("message") or first_line or problem.get("type") or "").strip(),
        details=details,
        file=file,
        line=line,
        is_error=_local_name(problem.tag) == "error",
    )


def _location(
    case: ET.Element, suite: ET.Element | None, details: str, context: _Context
) -> tuple[str | None, int | None]:
    declared = case.get("file") or (suite.get("file") if suite is not None else None)
    declared_path = repo_relative_path(declared, workspace=context.workspace) if declared else None
    in_text = _text_locations(details, case.get("classname", ""), declared_path, context)
    if declared_path is None:
        return in_text[0] if in_text else (None, None)
    same_file = [(path, line) for path, line in in_text if path == declared_path]
    if same_file:
        return same_file[0]
    declared_line = _declared_line(case, context)
    if declared_line is not None:
        return declared_path, declared_line
    return in_text[0] if in_text else (declared_path, None)


def _declared_line(case: ET.Element, context: _Context) -> int | None:
    try:
        line = int(case.get("line", ""))
    except ValueError:
        return None
    line += 1 if context.zero_based_lines else 0
    return line if line >= 1 else None


def _text_locations(
    details: str, classname: str, declared_path: str | None, context: _Context
) -> list[tuple[str, int]]:
    """In-repo locations in a failure's text, the most telling first."""
    # Python prints the innermost frame last; JavaScript and the JVM print it first.
    python = [
        (match["path"] or match["tb_path"], int(match["line"] or match["tb_line"]))
        for match in _PYTHON_LOCATION.finditer(details)
    ]
    javascript = [(m["path"], int(m["line"])) for m in _JS_FRAME.finditer(details)]
    jvm = [(_jvm_path(m, classname, context), int(m["line"])) for m in _JVM_FRAME.finditer(details)]
    found: list[tuple[str, int]] = []
    for path, line in [*reversed(python), *javascript, *jvm]:
        in_repo = _in_repo(path, declared_path, context) if path else None
        if in_repo is not None and line >= 1:
            found.append((in_repo, line))
    return found


def _in_repo(path: str, declared_path: str | None, context: _Context) -> str | None:
    relative = repo_relative_path(path, workspace=context.workspace)
    if relative is None and declared_path and path.endswith("/" + declared_path):
        relative = declared_path  # an absolute path to the file the report names
    if relative is None or _VENDORED.intersection(relative.split("/")):
        return None
    return relative


def _jvm_path(frame: re.Match[str], classname: str, context: _Context) -> str | None:
    # A JVM frame names only the file; for the test class itself the conventional source
    # layout next to the report directory (Maven `target/surefire-reports`, Gradle
    # `build/test-results`) gives the path. Other classes are left unplaced.
    frame_class = frame["cls"].split("$")[0]
    report_dir = _JVM_REPORT_DIR.match(context.report_path.removeprefix("./"))
    if frame_class != classname.split("$")[0] or report_dir is None:
        return None
    package = frame_class.rpartition(".")[0].replace(".", "/")
    source_dir = f"{report_dir['module']}src/test/{_JVM_SOURCE_DIRS[frame['ext']]}"
    return "/".join(part for part in (source_dir, package, frame["file"]) if part)
