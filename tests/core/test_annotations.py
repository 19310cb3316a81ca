from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.annotations import (
    MAX_MESSAGE_BYTES,
    MAX_TITLE_CHARS,
    Annotation,
    annotations_from_log,
    annotations_from_report,
    parse_log_line,
    sort_for_display,
    truncate_title,
)
from bot.core.junit import TestFailure, TestReport
from bot.core.markdown import truncate as truncate_utf8
from bot.core.paths import repo_relative_path


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param(
            "src/main.c:12:5: error: 'count' undeclared (first use in this function)",
            ("src/main.c", 12, "failure", "'count' undeclared (first use in this function)"),
            id="gcc-error",
        ),
        pytest.param(
            "src/main.c:30:9: warning: unused variable 'tmp' [-Wunused-variable]",
            ("src/main.c", 30, "warning", "unused variable 'tmp' [-Wunused-variable]"),
            id="gcc-warning",
        ),
        pytest.param(
            "src/main.c:3:10: note: 'stdio.h' is defined in header",
            ("src/main.c", 3, "notice", "'stdio.h' is defined in header"),
            id="gcc-note",
        ),
        pytest.param(
            "lib/x.cpp:1:10: fatal error: 'boost/asio.hpp' file not found",
            ("lib/x.cpp", 1, "failure", "'boost/asio.hpp' file not found"),
            id="clang-fatal",
        ),
        pytest.param(
            "bot/app.py:3:8: F401 [*] `os` imported but unused",
            ("bot/app.py", 3, "failure", "F401 [*] `os` imported but unused"),
            id="ruff",
        ),
        pytest.param(
            "./bot/app.py:7:80: E501 line too long (88 > 79 characters)",
            ("bot/app.py", 7, "failure", "E501 line too long (88 > 79 characters)"),
            id="flake8",
        ),
        pytest.param(
            "./bot/app.py:9:1: W391 blank line at end of file",
            ("bot/app.py", 9, "warning", "W391 blank line at end of file"),
            id="flake8-warning",
        ),
        pytest.param(
            'bot/app.py:12: error: Incompatible return value type (got "int", expected "str")'
            "  [return-value]",
            (
                "bot/app.py",
                12,
                "failure",
                'Incompatible return value type (got "int", expected "str")  [return-value]',
            ),
            id="mypy-error",
        ),
        pytest.param(
            'bot/app.py:12: note: Revealed type is "builtins.int"',
            ("bot/app.py", 12, "notice", 'Revealed type is "builtins.int"'),
            id="mypy-note",
        ),
        pytest.param(
            "/ws/src/app.js:1:10: 'x' is defined but never used. [Error/no-unused-vars]",
            ("src/app.js", 1, "failure", "'x' is defined but never used. [Error/no-unused-vars]"),
            id="eslint-unix-error",
        ),
        pytest.param(
            "/ws/src/app.js:4:3: Unexpected console statement. [Warning/no-console]",
            ("src/app.js", 4, "warning", "Unexpected console statement. [Warning/no-console]"),
            id="eslint-unix-warning",
        ),
        pytest.param(
            "./main.go:12:2: fmt.Printf format %d has arg s of wrong type string",
            ("main.go", 12, "warning", "fmt.Printf format %d has arg s of wrong type string"),
            id="go-vet-no-level",
        ),
        pytest.param(
            "\x1b[1msrc/a.rs:2:5: \x1b[31merror:\x1b[0m cannot find value `y`",
            ("src/a.rs", 2, "failure", "cannot find value `y`"),
            id="ansi-colours",
        ),
        pytest.param(
            "Makefile:14: warning: overriding recipe for target 'all'",
            ("Makefile", 14, "warning", "overriding recipe for target 'all'"),
            id="no-extension-but-root",
        ),
    ],
)
def test_log_lines_that_annotate(line: str, expected: tuple[str, int, str, str]) -> None:
    annotation = parse_log_line(line, workspace="/ws")
    assert annotation is not None
    path, number, level, message = expected
    assert annotation == Annotation(path, number, number, level, message)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "line",
    [
        pytest.param("12:30:45: server started", id="timestamp"),
        pytest.param("localhost:8080: connection refused", id="host-port"),
        pytest.param("/usr/include/stdio.h:33:1: error: boom", id="absolute-outside-workspace"),
        pytest.param("../other/a.c:3: error: x", id="parent-directory"),
        pytest.param("src/a.c:0: error: x", id="line-zero"),
        pytest.param("tests/test_x.py:14:", id="bare-traceback-entry"),
        pytest.param("tests/test_x.py:14: ", id="bare-traceback-entry-space"),
        pytest.param("src/a.c:12:error: no space", id="no-space-after-colon"),
        pytest.param("C:\\src\\a.c:3: error: x", id="windows"),
        pytest.param("see src/a.c:3: error: x", id="not-at-line-start"),
        pytest.param("", id="empty"),
        pytest.param("FAILED tests/test_x.py::test_a - assert 1 == 2", id="pytest-summary"),
        pytest.param(
            "node_modules/.bin/x.js:3: error: vendored", id="vendored-is-kept-out-by-known-paths"
        ),
    ],
)
def test_log_lines_that_do_not_annotate(line: str) -> None:
    known = {"src/a.c", "tests/test_x.py"}
    assert annotations_from_log([line], workspace="/ws", known_paths=known.__contains__) == ()


