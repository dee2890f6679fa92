"""Composition root of the auth service: build every dependency once, wire, run."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from auth_service import handlers
from auth_service.adapters.bcrypt_passwords import BcryptHasher
from auth_service.adapters.key_files import load_key_ring
from auth_service.adapters.postgres_users import PostgresUsers
from auth_service.adapters.redis_throttle import RedisLoginThrottle
from auth_service.appkeys import (
    HASHER,
    JWKS_BODY,
    PG_POOL,
    REDIS,
    SETTINGS,
    THROTTLE,
    TOKEN_ISSUER,
    USERS,
)
from auth_service.domain import Credentials
from auth_service.entrypoints import http
from auth_service.settings import AuthSettings
from auth_service.tokens import TokenIssuer
from shared.runtime.resources import open_postgres, open_redis_of
from shared.runtime.service import create_base_app

log = logging.getLogger(__name__)


async def _signing_keys(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    # File reads and (in development) RSA key generation block: keep them off the loop.
    ring = await asyncio.to_thread(load_key_ring, settings)
    document = ring.jwks()
    app[JWKS_BODY] = json.dumps(document).encode()
    app[TOKEN_ISSUER] = TokenIssuer(
        ring.signing,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl_seconds=settings.jwt_ttl_seconds,
    )
    retired = [jwk["kid"] for jwk in document["keys"][1:]]
    log.info("signing keys loaded", extra={"kid": ring.signing.kid, "retired_kids": retired})
    yield


async def _hasher(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    hasher = BcryptHasher(
        rounds=settings.bcrypt_rounds,
        workers=settings.bcrypt_workers,
        max_wait=settings.login_max_wait_seconds,
    )
    app[HASHER] = hasher
    try:
        await hasher.start()
        yield
    finally:
        await hasher.close()


async def _postgres(app: web.Application) -> AsyncIterator[None]:
    pool = await open_postgres(app[SETTINGS].database_url)
    app[PG_POOL] = pool
    app[USERS] = PostgresUsers(pool)
    try:
        yield
    finally:
        await pool.close()


async def _redis(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    client = await open_redis_of(settings)
    app[REDIS] = client
    app[THROTTLE] = RedisLoginThrottle(
        client,
        namespace=settings.namespace,
        max_per_client=settings.login_max_failures_per_client,
        max_per_user=settings.login_max_failures_per_user,
        max_per_account=settings.login_max_failures_per_account,
        window_seconds=settings.login_failure_window_seconds,
    )
    try:
        yield
    finally:
        await client.aclose()


async def _admin_bootstrap(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    if settings.admin_username is not None and settings.admin_password is not None:
        credentials = Credentials(
            username=settings.admin_username, password=settings.admin_password
        )
        outcome = await handlers.ensure_admin(credentials, users=app[USERS], hasher=app[HASHER])
        log.info(
            "admin account ensured",
            extra={"username": outcome.user.username, "action": outcome.action},
        )
    yield


def create_app(settings: AuthSettings) -> web.Application:
    """The auth service's app; nothing connects until it starts."""
    app: web.Application

    async def postgres_ready() -> object:
        return await app[PG_POOL].fetchval("SELECT 1")

    async def redis_ready() -> object:
        return await app[REDIS].ping()

    app = create_base_app(
        {"postgres": postgres_ready, "redis": redis_ready},
        service="auth_service",
        settings=settings,
        proxies=settings.forwarded_allow_ips,
    )
    app[SETTINGS] = settings
    # Order matters: keys first, so that a key problem fails the start at once instead of
    # after waiting for the servers; later contexts use what earlier ones made.
    app.cleanup_ctx.extend([_signing_keys, _hasher, _postgres, _redis, _admin_bootstrap])
    app.add_routes(http.routes())
    return app
