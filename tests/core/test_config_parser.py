from __future__ import annotations

import string
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.config import (
    Config,
    ConfigError,
    Environment,
    JobConfig,
    MergeConfig,
    MergeMethod,
    Mode,
    Step,
    TrustedAuthors,
)
from bot.core.config_parser import format_duration, parse_config, parse_duration

CONFIGS = Path(__file__).parent.parent / "fixtures" / "configs"


def parse_ok(text: str) -> Config:
    result = parse_config(textwrap.dedent(text))
    assert isinstance(result, Config), result
    return result


def parse_errors(text: str) -> tuple[ConfigError, ...]:
    result = parse_config(textwrap.dedent(text))
    assert isinstance(result, tuple), result
    return result


def values(count: int) -> str:
    """A YAML flow list of `count` matrix values."""
    return "[" + ", ".join(map(str, range(count))) + "]"


def job(config: Config, name: str) -> JobConfig:
    return next(job for job in config.jobs if job.name == name)


# --- valid configs ------------------------------------------------------------------


def test_design_example_parses_to_the_documented_values() -> None:
    config = parse_ok((CONFIGS / "design.yml").read_text())
    assert config.mode is Mode.DELIVERY
    assert [job.name for job in config.jobs] == ["lint", "test"]
    test = job(config, "test")
    assert test.needs == ("lint",)
    assert test.matrix == (("python", ("3.11", "3.12")),)
    assert test.env == (("PY", "${{ matrix.python }}"),)
    assert test.timeout_seconds == 15 * 60
    assert test.steps == (
        Step("install", "pip install -e .[test]"),
        Step("pytest --junitxml=report.xml", "pytest --junitxml=report.xml"),
    )
    assert (test.reports, test.secrets, test.condition) == (
        ("report.xml",),
        ("PYPI_TOKEN",),
        "branch == 'main'",
    )
    assert test.paths == ("src/**", "tests/**")
    assert (job(config, "lint").line, test.line) == (5, 7)
    assert config.merge == MergeConfig(
        auto=True,
        method=MergeMethod.SQUASH,
        approvals=1,
        block_labels=("do-not-merge", "wip"),
        require_labels=(),
        delete_branch=True,
        update_branch=True,
    )
    assert [env.name for env in config.deploy.environments] == ["staging", "production"]
    production = config.deploy.environment("production")
    assert production == Environment(
        name="production",
        steps=(Step("./deploy.sh production", "./deploy.sh production"),),
        url="https://example.com",
        secrets=("PROD_KEY",),
        protected=True,
    )
    assert config.trust.authors is TrustedAuthors.COLLABORATORS
    assert config.skip_markers == ("[skip ci]", "[ci skip]")


def test_secrets_can_be_given_as_files_to_jobs_and_environments() -> None:
    config = parse_ok("""
        jobs:
          test:
            run: ./test.sh
            secrets: [TOKEN]
            secret_files: [KUBECONFIG_DATA]
        deploy:
          environments:
            production:
              run: ./deploy.sh
              secret_files: [SSH_KEY, KNOWN_HOSTS]
    """)
    test = job(config, "test")
    assert (test.secrets, test.secret_files) == (("TOKEN",), ("KUBECONFIG_DATA",))
    production = config.deploy.environment("production")
    assert production is not None
    assert production.secret_files == ("SSH_KEY", "KNOWN_HOSTS")


def test_reuse_is_on_unless_a_job_says_false() -> None:
    config = parse_ok(
        "jobs:\n  a: {run: x}\n  b: {run: y, reuse: false}\n  c: {run: z, reuse: true}\n"
    )
    assert [job.reuse for job in config.jobs] == [True, False, True]


def test_minimal_config_takes_every_default() -> None:
    config = parse_ok((CONFIGS / "minimal.yml").read_text())
    assert config == Config(
        jobs=(JobConfig(name="test", steps=(Step("make test", "make test"),), line=2),)
    )


