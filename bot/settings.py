"""Settings, read once from the environment (and a `.env` file) into one frozen object."""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from dotenv import dotenv_values

from bot.core.config_yaml import parse_duration
from bot.executor.sandbox_policy import (
    DEFAULT_BUILD_USER,
    DEFAULT_MAX_DISK_BYTES,
    DEFAULT_MAX_PROCESSES,
    NETWORK_MODES,
    SANDBOX_MODES,
    NetworkMode,
    SandboxMode,
    SandboxPolicy,
    build_user_from,
)
from bot.extras import missing_extra

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_WEB_URL = "https://github.com"
DEFAULT_DATABASE_URL = "sqlite:///greenlight.db"
# Every interface, as GitHub's webhooks reach a service in a container or behind a proxy.
DEFAULT_HOST = "0.0.0.0"  # noqa: S104
EXECUTORS = ("local", "celery")
DEFAULT_DELIVERY_RETENTION_DAYS = 14
DEFAULT_RECOVERY_INTERVAL_SECONDS = 300.0
MIN_RECOVERY_INTERVAL_SECONDS = 10.0
MIN_DELIVERY_RETENTION_DAYS = 3
# A replica whose heartbeat is this old is taken for dead and its work taken over.
DEFAULT_REPLICA_TIMEOUT_SECONDS = 30
BUILD_ENV_PASSTHROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER", "SHELL", "TZ")
MAKE_TICKET_KEY = (
    'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
)
WITH_CELERY = "when GREENLIGHT_EXECUTOR=celery"
BY_A_WORKER = "by a Celery worker"
# All a Celery worker reads: never the app's key, the webhook secret or the secrets file.
WORKER_VARIABLES = (
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "GREENLIGHT_TICKET_KEY",
    "GREENLIGHT_WORK_DIR",
    # How the worker sandboxes builds, and what an unsandboxed build sees.
    "GREENLIGHT_SANDBOX",
    "GREENLIGHT_SANDBOX_NETWORK",
    "GREENLIGHT_SANDBOX_PATHS",
    "GREENLIGHT_BUILD_USER",
    "GREENLIGHT_JOB_PROCESSES",
    "GREENLIGHT_JOB_DISK",
    *BUILD_ENV_PASSTHROUGH,
)


