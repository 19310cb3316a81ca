from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core import junit
from bot.core.junit import JUnitError, TestFailure, TestReport, merge_reports, parse_junit

FIXTURES = Path(__file__).parent.parent / "fixtures" / "junit"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def report_of(text: str, **kwargs: str) -> TestReport:
    report = parse_junit(text, report_path=kwargs.pop("report_path", "report.xml"), **kwargs)
    assert isinstance(report, TestReport), report
    return report


def counts(report: TestReport) -> tuple[int, int, int, int]:
    return (report.passed, report.failed, report.errored, report.skipped)


def locations(report: TestReport) -> list[tuple[str, str | None, int | None, bool]]:
    return [(f.name, f.file, f.line, f.is_error) for f in report.failures]


# --- sample reports ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "report_path", "workspace", "expected_counts", "duration", "expected_failures"),
    [
        pytest.param(
            "pytest-xunit2.xml",
            "reports/junit.xml",
            None,
            (1, 2, 1, 2),
            0.044,
            [
                ("test_bad", "tests/test_demo.py", 11, False),
                # The innermost frame in the repo, inside the helper the test called.
                ("test_helper", "tests/test_demo.py", 4, False),
                ("test_err", "tests/test_demo.py", 18, True),
            ],
            id="pytest-xunit2",
        ),
        pytest.param(
            "pytest-xunit1.xml",
            "reports/junit.xml",
            None,
            (1, 2, 1, 2),
            0.06,
            [
                ("test_bad", "tests/test_demo.py", 11, False),
                ("test_helper", "tests/test_demo.py", 4, False),
                ("test_err", "tests/test_demo.py", 18, True),
            ],
            id="pytest-xunit1",
        ),
        pytest.param(
            "TEST-com.example.calc.CalculatorTest.xml",
            "calc-core/target/surefire-reports/TEST-com.example.calc.CalculatorTest.xml",
            None,
            (3, 1, 1, 1),
            1.25,
            [
                (
                    "dividesByZero",
                    "calc-core/src/test/java/com/example/calc/CalculatorTest.java",
                    31,
                    False,
                ),
                (
                    "parsesInput",
                    "calc-core/src/test/java/com/example/calc/CalculatorTest.java",
                    44,
                    True,
                ),
            ],
            id="surefire",
        ),
        pytest.param(
            "TEST-com.example.calc.CalculatorTest.xml",
            "out/TEST-com.example.calc.CalculatorTest.xml",
            None,
            (3, 1, 1, 1),
            1.25,
            [("dividesByZero", None, None, False), ("parsesInput", None, None, True)],
            id="surefire-unknown-layout",
        ),
        pytest.param(
            "jest-junit.xml",
            "junit.xml",
            "/home/runner/work/calc/calc",
            (4, 1, 0, 1),
            2.417,
            [("sum handles negative numbers", "src/sum.test.js", 12, False)],
            id="jest-junit",
        ),
        pytest.param(
            "jest-junit.xml",
            "junit.xml",
            None,
            (4, 1, 0, 1),
            2.417,
            [("sum handles negative numbers", None, None, False)],
            id="jest-junit-no-workspace",
        ),
    ],
)
def test_sample_reports(
    name: str,
    report_path: str,
    workspace: str | None,
    expected_counts: tuple[int, int, int, int],
    duration: float,
    expected_failures: list[tuple[str, str | None, int | None, bool]],
) -> None:
    kwargs = {"workspace": workspace} if workspace else {}
    report = report_of(fixture(name), report_path=report_path, **kwargs)
    assert counts(report) == expected_counts
    assert report.duration_seconds == pytest.approx(duration)
    assert locations(report) == expected_failures


def test_pytest_failure_fields() -> None:
    report = report_of(fixture("pytest-xunit2.xml"))
    bad, helper, error = report.failures
    assert (bad.suite, bad.classname, bad.message) == ("pytest", "tests.test_demo", "assert 1 == 2")
    assert bad.details.endswith("tests/test_demo.py:11: AssertionError")
    assert helper.message == "AssertionError: helper says no\nassert 3 == 2"
    assert error.message == 'failed on setup with "RuntimeError: fixture boom"'


