"""AMQP_URL with several nodes: the client starts on the first that answers, and the queues
ask for three replicas. (Losing a node mid-crowd: tests/cluster/test_rabbitmq_cluster.py.)"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.contracts.settings import ServiceSettings
from shared.contracts.topology import Names, declare_topology, delete_topology
from shared.runtime.broker_nodes import NodeRotatingConnection
from shared.runtime.resources import open_amqp
from tests.support.processes import free_port

pytestmark = pytest.mark.integration


async def test_a_dead_first_node_is_passed_over(servers):
    dead = f"amqp://guest:guest@127.0.0.1:{free_port()}/"
    connection = await open_amqp(f"{dead},{servers.amqp_url}", name="test")
    try:
        assert isinstance(connection, NodeRotatingConnection)
        live = servers.amqp_url.split("@", 1)[1].split("/", 1)[0]
        assert connection.node_address == live
        assert connection.connected.is_set()
    finally:
        await connection.close()


def test_every_node_url_is_checked():
    good = "amqp://guest:guest@10.0.0.1:5672/"
    settings = ServiceSettings(amqp_url=f"{good}, amqp://guest:guest@10.0.0.2:5672/")
    assert settings.amqp_nodes == [good, "amqp://guest:guest@10.0.0.2:5672/"]
    with pytest.raises(ValidationError, match="node 2 of 2: must be a URL starting with amqp"):
        ServiceSettings(amqp_url=f"{good},http://10.0.0.2/")


@pytest.mark.parametrize(("size", "expected"), [(3, 3), (5, 5), (0, None)])
async def test_queues_ask_for_their_replicas(amqp, namespace, size, expected):
    names = Names(f"{namespace}-g{size}", 2, quorum_group_size=size)
    async with amqp.channel() as channel:
        topology = await declare_topology(channel, names)
        try:
            for queue in (*topology.intent_queues, topology.decisions_queue, topology.dead_letters):
                assert queue.arguments is not None
                assert queue.arguments.get("x-quorum-initial-group-size") == expected, queue.name
                assert queue.arguments["x-queue-type"] == "quorum"
        finally:
            await delete_topology(channel, names)