class SettingsError(Exception):
    """Every problem found in the environment, reported together."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class AppCredentials:
    app_id: str
    private_key: str = field(repr=False)
    webhook_secret: str = field(repr=False)


@dataclass(frozen=True)
class Settings:
    credentials: AppCredentials | None  # None: first run, serve the setup page
    webhook_secret: str | None = field(repr=False)
    api_url: str = DEFAULT_API_URL
    web_url: str = DEFAULT_WEB_URL
    host: str = DEFAULT_HOST
    port: int = 3000
    public_url: str = "http://localhost:3000"
    database_url: str = DEFAULT_DATABASE_URL
    executor: str = "local"
    broker_url: str | None = None
    secrets_file: Path | None = None
    concurrency: int = 2
    work_dir: Path = Path(".greenlight")
    env_file: Path = Path(".env")
    link_secret: str = field(default="", repr=False)  # signs log links; derived when unset
    # The service's variables a build sees (PATH to find tools…); never its credentials.
    build_env: tuple[tuple[str, str], ...] = ()
    delivery_retention_days: int = DEFAULT_DELIVERY_RETENTION_DAYS  # 0: keep forever
    # How often GitHub's delivery log is read back and repositories reconciled; 0: never.
    recovery_interval: float = DEFAULT_RECOVERY_INTERVAL_SECONDS
    sandbox: SandboxPolicy = field(default_factory=SandboxPolicy)
    # Encrypts what a Celery ticket carries; the workers hold the same key.
    ticket_key: str | None = field(default=None, repr=False)
    replica_timeout: float = DEFAULT_REPLICA_TIMEOUT_SECONDS  # seconds without a heartbeat
    # The app's OAuth client, for "Sign in with GitHub" on the web pages (None: no sign-in).
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    # PEM certificates that health checks' https probes trust besides the system's (a
    # private CA): GREENLIGHT_HEALTH_CA_FILE, read once; the probes get the text itself.
    health_ca: str = ""


@dataclass(frozen=True)
class WorkerSettings:
    """What a Celery worker needs, and all it is given (WORKER_VARIABLES)."""

    database_url: str
    broker_url: str
    ticket_key: str = field(repr=False)
    work_dir: Path = Path(".greenlight")
    sandbox: SandboxPolicy = field(default_factory=SandboxPolicy)


def load_settings(
    environ: Mapping[str, str] | None = None, *, env_file: Path = Path(".env")
) -> Settings:
    """Read settings from `environ` (default: the process environment) over a `.env` file."""
    values: dict[str, str] = (
        {key: value for key, value in dotenv_values(env_file).items() if value is not None}
        if env_file.is_file()
        else {}
    )
    values.update(os.environ if environ is None else environ)
    return _parse(values, env_file)


def load_worker_settings(
    environ: Mapping[str, str] | None = None, *, env_file: Path = Path(".env")
) -> WorkerSettings:
    """A Celery worker's settings: only WORKER_VARIABLES are read, from `environ` or `.env`."""
    values: dict[str, str] = (
        {
            key: value
            for key, value in dotenv_values(env_file).items()
            if key in WORKER_VARIABLES and value is not None
        }
        if env_file.is_file()
        else {}
    )
    source = os.environ if environ is None else environ
    values.update({name: source[name] for name in WORKER_VARIABLES if name in source})
    problems: list[str] = []
    database_url = _database_url(values, problems)
    broker_url = _broker_url(values, required_by=BY_A_WORKER, problems=problems)
    ticket_key = _ticket_key(values, required_by=BY_A_WORKER, problems=problems)
    work_dir = Path(values.get("GREENLIGHT_WORK_DIR", ".greenlight"))
    hidden = (Path.cwd(), env_file, work_dir, *_files_of(values, database_url, None))
    sandbox = _sandbox(values, problems, hidden=hidden, host_env=_build_env(values))
    if problems:
        raise SettingsError(problems)
    assert broker_url is not None
    assert ticket_key is not None
    return WorkerSettings(
        database_url=database_url,
        broker_url=broker_url,
        ticket_key=ticket_key,
        work_dir=work_dir,
        sandbox=sandbox,
    )


def _parse(values: Mapping[str, str], env_file: Path) -> Settings:
    problems: list[str] = []
    host = values.get("HOST", "").strip() or DEFAULT_HOST
    port = _integer(values, "PORT", 3000, problems)
    concurrency = _integer(values, "GREENLIGHT_CONCURRENCY", os.cpu_count() or 2, problems)
    credentials = _credentials(values, problems)
    executor = values.get("GREENLIGHT_EXECUTOR", "local").strip() or "local"
    if executor not in EXECUTORS:
        problems.append(f"GREENLIGHT_EXECUTOR: {executor!r} is not one of {', '.join(EXECUTORS)}")
    elif executor == "celery" and (missing := missing_extra("celery")):
        problems.append(f"GREENLIGHT_EXECUTOR: celery {missing}")
    required_by = WITH_CELERY if executor == "celery" else None
    broker_url = _broker_url(values, required_by=required_by, problems=problems)
    ticket_key = _ticket_key(values, required_by=required_by, problems=problems)
    database_url = _database_url(values, problems)
    api_url = _url(values, "GITHUB_API_URL", DEFAULT_API_URL, problems)
    web_url = _url(values, "GITHUB_URL", DEFAULT_WEB_URL, problems)
    public_url = _url(values, "PUBLIC_URL", f"http://localhost:{port}", problems)
    secrets_file = (
        Path(values["GREENLIGHT_SECRETS_FILE"]) if values.get("GREENLIGHT_SECRETS_FILE") else None
    )
    if secrets_file is not None and not secrets_file.is_file():
        problems.append(f"GREENLIGHT_SECRETS_FILE: {secrets_file} does not exist")
    retention = _retention_days(values, problems)
    recovery_interval = _recovery_interval(values, problems)
    replica_timeout = _integer(
        values, "GREENLIGHT_REPLICA_TIMEOUT", DEFAULT_REPLICA_TIMEOUT_SECONDS, problems
    )
    work_dir = Path(values.get("GREENLIGHT_WORK_DIR", ".greenlight"))
    build_env = _build_env(values)
    hidden = (Path.cwd(), env_file, work_dir, *_files_of(values, database_url, secrets_file))
    sandbox = _sandbox(values, problems, hidden=hidden, host_env=build_env)
    health_ca = _health_ca(values, problems)
    if problems:
        raise SettingsError(problems)
    webhook_secret = values.get("GITHUB_WEBHOOK_SECRET") or None
    return Settings(
        credentials=credentials,
        webhook_secret=webhook_secret,
        api_url=api_url,
        web_url=web_url,
        host=host,
        port=port,
        public_url=public_url,
        database_url=database_url,
        executor=executor,
        broker_url=broker_url,
        secrets_file=secrets_file,
        concurrency=max(1, concurrency),
        work_dir=work_dir,
        env_file=env_file,
        link_secret=_link_secret(values.get("GREENLIGHT_LINK_SECRET"), webhook_secret),
        build_env=build_env,
        delivery_retention_days=retention,
        recovery_interval=recovery_interval,
        sandbox=sandbox,
        ticket_key=ticket_key,
        replica_timeout=float(replica_timeout),
        client_id=values.get("GITHUB_CLIENT_ID", "").strip() or None,
        client_secret=values.get("GITHUB_CLIENT_SECRET", "").strip() or None,
        health_ca=health_ca,
    )


