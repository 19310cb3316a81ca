from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core import check_messages as msg
from bot.core.annotations import Annotation
from bot.core.checks import (
    ANNOTATIONS_PER_REQUEST,
    MAX_ANNOTATIONS,
    CheckOutput,
    JobView,
    StepSummary,
    aggregate_conclusion,
    batch_annotations,
    check_run_actions,
    fit_log_tail,
    render_aggregate_output,
    render_job_output,
)
from bot.core.junit import TestFailure, TestReport
from bot.core.markdown import MAX_CHECK_OUTPUT_BYTES as MAX_OUTPUT_BYTES

LOG_URL = "https://ci.example.com/jobs/7/log"
RUN_URL = "https://ci.example.com/runs/3"


def step(
    name: str, status: str = "success", exit_code: int | None = 0, seconds: float = 1.0
) -> StepSummary:
    return StepSummary(name, status, exit_code, seconds)


def job(**overrides: object) -> JobView:
    fields: dict[str, object] = {
        "name": "test (3.11)",
        "conclusion": "success",
        "steps": (step("install"), step("pytest", seconds=47.0)),
        "duration_seconds": 48.0,
        "report": None,
        "log_tail": "collected 13 items\n13 passed in 47.1s\n",
        "log_url": LOG_URL,
    }
    fields.update(overrides)
    return JobView(**fields)  # type: ignore[arg-type]


def failure(name: str = "test_bad", **overrides: object) -> TestFailure:
    fields: dict[str, object] = {
        "suite": "pytest",
        "name": name,
        "classname": "tests.test_x",
        "message": "assert 1 == 2",
        "details": (
            "def test_bad():\n>       assert 1 == 2\nE       assert 1 == 2\n\n"
            "tests/test_x.py:11: AssertionError"
        ),
        "file": "tests/test_x.py",
        "line": 11,
    }
    fields.update(overrides)
    return TestFailure(**fields)  # type: ignore[arg-type]


def report(passed: int = 12, *failures: TestFailure, skipped: int = 0) -> TestReport:
    return TestReport(passed, len(failures), 0, skipped, 45.0, failures)


# --- Markdown checking helpers ----------------------------------------------------------------

_FENCE = re.compile(r"^ {0,3}(`{3,})")


def fenced_blocks(markdown: str) -> list[str]:
    """The contents of the fenced code blocks, closed as CommonMark closes them."""
    blocks: list[str] = []
    current: list[str] = []
    opener = ""
    for line in markdown.split("\n"):
        fence = _FENCE.match(line)
        if not opener and fence:
            opener, current = fence[1], []
        elif opener and fence and len(fence[1]) >= len(opener) and not line.strip("` "):
            blocks.append("\n".join(current))
            opener = ""
        elif opener:
            current.append(line)
    assert not opener, "a fenced block was left open"
    return blocks


def table_cells(row: str) -> list[str]:
    """The cells of a GFM table row: split on `|` not escaped by a backslash."""
    return re.split(r"(?<!\\)\|", row.strip())[1:-1]


def assert_within_limits(output: CheckOutput) -> None:
    assert len(output.summary.encode()) <= MAX_OUTPUT_BYTES
    assert output.text is None or len(output.text.encode()) <= MAX_OUTPUT_BYTES
    assert all(0 < len(batch) <= ANNOTATIONS_PER_REQUEST for batch in output.annotation_batches)
    assert sum(map(len, output.annotation_batches)) <= MAX_ANNOTATIONS
    fenced_blocks(output.summary)
    if output.text is not None:
        fenced_blocks(output.text)


# --- durations and titles -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, "0 ms"),
        (0.85, "850 ms"),
        (0.9996, "1.0 s"),
        (3.2, "3.2 s"),
        (9.96, "10 s"),
        (48.4, "48 s"),
        (59.6, "1 min"),
        (125, "2 min 5 s"),
        (3599.7, "1 h"),
        (3780, "1 h 3 min"),
        (90061, "25 h 1 min"),
        (-4, "0 ms"),
        (float("nan"), "0 ms"),
        (float("inf"), "0 ms"),
        (None, "0 ms"),
    ],
)
def test_durations_read_like_people_say_them(seconds: float | None, shown: str) -> None:
    assert msg.duration(seconds) == shown


