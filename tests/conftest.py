"""Fixtures every test layer shares: servers, throwaway databases, per-test namespaces."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack

import aio_pika
import asyncpg
import pytest
import redis.asyncio as aioredis

from shared.contracts.topology import Names, delete_topology
from shared.migrate import migrate
from tests.support.servers import Servers, ServersUnavailable, discover

TEST_PARTITIONS = 2

# The stack fixtures (stack_env, stack, api, admin_token) for every test layer that needs them.
pytest_plugins = ("tests.support.stack",)


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    with ExitStack() as stack:
        try:
            found = discover(stack)
        except ServersUnavailable as exc:
            pytest.fail(str(exc), pytrace=False)
        yield found


async def _drop_database(servers: Servers, name: str) -> None:
    conn = await asyncpg.connect(servers.postgres_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def template_database(servers: Servers) -> Iterator[str]:
    """A migrated database that each test's own database is cloned from (fast)."""
    name = f"fs_template_{secrets.token_hex(4)}"
    asyncio.run(migrate(servers.database_url(name)))
    yield name
    asyncio.run(_drop_database(servers, name))


@pytest.fixture
async def database_url(servers: Servers, template_database: str) -> AsyncIterator[str]:
    """A fresh, migrated database for this test only."""
    name = f"fs_test_{secrets.token_hex(5)}"
    conn = await asyncpg.connect(servers.postgres_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    finally:
        await conn.close()
    yield servers.database_url(name)
    await _drop_database(servers, name)


@pytest.fixture
def namespace() -> str:
    """This test's own prefix for Redis keys and AMQP names."""
    return f"t{secrets.token_hex(5)}"


@pytest.fixture
def names(namespace: str) -> Names:
    return Names(namespace, TEST_PARTITIONS)


@pytest.fixture
async def redis_client(servers: Servers, namespace: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(servers.redis_url, decode_responses=True, protocol=2)
    yield client
    keys = [k async for k in client.scan_iter(match=f"{namespace}:*", count=1000)]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture
async def amqp(servers: Servers, names: Names) -> AsyncIterator[aio_pika.abc.AbstractConnection]:
    """A connection for the test; the namespace's queues and exchanges are deleted after it."""
    connection = await aio_pika.connect(servers.amqp_url)
    yield connection
    async with connection.channel() as channel:
        await delete_topology(channel, names)
    await connection.close()


@pytest.fixture
async def pg(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    yield pool
    await pool.close()