def _health_ca(values: Mapping[str, str], problems: list[str]) -> str:
    """GREENLIGHT_HEALTH_CA_FILE: the certificates' text, checked to hold at least one."""
    raw = values.get("GREENLIGHT_HEALTH_CA_FILE", "").strip()
    if not raw:
        return ""
    try:
        text = Path(raw).read_text()
    except (OSError, UnicodeDecodeError) as error:
        problems.append(f"GREENLIGHT_HEALTH_CA_FILE: cannot read {raw!r} ({error})")
        return ""
    if "-----BEGIN CERTIFICATE-----" not in text:
        problems.append(f"GREENLIGHT_HEALTH_CA_FILE: {raw!r} holds no PEM certificate")
    return text


def _sandbox(
    values: Mapping[str, str],
    problems: list[str],
    *,
    hidden: tuple[Path, ...],
    host_env: tuple[tuple[str, str], ...],
) -> SandboxPolicy:
    """GREENLIGHT_SANDBOX, _SANDBOX_NETWORK, _SANDBOX_PATHS and GREENLIGHT_BUILD_USER."""
    mode = values.get("GREENLIGHT_SANDBOX", "").strip() or "bwrap"
    if mode not in SANDBOX_MODES:
        problems.append(f"GREENLIGHT_SANDBOX: {mode!r} is not one of {', '.join(SANDBOX_MODES)}")
    network = values.get("GREENLIGHT_SANDBOX_NETWORK", "").strip() or "own"
    if network not in NETWORK_MODES:
        problems.append(
            f"GREENLIGHT_SANDBOX_NETWORK: {network!r} is not one of {', '.join(NETWORK_MODES)}"
        )
    paths: list[Path] = []
    for raw in filter(None, values.get("GREENLIGHT_SANDBOX_PATHS", "").split(os.pathsep)):
        if not os.path.isabs(raw) or not os.path.exists(raw):
            problems.append(f"GREENLIGHT_SANDBOX_PATHS: {raw!r} is not an existing absolute path")
        paths.append(Path(raw))
    user = DEFAULT_BUILD_USER
    if raw_user := values.get("GREENLIGHT_BUILD_USER", "").strip():
        found = build_user_from(raw_user)
        if isinstance(found, str):
            problems.append(f"GREENLIGHT_BUILD_USER: {found}")
        else:
            user = found
    return SandboxPolicy(
        mode=cast(SandboxMode, mode),
        network=cast(NetworkMode, network),
        extra_paths=tuple(paths),
        build_user=user,
        hidden=tuple(path.absolute() for path in hidden),
        host_env=host_env,
        max_processes=_count(values, "GREENLIGHT_JOB_PROCESSES", DEFAULT_MAX_PROCESSES, problems),
        max_disk_bytes=_size(values, "GREENLIGHT_JOB_DISK", DEFAULT_MAX_DISK_BYTES, problems),
    )


