"""The repository's `.github/greenlight.yml` at a commit, read one way by every part.

The pipeline, auto-merge, slash-commands and deploys all ask the same question: what does
the config say at this SHA? The answer is one of three values: the `Config`, `NoConfig`
(no file: Greenlight stays silent on that repository) or `ConfigErrors` (the file does not
parse or validate; the pipeline reports them on the `greenlight/config` check). A GitHub
error while reading is left to the caller, which knows whether to report or to wait.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.config import CONFIG_PATH, Config, ConfigError
from bot.core.config_parser import parse_config
from bot.core.freeze import FreezeWindow
from bot.github.client import InstallationClient


@dataclass(frozen=True)
class NoConfig:
    """The repository has no config file at that commit: Greenlight stays silent there."""


@dataclass(frozen=True)
class ConfigErrors:
    """The config file is there but cannot be used; what to change, line by line."""

    errors: tuple[ConfigError, ...]


NO_CONFIG = NoConfig()
RepoConfig = Config | NoConfig | ConfigErrors


async def read_config(client: InstallationClient, repo: str, sha: str) -> RepoConfig:
    """The config of `repo` at `sha`, through the contents API."""
    return config_from_text(await client.file_text(repo, CONFIG_PATH, sha))


def config_from_text(text: str | None) -> RepoConfig:
    """The config a file's text says (None: there is no file), however it was read."""
    if text is None:
        return NO_CONFIG
    parsed = parse_config(text)
    return parsed if isinstance(parsed, Config) else ConfigErrors(parsed)


async def freeze_windows(
    client: InstallationClient, repo: str, ref: str | None = None
) -> tuple[FreezeWindow, ...]:
    """The freeze windows of the default branch's tip (or of `ref`, which the web pages
    name): a pull request cannot lift a freeze by editing them on its own branch.

    Without `ref` the contents API reads the default branch itself, so no request asks
    which branch that is, and every reader asks the same URL: the repeats are answered
    `304` (bot.github.etags)."""
    config = usable(config_from_text(await client.file_text(repo, CONFIG_PATH, ref)))
    return () if config is None else config.freeze


def usable(config: RepoConfig) -> Config | None:
    """The config when there is one that parses; None otherwise."""
    return config if isinstance(config, Config) else None
