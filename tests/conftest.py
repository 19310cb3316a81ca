"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.store import Store, open_store
from tests.e2e.executors import shared_worker
from tests.helpers import Listener
from tests.services import postgres_database

__all__ = ["shared_worker"]  # the session's Celery worker (tests/e2e/executors.py)

pytest_plugins = ["tests.fakes.plugin"]


@pytest.fixture(scope="session")
def private_key_pem() -> str:
    """An RSA key in PEM, as GitHub issues for an app."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """A migrated store on SQLite, and on the local PostgreSQL server."""
    if request.param == "sqlite":
        opened = await open_store(f"sqlite:///{tmp_path / 'greenlight.db'}")
        yield opened
        await opened.close()
        return
    async with postgres_database() as url:
        opened = await open_store(url)
        yield opened
        await opened.close()


@pytest.fixture
async def listener() -> AsyncIterator[Listener]:
    """A TCP listener on the host's loopback, where the store and the broker live."""
    server = Listener()
    await server.start("127.0.0.1")
    try:
        yield server
    finally:
        await server.close()
