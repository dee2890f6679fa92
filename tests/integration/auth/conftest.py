"""Fixtures for the auth service against the real Postgres and Redis."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from auth_service.app import create_app
from auth_service.settings import AuthSettings
from tests.integration.auth.helpers import AUDIENCE, ISSUER


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """Settings come from the test alone, whatever the shell exported."""
    for name in AuthSettings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    return tmp_path / "keys" / "jwt-private.pem"


@pytest.fixture
def make_settings(servers, database_url, namespace, redis_client, key_file):
    """Settings for this test's database and namespace, cost-4 bcrypt; keyword overrides."""

    def make(**overrides: Any) -> AuthSettings:
        values: dict[str, Any] = {
            "database_url": database_url,
            "redis_url": servers.redis_url,
            "namespace": namespace,
            "bcrypt_rounds": 4,
            "bcrypt_workers": 2,
            "jwt_private_key_file": key_file,
            "jwt_issuer": ISSUER,
            "jwt_audience": AUDIENCE,
        }
        values.update(overrides)
        return AuthSettings(**values)

    return make


@pytest.fixture
def start(make_settings, aiohttp_client):
    """Start the app with overridden settings; a client for it.

    make_settings comes first so that this test's database outlives the app (teardown runs
    in reverse), and the app closes its pool before the database is dropped.
    """

    async def go(settings: AuthSettings | None = None, **overrides: Any):
        return await aiohttp_client(create_app(settings or make_settings(**overrides)))

    return go


@pytest.fixture
async def client(start):
    return await start()
