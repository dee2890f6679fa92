"""A private Redis Cluster of three masters (no replicas), for tests that run the engine on one.

Each node is a :class:`PrivateRedis` with ``cluster=True`` (its own port, data and
nodes.conf); ``redis-cli --cluster create`` splits the 16384 slots between them, and the
cluster is ready once every node reports ``cluster_state:ok``. ``close()`` kills the nodes
and keeps their logs, like any private server.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

import redis.asyncio as aioredis
import redis.exceptions

from tests.support.private_servers import PrivateRedis, ServerDown


class PrivateRedisCluster:
    def __init__(self, artifacts: Path, *, masters: int = 3) -> None:
        self.nodes = [PrivateRedis(artifacts, cluster=True) for _ in range(masters)]

    @property
    def url(self) -> str:
        """The first node's URL: a cluster client learns the others from it."""
        return self.nodes[0].url

    async def start(self, timeout: float = 60.0) -> None:
        for node in self.nodes:
            await node.start(timeout)
        create = await asyncio.create_subprocess_exec(
            shutil.which("redis-cli") or "redis-cli",
            "--cluster", "create",
            *(f"127.0.0.1:{node.port}" for node in self.nodes),
            "--cluster-replicas", "0",
            "--cluster-yes",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        output, _ = await asyncio.wait_for(create.communicate(), timeout)
        if create.returncode != 0:
            raise ServerDown(f"redis-cli --cluster create failed:\n{output.decode()}")
        deadline = time.monotonic() + timeout
        while not all([await self._ok(node.port) for node in self.nodes]):
            if time.monotonic() > deadline:
                raise ServerDown(f"cluster not ok after {timeout}s:\n{output.decode()}")
            await asyncio.sleep(0.1)

    @staticmethod
    async def _ok(port: int) -> bool:
        client = aioredis.Redis(port=port, decode_responses=True, socket_timeout=2)
        try:
            info = await client.cluster("info")
            return bool(info.get("cluster_state") == "ok")
        except (redis.exceptions.RedisError, OSError):
            return False
        finally:
            await client.aclose()

    def close(self) -> None:
        for node in self.nodes:
            node.close()


@contextlib.asynccontextmanager
async def private_redis_cluster(
    artifacts: Path, *, masters: int = 3
) -> AsyncIterator[PrivateRedisCluster]:
    cluster = PrivateRedisCluster(artifacts, masters=masters)
    try:
        await cluster.start()
        yield cluster
    finally:
        cluster.close()