@pytest.mark.parametrize(
    ("merge", "mode", "auto"),
    [
        ("", "integration", False),
        ("", "delivery", False),
        ("", "deployment", True),
        ("merge: {auto: false}", "deployment", False),
        ("merge: {auto: true}", "integration", True),
        ("merge: {method: rebase}", "deployment", True),
    ],
)
def test_auto_merge_defaults_to_on_only_in_deployment_mode(
    merge: str, mode: str, auto: bool
) -> None:
    config = parse_ok(f"mode: {mode}\njobs: {{t: {{run: x}}}}\n{merge}\n")
    assert config.merge.auto is auto


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("90s", 90),
        ("15m", 900),
        ("1h30m", 5400),
        ("2h", 7200),
        ("1h 30m 15s", 5415),
        ("15", 900),
        ("1.5", 90),
        ('"20"', 1200),
        ("0.5h", 1800),
    ],
)
def test_timeout_accepts_durations_and_bare_minutes(value: str, seconds: float) -> None:
    config = parse_ok(f"jobs:\n  t:\n    run: x\n    timeout: {value}\n")
    assert config.jobs[0].timeout_seconds == seconds


def test_values_keep_the_text_the_user_wrote() -> None:
    config = parse_ok(
        """\
        jobs:
          test:
            matrix: {python: [3.10, 3.9], debug: [yes, no]}
            env: {EMPTY: , ON: on, HEX: 0x10}
            run: echo ${{ matrix.python }}
        """
    )
    test = config.jobs[0]
    assert test.matrix == (("python", ("3.10", "3.9")), ("debug", ("yes", "no")))
    assert test.env == (("EMPTY", ""), ("ON", "on"), ("HEX", "0x10"))


def test_steps_name_defaults_to_first_line_of_run() -> None:
    config = parse_ok(
        """\
        jobs:
          build:
            steps:
              - run: |

                  make all
                  make check
              - {name: "ship it", run: ./ship}
        """
    )
    assert [step.name for step in config.jobs[0].steps] == ["make all", "ship it"]


def test_needs_accepts_a_string_or_a_list_and_drops_repeats() -> None:
    config = parse_ok(
        """\
        jobs:
          a: {run: x}
          b: {run: x, needs: a}
          c: {run: x, needs: [a, b, a]}
        """
    )
    assert [job.needs for job in config.jobs] == [(), ("a",), ("a", "b")]


@pytest.mark.parametrize("name", ["test", "unit-tests", "build_2", "3d", "Lint", "_x", "a-"])
def test_job_ids_of_letters_digits_dashes_and_underscores_are_accepted(name: str) -> None:
    assert [job.name for job in parse_ok(f"jobs:\n  {name}: {{run: x}}\n").jobs] == [name]


@given(st.text(min_size=1, max_size=30))
def test_an_accepted_job_id_never_holds_a_path_or_markup_character(name: str) -> None:
    text = "jobs:\n  " + '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '": {run: x}\n'
    result = parse_config(text)
    if isinstance(result, Config):
        (job,) = result.jobs
        assert set(job.name) <= set(string.ascii_letters + string.digits + "-_")


@pytest.mark.parametrize("name", ["staging", "prod-eu", "github_pages", "Production", "qa2"])
def test_environment_names_of_letters_digits_dashes_and_underscores_are_accepted(
    name: str,
) -> None:
    config = parse_ok(
        f"jobs: {{a: {{run: x}}}}\ndeploy:\n  environments:\n    {name}: {{run: x}}\n"
    )
    assert [env.name for env in config.deploy.environments] == [name]


def test_yaml_anchors_and_merge_keys_share_settings() -> None:
    config = parse_ok(
        """\
        jobs:
          unit: &defaults
            run: pytest
            timeout: 10m
            env: {CI_LEVEL: "1"}
          integration:
            <<: *defaults
            run: pytest -m integration
        """
    )
    integration = job(config, "integration")
    assert integration.steps[0].run == "pytest -m integration"
    assert (integration.timeout_seconds, integration.env) == (600, (("CI_LEVEL", "1"),))


def test_github_actions_style_condition_is_unwrapped() -> None:
    config = parse_ok("jobs:\n  t:\n    run: x\n    if: ${{ pr && base == 'main' }}\n")
    assert config.jobs[0].condition == "pr && base == 'main'"


def test_empty_sections_take_defaults() -> None:
    config = parse_ok("jobs: {t: {run: x}}\nmerge:\ndeploy:\ntrust:\nskip_markers: []\n")
    assert (config.merge, config.deploy.environments, config.skip_markers) == (
        MergeConfig(),
        (),
        (),
    )


# --- errors: one table row per kind, with its key and line ---------------------------

