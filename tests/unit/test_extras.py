"""The optional dependencies: named when a setting needs them, never loaded when it does not."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bot.extras import EXTRAS, missing_extra
from bot.settings import SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_a_missing_module_is_named_with_the_command_that_installs_it() -> None:
    problem = missing_extra("celery", ("celery", "greenlight_no_such_module"))
    assert problem == (
        "needs the celery extra (greenlight_no_such_module not installed): "
        "pip install -e '.[celery]'"
    )


@pytest.mark.parametrize("extra", sorted(EXTRAS))
def test_the_test_install_has_every_extra(extra: str) -> None:
    assert missing_extra(extra) is None  # `.[test]` pulls them in


def test_settings_that_choose_a_missing_extra_do_not_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = {"DATABASE_URL": "postgresql://greenlight@127.0.0.1:5432/greenlight"}
    monkeypatch.setitem(EXTRAS, "postgres", ("asyncpg", "greenlight_no_such_module"))
    with pytest.raises(SettingsError) as raised:
        load_settings(values, env_file=tmp_path / ".env")
    assert "DATABASE_URL: PostgreSQL needs the postgres extra" in str(raised.value)


def test_one_process_on_sqlite_loads_no_extra(tmp_path: Path) -> None:
    """The service starts and answers without importing Celery, Redis or asyncpg."""
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        from pathlib import Path
        from aiohttp.test_utils import TestClient, TestServer
        from bot.settings import load_settings
        from bot.web.app import create_app
        import bot.__main__, bot.cli.check, bot.cli.run, bot.serve

        async def main():
            tmp = Path({str(tmp_path)!r})
            settings = load_settings(
                {{"DATABASE_URL": f"sqlite:///{{tmp / 'g.db'}}", "GREENLIGHT_WORK_DIR": str(tmp),
                  "GREENLIGHT_SANDBOX": "none"}},
                env_file=tmp / ".env",
            )
            async with TestClient(TestServer(create_app(settings))) as client:
                assert (await client.get("/healthz")).status == 200

        asyncio.run(main())
        print(sorted(m for m in ("celery", "kombu", "redis", "asyncpg") if m in sys.modules))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