def test_failure_without_message_attribute_takes_first_line_of_text() -> None:
    (failure,) = report_of(fixture("jest-junit.xml")).failures
    assert failure.message == "Error: expect(received).toBe(expected) // Object.is equality"
    assert "Received: 3" in failure.details


def test_cdata_with_doctype_inside_the_report_is_accepted() -> None:
    report = report_of(fixture("TEST-com.example.calc.CalculatorTest.xml"))
    assert report.failures[0].message.startswith("Unexpected exception type thrown")


# --- structure -------------------------------------------------------------------------------

NESTED = """\
<testsuites>
  <testsuite name="outer" time="3.5">
    <testsuite name="inner" time="1.0">
      <testcase name="a" classname="pkg.A"><failure message="boom">trace</failure></testcase>
      <testcase name="b" classname="pkg.A"><skipped/></testcase>
    </testsuite>
    <testcase name="c" classname="pkg.C"><error message="setup">oops</error></testcase>
    <testcase name="d" classname="pkg.C"/>
  </testsuite>
  <testsuite name="second">
    <testcase name="e" classname="pkg.E" time="0.25"/>
    <testcase name="f" classname="pkg.E" time="0.5"><failure/><error/></testcase>
  </testsuite>
</testsuites>
"""


def test_nested_suites_count_every_testcase_once() -> None:
    report = report_of(NESTED)
    assert counts(report) == (2, 2, 1, 1)
    # outer's own time, plus second's testcases (it has no time of its own)
    assert report.duration_seconds == pytest.approx(4.25)
    assert [(f.suite, f.name, f.is_error) for f in report.failures] == [
        ("inner", "a", False),
        ("outer", "c", True),
        ("second", "f", False),
        ("second", "f", True),
    ]


@pytest.mark.parametrize(
    ("xml", "expected_counts", "duration"),
    [
        ('<testsuite name="x" time="2"><testcase name="a"/></testsuite>', (1, 0, 0, 0), 2.0),
        ('<testsuites time="7"><testsuite time="1"/></testsuites>', (0, 0, 0, 0), 7.0),
        (
            '<testsuites><testsuite time="1"/><testsuite time="2.5"/></testsuites>',
            (0, 0, 0, 0),
            3.5,
        ),
        ('<testsuite time="nan"><testcase time="0.5"/></testsuite>', (1, 0, 0, 0), 0.5),
        ('<testsuite time="-3"><testcase time="x"/></testsuite>', (1, 0, 0, 0), 0.0),
        ('<testsuite time="1,234.5"/>', (0, 0, 0, 0), 1234.5),
        ('<j:testsuite xmlns:j="urn:x"><j:testcase name="a"/></j:testsuite>', (1, 0, 0, 0), 0.0),
        ('<?xml version="1.0"?>\n<!-- made by hand -->\n<testsuites/>', (0, 0, 0, 0), 0.0),
        ("\ufeff<testsuites/>", (0, 0, 0, 0), 0.0),
    ],
)
def test_shapes_and_durations(
    xml: str, expected_counts: tuple[int, int, int, int], duration: float
) -> None:
    report = report_of(xml)
    assert counts(report) == expected_counts
    assert report.duration_seconds == pytest.approx(duration)


# --- locations -------------------------------------------------------------------------------


def case(attributes: str, text: str, root: str = 'testsuites name="pytest tests"') -> str:
    escaped = text.replace("&", "&amp;").replace("<", "&lt;")
    failure = f'<failure message="m">{escaped}</failure>'
    body = f'<testcase name="t" classname="c" {attributes}>{failure}</testcase>'
    return f"<{root}><testsuite>{body}</testsuite></{root.split()[0]}>"