ERRORS = [
    # the file as a whole
    ("", "", 1, "the file is empty"),
    ("# only a comment\n", "", 1, "the file is empty"),
    ("- a\n- b\n", "", 1, "must be a mapping of keys (mode, jobs, merge…), not a list"),
    ("just text\n", "", 1, "not the text"),
    ("jobs:\n  a: [1\nmerge: {}\n", "", 3, "not valid YAML"),
    ("jobs:\n  a:\n\trun: x\n", "", 3, "not tabs"),
    ("jobs: {a: {run: x}}\n---\nmode: delivery\n", "", 2, "not valid YAML"),
    ("jobs:\n  a: {run: x}\nmerge: {auto: *nowhere}\n", "", 3, "not valid YAML"),
    ("jobs: {a: {run: x}}\nmode: \x07\n", "", 2, "not valid YAML"),
    # unknown and repeated keys
    ("jbos:\n  a: {run: x}\n", "jbos", 1, "did you mean `jobs`?"),
    ("jobs: {a: {run: x}}\nfoo: 1\n", "foo", 2, "the keys are mode, jobs"),
    ("on: push\njobs: {a: {run: x}}\n", "on", 1, "builds every push and pull request"),
    ("jobs:\n  a:\n    run: x\n    timeout-minutes: 5\n", "jobs.a.timeout-minutes", 4, "`timeout`"),
    ("jobs:\n  a:\n    run: x\n    runs-on: ubuntu\n", "jobs.a.runs-on", 4, "remove `runs-on`"),
    ("jobs:\n  a:\n    steps:\n      - uses: x\n", "jobs.a.steps[0].uses", 4, "actions are not"),
    ("jobs:\n  a: {run: x}\n  a: {run: y}\n", "jobs.a", 3, "appears more than once"),
    ("merge: {auto: true}\njobs: {a: {run: x}}\nmerge: {}\n", "merge", 3, "more than once"),
    ("jobs: {a: {run: x}}\n? [k]\n: v\n", "", 2, "keys must be plain names, not a list"),
    ("jobs:\n  a:\n    <<: [1]\n    run: x\n", "jobs.a", 3, "`<<` can merge only mappings"),
    # wrong types
    ("jobs: [a, b]\n", "jobs", 1, "must be a mapping of job names to jobs, not a list"),
    ("jobs:\n  a: make\n", "jobs.a", 2, 'not the text "make"'),
    ("jobs:\n  a:\n    run: [make]\n", "jobs.a.run", 3, "must be a command as text, not a list"),
    ("jobs:\n  a:\n    run: ''\n", "jobs.a.run", 3, "is empty"),
    ("jobs:\n  a:\n    steps: make\n", "jobs.a.steps", 3, "must be a list of steps"),
    ("jobs:\n  a:\n    steps: [make]\n", "jobs.a.steps[0]", 3, "each step must be a mapping"),
    ("jobs:\n  a:\n    steps:\n      - name: n\n", "jobs.a.steps[0]", 4, "has no `run`"),
    ("jobs:\n  a:\n    run: x\n    if: !pr\n", "jobs.a.if", 4, "put the value in quotes"),
    ("jobs:\n  a:\n    run: x\n    env: [A]\n", "jobs.a.env", 4, "must be a mapping of variable"),
    ("jobs:\n  a:\n    run: x\n    env: {A: [1]}\n", "jobs.a.env.A", 4, "must be text, not a list"),
    ("jobs:\n  a:\n    run: x\n    env: {A-B: 1}\n", "jobs.a.env.A-B", 4, "not a variable name"),
    ("jobs:\n  a:\n    run: x\n    secrets: [A B]\n", "jobs.a.secrets", 4, "not a variable"),
    (
        "jobs:\n  a:\n    run: x\n    secret_files: [../k]\n",
        "jobs.a.secret_files",
        4,
        "not a variable",
    ),
    ("jobs:\n  a:\n    run: x\n    reports: {a: 1}\n", "jobs.a.reports", 4, "not a mapping"),
    ("jobs:\n  a:\n    run: x\n    paths: ['!']\n", "jobs.a.paths", 4, "a path pattern is empty"),
    ("jobs:\n  a:\n    run: x\n    reuse: never\n", "jobs.a.reuse", 4, "true or false"),
    ("jobs:\n  a:\n    run: x\n    reuse: 0\n", "jobs.a.reuse", 4, "true or false"),
    ("jobs:\n  a:\n    run: x\n    needs: {b: 1}\n", "jobs.a.needs", 4, "must be a job name"),
    ("mode: fast\njobs: {a: {run: x}}\n", "mode", 1, "is not one of integration, delivery"),
    ("mode: deliver\njobs: {a: {run: x}}\n", "mode", 1, "did you mean `delivery`?"),
    ("jobs: {a: {run: x}}\nmerge: {method: sqash}\n", "merge.method", 2, "did you mean `squash`"),
    ("jobs: {a: {run: x}}\nmerge: {auto: maybe}\n", "merge.auto", 2, "must be true or false"),
    ("jobs: {a: {run: x}}\nmerge: {auto: 'true'}\n", "merge.auto", 2, "must be true or false"),
    ("jobs: {a: {run: x}}\nmerge: {approvals: -1}\n", "merge.approvals", 2, "0 or more"),
    ("jobs: {a: {run: x}}\nmerge: {approvals: 1.5}\n", "merge.approvals", 2, "whole number"),
    ("jobs: {a: {run: x}}\nmerge: {approvals: true}\n", "merge.approvals", 2, "whole number"),
    ("jobs: {a: {run: x}}\nmerge: [auto]\n", "merge", 2, "not a list"),
    ("jobs: {a: {run: x}}\ntrust: {authors: all}\n", "trust.authors", 2, "everyone"),
    ("jobs: {a: {run: x}}\nskip_markers: [[skip ci]]\n", "skip_markers[0]", 2, "quote it"),
    # durations
    ("jobs:\n  a:\n    run: x\n    timeout: 15 minutes\n", "jobs.a.timeout", 4, '"15 minutes"'),
    ("jobs:\n  a:\n    run: x\n    timeout: 1d\n", "jobs.a.timeout", 4, "is not a duration"),
    ("jobs:\n  a:\n    run: x\n    timeout: 0\n", "jobs.a.timeout", 4, "no time at all"),
    ("jobs:\n  a:\n    run: x\n    timeout: 0m0s\n", "jobs.a.timeout", 4, "no time at all"),
    ("jobs:\n  a:\n    run: x\n    timeout: [1m]\n", "jobs.a.timeout", 4, "not a list"),
    ("jobs:\n  a:\n    run: x\n    timeout: true\n", "jobs.a.timeout", 4, "must be a duration"),
    # run / steps
    ("jobs:\n  a:\n    needs: []\n", "jobs.a", 2, "`a` has nothing to run"),
    ("jobs:\n  a:\n", "jobs.a", 2, "`a` has nothing to run"),
    ("jobs:\n  a:\n    run: x\n    steps: [{run: y}]\n", "jobs.a.steps", 4, "not both"),
    ("jobs:\n  a:\n    steps: []\n", "jobs.a.steps", 3, "the list of steps is empty"),
    # job names
    ('jobs:\n  "": {run: x}\n', "jobs.", 2, "a job needs a name"),
    (f"jobs:\n  {'x' * 101}: {{run: x}}\n", "jobs." + "x" * 101, 2, "at most 100"),
    ('jobs:\n  "a\\tb": {run: x}\n', "jobs.a\tb", 2, "did you mean `a-b`?"),
    ('jobs:\n  " a": {run: x}\n', "jobs. a", 2, "did you mean `a`?"),
    ("jobs:\n  a b: {run: x}\n", "jobs.a b", 2, "only letters, digits, - and _"),
    ("jobs:\n  ../../x: {run: x}\n", "jobs.../../x", 2, "did you mean `x`?"),
    ("jobs:\n  b:\n    run: x\n  ./a:\n    run: y\n", "jobs../a", 4, "cannot be a job name"),
    ("jobs:\n  test.py: {run: x}\n", "jobs.test.py", 2, "did you mean `test-py`?"),
    ("jobs:\n  'test (3.11)': {run: x}\n", "jobs.test (3.11)", 2, "`test-3-11`?"),
    ("jobs:\n  tést: {run: x}\n", "jobs.tést", 2, "did you mean `test`?"),
    ("jobs:\n  'a`|b': {run: x}\n", "jobs.a`|b", 2, "did you mean `a-b`?"),
    ("jobs:\n  '%%': {run: x}\n", "jobs.%%", 2, "like `unit-tests`"),
    ("jobs:\n  greenlight: {run: x}\n", "jobs.greenlight", 2, "Greenlight's own check run"),
    ("jobs:\n  greenlight/config: {run: x}\n", "jobs.greenlight/config", 2, "a job name"),
    ("jobs:\n", "jobs", 1, "there are no jobs"),
    ("mode: delivery\n", "jobs", 1, "there are no jobs"),
    ("jobs: {}\n", "jobs", 1, "there are no jobs"),
    # needs
    ("jobs:\n  lint: {run: x}\n  b:\n    run: x\n    needs: [lnit]\n", "jobs.b.needs", 5, "lint"),
    ("jobs:\n  a: {run: x}\n  b: {run: x, needs: zzz}\n", "jobs.b.needs", 3, "the jobs are a, b"),
    ("jobs:\n  a: {run: x, needs: [a]}\n", "jobs.a.needs", 2, "`a` needs itself"),
    (
        "jobs:\n  a: {run: x, needs: [c]}\n  b: {run: x, needs: [a]}\n  c: {run: x, needs: [b]}\n",
        "jobs.a.needs",
        2,
        "a → c → b → a",
    ),
    # matrix
    ("jobs:\n  a:\n    run: x\n    matrix: {}\n", "jobs.a.matrix", 4, "the matrix is empty"),
    ("jobs:\n  a:\n    run: x\n    matrix: [1]\n", "jobs.a.matrix", 4, "not a list"),
    ("jobs:\n  a:\n    run: x\n    matrix: {py: []}\n", "jobs.a.matrix.py", 4, "has no values"),
    ("jobs:\n  a:\n    run: x\n    matrix: {py: 3}\n", "jobs.a.matrix.py", 4, "a list of values"),
    ("jobs:\n  a:\n    run: x\n    matrix: {py: [[3]]}\n", "jobs.a.matrix.py", 4, "not a list"),
    ("jobs:\n  a:\n    run: x\n    matrix: {py: [~]}\n", "jobs.a.matrix.py", 4, "empty value"),
    ("jobs:\n  a:\n    run: x\n    matrix: {py: [3, 3]}\n", "jobs.a.matrix.py", 4, "twice"),
    ("jobs:\n  a:\n    run: x\n    matrix: {p y: [3]}\n", "jobs.a.matrix.p y", 4, "cannot be"),
    (
        "jobs:\n  a:\n    run: x\n    matrix: {a: [1,2,3,4,5,6,7,8,9], b: [1,2,3,4,5,6,7,8,9],"
        " c: [1,2,3,4]}\n",
        "jobs.a.matrix",
        4,
        "makes 324 jobs; at most 256",
    ),
    (
        "jobs:\n  a:\n    run: x\n    matrix: {a: [1,2,3,4,5,6,7,8,9], b: [1,2,3,4,5,6,7,8,9],"
        " c: [1,2,3,4]}\n",
        "jobs.a.matrix",
        4,
        "remove values, or run several values in one job",
    ),
    (
        "jobs:\n  lint: {run: x}\n  unit:\n    run: x\n"
        f"    matrix: {{a: {values(20)}, b: {values(10)}}}\n"
        f"  e2e:\n    run: x\n    matrix: {{a: {values(100)}}}\n",
        "jobs.unit.matrix",
        5,
        "the jobs make 301 check runs in all, matrices expanded (`unit` 200, `e2e` 100, `lint` 1); "
        "at most 256 are allowed for one commit: remove matrix values or jobs",
    ),
    (
        "jobs:\n" + "".join(f"  j{i}: {{run: x}}\n" for i in range(257)),
        "jobs.j0",
        2,
        "make 257 check runs in all, matrices expanded (`j0` 1, `j1` 1, `j2` 1, …)",
    ),
    (
        f"jobs:\n  a:\n    run: x\n    if: brnch == 'x'\n    matrix: {{v: {values(200)}}}\n"
        f"  b:\n    run: x\n    matrix: {{v: {values(100)}}}\n",
        "jobs.a.matrix",
        5,
        "make 300 check runs",
    ),
    ("jobs:\n  a:\n    run: echo ${{ matrix.py }}\n", "jobs.a.run", 3, "this job has no `matrix`"),
    (
        "jobs:\n  a:\n    matrix: {python: [3]}\n    run: echo ${{ matrix.pyton }}\n",
        "jobs.a.run",
        4,
        "did you mean `python`?",
    ),
    (
        "jobs:\n  a:\n    matrix: {py: [3]}\n    env: {V: '${{ matrix.os }}'}\n    run: x\n",
        "jobs.a.env.V",
        4,
        "the axes are py",
    ),
    (
        "jobs:\n  a:\n    matrix: {py: [3]}\n    steps:\n"
        "      - {name: '${{ matrix.x }}', run: x}\n",
        "jobs.a.steps[0].name",
        5,
        "no axis `x`",
    ),
    ("jobs:\n  a:\n    run: echo ${{ secrets.TOKEN }}\n", "jobs.a.run", 3, "environment variables"),
    (
        "jobs:\n  x:\n    run: y\n    matrix: {a: ['1, 2', '1'], b: ['3', '2, 3']}\n",
        "jobs.x.matrix",
        4,
        "would both make the check run `x (1, 2, 3)`",
    ),
    (
        f"jobs:\n  {'t' * 95}:\n    matrix: {{v: ['123456']}}\n    run: x\n",
        "jobs." + "t" * 95,
        2,
        "longer than 100",
    ),
    # conditions
    ("jobs:\n  a:\n    run: x\n    if: brnch == 'x'\n", "jobs.a.if", 4, "did you mean `branch`?"),
    ("jobs:\n  a:\n    run: x\n    if: branch\n", "jobs.a.if", 4, "not true/false"),
    ("jobs:\n  a:\n    run: x\n    if: mode == 'deploy'\n", "jobs.a.if", 4, "one of integration"),
    ("jobs:\n  a:\n    run: x\n    if: ${{ }}\n", "jobs.a.if", 4, "the condition is empty"),
    ("jobs:\n  a:\n    run: x\n    if: [pr]\n", "jobs.a.if", 4, "not a list"),
    # deploy
    (
        "jobs: {a: {run: x}}\ndeploy:\n  environments:\n    prod env: {run: x}\n",
        "deploy.environments.prod env",
        4,
        "only letters, digits, - and _; did you mean `prod-env`?",
    ),
    (
        "jobs: {a: {run: x}}\ndeploy:\n  environments:\n    ../prod: {run: x}\n",
        "deploy.environments.../prod",
        4,
        "did you mean `prod`?",
    ),
    (
        "jobs: {a: {run: x}}\ndeploy:\n  environments:\n    prod/eu: {run: x}\n",
        "deploy.environments.prod/eu",
        4,
        "cannot be an environment name",
    ),
    (
        "jobs: {a: {run: x}}\ndeploy:\n  environments:\n    '': {run: x}\n",
        "deploy.environments.",
        4,
        "like `staging`",
    ),
    (
        f"jobs: {{a: {{run: x}}}}\ndeploy:\n  environments:\n    {'p' * 256}: {{run: x}}\n",
        "deploy.environments." + "p" * 256,
        4,
        "environment names are at most 255",
    ),
    (
        "jobs: {a: {run: x}}\ndeploy:\n  environments:\n    prod: {url: https://x}\n",
        "deploy.environments.prod",
        4,
        "`prod` has nothing to run",
    ),
    (
        "jobs: {a: {run: x}}\ndeploy:\n  environments:\n    prod: {run: x, url: x.org}\n",
        "deploy.environments.prod.url",
        4,
        "not a web address",
    ),
    (
        "jobs: {a: {run: x}}\ndeploy:\n  environments:\n    prod: {run: x, protected: 1}\n",
        "deploy.environments.prod.protected",
        4,
        "true or false",
    ),
    (
        "jobs: {a: {run: x}}\ndeploy:\n  environments:\n    prod: {run: 'x ${{ matrix.a }}'}\n",
        "deploy.environments.prod.run",
        4,
        "no `matrix`",
    ),
    ("jobs: {a: {run: x}}\ndeploy:\n  environments: [a]\n", "deploy.environments", 3, "a list"),
    ("jobs: {a: {run: x}}\ndeploy:\n  envs: {}\n", "deploy.envs", 3, "the keys are environments"),
]


