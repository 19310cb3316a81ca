from __future__ import annotations

import textwrap

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.config import Config, JobConfig, Mode, Step
from bot.core.config_parser import parse_config
from bot.core.plan import (
    PlanContext,
    PlannedJob,
    dependants,
    honours_skip_markers,
    job_order,
    matches_glob,
    matches_paths,
    matrix_combinations,
    matrix_size,
    plan_jobs,
    skip_all,
    skip_marker,
)

PUSH_MAIN = PlanContext(event="push", branch="main")
PR = PlanContext(event="pull_request", branch="feature", base="main")


def config(text: str) -> Config:
    result = parse_config(textwrap.dedent(text))
    assert isinstance(result, Config), result
    return result


def names(plan: tuple[PlannedJob, ...]) -> list[str]:
    return [job.name for job in plan]


def by_name(plan: tuple[PlannedJob, ...], name: str) -> PlannedJob:
    return next(job for job in plan if job.name == name)


# --- matrix expansion ---------------------------------------------------------------


def test_matrix_expands_to_one_named_job_per_combination_first_axis_slowest() -> None:
    plan = plan_jobs(
        config(
            """\
            jobs:
              test:
                matrix: {python: ["3.11", "3.12"], os: [ubuntu, macos]}
                env: {PY: "${{ matrix.python }}", OS: "${{matrix.os}}"}
                steps:
                  - name: "on ${{ matrix.os }}"
                    run: tox -e py${{ matrix.python }}
            """
        ),
        PUSH_MAIN,
    )
    assert names(plan) == [
        "test (3.11, ubuntu)",
        "test (3.11, macos)",
        "test (3.12, ubuntu)",
        "test (3.12, macos)",
    ]
    job = by_name(plan, "test (3.12, macos)")
    assert (job.base_name, job.matrix) == ("test", (("python", "3.12"), ("os", "macos")))
    assert job.env == (("PY", "3.12"), ("OS", "macos"))
    assert job.steps == (Step(name="on macos", run="tox -e py3.12"),)


def test_a_job_without_matrix_keeps_its_name_and_text() -> None:
    step = Step("echo ${{ matrix.x }}", "echo ${{ matrix.x }}")  # the parser would refuse it
    plan = plan_jobs(Config(jobs=(JobConfig("lint", (step,)),)), PUSH_MAIN)
    assert plan == (
        PlannedJob(
            name="lint",
            base_name="lint",
            matrix=(),
            steps=(step,),
            env=(),
            needs=(),
            timeout_seconds=30 * 60,
            reports=(),
            secrets=(),
        ),
    )


def test_job_settings_are_copied_to_every_combination() -> None:
    plan = plan_jobs(
        config(
            """\
            jobs:
              test:
                matrix: {v: [1, 2]}
                run: make
                timeout: 1h30m
                reports: [junit.xml]
                secrets: [TOKEN]
            """
        ),
        PUSH_MAIN,
    )
    assert {(j.timeout_seconds, j.reports, j.secrets) for j in plan} == {
        (5400, ("junit.xml",), ("TOKEN",))
    }


MATRIX_SIZES = [
    ((), 1),
    ((("py", ("3.11", "3.12")),), 2),
    ((("py", ("3.11", "3.12")), ("os", ("ubuntu", "macos", "windows"))), 6),
    ((("a", tuple(map(str, range(16)))), ("b", tuple(map(str, range(16))))), 256),
    ((("py", ("3.11",)), ("os", ())), 0),
]


@pytest.mark.parametrize(("matrix", "size"), MATRIX_SIZES)
def test_matrix_size_is_the_number_of_planned_jobs(
    matrix: tuple[tuple[str, tuple[str, ...]], ...], size: int
) -> None:
    job = JobConfig("test", (Step("x", "x"),), matrix=matrix)
    assert matrix_size(matrix) == size == len(matrix_combinations(job))
    assert len(plan_jobs(Config(jobs=(job,)), PUSH_MAIN)) == size


# --- needs and order ----------------------------------------------------------------