@pytest.mark.parametrize(
    ("overrides", "title"),
    [
        ({"report": report(12, failure()), "conclusion": "failure"}, "12 passed, 1 failed in 48 s"),
        ({"report": report(12, skipped=2)}, "12 passed, 2 skipped in 48 s"),
        (
            {"report": TestReport(3, 0, 2, 0, 4.0), "conclusion": "failure"},
            "3 passed, 2 errors in 48 s",
        ),
        ({"report": report(3), "duration_seconds": None}, "3 passed in 45 s"),
        ({"duration_seconds": 3.2}, "Passed in 3.2 s"),
        (
            {"conclusion": "failure", "steps": (step("install"), step("pytest", "failure", 1))},
            'Failed at step "pytest" (exit 1) after 48 s',
        ),
        (
            # tests passed but a later step failed: say which step, not "12 passed"
            {
                "conclusion": "failure",
                "report": report(12),
                "steps": (step("pytest"), step("lint", "failure", 2)),
            },
            'Failed at step "lint" (exit 2) after 48 s',
        ),
        ({"conclusion": "failure", "steps": ()}, "Failed after 48 s"),
        (
            {"conclusion": "failure", "steps": (step("x", "failure", None),)},
            'Failed at step "x" after 48 s',
        ),
        ({"conclusion": "timed_out", "duration_seconds": 900.0}, "Timed out after 15 min"),
        ({"conclusion": "cancelled", "report": report(1)}, "Cancelled"),
        (
            {"conclusion": "skipped", "skip_reason": "no changes under docs/"},
            "Skipped: no changes under docs/",
        ),
        ({"conclusion": "skipped"}, "Skipped"),
        ({"conclusion": None}, "Running…"),
        ({"conclusion": "neutral"}, "Neutral"),
        ({"conclusion": "brand_new_state"}, "Brand new state"),
    ],
)
def test_job_titles(overrides: dict[str, object], title: str) -> None:
    assert render_job_output(job(**overrides)).title == title


# --- job summary ---------------------------------------------------------------------------


def test_summary_has_steps_failed_tests_and_log_link() -> None:
    steps = (
        step("install", seconds=3.2),
        step("pytest", "failure", 1, 48.0),
        step("upload", "not_run", None, 0.0),
    )
    output = render_job_output(job(conclusion="failure", steps=steps, report=report(12, failure())))
    rows = [line for line in output.summary.splitlines() if line.startswith("| ")]
    assert [table_cells(row) for row in rows[2:]] == [
        [" ✅ ", " `install` ", " 0 ", " 3.2 s "],
        [" ❌ ", " `pytest` ", " 1 ", " 48 s "],
        [" ⚪ ", " `upload` ", " — ", " — "],
    ]
    assert "**Tests:** 12 passed, 1 failed, 0 errors, 0 skipped" in output.summary
    assert "#### ❌ `tests.test_x.test_bad` · `tests/test_x.py:11`" in output.summary
    assert "**Message:** `assert 1 == 2`\n" in output.summary
    assert fenced_blocks(output.summary) == [failure().details]
    assert output.summary.endswith(f"[Full log](<{LOG_URL}>)\n")


def test_skipped_job_summary_says_why() -> None:
    output = render_job_output(
        job(conclusion="skipped", steps=(), skip_reason="only runs on *main*", log_tail="")
    )
    assert output.summary.startswith(r"Skipped: only runs on \*main\*")
    assert output.text is None


@pytest.mark.parametrize(
    "name",
    ["a | b", "`tick`", "``double`` | pipe", "trailing\\", "new\nline", "  spaced  ", "", "|"],
)
def test_step_names_stay_in_their_cell(name: str) -> None:
    output = render_job_output(job(steps=(step(name),)))
    row = next(line for line in output.summary.splitlines() if "| ✅ |" in line)
    assert len(table_cells(row)) == 4