@pytest.mark.parametrize(("text", "key", "line", "fragment"), ERRORS)
def test_error_has_key_line_and_what_to_change(
    text: str, key: str, line: int, fragment: str
) -> None:
    errors = parse_config(text)
    assert isinstance(errors, tuple), errors
    matching = [e for e in errors if (e.key, e.line) == (key, line) and fragment in e.message]
    assert matching, errors


def test_timeout_message_reads_as_documented() -> None:
    errors = parse_errors("jobs:\n  test:\n    run: x\n    timeout: 15 minutes\n")
    assert errors == (
        ConfigError(
            key="jobs.test.timeout",
            line=4,
            message='"15 minutes" is not a duration; write it like 90s, 15m or 1h30m',
        ),
    )


def test_every_error_is_reported_at_once_in_line_order() -> None:
    errors = parse_errors((CONFIGS / "many-errors.yml").read_text())
    assert [(error.line, error.key) for error in errors] == [
        (1, "mode"),
        (4, "jobs.lint.timeout"),
        (5, "jobs.lint.needs"),
        (8, "jobs.test.needs"),
        (9, "jobs.test.run"),
        (12, "jobs.build.steps"),
        (13, "merge.method"),
        (14, "skip_markers[0]"),
    ]


def test_every_cycle_is_named_once() -> None:
    errors = parse_errors(
        """\
        jobs:
          a: {run: x, needs: [b]}
          b: {run: x, needs: [a]}
          c: {run: x, needs: [d]}
          d: {run: x, needs: [c, a]}
        """
    )
    assert [error.message.split(": ")[1].split(";")[0] for error in errors] == [
        "a → b → a",
        "c → d → c",
    ]


