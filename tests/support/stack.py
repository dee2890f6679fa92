"""Fixtures: the whole system as real processes, over HTTP, on the real servers.

A pytest plugin (registered in tests/conftest.py), shared by the end-to-end, browser,
security and fault tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.conftest import TEST_PARTITIONS
from tests.support.api import Api
from tests.support.processes import ARTIFACTS, Stack, service_env

ADMIN = ("admin", "admin-password-for-tests")


@pytest.fixture
def stack_env(servers, database_url, namespace, tmp_path) -> dict[str, str]:
    return service_env(
        amqp_url=servers.amqp_url,
        database_url=database_url,
        redis_url=servers.redis_url,
        namespace=namespace,
        partitions=TEST_PARTITIONS,
        key_file=tmp_path / "jwt.pem",
        extra={"ADMIN_USERNAME": ADMIN[0], "ADMIN_PASSWORD": ADMIN[1]},
    )


@pytest.fixture
async def stack(stack_env, request, amqp) -> AsyncIterator[Stack]:
    # `amqp` is requested so the namespace's queues are deleted after the test.
    running = Stack.build(stack_env, ARTIFACTS / request.node.name)
    try:
        await running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture
async def api(stack) -> AsyncIterator[Api]:
    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(connector=connector) as session:
        yield Api(session, stack.gateway.url)


@pytest.fixture
async def admin_token(api) -> str:
    return await api.login(*ADMIN)