@pytest.mark.parametrize(
    "text",
    [
        "```\nnot the end\n```",
        "````\nstill not\n`````",
        "   ```\nindented close",
        "~~~\ntilde\n~~~",
        "``` python\ncode",
        "`",
    ],
)
def test_log_cannot_close_its_fence(text: str) -> None:
    output = render_job_output(job(log_tail=f"before\n{text}\nafter"))
    assert output.text is not None
    assert fenced_blocks(output.text) == [f"before\n{text}\nafter"]


def test_failure_details_cannot_close_their_fence() -> None:
    details = "E   AssertionError: got\n```\n## injected heading\n```"
    output = render_job_output(
        job(report=report(0, failure(details=details)), conclusion="failure")
    )
    assert fenced_blocks(output.summary) == [details]


def test_long_details_keep_head_and_tail() -> None:
    details = "\n".join(f"line {n}" for n in range(1, 101))
    output = render_job_output(
        job(report=report(0, failure(details=details)), conclusion="failure")
    )
    (block,) = fenced_blocks(output.summary)
    shown = block.splitlines()
    assert shown[:2] == ["line 1", "line 2"]
    assert shown[-1] == "line 100"
    assert "[… 70 lines omitted …]" in shown


def test_many_failures_are_listed_up_to_a_bound() -> None:
    failures = tuple(failure(f"test_{n}") for n in range(80))
    output = render_job_output(job(report=report(0, *failures), conclusion="failure"))
    assert output.summary.count("#### ❌") == 50
    assert "…and 30 more failed tests." in output.summary


def test_log_text_strips_colours_and_carriage_return_progress() -> None:
    log = "\x1b[32mok\x1b[0m\ndownloading 10%\rdownloading 100%\r\nend\r\n"
    output = render_job_output(job(log_tail=log))
    assert output.text is not None
    assert fenced_blocks(output.text) == ["ok\ndownloading 100%\nend"]


# --- limits --------------------------------------------------------------------------------------


def test_long_log_keeps_its_end_and_points_to_the_full_log() -> None:
    log = "\n".join(f"line {n:06d} ✓" for n in range(20_000))
    text = fit_log_tail(log, log_url=LOG_URL)
    assert text is not None
    assert len(text.encode()) <= MAX_OUTPUT_BYTES
    assert text.startswith(f"Only the end of the log is shown. [Full log](<{LOG_URL}>)\n")
    (block,) = fenced_blocks(text)
    assert block.endswith("line 019999 ✓")
    assert block.splitlines()[0].startswith("line ")  # cut at a line boundary


def test_one_giant_line_keeps_its_end() -> None:
    text = fit_log_tail("é" * 100_000 + "THE END", log_url=LOG_URL)
    assert text is not None
    assert len(text.encode()) <= MAX_OUTPUT_BYTES
    assert fenced_blocks(text)[0].endswith("éTHE END")


def test_long_summary_keeps_its_start_and_points_to_the_full_log() -> None:
    failures = tuple(failure(f"test_{n}", details="界" * 290 + "\n" * 3) for n in range(50))
    steps = tuple(step(f"step {n} " + "ß" * 90) for n in range(300))
    output = render_job_output(job(steps=steps, report=report(0, *failures), conclusion="failure"))
    assert_within_limits(output)
    assert output.summary.startswith(msg.STEPS_TABLE_HEADER)
    assert output.summary.endswith(msg.summary_truncated(LOG_URL))


_any_text = st.lists(
    st.one_of(
        st.text(max_size=8),
        st.sampled_from(["`", "```", "|", "\\", "\n", "\r", "\x1b[31m", "😀", "界"]),
    ),
    max_size=60,
).map("".join)