def _count(values: Mapping[str, str], name: str, default: int, problems: list[str]) -> int:
    """A whole number, 0 for none."""
    raw = values.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        problems.append(f"{name}: {raw!r} is not a whole number (0 for no limit)")
        return default
    return int(raw)


_SIZE_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def _size(values: Mapping[str, str], name: str, default: int, problems: list[str]) -> int:
    """A size such as `20G`, `500M` or `0` (no limit), in bytes."""
    raw = values.get(name, "").strip().upper().removesuffix("B")
    if not raw:
        return default
    number, unit = raw.rstrip("KMGT"), raw[len(raw.rstrip("KMGT")) :]
    if not number.isdigit() or unit not in _SIZE_UNITS:
        problems.append(f"{name}: {values[name]!r} is not a size such as 20G, 500M or 0")
        return default
    return int(number) * _SIZE_UNITS[unit]


def _build_env(values: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The service's variables an unsandboxed build sees (PATH…); never its credentials."""
    return tuple((name, values[name]) for name in BUILD_ENV_PASSTHROUGH if name in values)


def _files_of(
    values: Mapping[str, str], database_url: str, secrets_file: Path | None
) -> tuple[Path, ...]:
    """The files of Greenlight's own that a build must never see."""
    files = [secrets_file] if secrets_file else []
    if database_url.startswith("sqlite:///") and len(database_url) > len("sqlite:///"):
        files.append(Path(database_url.removeprefix("sqlite:///")))
    if key_path := values.get("GITHUB_PRIVATE_KEY_PATH", "").strip():
        files.append(Path(key_path))
    return tuple(files)


def _broker_url(
    values: Mapping[str, str], *, required_by: str | None, problems: list[str]
) -> str | None:
    broker_url = values.get("CELERY_BROKER_URL") or None
    if required_by and broker_url is None:
        problems.append(f"CELERY_BROKER_URL: required {required_by}")
    elif required_by and not (broker_url or "").startswith(("redis://", "rediss://")):
        # Cancellation and worker heartbeats travel through Redis keys.
        problems.append(f"CELERY_BROKER_URL: {broker_url!r} is not a redis:// URL")
    return broker_url


def _ticket_key(
    values: Mapping[str, str], *, required_by: str | None, problems: list[str]
) -> str | None:
    """The Fernet key that encrypts tickets on the broker; required with Celery."""
    key = values.get("GREENLIGHT_TICKET_KEY", "").strip()
    if not key:
        if required_by:
            problems.append(
                f"GREENLIGHT_TICKET_KEY: required {required_by}: it encrypts "
                "the secrets and tokens that tickets carry over the broker, and the service "
                f"and every worker need the same one. Make one with: {MAKE_TICKET_KEY}"
            )
        return None
    if not is_fernet_key(key):
        problems.append(
            "GREENLIGHT_TICKET_KEY: not a Fernet key (32 bytes in URL-safe base64, 44 "
            f"characters). Make one with: {MAKE_TICKET_KEY}"
        )
        return None
    return key


def _database_url(values: Mapping[str, str], problems: list[str]) -> str:
    database_url = values.get("DATABASE_URL", DEFAULT_DATABASE_URL).strip()
    if not database_url.startswith(("sqlite://", "postgresql://", "postgres://")):
        problems.append(
            f"DATABASE_URL: {database_url!r} is not supported; use sqlite:///path.db or "
            "postgresql://user@host:5432/db"
        )
    elif not database_url.startswith("sqlite://") and (missing := missing_extra("postgres")):
        problems.append(f"DATABASE_URL: PostgreSQL {missing}")
    return database_url


def _link_secret(explicit: str | None, webhook_secret: str | None) -> str:
    """The key that signs page links: set, derived from the webhook secret, or random."""
    if explicit:
        return explicit
    if webhook_secret:
        return hashlib.sha256(f"greenlight-links:{webhook_secret}".encode()).hexdigest()
    return secrets.token_hex(32)  # first run: links made now stop working after a restart


def _integer(values: Mapping[str, str], name: str, default: int, problems: list[str]) -> int:
    raw = values.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) <= 0:
        problems.append(f"{name}: {raw!r} is not a positive whole number")
        return default
    return int(raw)


