"""Settings: read once, every problem reported at once, naming the variable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bot.settings import SettingsError, load_settings, load_worker_settings

NO_ENV_FILE = Path("/nonexistent/.env")
TICKET_KEY = Fernet.generate_key().decode()


def test_defaults_start_the_setup_page() -> None:
    settings = load_settings({}, env_file=NO_ENV_FILE)
    assert settings.credentials is None
    assert settings.database_url == "sqlite:///greenlight.db"
    assert settings.host == "0.0.0.0"  # noqa: S104 (the documented default)
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
            "HOST": " 127.0.0.1 ",
        },
        env_file=NO_ENV_FILE,
    )
    assert settings.host == "127.0.0.1"
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
        {
            **values,
            "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
            "GREENLIGHT_TICKET_KEY": TICKET_KEY,
        },
        env_file=NO_ENV_FILE,
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


@pytest.mark.parametrize(
    ("raw", "seconds"), [(None, 300.0), ("0", 0.0), ("5m", 300.0), ("90s", 90.0), ("2", 120.0)]
)
def test_recovery_interval(raw: str | None, seconds: float) -> None:
    values = {} if raw is None else {"GREENLIGHT_RECOVERY_INTERVAL": raw}
    assert load_settings(values, env_file=NO_ENV_FILE).recovery_interval == seconds


@pytest.mark.parametrize("raw", ["1s", "often", "-5m"])
def test_a_recovery_interval_that_is_no_duration_or_too_short_is_refused(raw: str) -> None:
    with pytest.raises(SettingsError, match=r"GREENLIGHT_RECOVERY_INTERVAL: .* at least 10s"):
        load_settings({"GREENLIGHT_RECOVERY_INTERVAL": raw}, env_file=NO_ENV_FILE)


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


CELERY = {"GREENLIGHT_EXECUTOR": "celery", "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0"}
MAKE_A_KEY = "Fernet.generate_key()"


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        (None, "GREENLIGHT_TICKET_KEY: required when GREENLIGHT_EXECUTOR=celery"),
        ("", "GREENLIGHT_TICKET_KEY: required when GREENLIGHT_EXECUTOR=celery"),
        ("hunter2", "GREENLIGHT_TICKET_KEY: not a Fernet key"),
        (TICKET_KEY[:-4], "GREENLIGHT_TICKET_KEY: not a Fernet key"),  # cut short
        ("!" * 44, "GREENLIGHT_TICKET_KEY: not a Fernet key"),  # not base64
    ],
)
def test_the_celery_executor_needs_a_ticket_key(key: str | None, problem: str) -> None:
    values = CELERY if key is None else {**CELERY, "GREENLIGHT_TICKET_KEY": key}
    with pytest.raises(SettingsError) as raised:
        load_settings({**values, "PORT": "eighty"}, env_file=NO_ENV_FILE)
    problems = "\n".join(raised.value.problems)
    assert problem in problems
    assert MAKE_A_KEY in problems  # how to make one
    assert "PORT" in problems  # reported with the other problems


def test_a_ticket_key_is_kept_out_of_sight() -> None:
    settings = load_settings({**CELERY, "GREENLIGHT_TICKET_KEY": TICKET_KEY}, env_file=NO_ENV_FILE)
    assert settings.ticket_key == TICKET_KEY
    assert TICKET_KEY not in repr(settings)
    assert load_settings({}, env_file=NO_ENV_FILE).ticket_key is None  # local: not needed


WORKER = {
    "DATABASE_URL": "postgresql://greenlight@db:5432/greenlight",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "GREENLIGHT_TICKET_KEY": TICKET_KEY,
}


def test_a_worker_reads_only_its_own_variables(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "GREENLIGHT_WORK_DIR=/var/lib/greenlight\n"
        "GITHUB_APP_ID=not a number\nGITHUB_PRIVATE_KEY=not a key\n"
    )
    broken_app = {"GITHUB_APP_ID": "abc", "GITHUB_PRIVATE_KEY": "x", "PORT": "eighty"}
    settings = load_worker_settings({**WORKER, **broken_app}, env_file=env_file)
    assert settings.database_url == WORKER["DATABASE_URL"]
    assert settings.broker_url == WORKER["CELERY_BROKER_URL"]
    assert settings.ticket_key == TICKET_KEY
    assert settings.work_dir == Path("/var/lib/greenlight")
    assert TICKET_KEY not in repr(settings)
    assert not hasattr(settings, "credentials")


@pytest.mark.parametrize(
    ("missing", "problem"),
    [
        ("GREENLIGHT_TICKET_KEY", "GREENLIGHT_TICKET_KEY: required by a Celery worker"),
        ("CELERY_BROKER_URL", "CELERY_BROKER_URL: required by a Celery worker"),
    ],
)
def test_a_worker_refuses_to_start_without_the_broker_or_the_key(
    missing: str, problem: str
) -> None:
    values = {name: value for name, value in WORKER.items() if name != missing}
    with pytest.raises(SettingsError, match=problem):
        load_worker_settings(values, env_file=NO_ENV_FILE)


def test_a_worker_refuses_a_broken_ticket_key() -> None:
    with pytest.raises(SettingsError, match="GREENLIGHT_TICKET_KEY: not a Fernet key"):
        load_worker_settings({**WORKER, "GREENLIGHT_TICKET_KEY": "x" * 44}, env_file=NO_ENV_FILE)


@pytest.mark.parametrize(
    ("values", "processes", "disk"),
    [
        ({}, 4096, 20 * 1024**3),
        ({"GREENLIGHT_JOB_PROCESSES": "512", "GREENLIGHT_JOB_DISK": "500M"}, 512, 500 * 1024**2),
        ({"GREENLIGHT_JOB_PROCESSES": "0", "GREENLIGHT_JOB_DISK": "0"}, 0, 0),
        ({"GREENLIGHT_JOB_DISK": "2gb"}, 4096, 2 * 1024**3),
    ],
)
def test_job_limits(values: dict[str, str], processes: int, disk: int) -> None:
    policy = load_settings(values, env_file=NO_ENV_FILE).sandbox
    assert (policy.max_processes, policy.max_disk_bytes) == (processes, disk)


@pytest.mark.parametrize(
    ("name", "value"), [("GREENLIGHT_JOB_PROCESSES", "-1"), ("GREENLIGHT_JOB_DISK", "lots")]
)
def test_bad_job_limits_are_named(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({name: value}, env_file=NO_ENV_FILE)
    assert any(line.startswith(name) for line in raised.value.problems)


def test_a_health_ca_file_is_read_once_as_text(tmp_path: Path) -> None:
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    (tmp_path / "ca.pem").write_text(pem)
    values = {"GREENLIGHT_HEALTH_CA_FILE": str(tmp_path / "ca.pem")}
    assert load_settings(values, env_file=NO_ENV_FILE).health_ca == pem
    assert load_settings({}, env_file=NO_ENV_FILE).health_ca == ""


@pytest.mark.parametrize(("content", "words"), [(None, "cannot read"), ("hello", "no PEM")])
def test_a_bad_health_ca_file_is_named(tmp_path: Path, content: str | None, words: str) -> None:
    path = tmp_path / "ca.pem"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SettingsError) as raised:
        load_settings({"GREENLIGHT_HEALTH_CA_FILE": str(path)}, env_file=NO_ENV_FILE)
    (problem,) = raised.value.problems
    assert problem.startswith("GREENLIGHT_HEALTH_CA_FILE")
    assert words in problem