@settings(max_examples=60, deadline=None)
@given(
    log=st.one_of(_any_text, _any_text.map(lambda s: s * 500)),
    name=_any_text,
    message=_any_text,
    details=_any_text.map(lambda s: s * 20),
    failure_count=st.integers(0, 120),
    step_count=st.integers(0, 40),
)
def test_render_never_exceeds_githubs_limits(
    log: str, name: str, message: str, details: str, failure_count: int, step_count: int
) -> None:
    failures = tuple(
        failure(name * (n % 3 + 1), message=message, details=details) for n in range(failure_count)
    )
    steps = tuple(step(name + str(n), "failure", n, n * 7.5) for n in range(step_count))
    annotations = tuple(
        Annotation("a.py", n + 1, n + 1, "failure", message or "m")
        for n in range(failure_count * 3)
    )
    view = job(
        name=name,
        conclusion="failure",
        steps=steps,
        report=report(3, *failures),
        log_tail=log,
        skip_reason=message,
        annotations=annotations,
    )
    output = render_job_output(view)
    assert_within_limits(output)
    if output.text is not None and len(log.encode()) < 30_000:
        plain_end = fenced_blocks(output.text)[0]
        assert "\x1b[" not in plain_end
    aggregate = render_aggregate_output([view] * 5, run_url=RUN_URL, note="All *good*.")
    assert_within_limits(aggregate)


# --- annotations ---------------------------------------------------------------------------------


def test_annotations_are_batched_failures_first_and_capped() -> None:
    notices = [Annotation("a.py", n, n, "notice", "n") for n in range(1, 101)]
    failures = [Annotation("b.py", n, n, "failure", "f") for n in range(1, 121)]
    batches = batch_annotations([*notices, *failures, *failures[:10]])
    assert [len(batch) for batch in batches] == [50, 50, 50]
    flat = [annotation for batch in batches for annotation in batch]
    assert flat[:120] == failures
    assert {a.level for a in flat[120:]} == {"notice"}


def test_summary_says_when_annotations_were_capped() -> None:
    many = tuple(Annotation("a.py", n, n, "warning", "w") for n in range(1, 201))
    output = render_job_output(job(annotations=many))
    assert "Showing 150 of 200 annotations" in output.summary
    assert "Showing" not in render_job_output(job(annotations=many[:20])).summary


# --- aggregate ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("conclusions", "expected"),
    [
        ([], "success"),
        (["success", "success"], "success"),
        (["success", None], None),
        (["failure", None], None),
        (["success", "failure", "timed_out", "cancelled"], "failure"),
        (["success", "timed_out", "cancelled"], "timed_out"),
        (["cancelled", "success"], "cancelled"),
        (["startup_failure", "timed_out"], "failure"),
        (["action_required", "success"], "action_required"),
        (["skipped", "skipped"], "success"),
        (["skipped", "neutral", "success"], "success"),
    ],
)
def test_aggregate_conclusion(conclusions: list[str | None], expected: str | None) -> None:
    assert aggregate_conclusion(conclusions) == expected


@pytest.mark.parametrize(
    ("conclusions", "title"),
    [
        ([], "No jobs to run"),
        (["success", None, None], "Running: 1 of 3 jobs finished"),
        (["success", "success", "skipped"], "2 passed, 1 skipped"),
        (["skipped"], "1 skipped"),
        (["failure", "success", "timed_out"], "Failed: job 0, job 2"),
        (["failure"] * 5, "Failed: job 0, job 1, job 2 and 2 more"),
        (["cancelled", "success"], "1 passed, 1 cancelled"),
    ],
)
def test_aggregate_titles(conclusions: list[str | None], title: str) -> None:
    jobs = [job(name=f"job {n}", conclusion=c) for n, c in enumerate(conclusions)]
    assert render_aggregate_output(jobs, run_url=RUN_URL).title == title


