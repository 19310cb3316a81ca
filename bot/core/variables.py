"""What a step is told about its build: `CI`, `GREENLIGHT` and the `GREENLIGHT_*` variables.

One function for a job of a run, a deploy and `python -m bot run`, so a script reads the
same names in all three (DESIGN.md sections 8 and 9). Every name is set every time, empty
where the build has no such thing (no pull request, no run page on a laptop), so a step
written with `set -u` works everywhere; a deploy adds its environment and deployment id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class BuildInfo:
    """The facts of one build that its steps may read."""

    sha: str
    ref: str  # the branch built
    event: str  # push, pull_request…; `deployment` for a deploy, `local` for `bot run`
    job: str  # the job's name; `deploy: ENVIRONMENT` for a deploy
    base_ref: str = ""  # a pull request's base branch
    pr_number: int | None = None
    repository: str = ""  # owner/name
    run_id: int | None = None  # Greenlight's run
    run_url: str = ""  # its page
    environment: str | None = None  # set for a deploy only
    deployment_id: int | None = None  # GitHub's id of the deployment, once it has one


def greenlight_variables(build: BuildInfo, *, env: Mapping[str, str]) -> dict[str, str]:
    """The steps' variables: Greenlight's, then `env`, the job's own `env:` from the config,
    which has the last word. The executor puts them over its base: the sandbox's clean
    PATH, HOME and LANG, or, unsandboxed, the service's own (`SandboxPolicy.host_env`)."""
    variables = {
        "CI": "true",
        "GREENLIGHT": "true",
        "GREENLIGHT_SHA": build.sha,
        "GREENLIGHT_REF": build.ref,
        "GREENLIGHT_BASE_REF": build.base_ref,
        "GREENLIGHT_EVENT": build.event,
        "GREENLIGHT_PR": _text(build.pr_number),
        "GREENLIGHT_REPOSITORY": build.repository,
        "GREENLIGHT_JOB": build.job,
        "GREENLIGHT_RUN_ID": _text(build.run_id),
        "GREENLIGHT_RUN_URL": build.run_url,
    }
    if build.environment is not None:
        variables["GREENLIGHT_ENVIRONMENT"] = build.environment
        variables["GREENLIGHT_DEPLOYMENT_ID"] = _text(build.deployment_id)
    return {**variables, **env}


def _text(number: int | None) -> str:
    return "" if number is None else str(number)
