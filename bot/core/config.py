"""The repository config model (`.github/greenlight.yml`), as frozen values.

The parser in `bot.core.config_parser` builds these from YAML text; everything else
reads them. Defaults here are the product defaults of DESIGN.md section 3.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from bot.core.freeze import FreezeWindow
from bot.core.health import HealthCheck

CONFIG_PATH = ".github/greenlight.yml"


class Mode(StrEnum):
    INTEGRATION = "integration"
    DELIVERY = "delivery"
    DEPLOYMENT = "deployment"


class MergeMethod(StrEnum):
    MERGE = "merge"
    SQUASH = "squash"
    REBASE = "rebase"


class TrustedAuthors(StrEnum):
    COLLABORATORS = "collaborators"
    MEMBERS = "members"
    EVERYONE = "everyone"


@dataclass(frozen=True)
class Step:
    """One shell step of a job; `name` defaults to the first line of `run`."""

    name: str
    run: str


@dataclass(frozen=True)
class JobConfig:
    """A job as written in the config, before matrix expansion."""

    name: str
    steps: tuple[Step, ...]
    needs: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    # Each matrix axis with its values, in file order: (("python", ("3.11", "3.12")),)
    matrix: tuple[tuple[str, tuple[str, ...]], ...] = ()
    timeout_seconds: float = 30 * 60
    reports: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()  # given to the steps as variables
    secret_files: tuple[str, ...] = ()  # given as read-only files, `NAME_FILE` their path
    condition: str | None = None  # the `if:` expression, already checked to parse
    paths: tuple[str, ...] = ()  # glob patterns; empty means always run
    reuse: bool = True  # False: run on every commit, even a tree already built green
    line: int = 0  # line of the job's key in the file, for annotations


@dataclass(frozen=True)
class MergeConfig:
    auto: bool = False
    method: MergeMethod = MergeMethod.MERGE
    approvals: int = 0
    block_labels: tuple[str, ...] = ("do-not-merge", "wip")
    require_labels: tuple[str, ...] = ()
    delete_branch: bool = False
    update_branch: bool = False


@dataclass(frozen=True)
class Environment:
    name: str
    steps: tuple[Step, ...]
    url: str | None = None
    secrets: tuple[str, ...] = ()
    secret_files: tuple[str, ...] = ()
    protected: bool = False
    timeout_seconds: float = 30 * 60
    health: HealthCheck | None = None  # probed after each deploy, before `success`
    rollback_automatic: bool = True  # a failed health check redeploys the last good release


@dataclass(frozen=True)
class DeployConfig:
    environments: tuple[Environment, ...] = ()  # in promotion order

    def environment(self, name: str) -> Environment | None:
        """The environment called `name`, if configured."""
        return next((env for env in self.environments if env.name == name), None)


@dataclass(frozen=True)
class TrustConfig:
    authors: TrustedAuthors = TrustedAuthors.COLLABORATORS


DEFAULT_SKIP_MARKERS = ("[skip ci]", "[ci skip]")


@dataclass(frozen=True)
class Config:
    mode: Mode = Mode.INTEGRATION
    jobs: tuple[JobConfig, ...] = ()
    merge: MergeConfig = field(default_factory=MergeConfig)
    deploy: DeployConfig = field(default_factory=DeployConfig)
    trust: TrustConfig = field(default_factory=TrustConfig)
    skip_markers: tuple[str, ...] = DEFAULT_SKIP_MARKERS
    freeze: tuple[FreezeWindow, ...] = ()  # read from the default branch only


@dataclass(frozen=True)
class ConfigError:
    """One problem in the file: where it is and what to change."""

    key: str  # dotted path of the offending key, e.g. "jobs.test.timeout"
    line: int  # 1-based line in the file (1 when the whole file is at fault)
    message: str  # says what is wrong and what to write instead
