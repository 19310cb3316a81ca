"""The optional dependencies (pyproject.toml's extras), checked where a setting chooses them.

`pip install -e .` installs what one process on SQLite needs. Celery with Redis
(`GREENLIGHT_EXECUTOR=celery`) comes with `[celery]`, the PostgreSQL driver
(`DATABASE_URL=postgresql://…`) with `[postgres]`. Their modules are imported only where they
are chosen: the Celery executor (loaded by the pipeline only when chosen) and worker, and
SQLAlchemy's PostgreSQL dialect when the engine is made. A setting that chooses an extra
that is not installed is a settings problem, reported at start-up like any other.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence

EXTRAS: dict[str, tuple[str, ...]] = {"celery": ("celery", "redis"), "postgres": ("asyncpg",)}


def missing_extra(extra: str, modules: Sequence[str] | None = None) -> str | None:
    """What to install when a module of `extra` is missing; None when all are installed."""
    missing = [name for name in modules or EXTRAS[extra] if importlib.util.find_spec(name) is None]
    if not missing:
        return None
    return (
        f"needs the {extra} extra ({', '.join(missing)} not installed): pip install -e '.[{extra}]'"
    )