@pytest.mark.parametrize(
    ("xml", "workspace", "expected"),
    [
        pytest.param(
            case('file="t/a.py" line="9"', "E boom"), None, ("t/a.py", 10), id="pytest-0-based"
        ),
        pytest.param(
            case('file="t/a.py" line="9"', "E boom", root="testsuites"),
            None,
            ("t/a.py", 9),
            id="other-tools-1-based",
        ),
        pytest.param(
            case('file="t/a.py" line="9"', "t/a.py:14: AssertionError"),
            None,
            ("t/a.py", 14),
            id="text-line-in-same-file-wins",
        ),
        pytest.param(
            case('file="t/a.py" line="9"', "t/helpers.py:3: ValueError"),
            None,
            ("t/a.py", 10),
            id="attribute-beats-other-file",
        ),
        pytest.param(
            case('file="t/a.py"', "t/helpers.py:3: ValueError"),
            None,
            ("t/helpers.py", 3),
            id="file-without-line",
        ),
        pytest.param(case('file="t/a.py"', "no location"), None, ("t/a.py", None), id="file-only"),
        pytest.param(
            case('file="/elsewhere/a.py" line="2"', "x"), None, (None, None), id="absolute-file"
        ),
        pytest.param(case('file="./t/a.py" line="2"', "x"), None, ("t/a.py", 3), id="dot-slash"),
        pytest.param(
            case("", 'File "/ws/app/m.py", line 7, in f\n  File "/ws/app/n.py", line 3, in g'),
            "/ws",
            ("app/n.py", 3),
            id="python-traceback-innermost",
        ),
        pytest.param(
            case("", 'File "/usr/lib/python3.11/json/decoder.py", line 3, in g'),
            None,
            (None, None),
            id="stdlib-frame",
        ),
        pytest.param(
            case("", 'File "/ws/.venv/lib/python3.11/site-packages/x.py", line 3\n'),
            "/ws",
            (None, None),
            id="site-packages-in-workspace",
        ),
        pytest.param(
            case(
                "",
                "Error\n    at f (/ws/node_modules/x/i.js:1:2)"
                "\n    at Object.<anonymous> (/ws/src/a.test.ts:5:9)"
                "\n    at g (/ws/src/b.ts:1:1)",
            ),
            "/ws",
            ("src/a.test.ts", 5),
            id="js-first-frame-in-repo",
        ),
        pytest.param(
            case("", "Error\n    at file:///ws/src/esm.test.mjs:8:3"),
            "/ws",
            ("src/esm.test.mjs", 8),
            id="js-esm-url",
        ),
        pytest.param(
            case(
                'file="src/a.test.js"',
                "Error\n    at Object.toBe (/abs/checkout/src/a.test.js:5:9)",
            ),
            None,
            ("src/a.test.js", 5),
            id="js-absolute-matching-declared-file",
        ),
        pytest.param(case("", "../outside.py:3: Error"), None, (None, None), id="parent-dir"),
        pytest.param(
            case('file="t/a.py" line="-1"', "x"), None, ("t/a.py", None), id="negative-line"
        ),
        pytest.param(case('file="t/a.py" line="x"', "x"), None, ("t/a.py", None), id="bad-line"),
    ],
)
def test_failure_location(
    xml: str, workspace: str | None, expected: tuple[str | None, int | None]
) -> None:
    kwargs = {"workspace": workspace} if workspace else {}
    (failure,) = report_of(xml, **kwargs).failures
    assert (failure.file, failure.line) == expected


@pytest.mark.parametrize(
    ("report_path", "classname", "frame", "expected"),
    [
        (
            "target/surefire-reports/TEST-a.B.xml",
            "a.B",
            "a.B.t(B.java:3)",
            "src/test/java/a/B.java",
        ),
        (
            "./m/target/failsafe-reports/TEST-a.B.xml",
            "a.B",
            "a.B.t(B.java:3)",
            "m/src/test/java/a/B.java",
        ),
        (
            "app/build/test-results/test/TEST-a.B.xml",
            "a.B",
            "a.B.t(B.kt:3)",
            "app/src/test/kotlin/a/B.kt",
        ),
        ("build/test-results/test/TEST-B.xml", "B", "B.t(B.groovy:3)", "src/test/groovy/B.groovy"),
        (
            "target/surefire-reports/TEST-a.B.xml",
            "a.B",
            "a.B$Inner.t(B.java:3)",
            "src/test/java/a/B.java",
        ),
        ("target/surefire-reports/TEST-a.B.xml", "a.B", "a.Helper.t(Helper.java:3)", None),
        ("reports/TEST-a.B.xml", "a.B", "a.B.t(B.java:3)", None),
    ],
)
def test_jvm_frames_map_to_the_conventional_test_source_dir(
    report_path: str, classname: str, frame: str, expected: str | None
) -> None:
    xml = (
        f'<testsuite><testcase name="t" classname="{classname}">'
        f"<failure>x\n\tat {frame}</failure></testcase></testsuite>"
    )
    (failure,) = report_of(xml, report_path=report_path).failures
    assert (failure.file, failure.line) == (expected, 3 if expected else None)