def test_workspace_prefix_is_stripped_once_and_needs_a_separator() -> None:
    assert repo_relative_path("/ws/src/a.c", workspace="/ws/") == "src/a.c"
    assert repo_relative_path("/wsx/src/a.c", workspace="/ws") is None
    assert repo_relative_path("./src/./a.c") == "src/a.c"
    assert repo_relative_path("src//a.c") == "src/a.c"
    assert repo_relative_path("<frozen importlib._bootstrap>") is None
    assert repo_relative_path(".") is None


def test_log_annotations_are_deduplicated_in_order_and_limited() -> None:
    lines = [
        "b.py:2: error: two",
        "a.py:1: error: one",
        "b.py:2: error: two",
        "c.py:3: warning: three",
        "d.py:4: warning: four",
    ]
    found = annotations_from_log(lines, limit=3)
    assert [(a.path, a.start_line) for a in found] == [("b.py", 2), ("a.py", 1), ("c.py", 3)]


def test_known_paths_filters() -> None:
    lines = ["gen/x.py:1: error: generated", "src/x.py:1: error: real"]
    found = annotations_from_log(lines, known_paths=lambda path: path.startswith("src/"))
    assert [a.path for a in found] == ["src/x.py"]


def failure(**overrides: object) -> TestFailure:
    fields: dict[str, object] = {
        "suite": "pytest",
        "name": "test_bad",
        "classname": "tests.test_x",
        "message": "assert 1 == 2",
        "details": "def test_bad():\n>   assert 1 == 2\nE   assert 1 == 2",
        "file": "tests/test_x.py",
        "line": 11,
    }
    fields.update(overrides)
    return TestFailure(**fields)  # type: ignore[arg-type]


def report_with(*failures: TestFailure) -> TestReport:
    return TestReport(0, len(failures), 0, 0, 1.0, failures)


def test_report_annotations() -> None:
    located = failure()
    errored = failure(name="test_setup", line=20, is_error=True, message="")
    (first, second) = annotations_from_report(
        report_with(located, failure(file=None), failure(line=None), errored)
    )
    assert first == Annotation(
        "tests/test_x.py",
        11,
        11,
        "failure",
        "assert 1 == 2\n\ndef test_bad():\n>   assert 1 == 2\nE   assert 1 == 2",
        "Test failed: tests.test_x.test_bad",
    )
    assert second.title == "Test error: tests.test_x.test_setup"
    assert second.message.startswith("def test_bad():")


def test_report_annotations_respect_known_paths_and_dedupe() -> None:
    report = report_with(failure(), failure(), failure(file="gone.py"))
    found = annotations_from_report(report, known_paths=lambda path: path != "gone.py")
    assert len(found) == 1


@pytest.mark.parametrize(
    ("classname", "name", "shown"),
    [
        ("tests.test_x", "test_bad", "tests.test_x.test_bad"),
        ("sum handles negatives", "sum handles negatives", "sum handles negatives"),
        ("", "lonely", "lonely"),
        ("only.class", "", "only.class"),
    ],
)
def test_display_names(classname: str, name: str, shown: str) -> None:
    (annotation,) = annotations_from_report(report_with(failure(classname=classname, name=name)))
    assert annotation.title == f"Test failed: {shown}"


def test_report_annotation_without_any_text() -> None:
    (annotation,) = annotations_from_report(report_with(failure(message="", details="")))
    assert annotation.message == "Failed without a message"


def test_sort_for_display_puts_failures_first_and_dedupes() -> None:
    notice = Annotation("a", 1, 1, "notice", "n")
    warning = Annotation("a", 1, 1, "warning", "w")
    failed = Annotation("a", 1, 1, "failure", "f")
    assert sort_for_display([notice, warning, failed, notice]) == (failed, warning, notice)


@settings(max_examples=200)
@given(st.text(), st.integers(min_value=4, max_value=300))
def test_truncate_utf8_fits_and_keeps_a_prefix(text: str, budget: int) -> None:
    cut = truncate_utf8(text, budget)
    assert len(cut.encode()) <= budget
    assert cut == text or text.startswith(cut.removesuffix("…"))


@settings(max_examples=50)
@given(st.text(min_size=1, max_size=5).map(lambda s: s * 40_000))
def test_huge_messages_and_titles_are_cut_to_githubs_limits(text: str) -> None:
    long = failure(message=text, name=text)
    (annotation,) = annotations_from_report(report_with(long))
    assert len(annotation.message.encode()) <= MAX_MESSAGE_BYTES
    assert annotation.title is not None
    assert len(annotation.title) <= MAX_TITLE_CHARS
    assert truncate_title("x" * 300) == "x" * 254 + "…"


@settings(max_examples=300)
@given(st.lists(st.text(), max_size=20))
def test_any_log_gives_valid_annotations(lines: list[str]) -> None:
    for annotation in annotations_from_log(lines):
        assert annotation.start_line >= 1
        assert not annotation.path.startswith(("/", "./"))
        assert ".." not in annotation.path.split("/")
        assert annotation.message
