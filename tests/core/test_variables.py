"""The variables a step sees, the same function for jobs, deploys and `bot run`."""

from __future__ import annotations

import pytest

from bot.core.variables import BuildInfo, greenlight_variables

SHA = "a" * 40
RUN_URL = "https://ci.example.com/runs/7?token=abc"
NAMES = {
    "CI",
    "GREENLIGHT",
    "GREENLIGHT_SHA",
    "GREENLIGHT_REF",
    "GREENLIGHT_BASE_REF",
    "GREENLIGHT_EVENT",
    "GREENLIGHT_PR",
    "GREENLIGHT_REPOSITORY",
    "GREENLIGHT_JOB",
    "GREENLIGHT_RUN_ID",
    "GREENLIGHT_RUN_URL",
}
DEPLOY_NAMES = NAMES | {"GREENLIGHT_ENVIRONMENT", "GREENLIGHT_DEPLOYMENT_ID"}


@pytest.mark.parametrize(
    ("build", "expected", "names"),
    [
        pytest.param(
            BuildInfo(SHA, "main", "push", "lint", repository="o/r", run_id=7, run_url=RUN_URL),
            {
                "GREENLIGHT_SHA": SHA,
                "GREENLIGHT_REF": "main",
                "GREENLIGHT_BASE_REF": "",
                "GREENLIGHT_EVENT": "push",
                "GREENLIGHT_PR": "",
                "GREENLIGHT_REPOSITORY": "o/r",
                "GREENLIGHT_JOB": "lint",
                "GREENLIGHT_RUN_ID": "7",
                "GREENLIGHT_RUN_URL": RUN_URL,
            },
            NAMES,
            id="a job of a push",
        ),
        pytest.param(
            BuildInfo(SHA, "feature", "pull_request", "test (3.12)", base_ref="main", pr_number=4),
            {
                "GREENLIGHT_REF": "feature",
                "GREENLIGHT_BASE_REF": "main",
                "GREENLIGHT_EVENT": "pull_request",
                "GREENLIGHT_PR": "4",
                "GREENLIGHT_JOB": "test (3.12)",
            },
            NAMES,
            id="a matrix job of a pull request",
        ),
        pytest.param(
            BuildInfo(
                SHA,
                "main",
                "deployment",
                "deploy: staging",
                pr_number=4,
                environment="staging",
                deployment_id=991,
            ),
            {
                "GREENLIGHT_EVENT": "deployment",
                "GREENLIGHT_JOB": "deploy: staging",
                "GREENLIGHT_PR": "4",
                "GREENLIGHT_ENVIRONMENT": "staging",
                "GREENLIGHT_DEPLOYMENT_ID": "991",
            },
            DEPLOY_NAMES,
            id="a deploy",
        ),
        pytest.param(
            BuildInfo(SHA, "main", "deployment", "deploy: staging", environment="staging"),
            {"GREENLIGHT_ENVIRONMENT": "staging", "GREENLIGHT_DEPLOYMENT_ID": ""},
            DEPLOY_NAMES,
            id="a deploy GitHub gave no id",
        ),
        pytest.param(
            BuildInfo(SHA, "feature", "local", "build"),
            {
                "GREENLIGHT_EVENT": "local",
                "GREENLIGHT_PR": "",
                "GREENLIGHT_REPOSITORY": "",
                "GREENLIGHT_RUN_ID": "",
                "GREENLIGHT_RUN_URL": "",
            },
            NAMES,
            id="python -m bot run: no run, no page, every name still set",
        ),
    ],
)
def test_every_build_gets_its_facts_under_the_same_names(
    build: BuildInfo, expected: dict[str, str], names: set[str]
) -> None:
    variables = greenlight_variables(build, env={})
    assert set(variables) == names
    assert variables["CI"] == variables["GREENLIGHT"] == "true"
    assert {name: variables[name] for name in expected} == expected


@pytest.mark.parametrize(
    ("env", "name", "value"),
    [
        ({"PATH": "/opt/bin:/usr/bin"}, "PATH", "/opt/bin:/usr/bin"),
        ({"GREENLIGHT_JOB": "mine"}, "GREENLIGHT_JOB", "mine"),  # the job's env wins
        ({"MODE": "fast"}, "MODE", "fast"),
    ],
)
def test_the_jobs_env_has_the_last_word(env: dict[str, str], name: str, value: str) -> None:
    build = BuildInfo(SHA, "main", "push", "lint")
    assert greenlight_variables(build, env=env)[name] == value