def test_a_need_on_a_matrix_job_means_every_combination() -> None:
    plan = plan_jobs(
        config(
            """\
            jobs:
              build: {matrix: {arch: [x86, arm]}, run: make}
              test: {matrix: {py: ["3.11", "3.12"]}, needs: build, run: pytest}
              publish: {needs: [test, build], run: twine upload}
            """
        ),
        PUSH_MAIN,
    )
    assert by_name(plan, "test (3.11)").needs == ("build (x86)", "build (arm)")
    assert by_name(plan, "publish").needs == (
        "test (3.11)",
        "test (3.12)",
        "build (x86)",
        "build (arm)",
    )


@pytest.mark.parametrize(
    ("jobs", "order"),
    [
        ("a: {run: x}\nb: {run: x}\nc: {run: x}", ["a", "b", "c"]),
        ("c: {run: x, needs: a}\nb: {run: x}\na: {run: x}", ["b", "a", "c"]),
        (
            "deploy: {run: x, needs: test}\ntest: {run: x, needs: lint}\nlint: {run: x}",
            ["lint", "test", "deploy"],
        ),
        (
            "d: {run: x, needs: [b, c]}\nc: {run: x, needs: a}\nb: {run: x, needs: a}\na: {run: x}",
            ["a", "c", "b", "d"],
        ),
    ],
)
def test_jobs_come_after_their_needs_in_file_order_otherwise(jobs: str, order: list[str]) -> None:
    text = "jobs:\n" + textwrap.indent(jobs, "  ") + "\n"
    assert names(plan_jobs(config(text), PUSH_MAIN)) == order


def test_job_order_refuses_a_cycle_the_parser_would_have_rejected() -> None:
    steps = (Step("x", "x"),)
    cyclic = [JobConfig("a", steps, needs=("b",)), JobConfig("b", steps, needs=("a",))]
    with pytest.raises(ValueError, match="cycle"):
        job_order(cyclic)


def test_dependants_are_transitive_and_in_plan_order() -> None:
    plan = plan_jobs(
        config(
            """\
            jobs:
              lint: {run: x}
              build: {run: x, matrix: {os: [a, b]}}
              test: {run: x, needs: build}
              docs: {run: x, needs: lint}
              deploy: {run: x, needs: [test, docs]}
            """
        ),
        PUSH_MAIN,
    )
    assert dependants(plan, "build (a)") == ("test", "deploy")
    assert dependants(plan, "lint") == ("docs", "deploy")
    assert dependants(plan, "deploy") == ()


# --- skipping -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "context", "runs"),
    [
        ("branch == 'main'", PUSH_MAIN, True),
        ("branch == 'main'", PR, False),
        ("pr && base == 'main'", PR, True),
        ("pr", PUSH_MAIN, False),
        ("event == 'merge_group'", PlanContext(event="merge_group", branch="gh-readonly"), True),
        ("mode == 'deployment'", PlanContext("push", "main", mode=Mode.DEPLOYMENT), True),
        ("mode == 'deployment'", PUSH_MAIN, False),
        ("startsWith(branch, 'release/')", PlanContext("push", "release/2.0"), True),
        ("base == ''", PUSH_MAIN, True),
    ],
)
def test_if_false_skips_with_the_reason(condition: str, context: PlanContext, runs: bool) -> None:
    text = f'jobs:\n  a:\n    run: x\n    if: "{condition}"\n'
    (job,) = plan_jobs(config(text), context)
    if runs:
        assert job.skip_reason is None
    else:
        assert job.skip_reason == f"`if: {condition}` is false for this build"


@pytest.mark.parametrize(
    ("changed", "runs"),
    [
        (None, True),  # unknown: never skip
        (("src/bot/app.py",), True),
        (("README.md", "tests/test_x.py"), True),
        (("README.md",), False),
        (("src/bot/vendor/lib.py",), False),  # excluded by the later `!` pattern
        ((), False),
    ],
)
def test_paths_skip_when_no_changed_file_matches(
    changed: tuple[str, ...] | None, runs: bool
) -> None:
    text = "jobs:\n  a:\n    run: x\n    paths: ['src/**', 'tests/**', '!src/bot/vendor/**']\n"
    (job,) = plan_jobs(config(text), PlanContext("push", "main", changed_files=changed))
    expected = (
        None if runs else "no changed file matches `paths` (src/**, tests/**, !src/bot/vendor/**)"
    )
    assert job.skip_reason == expected


