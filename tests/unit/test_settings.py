"""Settings: read once, every problem reported at once, naming the variable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings

NO_ENV_FILE = Path("/nonexistent/.env")


def test_defaults_start_the_setup_page() -> None:
    settings = load_settings({}, env_file=NO_ENV_FILE)
    assert settings.credentials is None
    assert settings.database_url == "sqlite:///greenlight.db"
    assert settings.port == 3000
    assert settings.public_url == "http://localhost:3000"
    assert settings.api_url == "https://api.github.com"
    assert settings.executor == "local"


def test_full_credentials(private_key_pem: str) -> None:
    settings = load_settings(
        {
            "GITHUB_APP_ID": "42",
            "GITHUB_PRIVATE_KEY": private_key_pem,
            "GITHUB_WEBHOOK_SECRET": "s3cret",
            "GITHUB_API_URL": "https://ghe.example.com/api/v3/",
            "PORT": "8080",
        },
        env_file=NO_ENV_FILE,
    )
    assert settings.credentials is not None
    assert settings.credentials.app_id == "42"
    assert settings.api_url == "https://ghe.example.com/api/v3"
    assert settings.public_url == "http://localhost:8080"
    assert "s3cret" not in repr(settings)
    assert "PRIVATE KEY" not in repr(settings)


def test_key_with_escaped_newlines_as_in_dotenv_files(private_key_pem: str) -> None:
    escaped = private_key_pem.replace("\n", "\\n")
    settings = load_settings(
        {"GITHUB_APP_ID": "1", "GITHUB_PRIVATE_KEY": escaped, "GITHUB_WEBHOOK_SECRET": "x"},
        env_file=NO_ENV_FILE,
    )
    assert settings.credentials is not None


def test_key_from_a_file(private_key_pem: str, tmp_path: Path) -> None:
    key_file = tmp_path / "app.pem"
    key_file.write_text(private_key_pem)
    settings = load_settings(
        {
            "GITHUB_APP_ID": "1",
            "GITHUB_PRIVATE_KEY_PATH": str(key_file),
            "GITHUB_WEBHOOK_SECRET": "x",
        },
        env_file=NO_ENV_FILE,
    )
    assert settings.credentials is not None
    assert settings.credentials.private_key == private_key_pem


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(
            {
                "GITHUB_APP_ID": "abc",
                "GITHUB_PRIVATE_KEY": "-----BEGIN RSA PRIVATE KEY-----\nnot a key\n",
                "PORT": "eighty",
                "GREENLIGHT_EXECUTOR": "kubernetes",
                "GITHUB_API_URL": "ftp://x",
            },
            env_file=NO_ENV_FILE,
        )
    problems = "\n".join(raised.value.problems)
    for name in (
        "GITHUB_APP_ID",
        "GITHUB_PRIVATE_KEY",
        "PORT",
        "GREENLIGHT_EXECUTOR",
        "GITHUB_API_URL",
        "GITHUB_WEBHOOK_SECRET",
    ):
        assert name in problems
    assert "not a valid RSA private key" in problems


@pytest.mark.parametrize(
    ("broker", "problem"),
    [(None, "required"), ("amqp://guest@127.0.0.1//", "not a redis:// URL")],
)
def test_celery_needs_a_redis_broker(broker: str | None, problem: str) -> None:
    values = {"GREENLIGHT_EXECUTOR": "celery"}
    if broker:
        values["CELERY_BROKER_URL"] = broker
    with pytest.raises(SettingsError, match=problem):
        load_settings(values, env_file=NO_ENV_FILE)
    ok = load_settings(
        {**values, "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0"}, env_file=NO_ENV_FILE
    )
    assert ok.executor == "celery"


def test_dotenv_file_is_read_and_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("PORT=4000\nPUBLIC_URL=https://ci.example.com\n")
    settings = load_settings({"PORT": "5000"}, env_file=env_file)
    assert settings.port == 5000
    assert settings.public_url == "https://ci.example.com"


def test_builds_see_path_but_never_credentials(private_key_pem: str) -> None:
    settings = load_settings(
        {
            "PATH": "/usr/bin",
            "GITHUB_APP_ID": "1",
            "GITHUB_PRIVATE_KEY": private_key_pem,
            "GITHUB_WEBHOOK_SECRET": "x",
        },
        env_file=NO_ENV_FILE,
    )
    names = dict(settings.build_env)
    assert names == {"PATH": "/usr/bin"}


@pytest.mark.parametrize(("raw", "days"), [(None, 14), ("0", 0), ("3", 3), ("90", 90)])
def test_delivery_retention(raw: str | None, days: int) -> None:
    values = {} if raw is None else {"GREENLIGHT_DELIVERY_RETENTION_DAYS": raw}
    assert load_settings(values, env_file=NO_ENV_FILE).delivery_retention_days == days


@pytest.mark.parametrize("raw", ["1", "2", "-5", "a week"])
def test_a_retention_shorter_than_githubs_redelivery_window_is_refused(raw: str) -> None:
    with pytest.raises(SettingsError, match=r"GREENLIGHT_DELIVERY_RETENTION_DAYS: .* at least 3"):
        load_settings({"GREENLIGHT_DELIVERY_RETENTION_DAYS": raw}, env_file=NO_ENV_FILE)


def test_the_sandbox_is_on_by_default_with_its_own_network(tmp_path: Path) -> None:
    secrets_file = tmp_path / "secrets.yml"
    secrets_file.write_text("{}\n")
    settings = load_settings(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'g.db'}",
            "GREENLIGHT_SECRETS_FILE": str(secrets_file),
            "GREENLIGHT_WORK_DIR": str(tmp_path / "work"),
        },
        env_file=tmp_path / ".env",
    )
    policy = settings.sandbox
    assert (policy.mode, policy.network) == ("bwrap", "own")
    assert policy.build_user is not None
    assert policy.build_user.uid != 0
    # Greenlight's own files are hidden wherever a shared directory would show them.
    for path in (secrets_file, tmp_path / "g.db", tmp_path / ".env", tmp_path / "work"):
        assert path in policy.hidden
    assert Path.cwd() in policy.hidden


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("GREENLIGHT_SANDBOX", "docker", "GREENLIGHT_SANDBOX: 'docker' is not one of bwrap, none"),
        ("GREENLIGHT_SANDBOX_NETWORK", "none", "GREENLIGHT_SANDBOX_NETWORK: 'none' is not one"),
        ("GREENLIGHT_SANDBOX_PATHS", "relative/dir", "'relative/dir' is not an existing absolute"),
        ("GREENLIGHT_SANDBOX_PATHS", "/no/such/dir", "'/no/such/dir' is not an existing absolute"),
        ("GREENLIGHT_BUILD_USER", "no-such-user-here", "there is no user 'no-such-user-here'"),
        ("GREENLIGHT_BUILD_USER", "root", "must not be root"),
        ("GREENLIGHT_BUILD_USER", "0", "must not be root"),
    ],
)
def test_bad_sandbox_settings_are_named(name: str, value: str, problem: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({name: value}, env_file=NO_ENV_FILE)
    assert any(problem in line for line in raised.value.problems), raised.value.problems


def test_sandbox_choices(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "GREENLIGHT_SANDBOX": "none",
            "GREENLIGHT_SANDBOX_NETWORK": "host",
            "GREENLIGHT_SANDBOX_PATHS": f"/usr/share{os.pathsep}{tmp_path}",
            "GREENLIGHT_BUILD_USER": "4242",
        },
        env_file=NO_ENV_FILE,
    )
    policy = settings.sandbox
    assert (policy.mode, policy.network) == ("none", "host")
    assert policy.extra_paths == (Path("/usr/share"), tmp_path)
    assert policy.build_user is not None
    assert policy.build_user.uid == 4242
