"""A private RabbitMQ cluster: several PrivateRabbitMQ nodes joined with ``rabbitmqctl``.

Each node has its own name, ports and data directory (tests/support/private_servers.py); they
share the machine's epmd and the ``rabbitmq`` account's Erlang cookie, which is what lets them
cluster. The shared broker is never touched: ``rabbitmqctl -n`` always names a private node.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pwd
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aio_pika
from aio_pika.abc import AbstractConnection

from tests.support.private_servers import PrivateRabbitMQ


class ClusterCommandFailed(RuntimeError):
    """A rabbitmqctl / rabbitmq-queues command exited non-zero."""


def _tool(name: str) -> str:
    # The scripts themselves, not the /usr/sbin wrappers that switch to the shared setup.
    script = Path("/usr/lib/rabbitmq/bin") / name
    return str(script) if script.exists() else name


class RabbitMQCluster:
    """``size`` private nodes; ``nodes[0]`` is the seed the others join."""

    def __init__(self, artifacts: Path, size: int = 3) -> None:
        self.nodes = [PrivateRabbitMQ(artifacts) for _ in range(size)]

    @property
    def url(self) -> str:
        """AMQP_URL for the whole cluster: every node, comma-separated."""
        return ",".join(node.url for node in self.nodes)

    async def start(self) -> None:
        # Booting is the slow part (seconds per node): boot all at once, then join.
        await asyncio.gather(*(node.start(timeout=120) for node in self.nodes))
        seed = self.nodes[0]
        for node in self.nodes[1:]:
            await self.ctl(node, "stop_app")
            await self.ctl(node, "join_cluster", seed.node)
            await self.ctl(node, "start_app")
            await node.wait_ready(timeout=60)
        running = await self.running_nodes(seed)
        assert running == {n.node for n in self.nodes}, f"cluster formed as {running}"

    async def ctl(self, node: PrivateRabbitMQ, *args: str, tool: str = "rabbitmqctl") -> str:
        """Run ``tool -n <node> args`` (as the account the node runs as); its stdout."""
        env = dict(os.environ)
        if node.user:
            env["HOME"] = pwd.getpwnam(node.user).pw_dir  # the same Erlang cookie
        env["RABBITMQ_CONF_ENV_FILE"] = str(node.base / "rabbitmq-env.conf")
        process = await asyncio.create_subprocess_exec(
            _tool(tool), "-n", node.node, *args,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            user=node.user,
            group=node.user,
            extra_groups=[] if node.user else None,
        )  # fmt: skip
        try:
            out, err = await asyncio.wait_for(process.communicate(), 90)
        except TimeoutError:
            process.kill()
            raise ClusterCommandFailed(f"{tool} {' '.join(args)}: no answer in 90s") from None
        if process.returncode != 0:
            raise ClusterCommandFailed(
                f"{tool} -n {node.node} {' '.join(args)} exited {process.returncode}: "
                f"{(out + err).decode(errors='replace')[-2000:]}"
            )
        return out.decode()

    async def running_nodes(self, via: PrivateRabbitMQ) -> set[str]:
        status = json.loads(await self.ctl(via, "cluster_status", "--formatter", "json"))
        return set(status["running_nodes"])

    async def queues(self, via: PrivateRabbitMQ) -> list[dict[str, Any]]:
        """Every queue with its quorum members, the online ones and the leader."""
        out = await self.ctl(
            via, "list_queues", "name", "type", "leader", "members", "online",
            "--formatter", "json",
        )  # fmt: skip
        return list(json.loads(out))

    async def connection_names(self, node: PrivateRabbitMQ) -> list[str]:
        """The client-given names of the connections to ``node`` (services name theirs)."""
        out = await self.ctl(node, "list_connections", "client_properties", "--formatter", "json")
        # client_properties is a list of [name, type, value] triples.
        return sorted(
            next((str(v) for k, _, v in c["client_properties"] if k == "connection_name"), "?")
            for c in json.loads(out)
        )

    def node_named(self, name: str) -> PrivateRabbitMQ:
        return next(node for node in self.nodes if node.node == name)

    def close(self) -> None:
        for node in self.nodes:
            node.close()


async def connect_any(urls: str, *, timeout: float = 5) -> AbstractConnection:
    """A plain connection to the first node of ``urls`` (comma-separated) that answers."""
    error: BaseException | None = None
    for url in urls.split(","):
        try:
            return await aio_pika.connect(url, timeout=timeout)
        except (aio_pika.exceptions.AMQPError, OSError, TimeoutError) as exc:
            error = exc
    assert error is not None
    raise error


@contextlib.asynccontextmanager
async def rabbitmq_cluster(artifacts: Path, size: int = 3) -> AsyncIterator[RabbitMQCluster]:
    cluster = RabbitMQCluster(artifacts, size)
    try:
        await cluster.start()
        yield cluster
    finally:
        cluster.close()