def test_a_job_whose_need_is_skipped_is_skipped_too() -> None:
    plan = plan_jobs(
        config(
            """\
            jobs:
              docs: {run: x, paths: ["docs/**"]}
              publish-docs: {run: x, needs: docs, matrix: {site: [a, b]}}
              test: {run: x}
              after-test: {run: x, needs: test}
            """
        ),
        PlanContext("push", "main", changed_files=("src/app.py",)),
    )
    assert {job.name: job.skip_reason for job in plan} == {
        "docs": "no changed file matches `paths` (docs/**)",
        "publish-docs (a)": "it needs `docs`, which is skipped",
        "publish-docs (b)": "it needs `docs`, which is skipped",
        "test": None,
        "after-test": None,
    }


# --- path globs ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("src/**", "src/a.py", True),
        ("src/**", "src/deep/er/a.py", True),
        ("src/**", "src", False),
        ("src/**", "lib/src/a.py", False),
        ("**.py", "a.py", True),
        ("**.py", "deep/er/a.py", True),
        ("**.py", "a.pyc", False),
        ("*.py", "a.py", True),
        ("*.py", "dir/a.py", False),
        ("docs/*.md", "docs/a.md", True),
        ("docs/*.md", "docs/sub/a.md", False),
        ("**/README.md", "README.md", True),
        ("**/README.md", "a/b/README.md", True),
        ("**/README.md", "a/NOTREADME.md", False),
        ("src/**/test_*.py", "src/test_a.py", True),
        ("src/**/test_*.py", "src/x/y/test_a.py", True),
        ("a?.txt", "ab.txt", True),
        ("a?.txt", "a/.txt", False),
        ("Makefile", "Makefile", True),
        ("Makefile", "sub/Makefile", False),
        ("v1.0/*", "v1.0/x", True),
        ("v1.0/*", "v1x0/x", False),  # dots are literal
        ("[abc].txt", "[abc].txt", True),  # brackets are literal, as are other characters
        ("[abc].txt", "a.txt", False),
        ("**", "anything/at/all", True),
    ],
)
def test_glob(pattern: str, path: str, matches: bool) -> None:
    assert matches_glob(pattern, path) is matches


@pytest.mark.parametrize(
    ("patterns", "path", "selected"),
    [
        (("**.py", "!tests/**"), "src/a.py", True),
        (("**.py", "!tests/**"), "tests/a.py", False),
        (("**.py", "!tests/**", "tests/keep.py"), "tests/keep.py", True),
        (("!tests/**",), "src/a.py", False),
        ((), "a", False),
    ],
)
def test_negated_patterns_exclude_in_order(
    patterns: tuple[str, ...], path: str, selected: bool
) -> None:
    assert matches_paths(patterns, path) is selected


SEGMENT = st.text(alphabet="ab.-_[]()+", min_size=1, max_size=5)


@given(st.lists(SEGMENT, min_size=1, max_size=4).map("/".join))
def test_a_pattern_without_wildcards_matches_only_itself(path: str) -> None:
    assert matches_glob(path, path)
    assert matches_glob("**", path)
    assert matches_glob("**/" + path.rsplit("/", 1)[-1], path)
    assert not matches_glob(path, path + "x")
    assert not matches_glob(path, "x/" + path)


@pytest.mark.parametrize(
    ("event", "honoured"),
    [("push", True), ("pull_request", False), ("merge_group", False), ("local", False)],
)
def test_skip_markers_are_honoured_on_pushes_only(event: str, honoured: bool) -> None:
    assert honours_skip_markers(event) is honoured


@pytest.mark.parametrize(
    ("message", "found"),
    [
        ("Fix typo [skip ci]", "[skip ci]"),
        ("Fix typo\n\n[CI SKIP]", "[ci skip]"),
        ("Fix typo", None),
        ("skip ci", None),
    ],
)
def test_skip_marker_found_in_any_case(message: str, found: str | None) -> None:
    assert skip_marker(("[skip ci]", "[ci skip]"), message) == found


def test_skip_all_marks_every_job_as_skipped_by_a_marker() -> None:
    plan = plan_jobs(
        config("jobs:\n  a:\n    run: x\n  b:\n    run: y\n"), PlanContext("push", "m")
    )
    skipped = skip_all(plan, "marker")
    assert [(j.skip_reason, j.skipped_by_marker) for j in skipped] == [("marker", True)] * 2