def _retention_days(values: Mapping[str, str], problems: list[str]) -> int:
    name = "GREENLIGHT_DELIVERY_RETENTION_DAYS"
    raw = values.get(name, "").strip()
    if not raw:
        return DEFAULT_DELIVERY_RETENTION_DAYS
    if not raw.isdigit() or 0 < int(raw) < MIN_DELIVERY_RETENTION_DAYS:
        problems.append(
            f"{name}: {raw!r} must be 0 (keep every delivery) or at least "
            f"{MIN_DELIVERY_RETENTION_DAYS} days: GitHub lets people redeliver the past "
            f"{MIN_DELIVERY_RETENTION_DAYS} days of deliveries, and a kept delivery id is what "
            "stops a redelivery from being handled twice"
        )
        return DEFAULT_DELIVERY_RETENTION_DAYS
    return int(raw)


def _recovery_interval(values: Mapping[str, str], problems: list[str]) -> float:
    name = "GREENLIGHT_RECOVERY_INTERVAL"
    raw = values.get(name, "").strip()
    if not raw:
        return DEFAULT_RECOVERY_INTERVAL_SECONDS
    seconds = parse_duration(raw)
    if seconds is None or 0 < seconds < MIN_RECOVERY_INTERVAL_SECONDS:
        problems.append(
            f"{name}: {raw!r} must be 0 (off) or a duration of at least "
            f"{MIN_RECOVERY_INTERVAL_SECONDS:.0f}s, such as 5m or 90s"
        )
        return DEFAULT_RECOVERY_INTERVAL_SECONDS
    return seconds


def _url(values: Mapping[str, str], name: str, default: str, problems: list[str]) -> str:
    url = (values.get(name) or default).strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        problems.append(f"{name}: {url!r} is not an http(s) URL")
    return url


def _credentials(values: Mapping[str, str], problems: list[str]) -> AppCredentials | None:
    app_id = values.get("GITHUB_APP_ID", "").strip()
    key_text = values.get("GITHUB_PRIVATE_KEY", "").strip()
    key_path = values.get("GITHUB_PRIVATE_KEY_PATH", "").strip()
    secret = values.get("GITHUB_WEBHOOK_SECRET", "")
    if not (app_id or key_text or key_path):
        return None  # first run: the setup page registers the app
    if not app_id:
        problems.append("GITHUB_APP_ID: missing (a private key is set, but no app id)")
    elif not app_id.isdigit():
        problems.append(f"GITHUB_APP_ID: {app_id!r} is not a number")
    if key_path and not key_text:
        try:
            key_text = Path(key_path).read_text()
        except OSError as error:
            problems.append(f"GITHUB_PRIVATE_KEY_PATH: cannot read {key_path}: {error.strerror}")
    if not key_text and not key_path:
        problems.append("GITHUB_PRIVATE_KEY: missing; set it (PEM text) or GITHUB_PRIVATE_KEY_PATH")
    elif key_text and not is_rsa_private_key(key_text.replace("\\n", "\n")):
        source = (
            "GITHUB_PRIVATE_KEY"
            if values.get("GITHUB_PRIVATE_KEY")
            else ("GITHUB_PRIVATE_KEY_PATH")
        )
        problems.append(f"{source}: not a valid RSA private key in PEM format")
    if not secret:
        problems.append("GITHUB_WEBHOOK_SECRET: missing; webhooks cannot be verified without it")
    if problems:
        return None
    return AppCredentials(app_id, key_text.replace("\\n", "\n"), secret)


def is_fernet_key(key: str) -> bool:
    """True when `key` is a key `cryptography.fernet.Fernet` accepts."""
    try:
        Fernet(key)
    except ValueError:  # wrong length, or not URL-safe base64 (binascii.Error is one)
        return False
    return True


def is_rsa_private_key(pem: str) -> bool:
    """True when `pem` is an RSA private key GitHub could have issued."""
    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        return False
    return isinstance(key, RSAPrivateKey)