# --- refusals ---------------------------------------------------------------------------------

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<testsuite name="&lol3;"/>
"""


@pytest.mark.parametrize(
    ("text", "reason_part"),
    [
        pytest.param(BILLION_LAUGHS, "DOCTYPE", id="billion-laughs"),
        pytest.param(
            '<!-- hi --><!doctype x SYSTEM "file:///etc/passwd"><testsuite/>',
            "DOCTYPE",
            id="external",
        ),
        pytest.param(
            "<?xml version='1.0'?><!DOCTYPE testsuite><testsuite/>", "DOCTYPE", id="plain-doctype"
        ),
        pytest.param("", "not well-formed", id="empty"),
        pytest.param("<testsuite>", "not well-formed", id="unclosed"),
        pytest.param('{"tests": 3}', "not well-formed", id="json"),
        pytest.param("<html><body/></html>", "<html>", id="wrong-root"),
        pytest.param("<testsuite/>\ud800", "not well-formed", id="lone-surrogate"),
        pytest.param(
            "<testsuite><testcase><!DOCTYPE x></testcase></testsuite>",
            "not well-formed",
            id="doctype-inside",
        ),
    ],
)
def test_unusable_reports_are_errors(text: str, reason_part: str) -> None:
    result = parse_junit(text, report_path="out/junit.xml")
    assert isinstance(result, JUnitError)
    assert reason_part in result.reason
    assert result.message.startswith("Could not read the test report out/junit.xml: ")


_prolog_item = st.sampled_from(
    ["", " ", "\n" * 20, "\t", '<?xml version="1.0"?>', "<!-- c -->", "<?pi x?>", "<!---->"]
)


@settings(max_examples=200)
@given(
    bom=st.booleans(),
    prolog=st.lists(_prolog_item, max_size=6),
    doctype=st.sampled_from(["<!DOCTYPE", "<!doctype", "<!ENTITY", "<![CDATA[", "<!x"]),
)
def test_any_declaration_in_the_prolog_is_refused(
    bom: bool, prolog: list[str], doctype: str
) -> None:
    text = (
        ("\ufeff" if bom else "") + "".join(prolog) + doctype + ' x [<!ENTITY a "b">]><testsuite/>'
    )
    result = parse_junit(text, report_path="r.xml")
    assert isinstance(result, JUnitError)
    assert "DOCTYPE" in result.reason


def test_size_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(junit, "MAX_REPORT_CHARS", 100)
    result = parse_junit("<testsuite>" + " " * 100 + "</testsuite>", report_path="r.xml")
    assert isinstance(result, JUnitError)
    assert "larger than 100 characters" in result.reason


@settings(max_examples=300)
@given(st.text())
def test_garbage_never_raises(text: str) -> None:
    assert isinstance(parse_junit(text, report_path="r.xml"), TestReport | JUnitError)


_tag = st.sampled_from(["testsuites", "testsuite", "testcase", "failure", "error", "skipped", "x"])
_attribute = st.tuples(
    st.sampled_from(["name", "classname", "file", "line", "time", "message"]),
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=20),
)


@st.composite
def _element(draw: st.DrawFn, depth: int = 0) -> str:
    tag = draw(_tag)
    attributes = draw(st.lists(_attribute, max_size=3, unique_by=lambda a: a[0]))
    rendered = "".join(
        f' {k}="{v.replace("&", "&amp;").replace("<", "&lt;").replace(chr(34), "&quot;")}"'
        for k, v in attributes
    )
    children = draw(st.lists(_element(depth + 1), max_size=3)) if depth < 4 else []
    text = draw(st.sampled_from(["", "t.py:3: E", 'File "a/b.py", line 0', "at x (y.js:1:2)"]))
    return f"<{tag}{rendered}>{text}{''.join(children)}</{tag}>"


@settings(max_examples=300)
@given(_element())
def test_well_formed_junit_shaped_xml_never_raises(xml: str) -> None:
    result = parse_junit(xml, report_path="r.xml")
    if isinstance(result, TestReport):
        assert result.total >= 0
        assert all(f.line is None or f.line >= 1 for f in result.failures)


# --- merge ---------------------------------------------------------------------------------------


def test_merge_reports_adds_everything_up() -> None:
    one = TestFailure("s", "a", "c", "m", "d", None, None)
    two = TestFailure("s", "b", "c", "m", "d", "x.py", 3, is_error=True)
    merged = merge_reports(
        [TestReport(1, 1, 0, 2, 1.5, (one,)), TestReport(4, 0, 1, 0, 2.0, (two,))]
    )
    assert merged == TestReport(5, 1, 1, 2, 3.5, (one, two))
    assert merge_reports([]) == TestReport(0, 0, 0, 0, 0.0)


# --- real pytest output ------------------------------------------------------------------------

SAMPLE_TEST = """\
import pytest


