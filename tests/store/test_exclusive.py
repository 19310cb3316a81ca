"""SQLite serves one web process: the lock a web process holds on its database file."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.store import open_store
from bot.store.exclusive import DatabaseInUse, only_web_process, sqlite_file


def test_a_second_holder_of_one_sqlite_file_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'greenlight.db'}"
    with only_web_process(url):
        with pytest.raises(DatabaseInUse, match="use PostgreSQL") as refused, only_web_process(url):
            pass  # pragma: no cover: never entered
        assert str(tmp_path / "greenlight.db") in str(refused.value)
        with only_web_process(f"sqlite:///{tmp_path / 'other.db'}"):  # another file is free
            pass
    with only_web_process(url):  # given up when the first holder stopped
        pass


async def test_workers_open_the_store_while_the_web_process_holds_it(tmp_path: Path) -> None:
    """Celery workers on the same host share the file with the one web process."""
    url = f"sqlite:///{tmp_path / 'greenlight.db'}"
    with only_web_process(url):
        store = await open_store(url)
        assert await store.is_healthy()
        await store.close()


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:////srv/greenlight.db", "/srv/greenlight.db"),
        ("sqlite:///greenlight.db", str(Path("greenlight.db").resolve())),
        ("sqlite:///:memory:", None),
        ("sqlite://", None),
        ("postgresql://greenlight@db:5432/greenlight", None),
        ("postgres://greenlight@db/greenlight", None),
    ],
)
def test_only_a_sqlite_file_is_held(url: str, path: str | None) -> None:
    assert sqlite_file(url) == path


def test_postgresql_takes_any_number_of_web_processes() -> None:
    url = "postgresql://greenlight@db:5432/greenlight"
    with only_web_process(url), only_web_process(url):
        pass