def test_an_invalid_job_still_counts_as_a_job_for_needs() -> None:
    errors = parse_errors("jobs:\n  a: {timeout: never}\n  b: {run: x, needs: a}\n")
    assert [error.key for error in errors] == ["jobs.a", "jobs.a.timeout"]


def test_a_matrix_of_too_long_names_is_one_problem() -> None:
    errors = parse_errors(
        f"jobs:\n  {'t' * 95}:\n    matrix: {{v: ['123456', '654321']}}\n    run: x\n"
    )
    assert [error.message[:17] for error in errors] == ["the check run `tt"]


def test_a_plan_of_256_jobs_is_accepted() -> None:
    config = parse_ok(
        f"jobs:\n  a: {{run: x, matrix: {{v: {values(200)}}}}}\n"
        f"  b: {{run: x, matrix: {{v: {values(56)}}}}}\n"
    )
    assert [len(job.matrix[0][1]) for job in config.jobs] == [200, 56]


def test_a_matrix_over_the_cap_alone_is_one_problem_not_two() -> None:
    errors = parse_errors(
        f"jobs:\n  a: {{run: x}}\n  b:\n    run: x\n    matrix: {{v: {values(300)}}}\n"
    )
    assert [(error.key, error.line) for error in errors] == [("jobs.b.matrix", 5)]
    assert errors[0].message.startswith("this matrix makes 300 jobs; at most 256 are allowed")