def test_aggregate_summary_lists_every_job_with_links() -> None:
    jobs = [
        job(name="lint", duration_seconds=3.2, log_url="https://ci.example.com/jobs/1/log"),
        job(
            name="test (3.11) | *fast*",
            conclusion="failure",
            report=report(12, failure()),
            log_url="https://ci.example.com/jobs/2/log",
        ),
        job(name="deploy", conclusion=None, duration_seconds=None),
    ]
    output = render_aggregate_output(jobs, run_url=RUN_URL, note="Deploying to **staging** next.")
    rows = [table_cells(line) for line in output.summary.splitlines() if line.startswith("| ")]
    assert rows[2:] == [
        [
            " ✅ ",
            " [lint](<https://ci.example.com/jobs/1/log>) ",
            " Passed ",
            " 3.2 s ",
            " Passed in 3.2 s ",
        ],
        [
            " ❌ ",
            r" [test (3.11) \| \*fast\*](<https://ci.example.com/jobs/2/log>) ",
            " Failed ",
            " 48 s ",
            " 12 passed, 1 failed in 48 s ",
        ],
        [
            " 🔄 ",
            " [deploy](<https://ci.example.com/jobs/7/log>) ",
            " Running ",
            " — ",
            " Running… ",
        ],
    ]
    assert "Deploying to **staging** next.\n" in output.summary
    assert output.summary.endswith(f"[All jobs and logs](<{RUN_URL}>)\n")
    assert output.text is not None
    assert output.text.startswith(r"### test (3.11) \| \*fast\*")
    assert "#### ❌ `tests.test_x.test_bad`" in output.text
    assert output.annotation_batches == ()


def test_aggregate_of_passing_jobs_has_no_text() -> None:
    assert render_aggregate_output([job()], run_url=RUN_URL).text is None


@pytest.mark.parametrize(
    ("conclusions", "note"),
    [
        (["skipped", "skipped"], msg.all_jobs_skipped_note()),
        ([], msg.no_jobs_note()),
    ],
)
def test_aggregate_explains_a_vacuous_pass(conclusions: list[str], note: str) -> None:
    jobs = [job(name=f"j{n}", conclusion=c) for n, c in enumerate(conclusions)]
    output = render_aggregate_output(jobs, run_url=RUN_URL)
    assert aggregate_conclusion(conclusions) == "success"
    assert note in output.summary


def test_no_note_when_something_ran() -> None:
    output = render_aggregate_output([job(), job(conclusion="skipped")], run_url=RUN_URL)
    assert msg.all_jobs_skipped_note() not in output.summary


# --- actions -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("can_rerun", "env", "expected"),
    [
        (False, None, []),
        (True, None, [("Re-run failed", "rerun-failed")]),
        (False, "staging", [("Deploy to staging", "deploy")]),
        (
            True,
            "production",
            [("Re-run failed", "rerun-failed"), ("Deploy to production", "deploy")],
        ),
        (False, "production-eu", [("Promote", "deploy")]),
        (False, "x" * 200, [("Promote", "deploy")]),
        (False, "", []),
    ],
)
def test_check_run_actions(
    can_rerun: bool, env: str | None, expected: list[tuple[str, str]]
) -> None:
    actions = check_run_actions(can_rerun_failed=can_rerun, deploy_env=env)
    assert [(a["label"], a["identifier"]) for a in actions] == expected


def test_the_merge_button_comes_first() -> None:
    actions = check_run_actions(can_rerun_failed=True, deploy_env="production", can_merge=True)
    assert [a["identifier"] for a in actions] == ["merge", "rerun-failed", "deploy"]
    assert actions[0]["label"] == "Merge when ready"


@given(st.booleans(), st.one_of(st.none(), st.text(max_size=300)), st.booleans())
def test_check_run_actions_always_fit_githubs_limits(
    can_rerun: bool, env: str | None, can_merge: bool
) -> None:
    actions = check_run_actions(can_rerun_failed=can_rerun, deploy_env=env, can_merge=can_merge)
    assert len(actions) <= 3
    for action in actions:
        assert set(action) == {"label", "description", "identifier"}
        assert 0 < len(action["label"]) <= 20
        assert 0 < len(action["description"]) <= 40
        assert 0 < len(action["identifier"]) <= 20