def test_passes():
    assert True


def test_fails():
    value = 41
    assert value == 42


@pytest.mark.skip(reason="later")
def test_skipped():
    pass
"""


def run_pytest(directory: Path, *options: str) -> str:
    (directory / "tests").mkdir()
    (directory / "tests" / "test_sample.py").write_text(SAMPLE_TEST)
    (directory / "pytest.ini").write_text("[pytest]\n")
    report = directory / "junit.xml"
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            f"--junitxml={report}",
            *options,
        ],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 1, completed.stdout + completed.stderr
    return report.read_text(encoding="utf-8")


def line_of(source: str, needle: str) -> int:
    """1-based line of the first line of `source` containing `needle`."""
    return next(i for i, line in enumerate(source.splitlines(), 1) if needle in line)


ASSERT_LINE = line_of(SAMPLE_TEST, "assert value == 42")
DEF_LINE = line_of(SAMPLE_TEST, "def test_fails")


@pytest.mark.parametrize(
    ("options", "use_workspace", "expected_line"),
    [
        pytest.param((), False, ASSERT_LINE, id="xunit2-long"),
        pytest.param(("-o", "junit_family=xunit1"), False, ASSERT_LINE, id="xunit1-long"),
        # --tb=line leaves no location in the text: the 0-based `line` attribute is all there is.
        pytest.param(("-o", "junit_family=xunit1", "--tb=line"), False, DEF_LINE, id="xunit1-line"),
        # --tb=native prints absolute paths: the workspace makes them relative.
        pytest.param(("--tb=native",), True, ASSERT_LINE, id="xunit2-native"),
        pytest.param(("--tb=native",), False, None, id="xunit2-native-no-workspace"),
    ],
)
def test_real_pytest_report(
    tmp_path: Path, options: tuple[str, ...], use_workspace: bool, expected_line: int | None
) -> None:
    text = run_pytest(tmp_path, *options)
    workspace = {"workspace": str(tmp_path)} if use_workspace else {}
    report = report_of(text, report_path="junit.xml", **workspace)
    assert counts(report) == (1, 1, 0, 1)
    (failure,) = report.failures
    assert failure.name == "test_fails"
    assert failure.classname == "tests.test_sample"
    assert "assert 41 == 42" in failure.message
    expected_file = None if expected_line is None else "tests/test_sample.py"
    assert (failure.file, failure.line) == (expected_file, expected_line)


def test_sample_tells_the_def_line_from_the_assert_line() -> None:
    # The table above tells the `line` attribute from the traceback only if these differ.
    assert DEF_LINE != ASSERT_LINE
