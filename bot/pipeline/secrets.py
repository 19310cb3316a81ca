"""Build secrets from GREENLIGHT_SECRETS_FILE: repository full name → name → value."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import yaml


class SecretsFileError(Exception):
    pass


def load_secrets(path: Path | None) -> dict[str, dict[str, str]]:
    """Read and check the file; an error names what is wrong (never a value)."""
    if path is None:
        return {}
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise SecretsFileError(f"GREENLIGHT_SECRETS_FILE {path}: {error}") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise SecretsFileError(f"GREENLIGHT_SECRETS_FILE {path}: must map repositories to secrets")
    secrets: dict[str, dict[str, str]] = {}
    for repo, values in data.items():
        if not isinstance(values, Mapping):
            raise SecretsFileError(
                f"GREENLIGHT_SECRETS_FILE {path}: {repo} must map secret names to values"
            )
        secrets[str(repo)] = {str(name): str(value) for name, value in values.items()}
    return secrets


def secrets_for(
    secrets: Mapping[str, Mapping[str, str]], repo: str, names: tuple[str, ...]
) -> tuple[dict[str, str], list[str]]:
    """The named secrets of a repository, and the names the file does not define."""
    available = secrets.get(repo, {})
    found = {name: available[name] for name in names if name in available}
    return found, [name for name in names if name not in available]