def test_deeply_nested_merges_are_read_quickly() -> None:
    # Each level merges the previous one twice: read naively, 2**39 entries.
    lines = ["base0: &m0 {run: x}"]
    lines += [f"base{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}]}}" for i in range(1, 40)]
    text = "jobs:\n" + "".join(f"  {line}\n" for line in lines)
    config = parse_ok(text)
    assert len(config.jobs) == 40


# --- durations ----------------------------------------------------------------------


@given(
    st.integers(0, 99),
    st.integers(0, 999),
    st.integers(0, 9999),
    st.sampled_from(["", " "]),
)
def test_duration_of_hours_minutes_seconds(h: int, m: int, s: int, space: str) -> None:
    parts = [f"{n}{unit}" for n, unit in ((h, "h"), (m, "m"), (s, "s")) if n]
    text = space.join(parts) or "0s"
    assert parse_duration(text) == h * 3600 + m * 60 + s


@given(st.integers(1, 10**7))
def test_format_duration_reads_back(seconds: int) -> None:
    text = format_duration(seconds)
    assert parse_duration(text) == seconds
    assert " " not in text


@given(st.text())
def test_duration_parser_never_raises(text: str) -> None:
    result = parse_duration(text)
    assert result is None or result >= 0


@pytest.mark.parametrize("text", ["", "m", "1x", "15 minutes", "1m1h", "h1", "1e3", "inf", "-5"])
def test_not_durations(text: str) -> None:
    assert parse_duration(text) is None
