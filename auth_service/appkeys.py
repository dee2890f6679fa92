"""Typed application keys: the composition root (app.py) fills them, the routes read them."""

from __future__ import annotations

import asyncpg
import redis.asyncio as aioredis
from aiohttp import web

from auth_service.adapters.bcrypt_passwords import BcryptHasher
from auth_service.adapters.postgres_users import PostgresUsers
from auth_service.adapters.redis_throttle import RedisLoginThrottle
from auth_service.settings import AuthSettings
from auth_service.tokens import TokenIssuer

SETTINGS = web.AppKey("settings", AuthSettings)
PG_POOL = web.AppKey("pg_pool", asyncpg.Pool)
REDIS = web.AppKey("redis", aioredis.Redis)
HASHER = web.AppKey("hasher", BcryptHasher)
JWKS_BODY = web.AppKey("jwks_body", bytes)
TOKEN_ISSUER = web.AppKey("token_issuer", TokenIssuer)
USERS = web.AppKey("users", PostgresUsers)
THROTTLE = web.AppKey("throttle", RedisLoginThrottle)
