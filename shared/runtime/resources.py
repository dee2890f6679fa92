"""Connections to the three servers, made the same way in every service."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast
from urllib.parse import unquote, urlsplit

import asyncpg
import redis.asyncio as aioredis
from aio_pika.abc import AbstractRobustConnection
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.sentinel import Sentinel

from shared.contracts.settings import ServiceSettings
from shared.runtime.broker_nodes import NodeRotatingConnection
from shared.runtime.config_errors import PostgresLoginRefused
from shared.runtime.web import DEPENDENCY_ERRORS

log = logging.getLogger(__name__)
T = TypeVar("T")
_CONNECT_ERRORS: tuple[type[BaseException], ...] = (*DEPENDENCY_ERRORS, OSError)


async def retry_until_up(
    name: str, connect: Callable[[], Awaitable[T]], *, max_delay: float = 5.0
) -> T:
    """Connect at start-up, waiting (with backoff and a log line) while the server is down.

    Compose starts services as soon as their servers are healthy, but a server can still be
    restarting; waiting here is friendlier than crash-looping.
    """
    delay = 0.2
    while True:
        try:
            return await connect()
        except _CONNECT_ERRORS as exc:
            log.warning(
                "waiting for dependency",
                extra={"dependency": name, "error": f"{type(exc).__name__}: {exc}"},
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)


# How every service talks to Redis, directly or through Sentinel. RESP2 explicitly: the Lua
# scripts' reply shapes are written against it.
_CLIENT_OPTIONS: dict[str, Any] = {
    "decode_responses": True,
    "protocol": 2,
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
    "health_check_interval": 10,
}


async def open_redis_of(settings: ServiceSettings) -> aioredis.Redis:
    """The Redis a service's settings name: through Sentinel when REDIS_SENTINELS is set, a
    cluster client when REDIS_CLUSTER is."""
    if settings.sentinel_addresses:
        return await open_redis_via_sentinel(
            settings.redis_url, settings.sentinel_addresses, settings.redis_sentinel_master
        )
    if settings.redis_cluster:
        return await open_redis_cluster(settings.redis_url)
    return await open_redis(settings.redis_url)


async def open_redis_cluster(url: str, *, max_connections: int = 64) -> aioredis.Redis:
    """A client of the Redis Cluster that ``url``'s node belongs to: it reads the slot map
    from that node, sends each command (and each script call, by its first key) to the node
    of its slot, and follows MOVED answers when slots move or a replica is promoted."""

    async def connect() -> RedisCluster:
        client = RedisCluster.from_url(url, max_connections=max_connections, **_CLIENT_OPTIONS)
        try:
            await client.initialize()
        except BaseException:
            await client.aclose()
            raise
        return client

    client = await retry_until_up("redis", connect)
    # Typed as the plain client: the services use commands, scripts, non-transactional
    # pipelines, one-slot transactions and pub/sub, which both offer with the same calls.
    return cast(aioredis.Redis, client)


class _SentinelRedis(aioredis.Redis):
    """The primary's client; closing it also closes the connections to the Sentinels."""

    sentinels: Sentinel | None = None

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        if self.sentinels is not None:
            for client in self.sentinels.sentinels:
                await client.aclose()


async def open_redis_via_sentinel(
    url: str, sentinels: list[tuple[str, int]], master: str
) -> aioredis.Redis:
    """A client of the primary the Sentinels name; after a failover its connections go to
    the new primary (redis-py closes those to the old one). ``url`` gives db and password."""
    parts = urlsplit(url)
    database = int(parts.path.lstrip("/") or 0)
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        sentinels,
        socket_timeout=2,
        socket_connect_timeout=2,
        sentinel_kwargs={"socket_timeout": 2, "socket_connect_timeout": 2},
    )
    client: _SentinelRedis = sentinel.master_for(
        master,
        redis_class=_SentinelRedis,
        db=database,
        password=unquote(parts.password) if parts.password else None,
        max_connections=64,
        **_CLIENT_OPTIONS,
    )
    client.sentinels = sentinel
    await retry_until_up("redis", client.ping)
    return client


async def open_redis(url: str, *, max_connections: int = 64) -> aioredis.Redis:
    # A blocking pool: in a burst, requests wait briefly for a connection instead of
    # failing, and the number of sockets to Redis stays bounded.
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=5,
        **_CLIENT_OPTIONS,
    )
    client = aioredis.Redis.from_pool(pool)  # owns the pool: aclose() closes it
    await retry_until_up("redis", client.ping)
    return client


def _refusing_bad_logins(
    dsn: str, connect: Callable[[], Awaitable[T]]
) -> Callable[[], Awaitable[T]]:
    async def attempt() -> T:
        try:
            return await connect()
        except asyncpg.InvalidAuthorizationSpecificationError as exc:
            # 28000 / 28P01: no waiting fixes a refused login; say what to change instead.
            raise PostgresLoginRefused(dsn, str(exc)) from exc

    return attempt


async def open_postgres(dsn: str, *, max_size: int = 10) -> asyncpg.Pool:
    """A pool on DATABASE_URL; raises PostgresLoginRefused if the server refuses the login."""

    async def connect() -> asyncpg.Pool:
        return await asyncpg.create_pool(
            dsn, min_size=1, max_size=max_size, command_timeout=10, timeout=5
        )

    return await retry_until_up("postgres", _refusing_bad_logins(dsn, connect))


async def connect_postgres(dsn: str, *, database: str | None = None) -> asyncpg.Connection:
    """One connection to ``database`` (default: the one ``dsn`` names) on ``dsn``'s server.

    Waits while the server is down; raises PostgresLoginRefused if it refuses the login.
    """

    async def connect() -> asyncpg.Connection:
        return await asyncpg.connect(dsn, database=database, timeout=5)

    return await retry_until_up("postgres", _refusing_bad_logins(dsn, connect))


async def open_amqp(url: str, *, name: str) -> AbstractRobustConnection:
    """A robust connection to AMQP_URL: one URL, or one per node of a cluster (comma-separated),
    in which case every reconnect goes to the next node."""
    nodes = url.split(",")
    attempts = itertools.count()

    async def connect() -> AbstractRobustConnection:
        # Reconnect after 1 s (aio-pika waits 5 by default): after a broker outage every
        # second of waiting is a second of 503s at the gateway.
        connection = NodeRotatingConnection(
            nodes,
            # At start-up each attempt tries the next node, so a dead one is passed over.
            first=next(attempts),
            client_properties={"connection_name": name},
            reconnect_interval=1,
        )
        await connection.connect(timeout=5)
        return connection

    return await retry_until_up("rabbitmq", connect)


def check_amqp(connection: AbstractRobustConnection | None) -> None:
    """Readiness of a broker connection: raises while it is down or reconnecting.

    A robust connection is not "closed" while it reconnects (`is_closed` stays False), so
    readiness must also ask whether it is connected right now.
    """
    if connection is None or connection.is_closed or not connection.connected.is_set():
        raise ConnectionError("not connected to the broker")
