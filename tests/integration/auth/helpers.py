"""Helpers for the auth integration tests: requests, a real verifier, a restartable server."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from auth_service.app import create_app
from auth_service.settings import AuthSettings
from shared.runtime.token_verifier import TokenVerifier

ISSUER, AUDIENCE = "flashsale-auth", "flashsale"
PASSWORD = "correct horse battery"


async def register(client, username: str, password: str = PASSWORD):
    return await client.post(
        "/api/v1/auth/register", json={"username": username, "password": password}
    )


async def login(client, username: str, password: str = PASSWORD, **kw):
    return await client.post(
        "/api/v1/auth/login", json={"username": username, "password": password}, **kw
    )


@asynccontextmanager
async def verifier(jwks_url: str) -> AsyncIterator[TokenVerifier]:
    """The verifier every other service uses, refetching on any unknown kid."""
    # force_close: a test may restart the server behind this URL between two fetches.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as s:
        yield TokenVerifier(s, jwks_url, issuer=ISSUER, audience=AUDIENCE, refresh_interval=0)


@asynccontextmanager
async def running(
    settings: AuthSettings, port: int | None = None
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """A client of the app served on a port (a fixed one lets a test restart it at one URL)."""
    client = TestClient(TestServer(create_app(settings), port=port))
    try:
        await client.start_server()
        yield client
    finally:
        await client.close()


def cli_env(settings: AuthSettings) -> dict[str, str]:
    """Environment for `python -m auth_service ...` with these settings."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in AuthSettings.model_fields}
    env.update(
        DATABASE_URL=settings.database_url,
        REDIS_URL=settings.redis_url,
        NAMESPACE=settings.namespace,
        BCRYPT_ROUNDS=str(settings.bcrypt_rounds),
        JWT_ISSUER=settings.jwt_issuer,
        JWT_AUDIENCE=settings.jwt_audience,
    )
    if settings.jwt_private_key_file is not None:
        env["JWT_PRIVATE_KEY_FILE"] = str(settings.jwt_private_key_file)
    return env


async def run_cli(
    settings: AuthSettings, *args: str, stdin: bytes = b"", cwd=None
) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of `python -m auth_service ARGS`."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "auth_service",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=cli_env(settings),
        cwd=cwd,
    )
    out, err = await asyncio.wait_for(process.communicate(stdin), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()
